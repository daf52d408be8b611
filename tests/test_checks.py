"""The shared argument checks: what passes, and the message of what does not."""

from __future__ import annotations

import numpy as np
import pytest

from tinysiam.checks import check_int, check_numbers


@pytest.mark.parametrize("value, minimum", [(0, 0), (np.int64(3), 1), (2, 2), (np.uint8(255), 0)])
def test_check_int_accepts_python_and_numpy_ints_at_or_above_the_minimum(value, minimum) -> None:
    check_int("n", value, minimum)


@pytest.mark.parametrize(
    "value, minimum, message",
    [
        (-1, 0, "n must be a non-negative int, got -1"),
        (0, 1, "n must be a positive int, got 0"),
        (1, 2, "n must be an int >= 2, got 1"),
        (True, 0, "n must be a non-negative int, got True"),  # a bool is not a count
        (2.0, 0, "n must be a non-negative int, got 2.0"),
        ("3", 1, "n must be a positive int, got '3'"),
    ],
)
def test_check_int_names_what_was_expected_and_what_came(value, minimum, message) -> None:
    with pytest.raises(ValueError) as error:
        check_int("n", value, minimum)
    assert str(error.value) == message


@pytest.mark.parametrize("value", [True, "0.1", None, [0.1]])
def test_check_numbers_refuses_what_is_not_a_real_number(value) -> None:
    with pytest.raises(TypeError, match=r"^Adam: lr must be a number, got "):
        check_numbers("Adam", lr=value)
    check_numbers("Adam", lr=0.1, eps=np.float32(1e-8), steps=3)
