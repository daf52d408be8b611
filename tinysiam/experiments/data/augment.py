"""Random affine distortions of image batches: the augmentation of Koch, Zemel and Salakhutdinov
(2015).

Each image gets its own 2x2 matrix A and shift t, mapping an input point p (pixel coordinates
centred on the image, x to the right, y down) to the output point

    p' = A p + t,    A = R(theta) @ [[1, shear_x], [shear_y, 1]] @ diag(scale_x, scale_y)

where R(theta) turns the picture counter-clockwise as displayed. Koch et al. draw theta in
[-10, 10] degrees, each shear in [-0.3, 0.3], each scale in [0.8, 1.2] and each shift in [-2, 2]
pixels (of a 105-pixel image), and include each of the four parts with probability 0.5.

The warp runs backwards, as every image-warping routine does: each OUTPUT pixel p' looks up its
source p = A^-1 (p' - t) and reads it by bilinear interpolation of the four pixels around it,
with zeros (no ink) outside the image. That way every output pixel gets exactly one value and
no holes appear. The whole batch is one set of array operations: no loop over images.
"""

from __future__ import annotations

import numpy as np


def affine_parameters(
    n: int,
    rng: np.random.Generator,
    rotation: float = 10.0,
    shear: float = 0.3,
    scale: tuple[float, float] = (0.8, 1.2),
    translation: float = 2.0,
    probability: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` random affine maps (A, t) as in Koch et al.: each part kept with ``probability``.

    Args:
        n: how many maps.
        rng: the generator to draw from (the same number of draws whatever the settings).
        rotation: largest turn in degrees; theta ~ U(-rotation, rotation).
        shear: largest shear factor; shear_x, shear_y ~ U(-shear, shear).
        scale: (low, high) range of scale_x and scale_y.
        translation: largest shift in pixels; t_x, t_y ~ U(-translation, translation).
        probability: chance that each of the four parts (rotation, shear, scale, shift) is used.

    Returns:
        A: (n, 2, 2) float64 matrices acting on (x, y); t: (n, 2) float64 shifts in pixels.
    """
    theta = np.deg2rad(rng.uniform(-rotation, rotation, n))
    shears = rng.uniform(-shear, shear, (n, 2))
    scales = rng.uniform(scale[0], scale[1], (n, 2))
    shifts = rng.uniform(-translation, translation, (n, 2))
    keep = rng.random((n, 4)) < probability  # rotation, shear, scale, shift
    theta = np.where(keep[:, 0], theta, 0.0)
    shears = np.where(keep[:, 1:2], shears, 0.0)
    scales = np.where(keep[:, 2:3], scales, 1.0)
    shifts = np.where(keep[:, 3:4], shifts, 0.0)

    cos, sin = np.cos(theta), np.sin(theta)
    turn = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)  # (n, 2, 2)
    slant = np.stack(
        [np.stack([np.ones(n), shears[:, 0]], -1), np.stack([shears[:, 1], np.ones(n)], -1)], -2
    )
    stretch = scales[:, :, None] * np.eye(2)  # diag(scale_x, scale_y)
    return turn @ slant @ stretch, shifts


def warp_affine(images: np.ndarray, matrices: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Warp each image by its own affine map about the image centre, bilinear, zeros outside.

    Args:
        images: (N, C, H, W) float array.
        matrices: (N, 2, 2) maps A acting on centred (x, y) pixel coordinates (x right, y down).
        shifts: (N, 2) shifts t in pixels (x, y).

    Returns:
        (N, C, H, W) of the images' dtype: output[n] at p' is images[n] at A^-1 (p' - t).

    Example:
        >>> turn = np.array([[[0.0, 1.0], [-1.0, 0.0]]])           # 90 degrees counter-clockwise
        >>> out = warp_affine(x, turn, np.zeros((1, 2)))            # x: (1, 1, 5, 5)
        >>> np.allclose(out, np.rot90(x, axes=(2, 3)), atol=1e-6)
        True
    """
    n, c, h, w = images.shape
    if matrices.shape != (n, 2, 2) or shifts.shape != (n, 2):
        raise ValueError(
            f"warp_affine: need (N, 2, 2) matrices and (N, 2) shifts for N = {n}, "
            f"got {matrices.shape} and {shifts.shape}"
        )
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    ys, xs = np.mgrid[0:h, 0:w]
    out_points = np.stack([xs.ravel(), ys.ravel()], -1) - centre  # (H*W, 2) centred (x, y)
    inverse = np.linalg.inv(matrices)  # (N, 2, 2)
    source = (out_points[None] - shifts[:, None]) @ inverse.transpose(
        0, 2, 1
    ) + centre  # (N, H*W, 2)

    # Bilinear reads from the image padded by one zero pixel on every side.
    x = np.clip(source[..., 0], -1, w)
    y = np.clip(source[..., 1], -1, h)
    x0 = np.clip(np.floor(x), -1, w - 1).astype(np.intp)
    y0 = np.clip(np.floor(y), -1, h - 1).astype(np.intp)
    fx, fy = (x - x0).astype(images.dtype), (y - y0).astype(images.dtype)  # (N, H*W) in [0, 1]
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1))).reshape(
        n, c, -1
    )  # (N, C, (H+2)*(W+2))
    row = w + 2
    top_left = (y0 + 1) * row + (x0 + 1)  # (N, H*W) flat index into the padded image

    def read(offset: int) -> np.ndarray:
        return np.take_along_axis(padded, (top_left + offset)[:, None, :], axis=2)  # (N, C, H*W)

    fx, fy = fx[:, None], fy[:, None]
    top = read(0) * (1 - fx) + read(1) * fx
    bottom = read(row) * (1 - fx) + read(row + 1) * fx
    return (top * (1 - fy) + bottom * fy).reshape(n, c, h, w)


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    rotation: float = 10.0,
    shear: float = 0.3,
    scale: tuple[float, float] = (0.8, 1.2),
    translation: float = 2.0,
    probability: float = 0.5,
) -> np.ndarray:
    """Distort every image of a batch by its own random affine map (Koch et al. 2015).

    Args:
        images: (N, C, H, W) float array, e.g. Omniglot images in [0, 1].
        rng: the generator to draw from; a seeded one gives the same distortions again.
        rotation, shear, scale, translation, probability: as in :func:`affine_parameters`
            (Koch et al.'s values by default; ``translation`` in pixels of this image size).

    Returns:
        (N, C, H, W), same dtype; values stay in the input's range (bilinear mixing only).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> distorted = random_affine(images, rng, translation=0.5)   # images: (180, 1, 28, 28)
    """
    matrices, shifts = affine_parameters(
        len(images), rng, rotation, shear, scale, translation, probability
    )
    return warp_affine(images, matrices, shifts)
