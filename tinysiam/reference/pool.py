"""2-D max-pooling the textbook way (Chainer's): windows as columns, argmax, scatter back.

Each channel of each image is pooled on its own, so x (N, C, H, W) is seen as N*C one-channel
images, and im2col (the convolution's, :func:`tinysiam.reference.conv.im2col`) lays every
kh x kw window out as a column:

    cols: (kh*kw, N*C*OH*OW),   out = max over each column,   winner = argmax over each column

Backward: only a window's winner changed the output, so the output's gradient goes to it and
every other element of the window gets 0. The gradients are written into a matrix shaped like
the columns, and col2im adds them back onto the pixels (a pixel that wins several overlapping
windows collects the sum). On ties argmax picks the first maximum of the column, which is the
first in row-major window order, and it takes the whole gradient.

:class:`tinysiam.ops.MaxPool2dOp` computes the same numbers faster (two separable passes, no
columns, uint8 winners).
"""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import get_array_module
from ..geometry import height_width, output_size
from .conv import col2im, im2col


class ReferenceMaxPool2dOp(Function):
    """Max over kh x kw windows of x (N, C, H, W) moved by ``stride``; floor mode, no padding.

    Output (N, C, OH, OW), OH = (H - kh) // sh + 1; the same op as
    :class:`tinysiam.ops.MaxPool2dOp`.

    Example:
        >>> out = F.max_pool2d(x, 2, impl="reference")      # x (N, C, 24, 24) -> (N, C, 12, 12)
        >>> pool = nn.MaxPool2d(2, impl="reference")        # the same, as a layer
    """

    @staticmethod
    def forward(ctx: Context, x: Any, kernel_size: Any = 2, stride: Any = None) -> Any:
        """out = max over each column of im2col(x), one channel at a time; keep the argmax.

        Course task 9.1 (docs/build-it-yourself.md).
        """
        if x.ndim != 4:
            raise ValueError(f"max_pool2d: input must be (N, C, H, W), got shape {x.shape}")
        kh, kw = height_width(kernel_size, "kernel_size")
        sh, sw = height_width(stride if stride is not None else kernel_size, "stride")
        n, c, h, w = x.shape
        oh, ow = output_size(h, kh, sh, 0), output_size(w, kw, sw, 0)
        if oh < 1 or ow < 1:
            raise ValueError(f"max_pool2d: a {kh}x{kw} window does not fit an input of {h}x{w}")
        images = x.reshape(n * c, 1, h, w)  # each channel its own image
        cols = im2col(images, kh, kw, (sh, sw), (oh, ow))  # (kh*kw, N*C*OH*OW): one window each
        winner = cols.argmax(axis=0)  # (N*C*OH*OW,): the first maximum of each window
        ctx.save_for_backward(winner)
        ctx.geometry = images.shape, (kh, kw), (sh, sw), (oh, ow)
        return cols.max(axis=0).reshape(n, c, oh, ow)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        """dx = col2im(g placed at each column's winner, zeros elsewhere).

        Course task 9.1 (docs/build-it-yourself.md).
        """
        (winner,) = ctx.saved_tensors  # (N*C*OH*OW,)
        images_shape, (kh, kw), stride, out_hw = ctx.geometry
        xp = get_array_module(grad)
        grad_cols = xp.zeros((kh * kw, winner.size), dtype=grad.dtype)  # (kh*kw, N*C*OH*OW)
        grad_cols[winner, xp.arange(winner.size)] = grad.reshape(-1)  # to each window's winner
        grad_x = col2im(grad_cols, images_shape, kh, kw, stride, out_hw)  # (N*C, 1, H, W)
        return (grad_x.reshape(grad.shape[0], grad.shape[1], *images_shape[2:]),)
