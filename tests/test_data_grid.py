"""tile_images: layout, padding and errors."""

import numpy as np
import pytest

from tinysiam.data.grid import tile_images


def test_near_square_grid_and_tile_placement():
    images = np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones(
        (10, 1, 4, 5), np.float32
    )
    grid = tile_images(images, pad=1, pad_value=-1.0)  # 10 images -> 4 columns, 3 rows
    assert grid.shape == (3 * 5 - 1, 4 * 6 - 1)
    assert grid.dtype == np.float32
    np.testing.assert_array_equal(grid[0:4, 0:5], 0.0)
    np.testing.assert_array_equal(grid[5:9, 6:11], 5.0)  # image 5: row 1, column 1
    np.testing.assert_array_equal(grid[4, :], -1.0)  # a padding line
    np.testing.assert_array_equal(grid[10:14, 12:17], -1.0)  # an empty cell holds pad_value


def test_rows_or_cols_given_and_3d_input():
    images = np.ones((6, 3, 3))
    assert tile_images(images, cols=3, pad=0).shape == (6, 9)
    assert tile_images(images, rows=3, pad=2).shape == (3 * 5 - 2, 2 * 5 - 2)
    assert tile_images(images, rows=1, cols=6, pad=0).shape == (3, 18)


def test_no_padding_is_a_plain_mosaic():
    images = np.random.default_rng(0).random((4, 1, 2, 2))
    grid = tile_images(images, pad=0)
    np.testing.assert_array_equal(
        grid, np.block([[images[0, 0], images[1, 0]], [images[2, 0], images[3, 0]]])
    )


def test_uint8_images_keep_dtype_with_an_int_pad():
    grid = tile_images(np.full((2, 1, 2, 2), 7, dtype=np.uint8), pad_value=255)
    assert grid.dtype == np.uint8 and grid.max() == 255


@pytest.mark.parametrize(
    "images, kwargs, message",
    [
        (np.zeros((7, 2, 2)), dict(rows=2, cols=3), "do not fit"),
        (np.zeros((5, 2, 2)), dict(rows=2, cols=2), "do not fit"),
        (np.zeros((0, 2, 2)), {}, "at least one"),
        (np.zeros((2, 3, 2, 2)), {}, "shape"),
        (np.zeros((2, 2)), {}, "shape"),
        (np.zeros((2, 2, 2)), dict(pad=-1), "pad"),
    ],
)
def test_errors(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tile_images(images, **kwargs)
