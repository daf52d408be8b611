"""The layers' math as plain functions (import as F), the way the nn layers call it.

import tinysiam.functional as F
h = F.relu(F.dense(x, weight, bias))
"""

from __future__ import annotations

import warnings

from . import ops
from .tensor import Tensor


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
) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Args:
        x: (N, C, H, W).
        weight: (O, C, kh, kw).
        bias: (O,) or None.
        stride, padding: an int or a (height, width) pair; zero padding.

    Returns:
        (N, O, OH, OW), OH = (H + 2 padding - kh) // stride + 1.
    """
    tensors = (x, weight) if bias is None else (x, weight, bias)
    return ops.Conv2dOp.apply(*tensors, stride=stride, padding=padding)


def max_pool2d(
    x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Tensor:
    """Max over kernel_size windows, stride defaulting to kernel_size, floor mode.

    Args:
        x: (N, C, H, W).

    Returns:
        (N, C, OH, OW), OH = (H - kernel) // stride + 1.
    """
    return ops.MaxPool2dOp.apply(x, kernel_size=kernel_size, stride=stride)


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
