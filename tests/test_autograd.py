"""Graph semantics of the engine: accumulation, no_grad, released graphs, deep graphs, dtypes,
and Functions written by the user."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from strategies import SETTINGS, arrays, broadcastable_shapes, shapes

import tinysiam as ts
import tinysiam.functional as F
from tinysiam.autograd import unbroadcast


# ----- gradients add up ------------------------------------------------------------------------
def test_tensor_used_in_two_branches_gets_the_sum() -> None:
    x = ts.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (x * x + x * 3.0).sum().backward()  # d/dx (x^2 + 3x) = 2x + 3
    np.testing.assert_array_equal(x.grad, 2 * x.numpy() + 3)


def test_shared_weight_of_a_twin_network_gets_both_branches() -> None:
    rng = np.random.default_rng(0)
    w = ts.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    x1, x2 = ts.tensor(rng.standard_normal((4, 3))), ts.tensor(rng.standard_normal((4, 3)))
    (F.dense(x1, w) - F.dense(x2, w)).sum().backward()
    # d/dW sum(x1 W^T - x2 W^T) = 1^T x1 - 1^T x2, for each output row
    expected = np.tile(x1.numpy().sum(axis=0) - x2.numpy().sum(axis=0), (2, 1))
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)


def test_gradients_accumulate_over_backward_calls_until_cleared() -> None:
    x = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.numpy())
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.numpy())
    x.zero_grad()
    assert x.grad is None


def test_leaf_gradients_are_their_own_writable_arrays() -> None:
    # a + b hands the same upstream gradient to both; the leaves must not share (or be a
    # read-only broadcast view of) it, or an in-place update of one .grad would change the other.
    a = ts.tensor(np.ones(3), requires_grad=True)
    b = ts.tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 10.0
    np.testing.assert_array_equal(b.grad, np.ones(3))
    g = np.ones(3)
    c = ts.tensor(np.ones(3), requires_grad=True)
    c.backward(g)
    c.grad += 1.0
    np.testing.assert_array_equal(g, np.ones(3))  # the caller's grad= array is untouched


@SETTINGS
@given(shape_pair=broadcastable_shapes())
def test_unbroadcast_is_the_adjoint_of_broadcasting(shape_pair) -> None:
    shape, other = shape_pair
    out_shape = np.broadcast_shapes(shape, other)
    rng = np.random.default_rng(0)
    grad, v = rng.standard_normal(out_shape), rng.standard_normal(shape)
    reduced = unbroadcast(grad, shape)
    assert reduced.shape == shape
    # <grad, broadcast(v)> = <unbroadcast(grad), v> for every v
    np.testing.assert_allclose(
        np.sum(grad * np.broadcast_to(v, out_shape)), np.sum(reduced * v), rtol=1e-10, atol=1e-12
    )


# ----- what backward accepts -------------------------------------------------------------------
def test_backward_of_a_non_scalar_needs_grad() -> None:
    y = ts.tensor(np.ones((2, 2)), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 2\)"):
        y.backward()


def test_backward_with_grad_given() -> None:
    x = ts.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    g = np.array([[1.0, 10.0], [100.0, 1000.0]])
    (x * x).backward(g)
    np.testing.assert_array_equal(x.grad, 2 * x.numpy() * g)
    x.grad = None
    (x * 3.0).backward(ts.tensor(g))  # a Tensor works too
    np.testing.assert_array_equal(x.grad, 3 * g)


def test_backward_of_a_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        (ts.tensor([1.0]) * 2.0).sum().backward()


def test_second_backward_through_a_released_graph_raises() -> None:
    x = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.numpy())  # the failed call added nothing


def test_retain_graph_allows_a_second_backward() -> None:
    x = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.numpy())


def test_backward_releases_what_the_ops_saved() -> None:
    x = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    assert len(y._node.ctx.saved_tensors) == 2
    y.sum().backward()
    assert y._node.ctx.saved_tensors == ()


def test_deep_graph_backward_without_recursion_error() -> None:
    depth = max(5000, 5 * sys.getrecursionlimit())
    x = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(depth):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.numpy(), x.numpy() + depth)


# ----- what is recorded ------------------------------------------------------------------------
def test_no_grad_records_nothing() -> None:
    x = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert ts.is_grad_enabled()
    with ts.no_grad():
        assert not ts.is_grad_enabled()
        y = (x * 2.0).sum()
    assert ts.is_grad_enabled()
    assert not y.requires_grad and y._node is None and y.is_leaf
    with pytest.raises(RuntimeError):
        y.backward()


def test_no_grad_is_restored_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), ts.no_grad():
        _ = 1 / 0
    assert ts.is_grad_enabled()


def test_ops_on_constants_record_nothing() -> None:
    y = ts.tensor([1.0, 2.0]) * ts.tensor([3.0, 4.0])
    assert not y.requires_grad and y._node is None
    z = ts.tensor([1.0, 2.0]) * ts.tensor([3.0, 4.0], requires_grad=True)
    assert z.requires_grad and not z.is_leaf


def test_detach_cuts_the_graph() -> None:
    x = ts.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    (x * x.detach()).sum().backward()  # only one factor is differentiated: grad = x, not 2x
    np.testing.assert_array_equal(x.grad, x.numpy())


# ----- float32 stays float32 -------------------------------------------------------------------
FLOAT32_OPS = {
    "add_scalar": lambda x: x + 1.5,
    "scalar_add": lambda x: 1.5 + x,
    "sub_scalar": lambda x: x - 1.5,
    "scalar_sub": lambda x: 1.5 - x,
    "mul_scalar": lambda x: x * 1.5,
    "scalar_mul": lambda x: 1.5 * x,
    "numpy_scalar_mul": lambda x: np.float64(1.5) * x,
    "mul_float64_array": lambda x: x * np.full(3, 1.5),
    "div_scalar": lambda x: x / 1.5,
    "scalar_div": lambda x: 1.5 / x,
    "pow_scalar": lambda x: x**2,
    "pow_float": lambda x: x**0.5,
    "scalar_pow": lambda x: 2.0**x,
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "log1p": lambda x: x.log1p(),
    "sqrt": lambda x: x.sqrt(),
    "abs": lambda x: x.abs(),
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "clip": lambda x: x.clip(0.6, 1.5),
    "maximum_scalar": lambda x: F.maximum(x, 1.1),
    "sum": lambda x: x.sum(axis=1),
    "mean": lambda x: x.mean(),
    "max": lambda x: x.max(axis=0),
    "reshape": lambda x: x.reshape(3, 2),
    "transpose": lambda x: x.T,
    "getitem": lambda x: x[[0, 0], 1:],
    "matmul": lambda x: x @ x.T,
    "dense": lambda x: F.dense(x, x, x[0, :2]),
    "concatenate": lambda x: ts.concatenate([x, x * 2.0], axis=1),
    "stack": lambda x: ts.stack([x, x]),
    "conv2d": lambda x: F.conv2d(
        x.reshape(1, 1, 2, 3), x.reshape(1, 1, 2, 3)[:, :, :, :2], padding=1
    ),
    "max_pool2d": lambda x: F.max_pool2d(x.reshape(1, 1, 2, 3), 2),
}


def test_float64_grad_given_to_a_float32_graph_gives_float32_gradients() -> None:
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(np.array([1.0, 0.5]))  # a float64 grad=
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 1.5])


@pytest.mark.parametrize("op", FLOAT32_OPS.values(), ids=FLOAT32_OPS.keys())
def test_float32_forward_and_gradients_stay_float32(op) -> None:
    x = ts.tensor([[0.5, 1.0, 2.0], [0.7, 1.3, 1.7]], requires_grad=True)
    assert x.dtype == np.float32
    out = op(x)
    assert out.dtype == np.float32
    (out * out).sum().backward()
    assert x.grad.dtype == np.float32


# ----- user-defined Functions -----------------------------------------------------------------
class Cube(ts.Function):
    """x^3, with d/dx = 3 x^2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (3 * x**2 * grad,)


class ScaledProduct(ts.Function):
    """scale * a * b; backward skips the inputs that need no gradient."""

    @staticmethod
    def forward(ctx, a, b, scale=1.0):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return scale * a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = ctx.scale * grad * b if ctx.needs_input_grad[0] else None
        grad_b = ctx.scale * grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


@SETTINGS
@given(x=shapes().flatmap(arrays))
def test_user_function_gradchecks(x: np.ndarray) -> None:
    t = ts.tensor(x, requires_grad=True)
    np.testing.assert_allclose(Cube.apply(t).numpy(), x**3, rtol=1e-12)
    assert ts.gradcheck(Cube.apply, t)


def test_user_function_with_two_inputs_and_a_parameter() -> None:
    rng = np.random.default_rng(0)
    a = ts.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    b = ts.tensor(
        rng.standard_normal((1, 4)), requires_grad=True
    )  # broadcast: undone by the engine
    assert ts.gradcheck(lambda a, b: ScaledProduct.apply(a, b, scale=2.5), a, b)
    out = ScaledProduct.apply(a, ts.tensor(b.numpy()), scale=2.5)
    assert out._node.ctx.needs_input_grad == (True, False)
    assert out._node.ctx.saved_tensors[0] is a.data
    out.sum().backward()
    np.testing.assert_allclose(a.grad, 2.5 * b.numpy().sum(axis=1, keepdims=True).repeat(3, axis=0))


def test_function_backward_with_the_wrong_number_of_gradients_raises() -> None:
    class Forgetful(ts.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return (grad,)

    y = Forgetful.apply(ts.tensor([1.0], requires_grad=True), ts.tensor([2.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="Forgetful.backward returned 1 gradients for 2 inputs"):
        y.sum().backward()
