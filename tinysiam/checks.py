"""Argument checks shared across the library.

Each raises an error that names the argument, what was expected and what came, e.g.
``seed must be a non-negative int, got -1``. (Tensor arguments are checked by
:func:`tinysiam.tensor.check_float`, which needs the Tensor class.)
"""

from __future__ import annotations

import numbers
from typing import Any


def check_numbers(where: str, **values: Any) -> None:
    """Raise a TypeError naming ``where`` and the argument unless every value is a real number.

    Hyperparameters (a margin, a learning rate, betas) must be numbers; bools, strings and None
    are refused, e.g. ``check_numbers("Adam", lr=lr, eps=eps)``.
    """
    for what, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{where}: {what} must be a number, got {type(value).__name__} {value!r}"
            )


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise a ValueError unless ``value`` is an integer (a Python or NumPy int, not a bool) >= ``minimum``.

    ``name`` may say where the check is: ``check_int("Flatten: start_dim", start_dim, minimum=0)``
    raises "Flatten: start_dim must be a non-negative int, got -1" for -1 ("a positive int" for
    a minimum of 1, "an int >= 2" for 2).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = {0: "a non-negative int", 1: "a positive int"}.get(
            minimum, f"an int >= {minimum}"
        )
        raise ValueError(f"{name} must be {expected}, got {value!r}")
