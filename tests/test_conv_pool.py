"""The fast conv2d and max_pool2d (tinysiam.ops) on named edge cases: against the reference ops,
finite differences, and their own chunked path.

The reference ops (tinysiam.reference) are checked against one-pixel-at-a-time definitions, and
the fast ones against them on random geometries, in test_reference.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import SETTINGS
from test_reference import conv_geometries, values_and_gradients

import tinysiam as ts
import tinysiam.functional as F
from tinysiam.ops import conv

pytestmark = pytest.mark.filterwarnings("error")


def without_ties(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A random permutation of distinct values 0, 1/size, 2/size, ...: no window has a tie."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) / size


# ----- conv2d ------------------------------------------------------------------------------------
# (x shape, weight shape, stride, padding)
CONV_CASES = {
    "3x3": ((2, 2, 5, 5), (3, 2, 3, 3), 1, 0),
    "1x1": ((2, 3, 4, 5), (4, 3, 1, 1), 1, 0),
    "kernel_equals_input": ((2, 2, 4, 4), (3, 2, 4, 4), 1, 0),
    "kernel_equals_padded_input": ((1, 2, 3, 3), (2, 2, 5, 5), 1, 1),
    "non_square_kernel": ((1, 2, 6, 5), (2, 2, 3, 2), 1, 0),
    "stride_2_padding_1": ((2, 1, 7, 7), (2, 1, 3, 3), 2, 1),
    "stride_leaves_pixels_out": ((1, 2, 8, 8), (2, 2, 3, 3), 3, 0),
    "stride_and_padding_tuples": ((2, 2, 7, 6), (3, 2, 3, 3), (2, 1), (1, 0)),
    "non_square_everything": ((1, 2, 6, 7), (2, 2, 2, 3), (1, 3), (2, 1)),
}


def conv_inputs(x_shape, w_shape, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(x_shape),
        rng.standard_normal(w_shape),
        rng.standard_normal(w_shape[0]),
    )


def both_impls(fn, arrays: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Output and gradients (see values_and_gradients) of fn(*tensors, impl=...) for each impl."""
    return {
        impl: values_and_gradients(lambda *t, impl=impl: fn(*t, impl=impl), arrays)
        for impl in ("fast", "reference")
    }


def assert_fast_equals_reference(results: dict, names: list[str]) -> None:
    for name, fast, reference in zip(names, results["fast"], results["reference"], strict=True):
        assert fast.shape == reference.shape and fast.dtype == np.float64, name
        np.testing.assert_allclose(fast, reference, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding", CONV_CASES.values(), ids=CONV_CASES.keys()
)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_values_and_gradients_match_the_reference(
    x_shape, w_shape, stride, padding, with_bias: bool
) -> None:
    arrays = list(conv_inputs(x_shape, w_shape))[: 3 if with_bias else 2]
    results = both_impls(
        lambda *t, impl: F.conv2d(*t, stride=stride, padding=padding, impl=impl), arrays
    )
    names = ["out", "x.grad", "weight.grad", "bias.grad"][: len(arrays) + 1]
    assert_fast_equals_reference(results, names)


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding", CONV_CASES.values(), ids=CONV_CASES.keys()
)
def test_conv2d_gradcheck_x_weight_bias(x_shape, w_shape, stride, padding) -> None:
    x, w, b = (ts.tensor(v, requires_grad=True) for v in conv_inputs(x_shape, w_shape))
    assert ts.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b)


@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col_with_the_batch_innermost(geometry, seed: int) -> None:
    """<im2col(x), c> = <x, col2im(c')>, c' being c (K, N*OH*OW) reordered to (K, OH*OW*N)."""
    (n, c, h, w), (_, _, kh, kw), stride, (ph, pw) = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h + 2 * ph, w + 2 * pw))
    out_hw = (conv.output_size(h, kh, stride[0], ph), conv.output_size(w, kw, stride[1], pw))
    k, pixels = c * kh * kw, out_hw[0] * out_hw[1]
    cols = rng.standard_normal((k, n * pixels))
    batch_last = cols.reshape(k, n, pixels).transpose(0, 2, 1).reshape(k, pixels * n)
    lhs = np.sum(conv.im2col(x, kh, kw, stride, out_hw) * cols)
    rhs = np.sum(x * conv.col2im(batch_last, x.shape, kh, kw, stride, out_hw))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("images_per_chunk", [1, 2])
def test_conv2d_in_chunks_matches_the_reference(
    monkeypatch: pytest.MonkeyPatch, images_per_chunk: int
) -> None:
    x_shape, w_shape, stride, padding = (5, 2, 7, 6), (3, 2, 3, 3), (2, 1), (1, 2)
    oh, ow = (7 + 2 - 3) // 2 + 1, (6 + 4 - 3) // 1 + 1
    bytes_per_image = 2 * 3 * 3 * oh * ow * 8  # C*kh*kw*OH*OW float64 values
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", images_per_chunk * bytes_per_image)
    assert len(conv.batch_chunks(5, bytes_per_image)) == -(-5 // images_per_chunk)  # really chunked
    results = both_impls(
        lambda *t, impl: F.conv2d(*t, stride=stride, padding=padding, impl=impl),
        list(conv_inputs(x_shape, w_shape)),
    )
    assert_fast_equals_reference(results, ["out", "x.grad", "weight.grad", "bias.grad"])


@pytest.mark.parametrize("n, most", [(7, 6), (16, 6), (360, 6), (5, 1), (3, 10)])
def test_batch_chunks_are_as_few_and_as_equal_as_the_budget_allows(
    monkeypatch: pytest.MonkeyPatch, n: int, most: int
) -> None:
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", most * 100)
    chunks = conv.batch_chunks(n, 100)  # room for `most` items of 100 bytes
    sizes = [c.stop - c.start for c in chunks]
    assert chunks[0].start == 0 and chunks[-1].stop == n
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))  # contiguous, in order
    assert len(chunks) == -(-n // most) and max(sizes) <= most and max(sizes) - min(sizes) <= 1


def test_conv2d_of_an_empty_batch_is_empty() -> None:
    x, w, b = (ts.tensor(v, requires_grad=True) for v in conv_inputs((0, 2, 5, 5), (3, 2, 3, 3)))
    out = F.conv2d(x, w, b, padding=1)
    out.sum().backward()
    assert out.shape == (0, 3, 5, 5) and x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(w.grad, 0)


def test_conv2d_chunked_gradcheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 1)  # every image is its own chunk
    x, w, b = (ts.tensor(v, requires_grad=True) for v in conv_inputs((3, 2, 5, 5), (2, 2, 3, 3)))
    assert ts.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), x, w, b)


# ----- max_pool2d ---------------------------------------------------------------------------------
# (x shape, kernel, stride, expected output height and width)
POOL_CASES = {
    "21x21_to_10x10": ((1, 2, 21, 21), 2, None, (10, 10)),
    "7x5_odd": ((2, 2, 7, 5), 2, 2, (3, 2)),
    "overlapping_3_stride_2": ((2, 1, 7, 7), 3, 2, (3, 3)),
    "non_square": ((1, 2, 6, 7), (2, 3), (1, 2), (5, 3)),
    "window_equals_input": ((2, 3, 4, 3), (4, 3), None, (1, 1)),
}


@pytest.mark.parametrize(
    "shape, kernel, stride, out_hw", POOL_CASES.values(), ids=POOL_CASES.keys()
)
@pytest.mark.parametrize("values", ["distinct", "ties"])
def test_max_pool2d_values_and_gradients_match_the_reference(
    shape, kernel, stride, out_hw, values: str
) -> None:
    x = without_ties(shape) if values == "distinct" else np.round(2 * without_ties(shape))
    results = both_impls(lambda t, impl: F.max_pool2d(t, kernel, stride, impl=impl), [x])
    assert results["fast"][0].shape == shape[:2] + out_hw
    assert_fast_equals_reference(results, ["out", "x.grad"])


@pytest.mark.parametrize(
    "shape, kernel, stride, out_hw", POOL_CASES.values(), ids=POOL_CASES.keys()
)
def test_max_pool2d_gradcheck(shape, kernel, stride, out_hw) -> None:
    x = ts.tensor(without_ties(shape), requires_grad=True)
    assert ts.gradcheck(lambda x: F.max_pool2d(x, kernel, stride), x)


@pytest.mark.parametrize("shape", [(1, 2, 21, 21), (2, 2, 7, 5), (1, 1, 4, 4)])
def test_max_pool2d_gradient_goes_only_to_each_window_max(shape) -> None:
    values = without_ties(shape)
    x = ts.tensor(values, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    oh, ow = shape[2] // 2, shape[3] // 2
    windows = x.grad[:, :, : 2 * oh, : 2 * ow].reshape(shape[0], shape[1], oh, 2, ow, 2)
    assert np.all(np.count_nonzero(windows, axis=(3, 5)) == 1)  # one nonzero per window...
    assert np.all(windows.sum(axis=(3, 5)) == 1.0)  # ...holding the whole gradient...
    maxima = values[:, :, : 2 * oh, : 2 * ow].reshape(windows.shape).max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(
        windows == 1.0, values[:, :, : 2 * oh, : 2 * ow].reshape(windows.shape) == maxima
    )  # ...at the max
    assert np.all(x.grad[:, :, 2 * oh :, :] == 0) and np.all(
        x.grad[:, :, :, 2 * ow :] == 0
    )  # dropped edge


def test_max_pool2d_tie_sends_the_whole_gradient_to_one_element() -> None:
    x = ts.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    windows = x.grad.reshape(2, 2, 2, 2)
    assert np.all(windows.sum(axis=(1, 3)) == 1.0)
    assert np.count_nonzero(x.grad) == 4


@pytest.mark.parametrize(
    "window, winner",
    [
        ([[0, 5], [5, 5]], (0, 1)),
        ([[5, 0], [5, 5]], (0, 0)),
        ([[0, 0], [5, 5]], (1, 0)),
        ([[1, 5], [0, 5]], (0, 1)),
    ],
)
def test_max_pool2d_tie_goes_to_the_first_maximum_in_row_major_order(
    window: list, winner: tuple[int, int]
) -> None:
    x = ts.tensor(np.array(window, dtype=np.float32).reshape(1, 1, 2, 2), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((2, 2), dtype=np.float32)
    expected[winner] = 1.0
    np.testing.assert_array_equal(x.grad[0, 0], expected)


@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 7), st.integers(2, 7)),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
@SETTINGS
def test_max_pool2d_and_relu_commute_in_values_and_gradients(shape, kernel, stride, seed) -> None:
    """max_pool(relu(x)) == relu(max_pool(x)) (relu never changes which value is largest), so
    models.omniglot_cpu_net pools first and runs ReLU on a quarter of the values. Values from
    {-2, ..., 2} make ties and all-negative windows common; the gradients agree exactly too."""
    assume(kernel <= min(shape[2:]))
    rng = np.random.default_rng(seed)
    values = rng.integers(-2, 3, size=shape).astype(np.float64)
    upstream = rng.standard_normal(F.max_pool2d(ts.tensor(values), kernel, stride).shape)
    results = []
    for order in ("relu, pool", "pool, relu"):
        x = ts.tensor(values, requires_grad=True)
        out = (
            F.max_pool2d(F.relu(x), kernel, stride)
            if order == "relu, pool"
            else F.relu(F.max_pool2d(x, kernel, stride))
        )
        out.backward(upstream)
        results.append((out.numpy(), x.grad))
    (out_a, grad_a), (out_b, grad_b) = results
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(grad_a, grad_b)
