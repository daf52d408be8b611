"""Elementwise ops: arithmetic, exp/log family, and the activations.

Binary ops broadcast like NumPy; their backward rules return gradients of the *broadcast*
shape and the engine sums them back to each input's shape (``autograd.unbroadcast``).
"""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import get_array_module
from ..checks import check_broadcastable


class Add(Function):
    """a + b; d/da = 1, d/db = 1."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcastable("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return grad, grad


class Sub(Function):
    """a - b; d/da = 1, d/db = -1."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcastable("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return grad, -grad if ctx.needs_input_grad[1] else None


class Mul(Function):
    """a * b; d/da = b, d/db = a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcastable("mul", a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        """(dL/da, dL/db) for a * b, from g = dL/d(a b): each input's local derivative (the class
        docstring) times g.

        The adjoints have the broadcast output's shape; the engine sums them back to each input's
        shape (``unbroadcast``). ``ctx.saved_tensors`` holds what forward saved; an input whose
        ``ctx.needs_input_grad`` entry is False gets None instead of an array.

        Course task 3.3 (docs/build-it-yourself.md).
        """
        a, b = ctx.saved_tensors
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """a / b; d/da = 1/b, d/db = -a/b^2."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcastable("div", a, b)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        """(dL/da, dL/db) for a / b, from g = dL/d(a / b) and the saved (a, b).

        ``ctx.saved_tensors`` holds what forward saved; an input whose ``ctx.needs_input_grad``
        entry is False gets None instead of an array.

        Course task 3.3 (docs/build-it-yourself.md).
        """
        a, b = ctx.saved_tensors
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Function):
    """-a."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        return -a

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        return (-grad,)


class Pow(Function):
    """a ** b; d/da = b a^(b-1), d/db = a^b log(a) (only computed when b requires grad)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcastable("pow", a, b)
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        """(dL/da, dL/db) for a ** b, from g and the saved (a, b, out = a ** b).

        The exponent's adjoint uses log a, which is NaN for a < 0: it is computed only when b
        requires grad. ``ctx.saved_tensors`` holds what forward saved; an input whose
        ``ctx.needs_input_grad`` entry is False gets None instead of an array.

        Course task 3.3 (docs/build-it-yourself.md).
        """
        a, b, out = ctx.saved_tensors
        xp = get_array_module(a)
        grad_a = grad * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        grad_b = grad * out * xp.log(a) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Exp(Function):
    """e^a; d/da = e^a."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        """(dL/da,) for e^a, from g and the saved output e^a (no second exponential).

        Course task 3.3 (docs/build-it-yourself.md).
        """
        (out,) = ctx.saved_tensors
        return (grad * out,)


class Log(Function):
    """Natural log; d/da = 1/a."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return get_array_module(a).log(a)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        """(dL/da,) for log a, from g and the saved input a.

        Course task 3.3 (docs/build-it-yourself.md).
        """
        (a,) = ctx.saved_tensors
        return (grad / a,)


class Log1p(Function):
    """log(1 + a), accurate for tiny a; d/da = 1/(1 + a)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return get_array_module(a).log1p(a)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (a,) = ctx.saved_tensors
        return (grad / (1 + a),)


class Sqrt(Function):
    """sqrt(a); d/da = 1 / (2 sqrt(a)) (infinite at 0: guard the input, as the losses do)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (out,) = ctx.saved_tensors
        return (grad / (2 * out),)


class Abs(Function):
    """|a|; d/da = sign(a) (0 at a = 0)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return get_array_module(a).abs(a)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (a,) = ctx.saved_tensors
        return (grad * get_array_module(a).sign(a),)


class Maximum(Function):
    """Elementwise max(a, b); the gradient goes to the larger input, to ``a`` on a tie.

    The tie rule of every max in tinysiam: the first winner takes the whole gradient.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcastable("maximum", a, b)
        a_wins = a >= b
        ctx.save_for_backward(a_wins)
        return get_array_module(a).where(a_wins, a, b)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        (a_wins,) = ctx.saved_tensors
        grad_a = grad * a_wins if ctx.needs_input_grad[0] else None
        grad_b = grad * ~a_wins if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Cast(Function):
    """a in another float dtype; the gradient is cast back to a's dtype."""

    @staticmethod
    def forward(ctx: Context, a: Any, dtype: Any) -> Any:
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        return (grad.astype(ctx.dtype),)


class Clip(Function):
    """a clamped into [low, high] (either bound may be None); gradient 1 inside, 0 where clamped."""

    @staticmethod
    def forward(ctx: Context, a: Any, low: float | None = None, high: float | None = None) -> Any:
        if low is None and high is None:
            raise ValueError("clip: give at least one of low and high")
        if low is not None and high is not None and low > high:
            raise ValueError(f"clip: low must be <= high, got low={low}, high={high}")
        inside = get_array_module(a).ones(a.shape, dtype=bool)
        if low is not None:
            inside &= a >= low
        if high is not None:
            inside &= a <= high
        ctx.save_for_backward(inside)
        return get_array_module(a).clip(a, low, high)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (inside,) = ctx.saved_tensors
        return (grad * inside,)


class ReLUOp(Function):
    """max(a, 0); d/da = 1 where a > 0, else 0."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        """max(a, 0) elementwise, saving what backward needs (the output will do: it is positive
        exactly where a is).

        Course task 6.2 (docs/build-it-yourself.md).
        """
        out = get_array_module(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        """(dL/da,): the gradient where the input was positive, 0 elsewhere (0 at a = 0 too).

        Course task 6.2 (docs/build-it-yourself.md).
        """
        (out,) = ctx.saved_tensors
        return (grad * (out > 0),)


class SigmoidOp(Function):
    """s(a) = 1 / (1 + e^-a); d/da = s (1 - s).

    Computed from e = e^-|a|, which never overflows:
    s = 1 / (1 + e) for a >= 0 and s = e / (1 + e) for a < 0.
    """

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        """s(a) from e = e^-|a| (see the class docstring), saving s for backward.

        Course task 6.3 (docs/build-it-yourself.md).
        """
        xp = get_array_module(a)
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1, e) / (1 + e)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        """(dL/da,) from the saved output s: the derivative is a function of s, so backward needs no
        exponential.

        Course task 6.3 (docs/build-it-yourself.md).
        """
        (out,) = ctx.saved_tensors
        return (grad * out * (1 - out),)
