"""2-D convolution by im2col: the convolution becomes one matrix product per chunk of the batch.

For x (N, C, H, W) and a weight (O, C, kh, kw), stride s and zero padding p, the output is
(N, O, OH, OW) with OH = (H + 2p - kh) // s + 1 (and OW alike). im2col copies every input patch
that a kernel position sees into a column:

    cols[c, i, j, n, oh, ow] = x_padded[n, c, oh*s + i, ow*s + j]        cols: (C*kh*kw, N*OH*OW)

built with one strided slice per kernel offset (i, j), not a loop over pixels. Then

    out = W.reshape(O, C*kh*kw) @ cols                                    (O, N*OH*OW)

Backward, with g = dL/dout laid out the same way as (O, N*OH*OW):

    dL/dW    = g @ cols^T          (computed as (cols @ g^T)^T, which BLAS runs faster)
    dL/dcols = W^T @ g, and col2im adds each column back onto the pixels it was copied from
    dL/db    = g summed over everything but the output channel

For dL/dcols, g is laid out with the batch as its innermost axis instead, (O, OH*OW*N), so that
the column gradients come out in that order and col2im's additions run along rows of OW*N values
rather than OW (see :func:`col2im`). It is the same product on reordered columns.

The columns hold C*kh*kw values per output pixel (for the reference network's second layer,
3136 values for each of 42*42 pixels: 22 MB per image), so they are built for a chunk of the
batch at a time, at most :func:`column_budget` bytes, and rebuilt in the backward pass: memory
stays bounded whatever the batch size. When the whole batch fits in one chunk, the forward pass
keeps its columns for the weight gradient instead (at most the budget, and one im2col saved).

The budget suits the device. On the CPU, 128 MiB (``COLUMN_BUDGET_BYTES``) keeps the chunks
near the caches and RAM it was tuned on. On a GPU each chunk costs kernel launches (kh*kw
copies forward, as many additions backward), a few microseconds of Python each, while a big
matrix product is what a GPU does best: there the budget is an eighth of the GPU's memory, so
the reference network's second layer (360 images, 8 GB of columns) is one chunk on an 80 GB GPU
where 128 MiB made it 60.
"""

from __future__ import annotations

from typing import Any

from ..autograd import Context, Function
from ..backend import device_memory_bytes, device_of, get_array_module
from ..geometry import check_conv_inputs, height_width, output_size

COLUMN_BUDGET_BYTES = 128 * 2**20  # largest column matrix built at once on the CPU
# 128 rather than 64 MiB: fewer, larger chunks ran faster on the paper's network for a little
# more peak memory (the measurements are in the course's engineering notes, docs/17)
GPU_MEMORY_SHARE = 8  # on a GPU, the columns may take 1/8 of its memory (see column_budget)


def im2col(
    x_padded: Any,
    kh: int,
    kw: int,
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    out: Any = None,
) -> Any:
    """Patches of x_padded (N, C, Hp, Wp) as columns: (C*kh*kw, N*OH*OW).

    ``out``: a flat buffer of at least C*kh*kw*N*OH*OW elements to build them in (the chunks of
    one convolution share one), instead of a new array.
    """
    xp = get_array_module(x_padded)
    n, c = x_padded.shape[:2]
    (sh, sw), (oh, ow) = stride, out_hw
    size = c * kh * kw * n * oh * ow
    cols = (out[:size] if out is not None else xp.empty(size, dtype=x_padded.dtype)).reshape(
        c, kh, kw, n, oh, ow
    )
    x_cn = xp.ascontiguousarray(
        x_padded.transpose(1, 0, 2, 3)
    )  # (C, N, Hp, Wp): the columns' axis order
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x_cn[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]  # (C, N, OH, OW)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(
    cols: Any,
    x_padded_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    out: Any = None,
) -> Any:
    """The adjoint of im2col: add each column entry back onto its pixel of (N, C, Hp, Wp).

    ``cols`` is (C*kh*kw, OH*OW*N): im2col's columns with the batch moved to the innermost axis,
    entry [c, i, j, oh, ow, n]. The additions then go into a (C, Hp, Wp, N) array, where a row
    of an offset's window is OW*N contiguous values. With the batch outermost, as im2col lays it
    out, each row would be OW values (7 on the CPU preset's last layer), and NumPy's fixed cost
    per row would dominate the time of the additions.

    ``out``: a (C, Hp, Wp, N) array to add into (the columns' axis order), instead of zeros.
    Returns it as (N, C, Hp, Wp), a transposed view.
    """
    xp = get_array_module(cols)
    n, c = x_padded_shape[:2]
    (sh, sw), (oh, ow) = stride, out_hw
    cols = cols.reshape(c, kh, kw, oh, ow, n)
    x_chwn = out if out is not None else xp.zeros((c, *x_padded_shape[2:], n), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x_chwn[:, i : i + sh * oh : sh, j : j + sw * ow : sw] += cols[:, i, j]  # (C, OH, OW, N)
    return x_chwn.transpose(3, 0, 1, 2)


def column_budget(x: Any) -> int:
    """Bytes of columns built at once for an input on ``x``'s device.

    CPU: ``COLUMN_BUDGET_BYTES``. GPU: 1/``GPU_MEMORY_SHARE`` of its memory, and never less than
    the CPU's budget. A convolution's columns then take at most that much, and as much again for
    their gradient in the backward pass.
    """
    if device_of(x) == "cpu":
        return COLUMN_BUDGET_BYTES
    return max(COLUMN_BUDGET_BYTES, device_memory_bytes() // GPU_MEMORY_SHARE)


def batch_chunks(n: int, bytes_per_item: int, budget: int | None = None) -> list[slice]:
    """Split range(n) into as few slices as keep each one's columns within ``budget`` bytes.

    ``budget`` defaults to COLUMN_BUDGET_BYTES (the CPU's). The slices are as equal as can be
    (their sizes differ by at most one), so the column buffer, sized for the largest, is no
    bigger than it must be: 7 images with room for 6 are chunks of 3 and 4 (a buffer for 4
    images), not 6 and 1 (a buffer for 6).
    """
    budget = COLUMN_BUDGET_BYTES if budget is None else budget
    most = max(1, budget // max(1, bytes_per_item))  # items per chunk
    count = max(1, -(-n // most))  # chunks: ceil(n / most), and one (empty) for an empty batch
    bounds = [k * n // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:], strict=False)]


def column_buffer(xp: Any, chunks: list[slice], size_per_item: int, dtype: Any) -> Any:
    """One flat array that every chunk's column matrix (or col2im's sums) is built in, in turn.

    Reusing it, instead of allocating each chunk's columns afresh, saves the operating system
    handing over (and zeroing) tens of MB of new memory per chunk, a cost that grows with the
    number of chunks.
    """
    largest = max(chunk.stop - chunk.start for chunk in chunks)
    return xp.empty(size_per_item * largest, dtype=dtype)


class Conv2dOp(Function):
    """Cross-correlation of x (N, C, H, W) with weight (O, C, kh, kw), plus bias (O,).

    Output: (N, O, OH, OW).
    """

    @staticmethod
    def forward(
        ctx: Context, x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0
    ) -> Any:
        check_conv_inputs(x, weight, bias)
        xp = get_array_module(x)
        (sh, sw), (ph, pw) = (
            height_width(stride, "stride"),
            height_width(padding, "padding", minimum=0),
        )
        n, _, h, w = x.shape
        o, c, kh, kw = weight.shape
        oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"conv2d: a {kh}x{kw} kernel does not fit an input of {h}x{w} "
                f"with padding {(ph, pw)}"
            )
        x_padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        w_matrix = weight.reshape(o, c * kh * kw)
        out = xp.empty((n, o, oh, ow), dtype=x.dtype)
        chunks = batch_chunks(n, c * kh * kw * oh * ow * x.itemsize, column_budget(x))
        bias_4d = bias.reshape(1, o, 1, 1) if bias is not None else 0
        buffer = column_buffer(xp, chunks, c * kh * kw * oh * ow, x.dtype)
        for chunk in chunks:
            cols = im2col(x_padded[chunk], kh, kw, (sh, sw), (oh, ow), out=buffer)
            out_chunk = (w_matrix @ cols).reshape(o, -1, oh, ow)
            xp.add(
                out_chunk.transpose(1, 0, 2, 3), bias_4d, out=out[chunk]
            )  # (N, O, OH, OW), one pass
        keep_cols = len(chunks) == 1 and ctx.needs_input_grad[1]  # for the weight gradient
        ctx.save_for_backward(x_padded, weight, cols if keep_cols else None)
        ctx.geometry = (sh, sw), (ph, pw), (oh, ow)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        x_padded, weight, kept_cols = ctx.saved_tensors
        (sh, sw), (ph, pw), (oh, ow) = ctx.geometry
        xp = get_array_module(grad)
        o, c, kh, kw = weight.shape
        n = x_padded.shape[0]
        need_x, need_w = ctx.needs_input_grad[:2]
        w_matrix = weight.reshape(o, c * kh * kw)
        hp, wp = x_padded.shape[2:]
        h, w = hp - 2 * ph, wp - 2 * pw
        grad_w: Any = xp.zeros_like(w_matrix) if need_w else None
        grad_x: Any = xp.empty((n, c, h, w), dtype=grad.dtype) if need_x else None
        chunks = batch_chunks(n, c * kh * kw * oh * ow * x_padded.itemsize, column_budget(grad))
        needs_buffer = need_x or (
            need_w and kept_cols is None
        )  # for the columns, then their gradient
        buffer: Any = (
            column_buffer(xp, chunks, c * kh * kw * oh * ow, grad.dtype) if needs_buffer else None
        )
        padded_grad: Any = (
            column_buffer(xp, chunks, c * hp * wp, grad.dtype) if need_x else None
        )  # col2im's (C, Hp, Wp, n)
        for chunk in chunks:
            if need_w:
                g = grad[chunk].transpose(1, 0, 2, 3).reshape(o, -1)  # (O, n*OH*OW), as the columns
                cols = (
                    kept_cols
                    if kept_cols is not None
                    else im2col(x_padded[chunk], kh, kw, (sh, sw), (oh, ow), out=buffer)
                )
                grad_w += (cols @ g.T).T
            if need_x:
                g_last = (
                    grad[chunk].transpose(1, 2, 3, 0).reshape(o, -1)
                )  # (O, OH*OW*n): batch innermost
                grad_cols = xp.matmul(
                    w_matrix.T,
                    g_last,
                    out=buffer[: c * kh * kw * g_last.shape[1]].reshape(c * kh * kw, -1),
                )
                sums = padded_grad[: c * hp * wp * (chunk.stop - chunk.start)].reshape(
                    c, hp, wp, -1
                )
                sums.fill(0)
                padded = col2im(
                    grad_cols, x_padded[chunk].shape, kh, kw, (sh, sw), (oh, ow), out=sums
                )
                grad_x[chunk] = padded[:, :, ph : ph + h, pw : pw + w]
        grads: tuple[Any, ...] = (grad_x, grad_w.reshape(weight.shape) if need_w else None)
        if len(ctx.needs_input_grad) == 3:
            grads += (grad.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None,)
        return grads
