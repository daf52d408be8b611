"""Argument checks shared across the library.

Each raises an error that names the argument, what was expected and what came, e.g.
``seed must be a non-negative int, got -1``. The rule: a TypeError when the argument has the
wrong type (a float where an int belongs, a numpy array where a Tensor belongs), a ValueError
when it has the right type and a wrong value (a negative count, an unknown name).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tensor import Tensor

_FLOAT_DTYPES = ("float32", "float64")  # the dtypes layers and losses compute in


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
    """Raise unless ``value`` is an integer (a Python or NumPy int, not a bool) >= ``minimum``.

    A TypeError for something that is not an int (a float, a bool, a string), a ValueError for
    an int below ``minimum``. ``name`` may say where the check is:
    ``check_int("Flatten: start_dim", start_dim, minimum=0)`` raises
    "Flatten: start_dim must be a non-negative int, got -1" for -1 ("a positive int" for a
    minimum of 1, "an int >= 2" for 2).
    """
    expected = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them.

    Example: ``check_choice("init", "xavier", ("he", "glorot"))`` raises
    "unknown init 'xavier'; valid ones are 'he', 'glorot'".
    """
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name} {value!r}; valid ones are {valid}")
    return value


def check_float(where: str, name: str, x: Any) -> Tensor:
    """Return ``x`` if it is a float32 or float64 Tensor, the dtypes layers and losses compute in.

    Raises:
        TypeError: naming ``where`` (e.g. "Dense") and ``name`` (e.g. "x") when x is not a Tensor
            (a numpy array, say) or has another dtype (integer images, float16).
    """
    from .tensor import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(
            f"{where}: {name} must be a Tensor, got {type(x).__name__}; "
            "wrap arrays with tinysiam.tensor(...)"
        )
    if x.dtype.name not in _FLOAT_DTYPES:
        hint = (
            "; integer images? convert them with images.astype(np.float32) / 255"
            if x.dtype.kind in "biu"
            else ""
        )
        raise TypeError(f"{where}: {name} must be float32 or float64, got {x.dtype}{hint}")
    return x


def check_op_inputs(op_name: str, inputs: Sequence[Tensor]) -> None:
    """Raise unless an op's input tensors share one device and one dtype (bool masks aside).

    There is no silent promotion: float16 weights with a float32 input would compute in
    float32 and hand back gradients of the wrong dtype, and an int64 tensor times a float32
    one would compute in float64, so each is an error that names both dtypes (PyTorch refuses
    the first too). A bool mask mixes with any dtype (``x * (x > 0)``); Python numbers mixed
    with a tensor were already converted to its dtype (``t * 2.0`` stays float32).

    Raises:
        ValueError: inputs on two devices.
        TypeError: inputs of two dtypes other than bool.
    """
    if len(inputs) < 2:
        return
    first = inputs[0].data
    if all(type(t.data) is type(first) and t.data.dtype == first.dtype for t in inputs[1:]):
        return  # the common case: one array type (so one device) and one dtype
    if len({t.device for t in inputs}) > 1:
        described = ", ".join(f"input {i} on {t.device!r}" for i, t in enumerate(inputs))
        raise ValueError(
            f"{op_name}: all inputs must be on one device, got {described}; "
            "move them with .to(device)"
        )
    typed = [(i, t.dtype) for i, t in enumerate(inputs) if t.dtype.kind != "b"]
    if len({dtype for _, dtype in typed}) > 1:
        described = ", ".join(f"input {i} {dtype}" for i, dtype in typed)
        raise TypeError(
            f"{op_name}: inputs have different dtypes: {described}; "
            "convert one with .astype(...) (tensor.astype or tinysiam.tensor(x, dtype=...))"
        )


def check_broadcastable(op_name: str, a: Any, b: Any) -> None:
    """Raise a ValueError naming both shapes when arrays ``a`` and ``b`` do not broadcast.

    NumPy's rule, read from the last axis backwards: two sizes fit when they are equal or one
    of them is 1; a missing leading axis counts as 1.
    """
    for size_a, size_b in zip(reversed(a.shape), reversed(b.shape), strict=False):
        if size_a != size_b and 1 not in (size_a, size_b):
            raise ValueError(
                f"{op_name}: shapes {tuple(a.shape)} and {tuple(b.shape)} "
                "cannot be broadcast together"
            )
