"""Synthetic handwritten-looking digits, made on the fly from the fonts that ship with matplotlib.

The reference experiment (MATLAB's "Train a Siamese network for dimensionality reduction") uses
digits typed in many fonts, then rotated and distorted: 28x28 grayscale, white ink on black,
with the rotation angle of each image known. This module builds such a set in four steps, each
vectorised over a batch of images:

1. **Glyphs.** Each digit is typed once per font with PIL at high resolution and cached on a
   ``_CANVAS x _CANVAS`` canvas, so a batch starts as a fancy-index into a table of glyphs.
2. **Warp.** Every output pixel ``p`` of the canvas looks up the glyph at

       q = c + A^{-1} (p - c) + d(p),     A = rotation(angle) @ shear @ scale(sx, sy),

   where ``c`` is the canvas centre and ``d`` a smooth random displacement field (the "elastic
   distortion" of Simard et al., 2003): random offsets on a coarse grid, spread smoothly.
3. **Pen.** A Gaussian blur then a soft threshold at a random level gives thicker or thinner
   strokes with round, pen-like ends.
4. **MNIST framing.** Like MNIST (LeCun et al., 1998), the digit is scaled so its bounding box
   fits a box of about 20x20 pixels and moved so its centre of mass sits at the centre of the
   28x28 image; the resampling is done at twice the resolution and averaged down (antialiasing).
"""

from __future__ import annotations

import os
from functools import cache

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tinysiam.checks import check_int

# Digit fonts bundled with matplotlib: sans, mono, serif and STIX in four weights/styles, and
# five Computer Modern faces (roman, sans, typewriter, text italic, bold).
_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
    "cmb10.ttf",
)
_CANVAS = 48  # side of the working canvas, in pixels
_GLYPH = 30  # the longer side of a typed glyph on that canvas
_SIZE = 28  # side of an output image
_SUPER = 2  # supersampling factor of the final resampling
_CHUNK = 1000  # images warped at once (bounds the memory of the sampling grids)

MAX_ANGLE = 45.0  # rotations are drawn uniformly from [-MAX_ANGLE, MAX_ANGLE] degrees


def _is_bold(font: str) -> bool:
    """Whether a font file in ``_FONTS`` is a bold face."""
    return "Bol" in font or font == "cmb10.ttf"


@cache
def _glyph_table() -> np.ndarray:
    """Every digit in every font, typed and centred on a blank canvas.

    Returns:
        float32 array (F, 10, _CANVAS, _CANVAS) in [0, 1], ink high.
    """
    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    table = np.zeros((len(_FONTS), 10, _CANVAS, _CANVAS), dtype=np.float32)
    for f, name in enumerate(_FONTS):
        font = ImageFont.truetype(os.path.join(folder, name), size=120)
        pen = 0 if _is_bold(name) else 2  # an outline that thickens hairlines like a pen
        for digit in range(10):
            big = Image.new("L", (240, 240), 0)
            ImageDraw.Draw(big).text(
                (120, 120),
                str(digit),
                font=font,
                fill=255,
                anchor="mm",
                stroke_width=pen,
                stroke_fill=255,
            )
            big = big.crop(big.getbbox())
            scale = _GLYPH / max(big.size)
            w, h = max(1, round(big.width * scale)), max(1, round(big.height * scale))
            small = (
                np.asarray(big.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
            )
            top, left = (_CANVAS - h) // 2, (_CANVAS - w) // 2
            table[f, digit, top : top + h, left : left + w] = small
    return table


def _bilinear(images: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample each image at real-valued points, reading zero outside it.

    Args:
        images: (N, H, W) arrays to read from.
        ys, xs: (N, h, w) row and column coordinates, one grid of points per image.

    Returns:
        (N, h, w) interpolated values: with ``y0 = floor(y)``, ``a = y - y0`` (same for x),
        ``(1-a)(1-b) I[y0, x0] + (1-a) b I[y0, x0+1] + a (1-b) I[y0+1, x0] + a b I[y0+1, x0+1]``.
    """
    n, height, width = images.shape
    flat = np.pad(images, ((0, 0), (1, 1), (1, 1))).ravel()  # a zero border, then one long row
    ys = np.clip(ys + 1, 0, height + 0.999)  # coordinates in the padded image
    xs = np.clip(xs + 1, 0, width + 0.999)
    y0, x0 = ys.astype(np.intp), xs.astype(np.intp)  # floor, as the coordinates are >= 0
    a, b = ys - y0, xs - x0
    stride = width + 2
    top_left = (np.arange(n) * (height + 2) * stride).reshape(-1, 1, 1) + y0 * stride + x0
    upper = (1 - b) * flat.take(top_left) + b * flat.take(top_left + 1)
    lower = (1 - b) * flat.take(top_left + stride) + b * flat.take(top_left + stride + 1)
    return (1 - a) * upper + a * lower


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (N, S, S) images as ``B @ image @ B^T``, B the (S, S) blur matrix.

    Row ``i`` of B holds the Gaussian weights ``exp(-(i - j)^2 / (2 sigma^2))`` (normalised to
    sum to 1) over the pixels ``j``: one matrix product blurs along columns, the other along rows.
    """
    index = np.arange(images.shape[-1])
    weights = np.exp(-0.5 * ((index[:, None] - index[None, :]) / sigma) ** 2)
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(images.dtype)
    return weights @ images @ weights.T


def _warp(glyphs: np.ndarray, angles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate, shear, stretch and elastically distort (N, S, S) glyphs; see step 2 above."""
    n = len(glyphs)
    theta = np.deg2rad(angles)
    cos, sin = np.cos(theta), np.sin(theta)
    # Rows point down, so this rotation turns the digit counter-clockwise on screen.
    rotate = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
    shear = np.zeros((n, 2, 2))
    shear[:, 0, 0] = shear[:, 1, 1] = 1.0
    shear[:, 1, 0] = rng.uniform(-0.25, 0.25, n)  # x shifts with y: slant
    scale = np.zeros((n, 2, 2))
    scale[:, 0, 0] = rng.uniform(0.75, 1.2, n)  # (x, y) order
    scale[:, 1, 1] = rng.uniform(0.8, 1.15, n)
    inverse = np.linalg.inv(rotate @ shear @ scale).astype(np.float32)  # (N, 2, 2)

    centre = (_CANVAS - 1) / 2
    grid = np.arange(_CANVAS, dtype=np.float32) - centre
    gy, gx = np.meshgrid(grid, grid, indexing="ij")  # (S, S) offsets from the centre
    xs = inverse[:, 0, 0, None, None] * gx + inverse[:, 0, 1, None, None] * gy + centre
    ys = inverse[:, 1, 0, None, None] * gx + inverse[:, 1, 1, None, None] * gy + centre

    # Elastic part: random offsets on a 5x5 grid of knots over the canvas, spread to every
    # pixel by Gaussian weights (field = K @ knots @ K^T, one K per axis): a smooth field.
    knots = rng.normal(0.0, 2.2, (2, n, 5, 5)).astype(np.float32)
    spread = np.exp(-0.5 * ((grid[:, None] - np.linspace(-centre, centre, 5)) / 7.0) ** 2)
    spread = (spread / spread.sum(axis=1, keepdims=True)).astype(np.float32)  # (S, 5)
    field = spread @ knots @ spread.T  # (2, N, S, S) offsets in pixels
    return _bilinear(glyphs, ys + field[0], xs + field[1])


def _pen(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Redraw strokes with a random pen width: blur, then a soft threshold; see step 3 above."""
    blurred = _blur(canvas, sigma=1.2)
    level = rng.uniform(0.25, 0.55, (len(canvas), 1, 1)).astype(np.float32)  # low = thick
    return np.clip((blurred - level) / 0.2 + 0.5, 0.0, 1.0)


def _frame(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fit each (N, S, S) digit in a ~20x20 box, centre of mass in the middle; see step 4 above.

    Returns:
        (N, 28, 28) images.
    """
    n = len(canvas)
    ink = canvas > 0.3
    rows, cols = np.any(ink, axis=2), np.any(ink, axis=1)  # (N, S) each: rows, columns with ink
    height = _CANVAS - rows[:, ::-1].argmax(1) - rows.argmax(1)
    width = _CANVAS - cols[:, ::-1].argmax(1) - cols.argmax(1)
    box = rng.uniform(17.0, 20.0, n)  # the longer side of the digit, in output pixels
    zoom = (box / np.maximum(np.maximum(height, width), 1)).astype(np.float32)

    mass = canvas.sum(axis=(1, 2)) + 1e-6
    index = np.arange(_CANVAS, dtype=np.float32)
    com_y = (canvas.sum(axis=2) @ index) / mass
    com_x = (canvas.sum(axis=1) @ index) / mass
    shift = rng.uniform(-1.0, 1.0, (2, n)).astype(np.float32)  # a little off-centre

    # Output sample u (in output pixels) reads the canvas at com + (u - centre - shift) / zoom.
    fine = (np.arange(_SIZE * _SUPER, dtype=np.float32) + 0.5) / _SUPER - 0.5 - (_SIZE - 1) / 2
    ys = (
        com_y[:, None, None] + (fine[None, :, None] - shift[0, :, None, None]) / zoom[:, None, None]
    )
    xs = (
        com_x[:, None, None] + (fine[None, None, :] - shift[1, :, None, None]) / zoom[:, None, None]
    )
    ys, xs = np.broadcast_arrays(ys, xs)
    sampled = _bilinear(canvas, ys, xs)
    return sampled.reshape(n, _SIZE, _SUPER, _SIZE, _SUPER).mean(axis=(2, 4))


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make ``n`` rotated, distorted digits in the style of MNIST.

    Each image picks a digit and one of 21 matplotlib fonts, is rotated by a random angle in
    [-45, 45] degrees (positive = counter-clockwise on screen), sheared, stretched, elastically
    distorted, redrawn with a random pen width, then framed like MNIST.

    Args:
        n: number of images, a positive int.
        seed: seed of the ``np.random.default_rng`` that draws everything; a seed always gives
            bit-identical images, and different seeds give independent sets (e.g. ``seed`` for
            training and ``seed + 1`` for testing).

    Returns:
        images: float32 (n, 1, 28, 28) in [0, 1], white ink on black.
        labels: int64 (n,), the digits 0..9, drawn uniformly.
        angles: float32 (n,), the rotation of each digit in degrees.

    Example:
        >>> images, labels, angles = synthetic_digits(5000, seed=0)
        >>> images.shape, labels.dtype, float(abs(angles).max()) <= 45
        ((5000, 1, 28, 28), dtype('int64'), True)
    """
    check_int("n", n, minimum=1)
    rng = np.random.default_rng(seed)
    table = _glyph_table()
    labels = rng.integers(0, 10, n)
    fonts = rng.integers(0, len(_FONTS), n)
    angles = rng.uniform(-MAX_ANGLE, MAX_ANGLE, n).astype(np.float32)
    images = np.empty((n, 1, _SIZE, _SIZE), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        canvas = _warp(table[fonts[part], labels[part]], angles[part], rng)
        images[part, 0] = _frame(_pen(canvas, rng), rng)
    return np.clip(images, 0.0, 1.0), labels.astype(np.int64), angles
