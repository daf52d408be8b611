"""Shape ops: reshape, flatten, transpose, indexing, concatenate and stack.

None of them changes a value; their backward rules only move gradients back to where
each value came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from ..autograd import Context, Function
from ..backend import get_array_module

if TYPE_CHECKING:
    from ..tensor import Tensor


class Reshape(Function):
    """The same values in a new shape; the gradient is reshaped back."""

    @staticmethod
    def forward(ctx: Context, a: Any, shape: tuple[int, ...]) -> Any:
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                f"into {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        return (grad.reshape(ctx.shape),)


def flatten(x: Tensor, start_dim: int = 1) -> Tensor:
    """Merge the axes from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W)."""
    if not 0 <= start_dim < max(x.ndim, 1):
        raise ValueError(f"flatten: start_dim must be in [0, {x.ndim}), got {start_dim}")
    return Reshape.apply(x, shape=x.shape[:start_dim] + (-1,))


class Transpose(Function):
    """Permute axes (reverse them when ``axes`` is None); the gradient takes the inverse order."""

    @staticmethod
    def forward(ctx: Context, a: Any, axes: Sequence[int] | None = None) -> Any:
        if axes is None:
            axes = tuple(reversed(range(a.ndim)))
        order = tuple(x + a.ndim if x < 0 else x for x in axes)  # -1 is the last axis
        if sorted(order) != list(range(a.ndim)):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the {a.ndim} axes "
                f"of shape {a.shape}"
            )
        ctx.inverse = tuple(sorted(range(a.ndim), key=order.__getitem__))  # argsort
        return a.transpose(order)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        return (grad.transpose(ctx.inverse),)


def normalise_index(index: Any) -> Any:
    """Turn the Tensors inside an index into their arrays, so that the op sees raw arrays."""
    from ..tensor import Tensor

    if isinstance(index, tuple):
        return tuple(normalise_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    return index


def _as_index_array(xp: Any, part: Any) -> Any:
    """An array or list inside an index as an array of ``xp`` (on the indexed tensor's device)."""
    return xp.asarray(part) if hasattr(part, "dtype") or isinstance(part, list) else part


def _is_advanced(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") for p in parts)


class GetItem(Function):
    """a[index] with slices, integers and integer/boolean arrays.

    Backward scatters the gradient into zeros of a's shape; with integer arrays an element
    picked twice receives both gradients (``add.at`` accumulates repeated indices).
    """

    @staticmethod
    def forward(ctx: Context, a: Any, index: Any) -> Any:
        xp = get_array_module(a)
        if isinstance(index, tuple):
            index = tuple(_as_index_array(xp, i) for i in index)
        else:
            index = _as_index_array(xp, index)
        ctx.index, ctx.shape, ctx.dtype = index, a.shape, a.dtype
        try:
            return a[index]
        except IndexError as error:
            raise IndexError(f"index into a tensor of shape {a.shape}: {error}") from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        xp = get_array_module(grad)
        out = xp.zeros(ctx.shape, dtype=grad.dtype)
        if _is_advanced(ctx.index):
            xp.add.at(out, ctx.index, grad)
        else:
            out[ctx.index] = grad
        return (out,)


class Concatenate(Function):
    """Join tensors along an existing axis; the gradient is split back into their pieces."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, axis: int = 0) -> Any:
        _check_same_rank("concatenate", arrays)
        ctx.axis = axis % arrays[0].ndim
        ctx.sizes = [a.shape[ctx.axis] for a in arrays]
        try:
            return get_array_module(arrays[0]).concatenate(arrays, axis=axis)
        except ValueError:
            shapes = [tuple(a.shape) for a in arrays]
            raise ValueError(
                f"concatenate: shapes {shapes} must match except along axis {axis}"
            ) from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        bounds = list(accumulate(ctx.sizes))[:-1]  # where each input's piece ends
        return tuple(get_array_module(grad).split(grad, bounds, axis=ctx.axis))


class Stack(Function):
    """Join equally shaped tensors along a new axis; the gradient is unstacked."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, axis: int = 0) -> Any:
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"stack: all tensors must have one shape, got {sorted(shapes)}")
        out = get_array_module(arrays[0]).stack(arrays, axis=axis)
        ctx.axis = axis % out.ndim
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        return tuple(grad.take(i, axis=ctx.axis) for i in range(grad.shape[ctx.axis]))


def _check_same_rank(op_name: str, arrays: Sequence[Any]) -> None:
    if not arrays:
        raise ValueError(f"{op_name}: needs at least one tensor")
    ranks = {a.ndim for a in arrays}
    if len(ranks) != 1:
        raise ValueError(
            f"{op_name}: all tensors need the same number of dimensions, got {sorted(ranks)}"
        )


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (like ``np.concatenate``)."""
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis (like ``np.stack``)."""
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    return Stack.apply(*tensors, axis=axis)
