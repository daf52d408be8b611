"""Mistakes a learner will make get an error that says what went wrong, in tinysiam's words."""

from __future__ import annotations

import re

import numpy as np
import pytest
from devices import cuda_only

import tinysiam as ts
import tinysiam.functional as F


def zeros(*shape: int) -> ts.Tensor:
    return ts.tensor(np.zeros(shape))


def mentions(message: str, *numbers: int) -> bool:
    """True when each number appears in ``message`` as a whole number."""
    return all(re.search(rf"(?<!\d){n}(?!\d)", message) for n in numbers)


# ----- convolution and pooling -------------------------------------------------------------------
def test_conv2d_channel_mismatch_names_both_counts() -> None:
    with pytest.raises(ValueError, match="conv2d") as error:
        F.conv2d(zeros(1, 3, 8, 8), zeros(4, 2, 5, 5))  # 3-channel input, weight for 2 channels
    assert mentions(str(error.value), 3, 2)


def test_conv2d_kernel_larger_than_input() -> None:
    with pytest.raises(ValueError, match=r"conv2d.*5x5.*4x4"):
        F.conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match="conv2d"):
        F.conv2d(zeros(1, 1, 8, 4), zeros(1, 1, 3, 5), padding=0)


def test_conv2d_bias_and_rank_errors() -> None:
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(zeros(1, 2, 5, 5), zeros(4, 2, 3, 3), zeros(3))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.conv2d(zeros(2, 5, 5), zeros(4, 2, 3, 3))


@pytest.mark.parametrize(
    "op",
    [
        lambda x: F.conv2d(x, zeros(1, 1, 2, 2), stride=0),
        lambda x: F.max_pool2d(x, 2, stride=(2, 0)),
        lambda x: F.max_pool2d(x, 0),
    ],
    ids=["conv_stride_0", "pool_stride_0", "pool_kernel_0"],
)
def test_zero_stride_or_kernel_is_a_value_error(op) -> None:
    with pytest.raises(ValueError, match="stride|kernel"):
        op(zeros(1, 1, 4, 4))


def test_max_pool_window_larger_than_input() -> None:
    with pytest.raises(ValueError, match=r"max_pool2d.*3x3.*2x5"):
        F.max_pool2d(zeros(1, 1, 2, 5), 3)


# ----- shapes that do not fit --------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, op",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
        ("maximum", F.maximum),
    ],
)
def test_binary_shape_mismatch_names_both_shapes(name: str, op) -> None:
    with pytest.raises(ValueError) as error:
        op(zeros(2, 3), zeros(4))
    message = str(error.value)
    assert message.startswith(name) and "(2, 3)" in message and "(4,)" in message
    assert "operands could not be broadcast" not in message  # not NumPy's message


def test_matmul_inner_dimension_mismatch() -> None:
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        zeros(2, 3) @ zeros(4, 5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        zeros(3) @ zeros(3, 2)


def test_linear_feature_mismatch() -> None:
    with pytest.raises(ValueError, match=r"dense: x has 3 features but weight \(4, 5\) expects 5"):
        F.dense(zeros(2, 3), zeros(4, 5))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.dense(zeros(2, 5), zeros(4, 5), zeros(5))


def test_bad_reshape() -> None:
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*6 elements.*\(4, 2\)"):
        zeros(2, 3).reshape(4, 2)


@pytest.mark.parametrize("axes", [(0, 0), (0,), (0, 1, 2), (0, 2), (-3, 0)])
def test_transpose_with_bad_axes(axes: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"transpose: axes .* \(2, 3\)"):
        zeros(2, 3).transpose(*axes)


def test_flatten_with_bad_start_dim() -> None:
    with pytest.raises(ValueError, match="start_dim"):
        zeros(2, 3).flatten(2)


def test_reduction_axis_out_of_range() -> None:
    for reduce in ("sum", "mean", "max"):
        with pytest.raises(ValueError, match=rf"{reduce}: axis 2 is out of range"):
            getattr(zeros(2, 3), reduce)(axis=2)


def test_concatenate_and_stack_mismatches() -> None:
    with pytest.raises(ValueError, match=r"concatenate: shapes \[\(2, 3\), \(2, 4\)\]"):
        ts.concatenate([zeros(2, 3), zeros(2, 4)], axis=0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        ts.concatenate([zeros(2, 3), zeros(3)])
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\).*\(3, 2\)"):
        ts.stack([zeros(2, 3), zeros(3, 2)])
    with pytest.raises(ValueError, match="at least one"):
        ts.stack([])


def test_index_out_of_range_names_the_shape() -> None:
    with pytest.raises(IndexError, match=r"\(2, 3\)"):
        zeros(2, 3)[5]


def test_clip_needs_sensible_bounds() -> None:
    with pytest.raises(ValueError, match="at least one"):
        zeros(3).clip()
    with pytest.raises(ValueError, match="low must be <= high"):
        zeros(3).clip(1.0, -1.0)


def test_backward_grad_of_the_wrong_shape() -> None:
    y = ts.tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"grad has shape \(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))


# ----- devices ----------------------------------------------------------------------------------
def test_unknown_device_string() -> None:
    with pytest.raises(ValueError, match=r"device must be one of \('cpu', 'cuda'\), got 'gpu'"):
        ts.tensor([1.0], device="gpu")
    with pytest.raises(ValueError, match="'gpu'"):
        ts.tensor(np.ones(2), device="gpu")
    with pytest.raises(ValueError, match="'cuda:0'"):
        ts.tensor([1.0]).to("cuda:0")


@cuda_only
def test_mixing_devices_names_both() -> None:
    with pytest.raises(ValueError, match=r"Add: .*input 0 on 'cpu', input 1 on 'cuda'"):
        ts.tensor([1.0]) + ts.tensor([1.0], device="cuda")
    with pytest.raises(ValueError, match=r"Conv2d(Op)?: .*'cuda'.*'cpu'"):
        F.conv2d(zeros(1, 1, 3, 3).to("cuda"), zeros(1, 1, 2, 2))


def test_negative_padding_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="padding must be >= 0"):
        F.conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 2, 2), padding=-1)


def test_numpy_integer_stride_is_accepted() -> None:
    out = F.conv2d(zeros(1, 1, 6, 6), zeros(1, 1, 2, 2), stride=np.int64(2))
    assert out.shape == (1, 1, 3, 3)
