"""Tile a batch of small images into one picture, for figures."""

from __future__ import annotations

import math

import numpy as np


def tile_images(
    images: np.ndarray,
    rows: int | None = None,
    cols: int | None = None,
    pad: int = 1,
    pad_value: float = 1.0,
) -> np.ndarray:
    """Lay ``N`` images out row by row on a ``rows x cols`` grid, with ``pad`` pixels between.

    Args:
        images: (N, 1, H, W) or (N, H, W) array.
        rows: number of grid rows; inferred from ``cols`` (or near-square) when None.
        cols: number of grid columns; inferred from ``rows`` (or near-square) when None.
        pad: width in pixels of the lines between tiles (none around the edge), >= 0.
        pad_value: value of those lines and of the cells left empty.

    Returns:
        (rows * (H + pad) - pad, cols * (W + pad) - pad) array of the images' dtype (float when
        ``pad_value`` needs it).

    Raises:
        ValueError: on a bad shape, no images, a negative pad, or more images than cells.

    Example:
        >>> tile_images(np.zeros((6, 1, 28, 28)), cols=3).shape  # 2 rows of 3
        (57, 86)
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W), got {images.shape}")
    n, height, width = images.shape
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    if cols is None:
        cols = math.ceil(n / rows) if rows is not None else math.ceil(math.sqrt(n))
    if rows is None:
        rows = math.ceil(n / cols)
    if rows < 1 or cols < 1 or n > rows * cols:
        raise ValueError(f"{n} images do not fit a grid of rows={rows} x cols={cols}")

    dtype = np.result_type(images.dtype, pad_value)
    out = np.full((rows * (height + pad) - pad, cols * (width + pad) - pad), pad_value, dtype=dtype)
    for k, image in enumerate(images):
        top, left = (k // cols) * (height + pad), (k % cols) * (width + pad)
        out[top : top + height, left : left + width] = image
    return out
