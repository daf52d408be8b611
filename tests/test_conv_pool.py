"""conv2d and max_pool2d against naive loops, finite differences, and their own chunked path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import SETTINGS

import tinysiam as ts
import tinysiam.functional as F
from tinysiam.ops import conv

pytestmark = pytest.mark.filterwarnings("error")


# ----- naive references: one output pixel at a time, float64 ------------------------------------------
def naive_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> np.ndarray:
    """out[n, o, i, j] = b[o] + sum_{c, u, v} x_padded[n, c, i*sh + u, j*sw + v] w[o, c, u, v]."""
    (sh, sw), (ph, pw) = stride, padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, width = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (width - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]  # (N, C, kh, kw)
            out[:, :, i, j] = np.einsum("ncuv,ocuv->no", patch, w)
    return out if b is None else out + b.reshape(1, o, 1, 1)


def naive_max_pool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """out[n, c, i, j] = max of the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw]."""
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw].max(axis=(2, 3))
    return out


def as_pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


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


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding", CONV_CASES.values(), ids=CONV_CASES.keys()
)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_forward_matches_naive_loop(
    x_shape, w_shape, stride, padding, with_bias: bool
) -> None:
    x, w, b = conv_inputs(x_shape, w_shape)
    b = b if with_bias else None
    out = F.conv2d(
        ts.tensor(x),
        ts.tensor(w),
        None if b is None else ts.tensor(b),
        stride=stride,
        padding=padding,
    )
    expected = naive_conv2d(x, w, b, as_pair(stride), as_pair(padding))
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding", CONV_CASES.values(), ids=CONV_CASES.keys()
)
def test_conv2d_gradcheck_x_weight_bias(x_shape, w_shape, stride, padding) -> None:
    x, w, b = (ts.tensor(v, requires_grad=True) for v in conv_inputs(x_shape, w_shape))
    assert ts.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b)


def test_conv2d_gradcheck_without_bias_and_with_constant_input() -> None:
    x, w, _ = conv_inputs((2, 2, 5, 4), (3, 2, 2, 3))
    weight = ts.tensor(w, requires_grad=True)
    assert ts.gradcheck(lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1), ts.tensor(x), weight)
    image = ts.tensor(x, requires_grad=True)
    assert ts.gradcheck(lambda x, w: F.conv2d(x, w, padding=(0, 1)), image, ts.tensor(w))


@st.composite
def conv_geometries(draw) -> tuple:
    """x shape, weight shape, stride, padding of a small conv whose kernel fits the padded input."""
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 6))
    w = draw(st.integers(max(1, kw - 2 * pw), 6))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return (n, c, h, w), (o, c, kh, kw), stride, (ph, pw)


@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16))
def test_conv2d_on_random_geometries(geometry, seed: int) -> None:
    x_shape, w_shape, stride, padding = geometry
    x, w, b = conv_inputs(x_shape, w_shape, seed)
    out = F.conv2d(ts.tensor(x), ts.tensor(w), ts.tensor(b), stride=stride, padding=padding)
    np.testing.assert_allclose(
        out.numpy(), naive_conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12
    )
    tensors = [ts.tensor(v, requires_grad=True) for v in (x, w, b)]
    assert ts.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), *tensors)


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


def conv_and_grads(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride, padding
) -> list[np.ndarray]:
    """The output of conv2d and the gradients of sum(out * g) with respect to x, w and b."""
    tensors = [ts.tensor(v, requires_grad=True) for v in (x, w, b)]
    out = F.conv2d(*tensors, stride=stride, padding=padding)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    return [out.numpy()] + [t.grad for t in tensors]


@pytest.mark.parametrize("images_per_chunk", [1, 2])
def test_conv2d_chunked_batch_equals_unchunked(
    monkeypatch: pytest.MonkeyPatch, images_per_chunk: int
) -> None:
    x_shape, w_shape, stride, padding = (5, 2, 7, 6), (3, 2, 3, 3), (2, 1), (1, 2)
    x, w, b = conv_inputs(x_shape, w_shape)
    whole = conv_and_grads(x, w, b, stride, padding)

    oh, ow = (7 + 2 - 3) // 2 + 1, (6 + 4 - 3) // 1 + 1
    bytes_per_image = 2 * 3 * 3 * oh * ow * x.itemsize  # C*kh*kw*OH*OW values
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", images_per_chunk * bytes_per_image)
    assert len(conv.batch_chunks(5, bytes_per_image)) == -(-5 // images_per_chunk)  # really chunked
    chunked = conv_and_grads(x, w, b, stride, padding)

    for name, expected, actual in zip(
        ["out", "x.grad", "weight.grad", "bias.grad"], whole, chunked
    ):
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("n, most", [(7, 6), (16, 6), (360, 6), (5, 1), (3, 10)])
def test_batch_chunks_are_as_few_and_as_equal_as_the_budget_allows(
    monkeypatch: pytest.MonkeyPatch, n: int, most: int
) -> None:
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", most * 100)
    chunks = conv.batch_chunks(n, 100)  # room for `most` items of 100 bytes
    sizes = [c.stop - c.start for c in chunks]
    assert chunks[0].start == 0 and chunks[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(chunks, chunks[1:]))  # contiguous, in order
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
def test_max_pool2d_forward_matches_naive_loop(shape, kernel, stride, out_hw) -> None:
    x = without_ties(shape)
    out = F.max_pool2d(ts.tensor(x), kernel, stride)
    assert out.shape == shape[:2] + out_hw
    expected = naive_max_pool2d(
        x, as_pair(kernel), as_pair(stride if stride is not None else kernel)
    )
    np.testing.assert_array_equal(out.numpy(), expected)


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


def test_max_pool2d_overlapping_windows_add_their_gradients() -> None:
    values = without_ties((1, 1, 7, 7), seed=3)
    x = ts.tensor(values, requires_grad=True)
    F.max_pool2d(x, 3, 2).sum().backward()
    expected = np.zeros_like(values)
    for i in range(3):
        for j in range(3):
            window = values[0, 0, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
            u, v = np.unravel_index(np.argmax(window), window.shape)
            expected[0, 0, 2 * i + u, 2 * j + v] += 1.0
    np.testing.assert_array_equal(x.grad, expected)


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
