"""Reductions: sum, mean and max over some or all axes."""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import get_array_module

Axis = int | tuple[int, ...] | None


def normalise_axis(axis: Axis, ndim: int, op_name: str) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes; every axis when None."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{op_name}: axis {a} is out of range for a tensor with {ndim} dimensions"
            )
    return tuple(sorted(a % ndim for a in axes))


def _expand_reduced(
    grad: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
) -> Any:
    """Put the reduced axes back into ``grad`` as size-1 axes, ready to broadcast to ``shape``."""
    if keepdims:
        return grad
    kept_shape = tuple(1 if i in axes else size for i, size in enumerate(shape))
    return grad.reshape(kept_shape)


class Sum(Function):
    """sum over ``axis``; every summed element gets the output's gradient."""

    @staticmethod
    def forward(ctx: Context, a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        ctx.axes = normalise_axis(axis, a.ndim, "sum")
        ctx.shape, ctx.keepdims = a.shape, keepdims
        return a.sum(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        grad = _expand_reduced(grad, ctx.shape, ctx.axes, ctx.keepdims)
        return (get_array_module(grad).broadcast_to(grad, ctx.shape),)


class Mean(Function):
    """mean over ``axis``: the sum divided by n, so each element gets grad / n."""

    @staticmethod
    def forward(ctx: Context, a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        ctx.axes = normalise_axis(axis, a.ndim, "mean")
        ctx.shape, ctx.keepdims = a.shape, keepdims
        ctx.count = 1
        for i in ctx.axes:
            ctx.count *= a.shape[i]
        if ctx.count == 0:
            raise ValueError(
                f"mean: cannot average over an empty axis of a tensor of shape {a.shape}"
            )
        return a.mean(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        grad = _expand_reduced(grad, ctx.shape, ctx.axes, ctx.keepdims) / ctx.count
        return (get_array_module(grad).broadcast_to(grad, ctx.shape),)


class Max(Function):
    """max over ``axis``; the gradient flows to the maximal element (split evenly on ties)."""

    @staticmethod
    def forward(ctx: Context, a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        if a.size == 0:
            raise ValueError(f"max: cannot take the max of an empty tensor of shape {a.shape}")
        ctx.axes = normalise_axis(axis, a.ndim, "max")
        ctx.keepdims = keepdims
        out = a.max(axis=ctx.axes, keepdims=True)
        is_max = a == out
        ctx.save_for_backward(is_max / is_max.sum(axis=ctx.axes, keepdims=True).astype(a.dtype))
        return (
            out
            if keepdims
            else out.reshape([s for i, s in enumerate(a.shape) if i not in ctx.axes])
        )

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (share,) = ctx.saved_tensors
        return (_expand_reduced(grad, share.shape, ctx.axes, ctx.keepdims) * share,)
