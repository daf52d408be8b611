"""Hypothesis strategies for the graders: small shapes, bounded float64 values, no ties.

The same choices as the library's own tests (tests/strategies.py): few examples of small
shapes, values kept away from the kinks of the op under test (relu at 0, max at ties, log and
division near 0), so that a right answer is right to rounding and a wrong one is far off. A
grader that checks a tie rule (max's first maximum) draws tied values on purpose, besides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 4
MARGIN = 0.05  # distance kept from every kink
SHRINK_BUDGET = 40  # calls after the first failure spent looking for a smaller failing input


def prove(strategy: st.SearchStrategy, examples: int = 20) -> Callable[[Callable], None]:
    """Run the decorated check on ``examples`` generated inputs, at once (not a decorator to keep).

    The inputs are the same at every run (derandomized), so a class is graded alike; a failure
    is shrunk towards the smallest failing input (for SHRINK_BUDGET more calls at most) before
    it is reported.

    Example:
        >>> @prove(shapes())
        ... def _(shape):
        ...     assert np.zeros(shape).shape == shape
    """

    def run(check: Callable[[Any], None]) -> None:
        failures: list[Exception] = []  # the latest (and smallest) failure so far
        calls_since_failure = 0

        def checked(value: Any) -> None:
            nonlocal calls_since_failure
            if failures:
                calls_since_failure += 1
                if calls_since_failure > SHRINK_BUDGET:  # small enough: report the latest
                    raise _Stop(failures[-1])
            try:
                check(value)
            except NotImplementedError as error:
                if str(error).startswith("Task "):  # a stub: no point shrinking the input
                    raise _Stop(error) from None
                failures.append(error)
                raise
            except Exception as error:
                failures.append(error)
                raise

        configured = settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            print_blob=False,
            verbosity=Verbosity.quiet,
        )
        try:
            configured(given(strategy)(checked))()
        except _Stop as stop:
            raise stop.error from None

    return run


class _Stop(BaseException):
    """Carries an error past Hypothesis, to stop it from shrinking (it shrinks an Exception)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = MAX_SIDE) -> st.SearchStrategy:
    """Array shapes such as (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


@st.composite
def reduced_shapes(draw: Any, full: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``full``: some leading axes dropped, some others set to 1."""
    kept = full[draw(st.integers(0, len(full))) :]
    return tuple(1 if draw(st.booleans()) else side for side in kept)


def broadcastable_shapes(max_dims: int = 3) -> st.SearchStrategy:
    """Pairs of shapes that broadcast together, e.g. ((3, 1), (2, 1, 4)).

    Built from the broadcast shape (sides 1 to 4, mostly 2 or more) by dropping leading axes and
    setting axes to 1 in each, so that added and stretched axes come often.
    """
    full = hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=2, max_side=MAX_SIDE)
    return full.flatmap(lambda f: st.tuples(reduced_shapes(f), reduced_shapes(f)))


def floats(low: float, high: float, avoid: Sequence[float] = ()) -> st.SearchStrategy:
    """float64 values in [low, high], at least MARGIN away from every point of ``avoid``."""
    values = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    if avoid:
        values = values.filter(lambda v: all(abs(v - point) >= MARGIN for point in avoid))
    return values


def arrays(
    shape: tuple[int, ...], low: float = -2.0, high: float = 2.0, avoid: Sequence[float] = ()
) -> st.SearchStrategy:
    """float64 arrays of ``shape`` with values from :func:`floats`."""
    return hnp.arrays(np.float64, shape, elements=floats(low, high, avoid))


def distinct(shape: tuple[int, ...], gap: float = 0.1) -> st.SearchStrategy:
    """float64 arrays of ``shape`` whose values are pairwise ``gap`` apart (no ties), around 0."""
    size = int(np.prod(shape))
    return st.permutations(list(range(size))).map(
        lambda order: (np.array(order, dtype=np.float64) - size / 2).reshape(shape) * gap
    )


def labels(n: int) -> st.SearchStrategy:
    """(n,) float64 pair labels, each 0 or 1."""
    return hnp.arrays(np.float64, (n,), elements=st.sampled_from([0.0, 1.0]))


def bools(n: int) -> st.SearchStrategy:
    """(n,) bool arrays, e.g. which pairs of a batch to make identical."""
    return st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=bool))


def needs(count: int) -> st.SearchStrategy:
    """A ``needs_input_grad`` tuple of ``count`` bools with at least one True."""
    return st.lists(st.booleans(), min_size=count, max_size=count).filter(any).map(tuple)
