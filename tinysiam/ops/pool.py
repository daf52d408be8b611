"""2-D max-pooling: each output is the largest value of its window, and only it gets gradient."""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import get_array_module
from .conv import output_size, pair


class MaxPool2d(Function):
    """Max over kh x kw windows of x (N, C, H, W) moved by ``stride``; floor mode, no padding.

    Output (N, C, OH, OW) with OH = (H - kh) // stride + 1: a 21x21 map pooled 2x2 with stride 2
    gives 10x10 (the last row and column are dropped, as in the reference network).

    Forward visits the kh*kw window offsets (i, j); each offset is one strided view of x holding
    that element of every window. A running max keeps the best value so far and ``winner``, the
    offset it came from (the first one on ties). Backward sends each output's gradient to the
    winning offset only: the other elements of a window did not change the output, so their
    gradient is 0. Where windows do not overlap, each pixel belongs to at most one window and its
    gradient is written once instead of accumulated.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, kernel_size: Any = 2, stride: Any = None) -> Any:
        if x.ndim != 4:
            raise ValueError(f"max_pool2d: input must be (N, C, H, W), got shape {x.shape}")
        kh, kw = pair(kernel_size, "kernel_size")
        sh, sw = pair(stride if stride is not None else kernel_size, "stride")
        h, w = x.shape[2:]
        oh, ow = output_size(h, kh, sh, 0), output_size(w, kw, sw, 0)
        if oh < 1 or ow < 1:
            raise ValueError(f"max_pool2d: a {kh}x{kw} window does not fit an input of {h}x{w}")
        xp = get_array_module(x)
        out = x[:, :, : sh * oh : sh, : sw * ow : sw].copy()  # offset (0, 0) of every window
        winner = xp.zeros(out.shape, dtype=xp.uint8)
        better = xp.empty(out.shape, dtype=bool)
        for offset in range(1, kh * kw):
            i, j = divmod(offset, kw)
            window = x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
            xp.greater(window, out, out=better)  # strictly: ties keep the earlier offset
            xp.maximum(out, window, out=out)
            xp.putmask(winner, better, offset)
        ctx.save_for_backward(winner)
        ctx.geometry = x.shape, (kh, kw), (sh, sw), (oh, ow)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (winner,) = ctx.saved_tensors
        shape, (kh, kw), (sh, sw), (oh, ow) = ctx.geometry
        xp = get_array_module(grad)
        h, w = shape[2:]
        covered_once = (sh, sw) == (kh, kw) and (h, w) == (sh * oh, sw * ow)  # windows tile x exactly
        overlapping = sh < kh or sw < kw
        grad_x = xp.empty(shape, dtype=grad.dtype) if covered_once else xp.zeros(shape, dtype=grad.dtype)
        is_winner = xp.empty(grad.shape, dtype=bool)
        for offset in range(kh * kw):
            i, j = divmod(offset, kw)
            target = grad_x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
            xp.equal(winner, offset, out=is_winner)
            if overlapping:  # a pixel in several windows collects from each
                target += grad * is_winner
            else:
                xp.multiply(grad, is_winner, out=target)
        return (grad_x,)
