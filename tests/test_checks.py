"""The shared argument checks: what passes, and the message of what does not."""

from __future__ import annotations

import numpy as np
import pytest

import tinysiam as ts
from tinysiam.checks import (
    check_broadcastable,
    check_choice,
    check_float,
    check_int,
    check_numbers,
)


@pytest.mark.parametrize("value, minimum", [(0, 0), (np.int64(3), 1), (2, 2), (np.uint8(255), 0)])
def test_check_int_accepts_python_and_numpy_ints_at_or_above_the_minimum(value, minimum) -> None:
    check_int("n", value, minimum)


@pytest.mark.parametrize(
    "value, minimum, message",
    [
        (-1, 0, "n must be a non-negative int, got -1"),
        (0, 1, "n must be a positive int, got 0"),
        (1, 2, "n must be an int >= 2, got 1"),
    ],
)
def test_check_int_raises_value_error_for_an_int_below_the_minimum(value, minimum, message) -> None:
    with pytest.raises(ValueError) as error:
        check_int("n", value, minimum)
    assert str(error.value) == message


@pytest.mark.parametrize(
    "value, minimum, message",
    [
        (True, 0, "n must be a non-negative int, got bool True"),  # a bool is not a count
        (2.0, 0, "n must be a non-negative int, got float 2.0"),
        ("3", 1, "n must be a positive int, got str '3'"),
        (None, 1, "n must be a positive int, got NoneType None"),
    ],
)
def test_check_int_raises_type_error_for_what_is_not_an_int(value, minimum, message) -> None:
    with pytest.raises(TypeError) as error:
        check_int("n", value, minimum)
    assert str(error.value) == message


def test_check_choice_returns_a_valid_value_and_lists_the_valid_ones_otherwise() -> None:
    assert check_choice("init", "he", ("he", "glorot")) == "he"
    with pytest.raises(ValueError, match=r"^unknown init 'xavier'; valid ones are 'he', 'glorot'$"):
        check_choice("init", "xavier", ("he", "glorot"))


def test_check_float_refuses_arrays_and_other_dtypes_naming_where_and_what() -> None:
    x = ts.tensor(np.ones((2, 2)), dtype="float32")
    assert check_float("Dense", "x", x) is x
    with pytest.raises(TypeError, match=r"^Dense: x must be a Tensor, got ndarray"):
        check_float("Dense", "x", np.ones((2, 2)))
    with pytest.raises(
        TypeError, match=r"^Dense: x must be float32 or float64, got uint8; integer"
    ):
        check_float("Dense", "x", ts.tensor(np.ones((2, 2), dtype=np.uint8)))
    with pytest.raises(TypeError, match=r"^Dense: x must be float32 or float64, got float16$"):
        check_float("Dense", "x", ts.tensor(np.ones(2, dtype=np.float16)))


@pytest.mark.parametrize(
    "a, b, fits",
    [((2, 3), (3,), True), ((2, 1), (1, 4), True), ((), (5,), True), ((2, 3), (2,), False)],
)
def test_check_broadcastable_follows_numpy(a, b, fits) -> None:
    assert fits == _numpy_broadcasts(a, b)
    if fits:
        check_broadcastable("add", np.ones(a), np.ones(b))
    else:
        with pytest.raises(ValueError, match=r"^add: shapes \(2, 3\) and \(2,\) cannot be"):
            check_broadcastable("add", np.ones(a), np.ones(b))


def _numpy_broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", [True, "0.1", None, [0.1]])
def test_check_numbers_refuses_what_is_not_a_real_number(value) -> None:
    with pytest.raises(TypeError, match=r"^Adam: lr must be a number, got "):
        check_numbers("Adam", lr=value)
    check_numbers("Adam", lr=0.1, eps=np.float32(1e-8), steps=3)
