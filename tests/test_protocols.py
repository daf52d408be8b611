"""Python's protocols on a Tensor, and the one rule for mixed dtypes within an op."""

from __future__ import annotations

import numpy as np
import pytest

import tinysiam as ts
from tinysiam import functional as F


# ----- abs, float, int, bool -------------------------------------------------------------------
def test_abs_is_the_differentiable_abs_op() -> None:
    x = ts.tensor(np.array([-2.0, 3.0]), requires_grad=True)
    y = abs(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 1.0])


def test_float_int_and_bool_of_one_element() -> None:
    assert float(ts.tensor([[2.5]])) == 2.5
    assert int(ts.tensor(7)) == 7
    assert int(ts.tensor(2.9)) == 2  # truncates, like int(2.9)
    assert bool(ts.tensor(1.0)) and not bool(ts.tensor([0.0]))


@pytest.mark.parametrize("convert, name", [(float, "float()"), (int, "int()")])
def test_float_and_int_of_several_elements_name_the_shape(convert, name) -> None:
    with pytest.raises(
        ValueError, match=rf"^{name[:-2]}\(\) needs a tensor with one element, got shape \(2,\)"
    ):
        convert(ts.tensor([1.0, 2.0]))


def test_truth_of_several_elements_is_ambiguous() -> None:
    with pytest.raises(ValueError, match=r"truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(ts.tensor([1.0, 2.0]) > 0)


# ----- comparisons ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "compare, expected",
    [
        (lambda a, b: a < b, [True, False, False]),
        (lambda a, b: a <= b, [True, True, False]),
        (lambda a, b: a > b, [False, False, True]),
        (lambda a, b: a >= b, [False, True, True]),
        (lambda a, b: a == b, [False, True, False]),
        (lambda a, b: a != b, [True, False, True]),
    ],
)
def test_comparisons_give_a_bool_mask_outside_the_graph(compare, expected) -> None:
    a = ts.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for b in (ts.tensor(np.full(3, 2.0)), 2.0, np.float64(2.0), np.full(3, 2.0)):
        mask = compare(a, b)
        assert isinstance(mask, ts.Tensor)
        assert mask.dtype == np.bool_ and not mask.requires_grad and mask.is_leaf
        np.testing.assert_array_equal(mask.numpy(), expected)


def test_comparisons_broadcast_and_the_reflected_forms_work() -> None:
    x = ts.tensor(np.array([[1.0], [3.0]]))
    np.testing.assert_array_equal((x > ts.tensor(np.array([0.0, 2.0]))).numpy(), [[1, 0], [1, 1]])
    reflected = 2.0 < x  # noqa: SIM300  (Python calls x.__gt__(2.0))
    np.testing.assert_array_equal(reflected.numpy(), [[False], [True]])
    with pytest.raises(ValueError, match=r"shapes \(2, 1\) and \(3, 4\) cannot be broadcast"):
        _ = x < ts.tensor(np.zeros((3, 4)))


def test_a_mask_selects_and_weights_with_the_gradient_flowing_through_the_values() -> None:
    x = ts.tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    (x * (x > 0)).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(x[x > 1.5].numpy(), [2.0, 3.0])


def test_a_tensor_hashes_by_identity_and_equality_with_a_non_number_is_false() -> None:
    a, b = ts.tensor([1.0]), ts.tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b, a}) == 2
    assert a in [a] and (a == "a") is False and (a != None) is True  # noqa: E711
    with pytest.raises(TypeError):
        _ = a < "a"


def test_comparing_two_float_dtypes_names_both() -> None:
    with pytest.raises(TypeError, match="less: inputs have different dtypes"):
        _ = ts.tensor(np.ones(2, np.float32)) < ts.tensor(np.ones(2, np.float64))


# ----- astype --------------------------------------------------------------------------------
def test_astype_between_floats_is_differentiable_and_casts_the_gradient_back() -> None:
    w = ts.tensor(np.array([1.0, 2.0], dtype=np.float16), requires_grad=True)
    y = w.astype("float32")
    assert y.dtype == np.float32 and y.requires_grad
    (y * y).sum().backward()
    assert w.grad.dtype == np.float16
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_astype_to_an_integer_leaves_the_graph() -> None:
    y = ts.tensor(np.array([1.7, -2.2]), requires_grad=True).astype("int32")
    assert y.dtype == np.int32 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [1, -2])
    with pytest.raises(TypeError, match="dtype must be a numpy dtype"):
        ts.tensor([1.0]).astype("no such dtype")


# ----- mixed dtypes within one op ------------------------------------------------------------
def test_mixed_float_dtypes_in_an_op_are_an_error_naming_both() -> None:
    a = ts.tensor(np.ones(3, np.float32))
    b = ts.tensor(np.ones(3, np.float64))
    with pytest.raises(
        TypeError,
        match=r"^Add: inputs have different dtypes: input 0 float32, input 1 float64; "
        r"convert one with \.astype",
    ):
        a + b


def test_a_float16_weight_with_a_float32_input_in_conv2d_is_an_error() -> None:
    x = ts.tensor(np.ones((1, 1, 4, 4), np.float32))
    w = ts.tensor(np.ones((2, 1, 3, 3), np.float16), requires_grad=True)
    with pytest.raises(TypeError, match=r"input 0 float32, input 1 float16"):
        F.conv2d(x, w)
    F.conv2d(x, w.astype("float32")).sum().backward()  # the suggested fix works end to end
    assert w.grad.dtype == np.float16


def test_python_numbers_and_bool_masks_keep_working_with_any_float_dtype() -> None:
    for dtype in (np.float16, np.float32, np.float64):
        x = ts.tensor(np.ones(2, dtype))
        assert (x * 2.0).dtype == dtype and (1 - x).dtype == dtype and (x**2).dtype == dtype
        assert (np.float64(3.0) * x).dtype == dtype  # a numpy scalar is lifted like a number
        assert (x * (x > 0)).dtype == dtype  # a bool mask mixes with any dtype


def test_an_integer_tensor_with_a_float_tensor_is_an_error_not_a_float64_result() -> None:
    x = ts.tensor(np.ones(2, np.float32))
    with pytest.raises(TypeError, match=r"^Mul: inputs have different dtypes: input 0 float32, "):
        x * ts.tensor(np.array([1, 2]))


def test_comparing_a_zero_dimensional_tensor_gives_a_zero_dimensional_mask() -> None:
    t = ts.tensor([1.0, 2.0])[1]  # shape ()
    mask = t > 1
    assert isinstance(mask, ts.Tensor) and mask.shape == () and mask.dtype == np.bool_
    assert bool(mask) is True and bool(t == 1) is False
