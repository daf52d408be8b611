"""tinysiam.reference: the textbook ops against their definitions and finite differences, the
fast ops and optimisers against them, and the ``impl`` switch.

The chain of trust: the reference ops are checked against the definitions written one output
pixel (or one window) at a time below, and their gradients against finite differences; then the
fast ops must give the reference's values and gradients to rounding (float64, rtol 1e-10).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from devices import devices
from hypothesis import given
from hypothesis import strategies as st
from strategies import SETTINGS

import tinysiam as ts
import tinysiam.functional as F
from tinysiam import nn, optim
from tinysiam.nn import use_fast_ops, use_reference_ops
from tinysiam.ops import conv as fast_conv
from tinysiam.reference import ReferenceAdam, ReferenceSGD, col2im, im2col

pytestmark = pytest.mark.filterwarnings("error")

TIGHT = dict(rtol=1e-10, atol=1e-12)  # fast against reference, float64: rounding only


# ----- the definitions: one output pixel, one window at a time --------------------------------
def naive_conv2d(x, w, b, stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
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


def naive_max_pool2d(x, upstream, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple:
    """Each window's max, and the gradient of sum(out * upstream): each window's upstream value
    goes wholly to its first maximum in row-major order (np.argmax of the flattened window)."""
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out, grad = np.empty((n, c, oh, ow)), np.zeros_like(x)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = x[a, b, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    out[a, b, i, j] = window[u, v]
                    grad[a, b, i * sh + u, j * sw + v] += upstream[a, b, i, j]
    return out, grad


# ----- strategies ---------------------------------------------------------------------------
@st.composite
def conv_geometries(draw) -> tuple:
    """x shape, weight shape, stride and padding of a small convolution whose kernel fits.

    Kernels from 1x1 up; sizes odd and even; strides that leave pixels out; and, a quarter of
    the time, a kernel exactly the size of the padded input (one output pixel).
    """
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    if draw(st.integers(0, 3)) == 0:  # kernel = padded input
        ph, pw = min(ph, (kh - 1) // 2), min(pw, (kw - 1) // 2)
        h, w = kh - 2 * ph, kw - 2 * pw
    else:
        h = draw(st.integers(max(1, kh - 2 * ph), 7))
        w = draw(st.integers(max(1, kw - 2 * pw), 7))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return (n, c, h, w), (o, c, kh, kw), stride, (ph, pw)


@st.composite
def pool_cases(draw) -> tuple:
    """x (float64, with ties half the time), kernel and stride of a small max-pool that fits.

    Strides below, at and above the kernel: overlapping windows, a tiling, and gaps. Ties:
    values drawn from {-2, ..., 2}, so most windows hold their maximum twice or more.
    """
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        x = rng.integers(-2, 3, size=(n, c, h, w)).astype(np.float64)  # ties
    else:
        x = rng.permutation(n * c * h * w).reshape(n, c, h, w) / (n * c * h * w)  # none
    return x, kernel, stride


def conv_inputs(x_shape, w_shape, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in (x_shape, w_shape, (w_shape[0],))]


def values_and_gradients(fn, arrays: list[np.ndarray], seed: int = 1) -> list[np.ndarray]:
    """fn's output and the gradients of sum(out * g), g random, for each of ``arrays``."""
    tensors = [ts.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(np.random.default_rng(seed).standard_normal(out.shape))
    return [out.numpy()] + [t.grad for t in tensors]


def assert_all_close(actual: list, expected: list, names: list[str], **tolerance) -> None:
    assert len(actual) == len(expected) == len(names)
    for name, a, e in zip(names, actual, expected, strict=True):
        assert a.shape == e.shape, f"{name}: shape {a.shape}, expected {e.shape}"
        np.testing.assert_allclose(a, e, err_msg=name, **tolerance)


# ----- im2col and col2im ----------------------------------------------------------------------
@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16))
def test_im2col_holds_every_patch_and_col2im_is_its_adjoint(geometry, seed: int) -> None:
    """cols[c, i, j, n, oh, ow] = x[n, c, oh*sh + i, ow*sw + j], entry by entry; and
    <im2col(x), c> = <x, col2im(c)> for every x and c (the definition of the adjoint)."""
    (n, c, h, w), (_, _, kh, kw), (sh, sw), (ph, pw) = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h + 2 * ph, w + 2 * pw))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = im2col(x, kh, kw, (sh, sw), (oh, ow))
    assert cols.shape == (c * kh * kw, n * oh * ow)
    entries = cols.reshape(c, kh, kw, n, oh, ow)
    for index in np.ndindex(entries.shape):
        ci, i, j, ni, a, b = index
        assert entries[index] == x[ni, ci, a * sh + i, b * sw + j]
    other = rng.standard_normal(cols.shape)
    back = col2im(other, x.shape, kh, kw, (sh, sw), (oh, ow))
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(cols * other), np.sum(x * back), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16))
def test_fast_im2col_with_a_shared_buffer_equals_the_reference(geometry, seed: int) -> None:
    (n, c, h, w), (_, _, kh, kw), stride, (ph, pw) = geometry
    x = np.random.default_rng(seed).standard_normal((n, c, h + 2 * ph, w + 2 * pw))
    out_hw = ((h + 2 * ph - kh) // stride[0] + 1, (w + 2 * pw - kw) // stride[1] + 1)
    buffer = np.full(c * kh * kw * n * out_hw[0] * out_hw[1] + 5, np.nan)  # larger, and dirty
    fast = fast_conv.im2col(x, kh, kw, stride, out_hw, out=buffer)
    np.testing.assert_array_equal(fast, im2col(x, kh, kw, stride, out_hw))


# ----- conv2d ---------------------------------------------------------------------------------
@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16))
def test_reference_conv2d_matches_the_definition(geometry, seed: int) -> None:
    x_shape, w_shape, stride, padding = geometry
    x, w, b = conv_inputs(x_shape, w_shape, seed)
    for bias in (b, None):
        tensors = [ts.tensor(x), ts.tensor(w)] + ([] if bias is None else [ts.tensor(bias)])
        out = F.conv2d(*tensors, stride=stride, padding=padding, impl="reference")
        expected = naive_conv2d(x, w, bias, stride, padding)
        assert out.shape == expected.shape and out.dtype == np.float64
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16))
def test_reference_conv2d_gradcheck(geometry, seed: int) -> None:
    x_shape, w_shape, stride, padding = geometry
    tensors = [ts.tensor(v, requires_grad=True) for v in conv_inputs(x_shape, w_shape, seed)]

    def conv(x, w, b):
        return F.conv2d(x, w, b, stride=stride, padding=padding, impl="reference")

    assert ts.gradcheck(conv, *tensors)


@SETTINGS
@given(geometry=conv_geometries(), seed=st.integers(0, 2**16), with_bias=st.booleans())
def test_fast_conv2d_equals_the_reference_in_values_and_gradients(
    geometry, seed: int, with_bias: bool
) -> None:
    x_shape, w_shape, stride, padding = geometry
    arrays = conv_inputs(x_shape, w_shape, seed)[: 3 if with_bias else 2]
    results = {
        impl: values_and_gradients(
            lambda *t, impl=impl: F.conv2d(*t, stride=stride, padding=padding, impl=impl), arrays
        )
        for impl in ("fast", "reference")
    }
    names = ["out", "x.grad", "weight.grad", "bias.grad"][: len(arrays) + 1]
    assert_all_close(results["fast"], results["reference"], names, **TIGHT)


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_conv2d_gradient_of_one_input_only(impl: str) -> None:
    """The image alone, or the weight alone, requires grad: the other gets none."""
    x, w, b = conv_inputs((2, 2, 5, 4), (3, 2, 2, 3), seed=0)
    for wanted in ("x", "w"):
        image = ts.tensor(x, requires_grad=wanted == "x")
        weight = ts.tensor(w, requires_grad=wanted == "w")
        out = F.conv2d(image, weight, ts.tensor(b), stride=(2, 1), padding=1, impl=impl)
        out.sum().backward()
        assert (image.grad is None) == (wanted == "w") and (weight.grad is None) == (wanted == "x")
        assert ts.gradcheck(
            lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, impl=impl), image, weight
        )


def test_reference_conv2d_of_an_empty_batch_is_empty() -> None:
    x, w, b = (ts.tensor(v, requires_grad=True) for v in conv_inputs((0, 2, 5, 5), (3, 2, 3, 3), 0))
    out = F.conv2d(x, w, b, padding=1, impl="reference")
    out.sum().backward()
    assert out.shape == (0, 3, 5, 5) and x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(w.grad, 0)


# ----- max_pool2d -----------------------------------------------------------------------------
@SETTINGS
@given(case=pool_cases())
def test_reference_max_pool2d_matches_the_definition_ties_included(case) -> None:
    """Values, and the gradient: all of it to each window's first maximum (row-major)."""
    x, kernel, stride = case
    result = values_and_gradients(lambda t: F.max_pool2d(t, kernel, stride, impl="reference"), [x])
    upstream = np.random.default_rng(1).standard_normal(result[0].shape)  # as values_and_gradients
    expected = naive_max_pool2d(x, upstream, kernel, stride)
    np.testing.assert_array_equal(result[0], expected[0])
    np.testing.assert_allclose(result[1], expected[1], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(case=pool_cases())
def test_fast_max_pool2d_equals_the_reference_ties_included(case) -> None:
    x, kernel, stride = case
    results = {
        impl: values_and_gradients(
            lambda t, impl=impl: F.max_pool2d(t, kernel, stride, impl=impl), [x]
        )
        for impl in ("fast", "reference")
    }
    np.testing.assert_array_equal(results["fast"][0], results["reference"][0])
    np.testing.assert_allclose(results["fast"][1], results["reference"][1], **TIGHT)


@SETTINGS
@given(case=pool_cases())
def test_reference_max_pool2d_gradcheck(case) -> None:
    x, kernel, stride = case
    if len(np.unique(x)) < x.size:  # ties: no derivative there; draw distinct values instead
        x = np.random.default_rng(0).permutation(x.size).reshape(x.shape) / x.size
    image = ts.tensor(x, requires_grad=True)
    assert ts.gradcheck(lambda t: F.max_pool2d(t, kernel, stride, impl="reference"), image)


# ----- the impl switch --------------------------------------------------------------------------
def one_image(channels: int = 1, side: int = 6) -> ts.Tensor:
    """(2, channels, side, side) float64 values, for the functional ops."""
    return ts.tensor(np.random.default_rng(0).standard_normal((2, channels, side, side)))


def images(n: int = 2, side: int = 8, dtype=np.float32) -> ts.Tensor:
    """(n, 1, side, side) in [0, 1], as a network's input."""
    return ts.tensor(np.random.default_rng(0).random((n, 1, side, side)).astype(dtype))


BAD_IMPLS = ["Fast", "ref", "", None, 1, ("fast",)]


@pytest.mark.parametrize("impl", BAD_IMPLS, ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda impl: F.conv2d(one_image(), ts.tensor(np.ones((1, 1, 3, 3))), impl=impl),
        lambda impl: F.max_pool2d(one_image(), 2, impl=impl),
        lambda impl: nn.Conv2d(1, 2, 3, impl=impl),
        lambda impl: nn.MaxPool2d(2, impl=impl),
    ],
    ids=["F.conv2d", "F.max_pool2d", "nn.Conv2d", "nn.MaxPool2d"],
)
def test_an_unknown_impl_is_a_value_error_naming_the_choices(call, impl) -> None:
    with pytest.raises(
        ValueError, match=r"impl must be 'fast' or 'reference', got " + re.escape(repr(impl))
    ):
        call(impl)


def test_impl_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        F.max_pool2d(one_image(), 2, 2, "reference")
    with pytest.raises(TypeError):
        nn.MaxPool2d(2, 2, "reference")


def test_a_layer_whose_impl_was_set_wrong_later_raises_when_called() -> None:
    conv = nn.Conv2d(1, 2, 3)
    conv.impl = "slow"
    with pytest.raises(ValueError, match=r"conv2d: impl must be 'fast' or 'reference', got 'slow'"):
        conv(images())


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda impl: F.conv2d(
                ts.tensor(np.ones((1, 6, 6))), ts.tensor(np.ones((1, 1, 3, 3))), impl=impl
            ),
            r"\(N, C, H, W\)",
        ),
        (
            lambda impl: F.conv2d(one_image(2), ts.tensor(np.ones((1, 3, 3, 3))), impl=impl),
            "2 channels",
        ),
        (
            lambda impl: F.conv2d(one_image(), ts.tensor(np.ones((1, 1, 7, 7))), impl=impl),
            "does not fit",
        ),
        (
            lambda impl: F.conv2d(
                one_image(), ts.tensor(np.ones((1, 1, 3, 3))), stride=0, impl=impl
            ),
            "stride must be >= 1",
        ),
        (lambda impl: F.max_pool2d(ts.tensor(np.ones((6, 6))), 2, impl=impl), r"\(N, C, H, W\)"),
        (lambda impl: F.max_pool2d(one_image(), 7, impl=impl), "does not fit"),
        (lambda impl: F.max_pool2d(one_image(), 2.5, impl=impl), "kernel_size must be an int"),
    ],
    ids=[
        "conv_x_not_4d",
        "conv_channels",
        "conv_kernel_too_big",
        "conv_stride_0",
        "pool_x_not_4d",
        "pool_window_too_big",
        "pool_float_kernel",
    ],
)
def test_both_impls_reject_bad_input_alike(call, message: str, impl: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call(impl)


def small_conv_net(impl: str = "fast") -> nn.Sequential:
    """(N, 1, 8, 8) -> (N, 2): both conv and pool layers, overlapping and non-square windows."""
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=rng, impl=impl),  # 8 -> 8
        nn.ReLU(),
        nn.MaxPool2d(2, impl=impl),  # 8 -> 4
        nn.Conv2d(4, 4, 3, rng=rng, impl=impl),  # 4 -> 2
        nn.MaxPool2d((2, 1), stride=1, impl=impl),  # 2 x 2 -> 1 x 2
        nn.Flatten(),
        nn.Dense(4 * 1 * 2, 2, rng=rng),
    )


def conv_and_pool_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]


def test_layers_default_to_fast_and_show_reference_in_their_repr() -> None:
    assert nn.Conv2d(1, 2, 3).impl == "fast" and nn.MaxPool2d(2).impl == "fast"
    assert "impl" not in repr(nn.Conv2d(1, 2, 3)) + repr(nn.MaxPool2d(2))
    assert repr(nn.Conv2d(1, 2, 3, impl="reference")).endswith("impl='reference')")
    assert repr(nn.MaxPool2d(2, impl="reference")) == (
        "MaxPool2d(kernel_size=2, stride=2, impl='reference')"
    )


def test_impl_is_a_setting_not_a_parameter_so_state_dicts_are_unchanged() -> None:
    fast, reference = small_conv_net("fast"), small_conv_net("reference")
    fast_state, reference_state = fast.state_dict(), reference.state_dict()
    assert (
        list(fast_state)
        == list(reference_state)
        == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    )
    for name in fast_state:
        np.testing.assert_array_equal(fast_state[name], reference_state[name], err_msg=name)
    reference.load_state_dict(fast_state)  # either loads the other's state


def test_a_network_on_reference_layers_gives_the_fast_outputs_and_gradients() -> None:
    x = images(dtype=np.float64)
    results = []
    for impl in ("fast", "reference"):
        net = small_conv_net(impl).to(dtype=np.float64)
        out = net(x)
        out.sum().backward()
        results.append([out.numpy()] + [p.grad for p in net.parameters()])
    assert_all_close(results[0], results[1], ["out"] + [f"grad {i}" for i in range(6)], **TIGHT)


def test_use_reference_ops_switches_every_conv_and_pool_layer_at_any_depth() -> None:
    branch = small_conv_net()
    twin = nn.Twin(nn.Sequential(branch, nn.ReLU()))
    parameters = twin.parameters()
    assert use_reference_ops(twin) is twin
    assert [m.impl for m in conv_and_pool_layers(twin)] == ["reference"] * 4
    assert all(p is q for p, q in zip(twin.parameters(), parameters, strict=True))
    assert use_fast_ops(twin) is twin
    assert [m.impl for m in conv_and_pool_layers(twin)] == ["fast"] * 4
    layer = nn.MaxPool2d(2)
    assert use_reference_ops(layer).impl == "reference"  # a layer on its own


def test_use_reference_ops_needs_a_module() -> None:
    with pytest.raises(TypeError, match="expected a tinysiam.nn.Module, got list"):
        use_reference_ops([nn.Conv2d(1, 2, 3)])


@pytest.mark.parametrize("name", ["use_reference_ops", "use_fast_ops"])
def test_the_old_names_in_reference_warn_and_still_switch_the_layers(name: str) -> None:
    layer = nn.Conv2d(1, 2, 3, impl="fast" if name == "use_reference_ops" else "reference")
    with pytest.warns(DeprecationWarning, match=f"call tinysiam.nn.{name}"):
        switch = getattr(ts.reference, name)
    assert switch is getattr(nn, name)
    assert switch(layer).impl == ("reference" if name == "use_reference_ops" else "fast")


def test_reference_has_no_other_attribute_than_its_own() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'use_slow_ops'"):
        ts.reference.use_slow_ops  # noqa: B018


# ----- optimisers -------------------------------------------------------------------------------
STEPS = 20


def train_steps(make, starts: list[np.ndarray], grads: list[list]) -> tuple[list, object]:
    """Parameters after len(grads) steps of ``make(params)``; grads[t][k] is parameter k's
    gradient at step t (None: unused that step, so skipped)."""
    params = [nn.Parameter(start.copy()) for start in starts]
    optimizer = make(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = g
        optimizer.step()
    return [p.data for p in params], optimizer


@st.composite
def training_runs(draw) -> tuple[list, list]:
    """Two or three float64 parameters of random shapes, and STEPS steps of random gradients of
    varied scale; each parameter is left out (grad None) on some steps."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shapes = draw(
        st.lists(st.sampled_from([(3,), (2, 3), (4, 1, 2), (1,)]), min_size=2, max_size=3)
    )
    starts = [rng.standard_normal(shape) for shape in shapes]
    grads = [
        [
            None
            if rng.random() < 0.15
            else rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3)
            for shape in shapes
        ]
        for _ in range(STEPS)
    ]
    return starts, grads


def assert_same_training(fast, reference, starts, grads) -> None:
    fast_params, fast_opt = train_steps(fast, starts, grads)
    reference_params, reference_opt = train_steps(reference, starts, grads)
    for k, (a, b) in enumerate(zip(fast_params, reference_params, strict=True)):
        np.testing.assert_allclose(a, b, **TIGHT, err_msg=f"parameter {k}")
    fast_state, reference_state = fast_opt.state_dict(), reference_opt.state_dict()
    assert fast_state.keys() == reference_state.keys()
    for k, (a, b) in enumerate(zip(fast_state["state"], reference_state["state"], strict=True)):
        assert a.keys() == b.keys() and a.get("step") == b.get("step"), f"parameter {k}"
        for name in set(a) - {"step"}:
            np.testing.assert_allclose(a[name], b[name], **TIGHT, err_msg=f"{k} {name}")


@SETTINGS
@given(
    run=training_runs(),
    lr=st.floats(1e-3, 1.0),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
)
def test_fast_sgd_equals_the_reference_over_20_steps(run, lr: float, momentum: float) -> None:
    starts, grads = run
    assert_same_training(
        lambda ps: optim.SGD(ps, lr=lr, momentum=momentum),
        lambda ps: ReferenceSGD(ps, lr=lr, momentum=momentum),
        starts,
        grads,
    )


@SETTINGS
@given(
    run=training_runs(),
    lr=st.floats(1e-4, 0.1),
    b1=st.sampled_from([0.0, 0.5, 0.9]),
    b2=st.sampled_from([0.0, 0.9, 0.99, 0.999]),
    eps=st.sampled_from([0.0, 1e-8, 1e-3]),
)
def test_fast_adam_equals_the_reference_over_20_steps(
    run, lr: float, b1: float, b2: float, eps: float
) -> None:
    starts, grads = run
    assert_same_training(
        lambda ps: optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps),
        lambda ps: ReferenceAdam(ps, lr=lr, betas=(b1, b2), eps=eps),
        starts,
        grads,
    )


# The reference optimisers against closed forms, not against another implementation.
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_reference_sgd_under_a_constant_gradient_follows_the_closed_form(momentum: float) -> None:
    """With g constant the buffer after k steps is g (1 - mu^k) / (1 - mu), so after t steps
    p = p0 - lr g sum_{k=1..t} (1 - mu^k) / (1 - mu)."""
    g, p0, lr, t = np.array([0.5, -2.0, 3.0]), np.array([1.0, 2.0, -3.0]), 0.1, 7
    (p,), _ = train_steps(lambda ps: ReferenceSGD(ps, lr=lr, momentum=momentum), [p0], [[g]] * t)
    total = sum((1 - momentum**k) / (1 - momentum) for k in range(1, t + 1))
    np.testing.assert_allclose(p, p0 - lr * g * total, rtol=1e-13)


@pytest.mark.parametrize("betas", [(0.9, 0.99), (0.5, 0.999), (0.0, 0.0)])
def test_reference_adam_under_a_constant_gradient_steps_lr_each_time(betas) -> None:
    """The bias corrections make m_hat = g and v_hat = g^2 exactly while g is constant, so every
    step is lr g / (|g| + eps): about lr in each coordinate, whatever the scale of g."""
    g, p0, lr, eps, t = np.array([1e-3, -2.0, 3e3]), np.array([1.0, 2.0, -3.0]), 1e-2, 1e-8, 6
    make = lambda ps: ReferenceAdam(ps, lr=lr, betas=betas, eps=eps)  # noqa: E731
    (p,), opt = train_steps(make, [p0], [[g]] * t)
    np.testing.assert_allclose(p, p0 - t * lr * g / (np.abs(g) + eps), rtol=1e-12)
    assert opt.state[0]["step"] == t


@pytest.mark.parametrize(
    "make",
    [lambda ps: ReferenceSGD(ps, lr=0.1, momentum=0.9), lambda ps: ReferenceAdam(ps, lr=0.05)],
    ids=["ReferenceSGD", "ReferenceAdam"],
)
def test_reference_optimiser_state_round_trip_continues_identically(make) -> None:
    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal(4), [rng.standard_normal(4) for _ in range(4)]
    (p,), opt = train_steps(make, [start], [[g] for g in grads[:2]])
    state = opt.state_dict()
    assert state["type"] == type(opt).__name__
    q = nn.Parameter(p.copy())
    resumed = make([q])
    resumed.load_state_dict(state)
    for g in grads[2:]:
        opt.params[0].grad, q.grad = g, g
        opt.step()
        resumed.step()
    np.testing.assert_array_equal(opt.params[0].data, q.data)


BAD_SETTINGS = [
    (optim.SGD, ReferenceSGD, dict(lr=0.0)),
    (optim.SGD, ReferenceSGD, dict(lr="0.1")),
    (optim.SGD, ReferenceSGD, dict(lr=0.1, momentum=1.0)),
    (optim.SGD, ReferenceSGD, dict(lr=0.1, momentum=None)),
    (optim.Adam, ReferenceAdam, dict(lr=-1e-3)),
    (optim.Adam, ReferenceAdam, dict(betas=(0.9, 1.0))),
    (optim.Adam, ReferenceAdam, dict(betas=(0.9, 0.9, 0.9))),
    (optim.Adam, ReferenceAdam, dict(betas=(0.9, "0.99"))),
    (optim.Adam, ReferenceAdam, dict(eps=-1e-8)),
]


@pytest.mark.parametrize("fast, reference, settings", BAD_SETTINGS)
def test_reference_optimisers_refuse_what_the_fast_ones_refuse_with_the_same_message(
    fast, reference, settings
) -> None:
    messages = []
    for make in (fast, reference):
        with pytest.raises((TypeError, ValueError)) as caught:
            make([nn.Parameter(np.zeros(3))], **settings)
        messages.append((caught.type, str(caught.value).removeprefix(make.__name__)))
    assert messages[0] == messages[1]
    assert str(messages[1][1]).startswith(": ")  # the reference's message names ReferenceX


def test_reference_optimisers_derive_from_the_base_not_from_the_fast_optimisers() -> None:
    for reference, fast in ((ReferenceSGD, optim.SGD), (ReferenceAdam, optim.Adam)):
        assert issubclass(reference, optim.Optimizer) and not issubclass(reference, fast)
        assert reference.STATE_ARRAYS == fast.STATE_ARRAYS
        assert reference.HYPERPARAMETERS == fast.HYPERPARAMETERS


# ----- devices ----------------------------------------------------------------------------------
@devices
def test_reference_ops_and_optimisers_on_each_device_equal_the_fast_ones(device: str) -> None:
    """One float32 training step of a small conv net, fast against reference, on ``device``."""
    results = []
    for impl, adam in (("fast", optim.Adam), ("reference", ReferenceAdam)):
        net = small_conv_net(impl).to(device)
        optimizer = adam(net.parameters(), lr=1e-2, eps=1e-3)  # eps: no lr sign(tiny g) steps
        out = net(images().to(device))
        out.sum().backward()
        optimizer.step()
        assert out.device == device
        results.append([out.numpy()] + [p.numpy() for p in net.parameters()])
    names = ["out"] + [f"parameter {i}" for i in range(6)]
    assert_all_close(results[0], results[1], names, rtol=1e-5, atol=1e-6)
