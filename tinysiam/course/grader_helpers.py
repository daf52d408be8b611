"""What every grader uses: the workspace, safe calls into learner code, failure messages.

A grader (:mod:`.graders`) reaches the learner's code through :class:`Workspace`, whose
modules are proxies of the learner's process (:mod:`.remote`): the grader, its inputs, the
expected answers and the comparison stay in this process. It calls the learner's functions
through :func:`call`, compares what comes back with :func:`expect`, and reports a check that
does not hold with :func:`fail`: each raises :class:`GradeFailure`, whose message is the row's
detail, e.g.

    unbroadcast(grad = [[0., 1., 2.], [3., 4., 5.]] (2, 3), shape=(1, 3)): expected the result
    [[3., 5., 7.]] (1, 3), got [[0., 1., 2.]] (1, 3)

The grading runner (:mod:`.grading`) reads :class:`GradeFailure` and :func:`where` too.
"""

from __future__ import annotations

import contextlib
import importlib
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .remote import Learner, LearnerError, LearnerStopped, Proxy


class GradeFailure(AssertionError):
    """A check of a grader that did not hold; the message is the row's detail."""


class Workspace:
    """The learner's package as graders see it: ``ws.mod("autograd")``, a proxy."""

    def __init__(self, learner: Learner, directory: Path) -> None:
        self.learner = learner
        self.directory = directory

    def mod(self, name: str) -> Any:
        """The workspace's module ``name`` ("ops.elementwise"), in the learner's process."""
        return self.learner.module(name)

    def kit(self, name: str, *args: Any) -> Any:
        """A test object built in the learner's process (see ``learner_process.KIT``)."""
        return self.learner.kit(name, *args)

    @contextlib.contextmanager
    def errstate(self, **settings: str) -> Iterator[None]:
        """NumPy's error handling (``over="raise"``, ...) around the learner's calls inside."""
        previous = self.learner.errstate
        self.learner.errstate = {**previous, **settings}
        try:
            yield
        finally:
            self.learner.errstate = previous

    @staticmethod
    def lib(name: str) -> types.ModuleType:
        """The installed library's module ``name``: the expected answers come from it."""
        return importlib.import_module(f"tinysiam.{name}")


def fail(message: str) -> NoReturn:
    """Stop the grader: the task failed, and ``message`` says on which input and how."""
    raise GradeFailure(message)


def _data(value: Any) -> Any:
    """A Tensor's (or a proxy of one's) ``.data``; anything else as it is."""
    if isinstance(value, np.ndarray) or value is None:
        return value
    try:
        return value.data if hasattr(value, "data") else value
    except LearnerError:
        return value


def describe(value: Any, limit: int = 70, digits: int = 4) -> str:
    """A short one-line picture of an array or number for a failure message.

    Arrays show ``digits`` digits after the point, numbers ``digits + 2`` significant digits.
    """
    value = _data(value)
    if value is None:
        return "None"
    if isinstance(value, Proxy):
        return shorten(repr(value), limit)
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything the learner returned
        return shorten(repr(value), limit)
    if array.dtype == object:
        return shorten(repr(value), limit)
    if array.ndim == 0:
        return f"{array.item():.{digits + 2}g}" if array.dtype.kind == "f" else str(array.item())
    text = np.array2string(
        array, precision=digits, separator=", ", threshold=12, edgeitems=2, max_line_width=10**9
    )
    text = shorten(" ".join(text.split()), limit)
    return f"{text} {array.shape}" if array.ndim > 1 or array.size > 12 else text


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "..." when it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_array(value: Any, what: str, given: str) -> np.ndarray:
    """``value`` (an array, or a Tensor's data) as a numpy array, or a failure saying what came."""
    if value is None:
        fail(f"{given}: {what} is None")
    value = _data(value)
    if isinstance(value, Proxy):
        fail(f"{given}: {what} should be an array, got {shorten(repr(value), 60)}")
    try:
        return np.asarray(value, dtype=np.float64)
    except Exception:  # noqa: BLE001
        fail(f"{given}: {what} should be an array, got {shorten(repr(value), 60)}")


def expect(
    what: str,
    got: Any,
    expected: Any,
    given: str,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Fail unless ``got`` has ``expected``'s shape and values (to rounding)."""
    expected = np.asarray(expected.data if hasattr(expected, "_node") else expected)
    got_array = as_array(got, what, given)
    if got_array.shape != expected.shape:
        fail(
            f"{given}: expected {what} of shape {expected.shape}, got shape {got_array.shape}: "
            f"{describe(got_array)}"
        )
    if not np.allclose(got_array, expected, rtol=rtol, atol=atol, equal_nan=False):
        fail(f"{given}: {difference(what, got_array, expected)}")


def difference(what: str, got: np.ndarray, expected: np.ndarray) -> str:
    """'expected X, got Y; the largest difference is ..., at index ...' for two arrays of one
    shape, shown with as many digits as it takes to tell them apart, e.g.

        expected the result [0.270883689], got [0.27088369]; the largest difference is 1.3e-09,
        at index (0,): 0.270883689 expected, 0.27088369 got
    """
    digits = next(
        (d for d in range(4, 18) if describe(expected, digits=d) != describe(got, digits=d)), 4
    )
    shown = (
        f"expected {what} {describe(expected, digits=digits)}, got {describe(got, digits=digits)}"
    )
    gaps = np.abs(got - expected)
    index = np.unravel_index(int(np.argmax(np.where(np.isnan(gaps), np.inf, gaps))), gaps.shape)
    if gaps.ndim == 0:
        return f"{shown}; a difference of {gaps[index]:.2g}"
    expected_item, got_item = apart(float(expected[index]), float(got[index]))
    return (
        f"{shown}; the largest difference is {gaps[index]:.2g}, at index "
        f"{tuple(int(i) for i in index)}: {expected_item} expected, {got_item} got"
    )


def apart(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with the fewest significant digits (6 or more) that tell them apart."""
    for digits in range(6, 18):
        a_text, b_text = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if a_text != b_text:
            return a_text, b_text
    return repr(a), repr(b)


def call(what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code; what it raises (but a task's NotImplementedError) becomes a failure."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError as error:
        if str(error).startswith("Task "):
            raise
        raise GradeFailure(f"{what} raised NotImplementedError: {error}{where(error)}") from None
    except (GradeFailure, LearnerStopped, KeyboardInterrupt):
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit, RecursionError, ... all fail the task
        raise GradeFailure(
            f"{what} raised {kind(error)}: {shorten(str(error), 240)}{where(error)}"
        ) from None


def where(error: BaseException) -> str:
    """' (tinysiam/autograd.py, line 12)': the workspace line a learner's exception came from."""
    return error.where if isinstance(error, LearnerError) else ""


def kind(error: BaseException) -> str:
    """The name of an exception's type, the learner's own for a :class:`LearnerError`."""
    return error.type_name if isinstance(error, LearnerError) else type(error).__name__
