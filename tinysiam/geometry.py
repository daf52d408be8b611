"""Window geometry: where a kernel or a pooling window fits on an image, and the checks of it.

Convolution and max-pooling slide a kh x kw window over x (N, C, H, W) by a stride (sh, sw),
after zero padding (ph, pw) on each side for the convolution. Along one axis the window takes

    OH = floor((H + 2 ph - kh) / sh) + 1                      positions (and OW alike)

so a 105x105 image and a 10x10 kernel of stride 1 give 96x96 outputs, and a 7x7 map pooled 2x2
with stride 2 gives 3x3 (the last row and column are dropped). The fast ops
(:mod:`tinysiam.ops.conv`, :mod:`tinysiam.ops.pool`), the reference ops (:mod:`tinysiam.reference`)
and the layers (:mod:`tinysiam.nn.layers`) all read their sizes and checks from here.
"""

from __future__ import annotations

import numbers
from typing import Any


def height_width(value: int | tuple[int, int], name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (each >= ``minimum``) as a (height, width) pair.

    Args:
        value: k (meaning k x k) or (height, width).
        name: what ``value`` is, for the error messages, e.g. "stride" or "Conv2d: padding".
        minimum: the smallest value allowed (1 for sizes and strides, 0 for padding).

    Raises:
        TypeError: ``value`` is not an int or a pair of ints (bools are refused).
        ValueError: a value is below ``minimum``.

    Example:
        >>> height_width(3, "kernel_size")
        (3, 3)
        >>> height_width((2, 1), "stride")
        (2, 1)
    """
    values = value if isinstance(value, tuple) else (value, value)
    if len(values) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(values[0]), int(values[1])


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions a kernel takes along one axis: floor((size + 2 padding - kernel) / stride) + 1.

    Below 1 when the kernel does not fit (the ops raise then). Example: ``output_size(105, 10,
    1, 0)`` is 96, ``output_size(7, 2, 2, 0)`` is 3.
    """
    return (size + 2 * padding - kernel) // stride + 1


def check_conv_inputs(x: Any, weight: Any, bias: Any) -> None:
    """Raise a ValueError unless x (N, C, H, W), weight (O, C, kh, kw) and bias (O,) or None fit.

    Args:
        x, weight, bias: arrays (or tensors): anything with ``ndim`` and ``shape``.
    """
    if x.ndim != 4:
        raise ValueError(f"conv2d: input must be (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(
            f"conv2d: weight must be (out_channels, in_channels, kh, kw), got shape {weight.shape}"
        )
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: input has {x.shape[1]} channels "
            f"but weight {weight.shape} expects {weight.shape[1]}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
