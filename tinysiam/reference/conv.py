"""2-D convolution the textbook way: one im2col of the whole batch, one matrix product.

For x (N, C, H, W), a weight (O, C, kh, kw), stride s and zero padding p, the output is
(N, O, OH, OW) with OH = (H + 2p - kh) // s + 1 (and OW alike). im2col copies every patch that
the kernel sees into a column of a matrix,

    cols[c, i, j, n, oh, ow] = x_padded[n, c, oh*s + i, ow*s + j]        cols: (C*kh*kw, N*OH*OW)

and the convolution becomes one product with the weight flattened to (O, C*kh*kw):

    out = W @ cols + b                                                   (O, N*OH*OW)

Backward, with g = dL/dout laid out as the product's result (O, N*OH*OW):

    dL/dW    = g @ cols^T
    dL/db    = g summed over N*OH*OW
    dL/dcols = W^T @ g,  then dL/dx = col2im(dL/dcols): each column entry goes back, added, to
                         the pixel it was copied from (col2im is im2col's adjoint)

This is the version to read first. :mod:`tinysiam.ops.conv` computes the same numbers faster
(the batch in chunks, one shared column buffer, a second column layout for col2im).
"""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import get_array_module
from ..geometry import check_conv_inputs, height_width, output_size


def im2col(
    x_padded: Any, kh: int, kw: int, stride: tuple[int, int], out_hw: tuple[int, int]
) -> Any:
    """Every kh x kw patch of x_padded as a column (Chainer's im2col).

    One strided slice per kernel offset (i, j), kh * kw copies in all, not a loop over pixels:

        cols[c, i, j, n, oh, ow] = x_padded[n, c, oh*sh + i, ow*sw + j]

    Args:
        x_padded: (N, C, Hp, Wp), the input already padded.
        kh, kw: kernel height and width.
        stride: (sh, sw).
        out_hw: (OH, OW), the number of kernel positions down and across.

    Returns:
        cols: (C*kh*kw, N*OH*OW), a new array.

    Course task 8.1 (docs/build-it-yourself.md).
    """
    xp = get_array_module(x_padded)
    n, c = x_padded.shape[:2]
    (sh, sw), (oh, ow) = stride, out_hw
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x_padded.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x_padded[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]  # (N, C, OH, OW)
            cols[:, i, j] = window.transpose(1, 0, 2, 3)  # (C, N, OH, OW)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(
    cols: Any,
    x_padded_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: tuple[int, int],
    out_hw: tuple[int, int],
) -> Any:
    """The adjoint of :func:`im2col`: the same loop, with ``+=`` into an image of zeros.

    A pixel copied into several columns (overlapping patches) gets the sum of their entries:

        x[n, c, oh*sh + i, ow*sw + j] += cols[c, i, j, n, oh, ow]

    Args:
        cols: (C*kh*kw, N*OH*OW), laid out as im2col returns it.
        x_padded_shape: (N, C, Hp, Wp), the shape im2col read from.
        kh, kw, stride, out_hw: as for :func:`im2col`.

    Returns:
        (N, C, Hp, Wp), a new array.

    Course task 8.2 (docs/build-it-yourself.md).
    """
    xp = get_array_module(cols)
    n, c = x_padded_shape[:2]
    (sh, sw), (oh, ow) = stride, out_hw
    cols = cols.reshape(c, kh, kw, n, oh, ow)
    x = xp.zeros(x_padded_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            window = cols[:, i, j].transpose(1, 0, 2, 3)  # (N, C, OH, OW)
            x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += window
    return x


class ReferenceConv2dOp(Function):
    """Cross-correlation of x (N, C, H, W) with weight (O, C, kh, kw), plus bias (O,).

    The same op as :class:`tinysiam.ops.Conv2dOp` (same arguments, same results), written as
    pad, im2col, one matrix product; backward as two products and col2im.

    Example:
        >>> out = F.conv2d(x, weight, bias, stride=1, padding=2, impl="reference")
        >>> conv = nn.Conv2d(1, 32, 5, impl="reference")   # the same, as a layer
    """

    @staticmethod
    def forward(
        ctx: Context, x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0
    ) -> Any:
        """out = W (O, C*kh*kw) @ im2col(pad(x)) + b, reshaped to (N, O, OH, OW)."""
        check_conv_inputs(x, weight, bias)
        xp = get_array_module(x)
        (sh, sw), (ph, pw) = height_width(stride, "stride"), height_width(padding, "padding", 0)
        n, c, h, w = x.shape
        o, _, kh, kw = weight.shape
        oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"conv2d: a {kh}x{kw} kernel does not fit an input of {h}x{w} "
                f"with padding {(ph, pw)}"
            )
        x_padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (N, C, H+2ph, W+2pw)
        cols = im2col(x_padded, kh, kw, (sh, sw), (oh, ow))  # (C*kh*kw, N*OH*OW)
        out = weight.reshape(o, c * kh * kw) @ cols  # (O, N*OH*OW)
        out = out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)  # (N, O, OH, OW)
        if bias is not None:
            out = out + bias.reshape(1, o, 1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = x_padded.shape, (sh, sw), (ph, pw), (oh, ow)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        """dW = g @ cols^T,  db = sum of g,  dx = col2im(W^T @ g) without the padding.

        Course task 8.3 (docs/build-it-yourself.md).
        """
        cols, weight = ctx.saved_tensors  # cols: (C*kh*kw, N*OH*OW)
        x_padded_shape, stride, (ph, pw), out_hw = ctx.geometry
        o, c, kh, kw = weight.shape
        hp, wp = x_padded_shape[2:]
        g = grad.transpose(1, 0, 2, 3).reshape(o, -1)  # (O, N*OH*OW), as the product's result
        grad_w = (g @ cols.T).reshape(weight.shape)  # (O, C, kh, kw)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_cols = weight.reshape(o, c * kh * kw).T @ g  # (C*kh*kw, N*OH*OW)
            grad_padded = col2im(grad_cols, x_padded_shape, kh, kw, stride, out_hw)
            grad_x = grad_padded[:, :, ph : hp - ph, pw : wp - pw]  # (N, C, H, W)
        if len(ctx.needs_input_grad) == 2:  # no bias
            return grad_x, grad_w
        return grad_x, grad_w, grad.sum(axis=(0, 2, 3))  # bias: (O,)
