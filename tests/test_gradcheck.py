"""The gradient checker itself: it passes correct ops and catches wrong backward rules."""

from __future__ import annotations

import numpy as np
import pytest

import tinysiam as ts
import tinysiam.functional as F
from tinysiam.gradcheck import ELEMENTWISE_LIMIT  # the module: tinysiam.gradcheck is the function


class WrongSquare(ts.Function):
    """x^2 with the backward rule 3x instead of 2x: a bug gradcheck must catch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (3 * x * grad,)


class WrongSecondInput(ts.Function):
    """a * b whose gradient for b forgets one element (index 2 of its flat view)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_b = grad * a
        grad_b.reshape(-1)[2] = 0.0
        return grad * b, grad_b


def random_tensor(shape, seed: int = 0, requires_grad: bool = True) -> ts.Tensor:
    return ts.tensor(
        np.random.default_rng(seed).uniform(0.5, 1.5, shape), requires_grad=requires_grad
    )


def test_returns_true_for_correct_ops() -> None:
    x, w = random_tensor((3, 4)), random_tensor((2, 4), seed=1)
    assert ts.gradcheck(lambda x: (x * x).sum(), x) is True
    assert ts.gradcheck(lambda x, w: F.sigmoid(F.dense(x, w)), x, w) is True


def test_catches_a_wrong_backward_and_names_input_and_index() -> None:
    x = random_tensor((2, 3))
    with pytest.raises(
        ts.GradcheckError, match=r"input 0 at index \(\d+, \d+\).*analytic.*numeric"
    ):
        ts.gradcheck(WrongSquare.apply, x)


def test_names_the_failing_input_and_the_element() -> None:
    a, b = random_tensor((2, 3)), random_tensor((2, 3), seed=1)
    with pytest.raises(ts.GradcheckError, match=r"input 1 at index \(0, 2\)"):
        ts.gradcheck(WrongSecondInput.apply, a, b)
    assert ts.gradcheck(
        WrongSecondInput.apply, a, random_tensor((2, 3), requires_grad=False)
    )  # only a checked


def test_gradcheck_is_a_pytest_failure() -> None:
    assert issubclass(ts.GradcheckError, AssertionError)


def test_random_directions_mode_passes_correct_ops_and_catches_wrong_ones() -> None:
    size = ELEMENTWISE_LIMIT + 1
    x = random_tensor((size,))
    assert ts.gradcheck(lambda x: (x * x.sigmoid()).sum(), x)
    with pytest.raises(ts.GradcheckError, match="input 0 at random direction"):
        ts.gradcheck(WrongSquare.apply, x)
    a, b = random_tensor((size,)), random_tensor((size,), seed=1)
    with pytest.raises(ts.GradcheckError, match="input 1 at random direction"):  # one element wrong
        ts.gradcheck(WrongSecondInput.apply, a, b)


def test_rejects_float32_inputs() -> None:
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="input 0 is float32"):
        ts.gradcheck(lambda x: x * x, x)


def test_rejects_calls_with_nothing_to_check() -> None:
    with pytest.raises(ValueError, match="no input requires grad"):
        ts.gradcheck(lambda x: x * x, random_tensor((2,), requires_grad=False))
    with pytest.raises(TypeError, match="must return a Tensor"):
        ts.gradcheck(lambda x: x.numpy(), random_tensor((2,)))


def test_leaves_the_callers_arrays_and_gradients_alone() -> None:
    base = np.random.default_rng(0).uniform(0.5, 1.5, (4, 6))
    x = ts.Tensor(base[:, ::2], requires_grad=True)  # a view: perturbing it would change base
    w = random_tensor((2, 3), seed=1)
    base_before, w_before = base.copy(), w.numpy().copy()
    earlier_grad = np.full((4, 3), 7.0)
    x.grad = earlier_grad
    assert ts.gradcheck(lambda x, w: x @ w.T, x, w)
    np.testing.assert_array_equal(base, base_before)
    np.testing.assert_array_equal(w.numpy(), w_before)
    assert x.data.base is base
    assert x.grad is earlier_grad and w.grad is None


def test_fn_sees_inputs_of_their_own_shape() -> None:
    def strict(x: ts.Tensor) -> ts.Tensor:
        assert x.shape == ()
        return x * x

    assert ts.gradcheck(strict, ts.tensor(np.float64(0.7), requires_grad=True))


def test_a_missing_gradient_counts_as_zero_and_fails() -> None:
    class Disconnected(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return (None,)

    with pytest.raises(ts.GradcheckError, match="analytic 0"):
        ts.gradcheck(Disconnected.apply, random_tensor((3,)))


def test_a_nan_gradient_fails() -> None:
    class NaNGrad(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return (grad * np.nan,)

    with pytest.raises(ts.GradcheckError, match="analytic nan"):
        ts.gradcheck(NaNGrad.apply, random_tensor((3,)))
