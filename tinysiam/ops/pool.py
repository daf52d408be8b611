"""2-D max-pooling: each output is the largest value of its window, and only it gets gradient."""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import get_array_module
from ..geometry import height_width, output_size

MAX_KERNEL = 256  # window offsets are stored as uint8


def along(axis: int, start: int, stride: int, count: int) -> tuple[slice, ...]:
    """Index of ``count`` positions start, start + stride, ... along ``axis`` of (N, C, H, W)."""
    index = [slice(None)] * 4
    index[axis] = slice(start, start + stride * count, stride)
    return tuple(index)


def running_max(views: list[Any]) -> tuple[Any, Any]:
    """Elementwise max of same-shaped arrays, and the index of the first one holding it.

    ``index = maximum(index, k * (view_k > best))`` is a ``where`` without a masked write: k is
    larger than every index before it, so it replaces the index exactly where view k is strictly
    larger than the best so far (ties keep the earlier view).
    """
    xp = get_array_module(views[0])
    best = views[0].copy()
    index = xp.zeros(best.shape, dtype=xp.uint8)
    better = xp.empty(best.shape, dtype=bool)
    candidate = xp.empty(best.shape, dtype=xp.uint8)
    for k, view in enumerate(views[1:], start=1):
        xp.greater(view, best, out=better)
        xp.maximum(best, view, out=best)
        xp.multiply(better, xp.uint8(k), out=candidate)
        xp.maximum(index, candidate, out=index)
    return best, index


def send_to_winners(
    grad: Any, winner: Any, target: Any, axis: int, kernel: int, stride: int
) -> None:
    """Adjoint of one running_max pass.

    target[.., o*stride + k, ..] gets grad[.., o, ..] where winner == k.

    Where windows overlap (stride < kernel) a position can win several windows and collects the
    sum; otherwise each position is written at most once.
    """
    xp = get_array_module(grad)
    is_winner = xp.empty(grad.shape, dtype=bool)
    for k in range(kernel):
        part = target[along(axis, k, stride, grad.shape[axis])]
        xp.equal(winner, k, out=is_winner)
        if stride < kernel:
            part += grad * is_winner
        else:
            xp.multiply(grad, is_winner, out=part)


class MaxPool2dOp(Function):
    """Max over kh x kw windows of x (N, C, H, W) moved by ``stride``; floor mode, no padding.

    Output (N, C, OH, OW) with OH = (H - kh) // stride + 1: a 7x7 map pooled 2x2 with stride 2
    gives 3x3, the last row and column dropped (the third pool of ``omniglot_cpu_net``; the
    paper's network, ``koch_net``, pools maps of 96, 42 and 18, which halve exactly).

    The max of a window is taken in two passes, because max is separable: first across each row
    of the window, then down the column of row maxima,

        rows[n, c, h, ow]  = max_j x[n, c, h, ow*sw + j]          (N, C, H, OW)   winner column j
        out[n, c, oh, ow]  = max_i rows[n, c, oh*sh + i, ow]      (N, C, OH, OW)  winner row i

    Each pass visits its kernel offsets as strided views (kh + kw of them instead of kh * kw),
    and the second pass reads whole rows, which NumPy does fastest. On ties the topmost row wins,
    and within it the leftmost column: the first maximum in row-major window order, which is
    what ``argmax`` of the flattened window picks (the tie rule of every max in tinysiam).

    Backward runs the passes in reverse: each output's gradient goes to its winning row of
    ``rows``, and from there to the winning column of x. The other elements of a window did not
    change the output, so their gradient is 0.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, kernel_size: Any = 2, stride: Any = None) -> Any:
        if x.ndim != 4:
            raise ValueError(f"max_pool2d: input must be (N, C, H, W), got shape {x.shape}")
        kh, kw = height_width(kernel_size, "kernel_size")
        sh, sw = height_width(stride if stride is not None else kernel_size, "stride")
        if max(kh, kw) > MAX_KERNEL:
            raise ValueError(
                f"max_pool2d: kernel_size must be at most {MAX_KERNEL}, got {(kh, kw)}"
            )
        h, w = x.shape[2:]
        oh, ow = output_size(h, kh, sh, 0), output_size(w, kw, sw, 0)
        if oh < 1 or ow < 1:
            raise ValueError(f"max_pool2d: a {kh}x{kw} window does not fit an input of {h}x{w}")
        rows, winner_column = running_max([x[along(3, j, sw, ow)] for j in range(kw)])
        out, winner_row = running_max([rows[along(2, i, sh, oh)] for i in range(kh)])
        ctx.save_for_backward(winner_row, winner_column)
        ctx.geometry = x.shape, (kh, kw), (sh, sw)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        winner_row, winner_column = ctx.saved_tensors
        shape, (kh, kw), (sh, sw) = ctx.geometry
        xp = get_array_module(grad)

        def gradient_array(shape: tuple[int, ...], covered_once: bool) -> Any:
            # where the windows tile an axis exactly, every element is written: no need to zero
            return (
                xp.empty(shape, dtype=grad.dtype)
                if covered_once
                else xp.zeros(shape, dtype=grad.dtype)
            )

        (n, c, h, w), (oh, ow) = shape, grad.shape[2:]
        grad_rows = gradient_array((n, c, h, ow), covered_once=sh == kh and h == sh * oh)
        send_to_winners(grad, winner_row, grad_rows, axis=2, kernel=kh, stride=sh)
        grad_x = gradient_array(shape, covered_once=sw == kw and w == sw * ow)
        send_to_winners(grad_rows, winner_column, grad_x, axis=3, kernel=kw, stride=sw)
        return (grad_x,)
