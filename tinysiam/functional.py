"""The layers' math as plain functions (import as F), the way the nn layers call it.

import tinysiam.functional as F
h = F.relu(F.dense(x, weight, bias))

:func:`conv2d` and :func:`max_pool2d` take ``impl``: "fast" (the default, :mod:`tinysiam.ops`)
or "reference" (the textbook version, :mod:`tinysiam.reference`). Both give the same values and
gradients; the reference is the one to read first.
"""

from __future__ import annotations

import warnings

from . import ops
from .reference import ReferenceConv2dOp, ReferenceMaxPool2dOp
from .tensor import Tensor

IMPLS = ("fast", "reference")  # the values of conv2d's and max_pool2d's ``impl``


def check_impl(where: str, impl: object) -> str:
    """Return ``impl`` if it is one of IMPLS, else raise a ValueError naming the choices."""
    if not isinstance(impl, str) or impl not in IMPLS:
        choices = " or ".join(repr(name) for name in IMPLS)
        raise ValueError(f"{where}: impl must be {choices}, got {impl!r}")
    return impl


def dense(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Dense layer y = x W^T + b.

    Args:
        x: (N, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (N, out_features).
    """
    return ops.DenseOp.apply(x, weight) if bias is None else ops.DenseOp.apply(x, weight, bias)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Deprecated name of :func:`dense` (kept for existing code; it will be removed in 0.3)."""
    warnings.warn(
        "F.linear is deprecated; call F.dense (same arguments)", DeprecationWarning, stacklevel=2
    )
    return dense(x, weight, bias)


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    return ops.ReLUOp.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), elementwise, without overflow for large |x|."""
    return ops.SigmoidOp.apply(x)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    *,
    impl: str = "fast",
) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library).

        out[n, o, i, j] = b[o] + sum_{c, u, v} x_padded[n, c, i*sh + u, j*sw + v] W[o, c, u, v]

    Args:
        x: (N, C, H, W).
        weight: (O, C, kh, kw).
        bias: (O,) or None.
        stride, padding: an int or a (height, width) pair; zero padding.
        impl: "fast" (:class:`tinysiam.ops.Conv2dOp`) or "reference"
            (:class:`tinysiam.reference.ReferenceConv2dOp`): the same values and gradients.

    Returns:
        (N, O, OH, OW), OH = (H + 2 padding - kh) // stride + 1.

    Example:
        >>> x, w = tinysiam.tensor(np.ones((2, 1, 28, 28))), tinysiam.tensor(np.ones((8, 1, 3, 3)))
        >>> F.conv2d(x, w, padding=1, impl="reference").shape
        (2, 8, 28, 28)
    """
    op = ReferenceConv2dOp if check_impl("conv2d", impl) == "reference" else ops.Conv2dOp
    tensors = (x, weight) if bias is None else (x, weight, bias)
    return op.apply(*tensors, stride=stride, padding=padding)


def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    *,
    impl: str = "fast",
) -> Tensor:
    """Max over kernel_size windows, stride defaulting to kernel_size, floor mode.

        out[n, c, i, j] = max_{u < kh, v < kw} x[n, c, i*sh + u, j*sw + v]

    The gradient goes to each window's maximum (the first one in row-major order on ties).

    Args:
        x: (N, C, H, W).
        kernel_size, stride: an int or a (height, width) pair.
        impl: "fast" (:class:`tinysiam.ops.MaxPool2dOp`) or "reference"
            (:class:`tinysiam.reference.ReferenceMaxPool2dOp`): the same values and gradients.

    Returns:
        (N, C, OH, OW), OH = (H - kernel) // stride + 1.
    """
    op = ReferenceMaxPool2dOp if check_impl("max_pool2d", impl) == "reference" else ops.MaxPool2dOp
    return op.apply(x, kernel_size=kernel_size, stride=stride)


def maximum(a: Tensor, b: Tensor | float) -> Tensor:
    """Elementwise max(a, b)."""
    return ops.Maximum.apply(a, a._lift(b))


def clip(x: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """x clamped into [low, high]."""
    return ops.Clip.apply(x, low=low, high=high)


def concatenate(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return ops.concatenate(tensors, axis=axis)


def stack(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis."""
    return ops.stack(tensors, axis=axis)
