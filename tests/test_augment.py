"""Random affine distortions (tinysiam.experiments.data.augment): exact cases, determinism,
shapes and range."""

from __future__ import annotations

import numpy as np
import pytest

from tinysiam.experiments.data import random_affine
from tinysiam.experiments.data.augment import affine_parameters, warp_affine


def images(n: int = 4, size: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, size, size), dtype=np.float32)


def identity(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(np.eye(2), (n, 1, 1)), np.zeros((n, 2))


def test_identity_map_gives_the_input_back():
    x = images()
    np.testing.assert_array_equal(warp_affine(x, *identity(len(x))), x)


def test_random_affine_with_every_part_switched_off_gives_the_input_back():
    x = images()
    out = random_affine(
        x, np.random.default_rng(0), rotation=0.0, shear=0.0, scale=(1.0, 1.0), translation=0.0
    )
    np.testing.assert_array_equal(out, x)
    out = random_affine(x, np.random.default_rng(0), probability=0.0)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("size", [7, 8])
def test_rotation_by_90_degrees_matches_rot90(size):
    x = images(size=size)
    theta = np.pi / 2
    turn = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    out = warp_affine(x, np.tile(turn, (len(x), 1, 1)), np.zeros((len(x), 2)))
    np.testing.assert_allclose(out, np.rot90(x, axes=(2, 3)), atol=1e-6)


def test_whole_pixel_shift_moves_the_image_and_brings_in_zeros():
    x = images()
    matrices, _ = identity(len(x))
    out = warp_affine(x, matrices, np.tile([2.0, -1.0], (len(x), 1)))  # 2 right, 1 up
    np.testing.assert_array_equal(out[:, :, :-1, 2:], x[:, :, 1:, :-2])
    assert not out[:, :, :, :2].any() and not out[:, :, -1:, :].any()


def test_same_seed_same_distortions_other_seed_other_ones():
    x = images(8, 28)
    a = random_affine(x, np.random.default_rng(5))
    b = random_affine(x, np.random.default_rng(5))
    c = random_affine(x, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shape_dtype_and_range_are_kept():
    x = images(16, 28)
    out = random_affine(x, np.random.default_rng(1), rotation=30.0, translation=3.0)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, x)


def test_each_image_gets_its_own_map():
    x = np.repeat(images(1, 28), 6, axis=0)
    out = random_affine(x, np.random.default_rng(2), probability=1.0)
    assert len({out[k].tobytes() for k in range(6)}) == 6


def test_parameters_stay_in_koch_et_al_ranges():
    matrices, shifts = affine_parameters(2000, np.random.default_rng(3), probability=1.0)
    assert matrices.shape == (2000, 2, 2) and shifts.shape == (2000, 2)
    assert np.abs(shifts).max() <= 2.0
    # |det A| = scale_x * scale_y * (1 - shear_x * shear_y): within [0.64 * 0.91, 1.44 * 1.09]
    det = np.abs(np.linalg.det(matrices))
    assert det.min() >= 0.64 * 0.91 - 1e-9 and det.max() <= 1.44 * 1.09 + 1e-9


def test_mismatched_parameters_are_rejected():
    with pytest.raises(ValueError, match="matrices"):
        warp_affine(images(3), *identity(2))
