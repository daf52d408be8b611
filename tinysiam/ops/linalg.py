"""Matrix products: matmul, and the fused dense layer x W^T + b."""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function


class MatMul(Function):
    """a @ b for a (..., n, k) and b (..., k, m), batch axes broadcast.

    With C = A B:  dL/dA = dL/dC B^T  and  dL/dB = A^T dL/dC.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError(
                "matmul: both inputs need at least 2 dimensions, "
                f"got shapes {a.shape} and {b.shape}"
            )
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
                f"({a.shape[-1]} columns against {b.shape[-2]} rows)"
            )
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        """(dL/da, dL/db) for C = a @ b, from g = dL/dC.

        Shapes: a (..., n, k), b (..., k, m), g (..., n, m); ``swapaxes(-1, -2)`` transposes the
        last two axes of a batch of matrices. A batch axis that was broadcast comes back with the
        broadcast size; the engine sums it away (``unbroadcast``). ``ctx.saved_tensors`` holds what
        forward saved; an input whose ``ctx.needs_input_grad`` entry is False gets None instead of
        an array.

        Course task 6.1 (docs/build-it-yourself.md).
        """
        a, b = ctx.saved_tensors
        grad_a = grad @ b.swapaxes(-1, -2) if ctx.needs_input_grad[0] else None
        grad_b = a.swapaxes(-1, -2) @ grad if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class DenseOp(Function):
    """y = x W^T + b for x (N, in), W (out, in), b (out,): one dense layer in one op.

    Backward: dL/dx = g W, dL/dW = g^T x, dL/db = sum_n g, for g = dL/dy of shape (N, out).
    Fusing the three keeps BLAS working on W as stored (no transposed copies, no broadcast
    machinery for the bias).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any, bias: Any = None) -> Any:
        if x.ndim != 2 or weight.ndim != 2:
            raise ValueError(
                "dense: x must be (N, in) and weight (out, in), "
                f"got shapes {x.shape} and {weight.shape}"
            )
        if x.shape[1] != weight.shape[1]:
            raise ValueError(
                f"dense: x has {x.shape[1]} features "
                f"but weight {weight.shape} expects {weight.shape[1]}"
            )
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"dense: bias must have shape ({weight.shape[0]},), got {bias.shape}")
        ctx.save_for_backward(x, weight)
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        """(dL/dx, dL/dW) and, when the op was given a bias, dL/db, from g = dL/dy (N, out).

        ``ctx.saved_tensors`` is (x, weight); ``len(ctx.needs_input_grad)`` is 3 when there is a
        bias, 2 without one (return as many adjoints as inputs).

        Course task 6.1 (docs/build-it-yourself.md).
        """
        x, weight = ctx.saved_tensors
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_w = grad.T @ x if ctx.needs_input_grad[1] else None
        if len(ctx.needs_input_grad) == 2:  # no bias
            return grad_x, grad_w
        return grad_x, grad_w, grad.sum(axis=0) if ctx.needs_input_grad[2] else None
