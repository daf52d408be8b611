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
        """(dL/da,) for a sum: every summed element gets the output's gradient.

        ``grad`` has the output's shape: the input's without the summed axes ``ctx.axes``, or with
        them as size 1 when ``ctx.keepdims``. ``_expand_reduced(grad, ctx.shape, ctx.axes,
        ctx.keepdims)`` puts those axes back as size 1, ready to broadcast to ``ctx.shape``.

        Course task 5.2 (docs/build-it-yourself.md).
        """
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
        """(dL/da,) for a mean: as for the sum, divided by ``ctx.count``, the number of elements
        averaged into each output.

        Course task 5.2 (docs/build-it-yourself.md).
        """
        grad = _expand_reduced(grad, ctx.shape, ctx.axes, ctx.keepdims) / ctx.count
        return (get_array_module(grad).broadcast_to(grad, ctx.shape),)


class Max(Function):
    """max over ``axis``; the gradient flows to the maximal element.

    On a tie the first maximum in row-major order over the reduced axes takes the whole
    gradient (what ``argmax`` picks), the tie rule of every max in tinysiam. A subgradient:
    splitting it among the tied elements would be one too, but then max, max-pooling and
    maximum would each need a rule of their own.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        """The max of ``a`` over ``axis`` (all axes when None), keeping the axes as size 1 when
        ``keepdims``.

        Saves what backward needs: ``ctx.axes`` (``normalise_axis``), ``ctx.keepdims`` and, with
        ``save_for_backward``, a boolean array of ``a``'s shape that is True at exactly one element
        per output, the first maximum in row-major order over the reduced axes.

        Raises:
            ValueError: for an empty ``a``.

        Course task 5.2 (docs/build-it-yourself.md).
        """
        if a.size == 0:
            raise ValueError(f"max: cannot take the max of an empty tensor of shape {a.shape}")
        xp = get_array_module(a)
        ctx.axes, ctx.keepdims = normalise_axis(axis, a.ndim, "max"), keepdims
        kept = [i for i in range(a.ndim) if i not in ctx.axes]
        order = kept + list(ctx.axes)  # reduced axes last, flattened into one of length K
        rows = a.transpose(order).reshape([a.shape[i] for i in kept] + [-1])  # (..., K)
        first = rows.argmax(axis=-1)  # (...): where the first maximum is
        is_first = xp.arange(rows.shape[-1]) == first[..., None]  # (..., K) one winner per row
        winner = is_first.reshape([a.shape[i] for i in order])
        ctx.save_for_backward(winner.transpose(sorted(range(a.ndim), key=order.__getitem__)))
        out = rows.max(axis=-1)  # (...)
        if keepdims:
            return out.reshape([1 if i in ctx.axes else n for i, n in enumerate(a.shape)])
        return out.reshape([a.shape[i] for i in kept])

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        """(dL/da,): each output's gradient goes to its winner; every other element gets 0.

        Course task 5.2 (docs/build-it-yourself.md).
        """
        (winner,) = ctx.saved_tensors
        return (_expand_reduced(grad, winner.shape, ctx.axes, ctx.keepdims) * winner,)
