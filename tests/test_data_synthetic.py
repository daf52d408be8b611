"""Synthetic digits: deterministic, well-formed, and neither trivial nor noise."""

import numpy as np
import pytest

from tinysiam.experiments.data.synthetic import MAX_ANGLE, synthetic_digits


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return synthetic_digits(1000, seed=0)


def test_shapes_dtypes_and_range(digits):
    images, labels, angles = digits
    assert images.shape == (1000, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (1000,) and labels.dtype == np.int64
    assert angles.shape == (1000,) and angles.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert set(labels.tolist()) == set(range(10))
    assert np.all(np.abs(angles) <= MAX_ANGLE)
    assert (
        angles.min() < -0.8 * MAX_ANGLE and angles.max() > 0.8 * MAX_ANGLE
    )  # the whole range is used


def test_digits_look_like_mnist(digits):
    """White ink on black, every image has ink, nothing touches the border, centred."""
    images = digits[0][:, 0]
    ink = images.sum(axis=(1, 2))
    assert ink.min() > 20  # no image came out blank
    assert images.mean() < 0.3  # mostly background
    border = np.concatenate(
        [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1
    )
    assert border.max() < 0.5
    centre_y = (images.sum(axis=2) @ np.arange(28)) / ink
    centre_x = (images.sum(axis=1) @ np.arange(28)) / ink
    assert np.all(np.abs(centre_y - 13.5) < 2) and np.all(np.abs(centre_x - 13.5) < 2)


def test_same_seed_is_bit_identical_and_seeds_differ(digits):
    again = synthetic_digits(1000, seed=0)
    for a, b in zip(digits, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = synthetic_digits(1000, seed=1)
    assert not np.array_equal(digits[1], other[1])
    assert np.abs(digits[0] - other[0]).mean() > 0.05


def test_nearest_class_mean_is_well_above_chance_but_not_perfect():
    """Raw-pixel nearest class mean scores about 0.62: the classes are learnable but not trivial."""
    train, train_labels, _ = synthetic_digits(2000, seed=0)
    test, test_labels, _ = synthetic_digits(2000, seed=1)
    train, test = train.reshape(2000, -1), test.reshape(2000, -1)
    means = np.stack([train[train_labels == k].mean(axis=0) for k in range(10)])
    distances = (test**2).sum(1)[:, None] - 2 * test @ means.T + (means**2).sum(1)[None, :]
    accuracy = (distances.argmin(axis=1) == test_labels).mean()
    assert 0.5 < accuracy < 0.8


@pytest.mark.parametrize(
    "n, error",
    [
        (0, ValueError),
        (-3, ValueError),
        (2.5, TypeError),
        ("10", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_bad_n_raises(n, error):
    with pytest.raises(error, match="n must be a positive int"):
        synthetic_digits(n)
