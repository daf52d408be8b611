"""tinysiam.geometry: the window geometry the fast ops, the reference ops and the layers share.

Sizes against the formula and against counting window positions one by one, and every error
message: what was expected and what came.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import SETTINGS

from tinysiam import geometry
from tinysiam.ops import conv as fast_conv
from tinysiam.reference import conv as reference_conv


# ----- height_width ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, minimum, expected",
    [
        (3, 1, (3, 3)),
        ((2, 5), 1, (2, 5)),
        (0, 0, (0, 0)),
        ((0, 1), 0, (0, 1)),
        (np.int64(4), 1, (4, 4)),
    ],
)
def test_height_width_gives_a_pair_of_python_ints(value, minimum, expected) -> None:
    pair = geometry.height_width(value, "kernel_size", minimum)
    assert pair == expected
    assert all(type(v) is int for v in pair)


@pytest.mark.parametrize(
    "value, error, message",
    [
        (2.0, TypeError, r"^stride must be an int or a pair of ints, got 2\.0$"),
        (True, TypeError, r"^stride must be an int or a pair of ints, got True$"),
        ((1, 2, 3), TypeError, r"^stride must be an int or a pair of ints, got \(1, 2, 3\)$"),
        ((1, "2"), TypeError, r"^stride must be an int or a pair of ints, got \(1, '2'\)$"),
        ([1, 2], TypeError, r"^stride must be an int or a pair of ints, got \[1, 2\]$"),
        (0, ValueError, r"^stride must be >= 1, got 0$"),
        ((2, 0), ValueError, r"^stride must be >= 1, got \(2, 0\)$"),
    ],
)
def test_height_width_names_what_it_expected_and_what_came(value, error, message) -> None:
    with pytest.raises(error, match=message):
        geometry.height_width(value, "stride")


def test_height_width_takes_the_minimum_it_is_given() -> None:
    with pytest.raises(ValueError, match=r"^Conv2d: padding must be >= 0, got -1$"):
        geometry.height_width(-1, "Conv2d: padding", minimum=0)


# ----- output_size ----------------------------------------------------------------------------
@SETTINGS
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 12),
    stride=st.integers(1, 5),
    padding=st.integers(0, 4),
)
def test_output_size_counts_the_positions_a_window_takes(size, kernel, stride, padding) -> None:
    """Window starts 0, stride, 2 stride, ... while the window ends inside the padded axis; below
    1 exactly when there is no such start (the ops then say the kernel does not fit)."""
    padded = size + 2 * padding
    starts = [start for start in range(0, padded, stride) if start + kernel <= padded]
    assert max(geometry.output_size(size, kernel, stride, padding), 0) == len(starts)


@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [(105, 10, 1, 0, 96), (7, 2, 2, 0, 3), (28, 3, 1, 1, 28), (4, 5, 1, 0, 0)],
)
def test_output_size_examples(size, kernel, stride, padding, expected) -> None:
    assert geometry.output_size(size, kernel, stride, padding) == expected


# ----- check_conv_inputs ----------------------------------------------------------------------
X, W, B = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3)), np.zeros(4)


def test_check_conv_inputs_accepts_inputs_that_fit() -> None:
    geometry.check_conv_inputs(X, W, B)
    geometry.check_conv_inputs(X, W, None)


@pytest.mark.parametrize(
    "x, weight, bias, message",
    [
        (X[0], W, B, r"^conv2d: input must be \(N, C, H, W\), got shape \(3, 8, 8\)$"),
        (
            X,
            W[0],
            B,
            r"^conv2d: weight must be \(out_channels, in_channels, kh, kw\), "
            r"got shape \(3, 3, 3\)$",
        ),
        (
            X[:, :2],
            W,
            B,
            r"^conv2d: input has 2 channels but weight \(4, 3, 3, 3\) expects 3$",
        ),
        (X, W, B[:3], r"^conv2d: bias must have shape \(4,\), got \(3,\)$"),
    ],
)
def test_check_conv_inputs_names_what_it_expected_and_what_came(x, weight, bias, message) -> None:
    with pytest.raises(ValueError, match=message):
        geometry.check_conv_inputs(x, weight, bias)


def test_the_fast_ops_keep_the_geometry_names_they_had() -> None:
    assert fast_conv.height_width is geometry.height_width
    assert fast_conv.output_size is geometry.output_size
    assert fast_conv.check_conv_inputs is geometry.check_conv_inputs
    assert reference_conv.output_size is geometry.output_size
