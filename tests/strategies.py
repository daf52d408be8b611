"""Hypothesis strategies for the engine's tests: small shapes and bounded float64 values.

Finite differences only agree with a backward rule where the function is smooth, so every
strategy here keeps its values away from the kinks of the op under test: relu and abs at 0,
max and maximum at ties, sqrt, log and division near 0, pow with a non-positive base.
The kinks are avoided by a margin far wider than gradcheck's step (eps = 1e-6).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Few examples of small shapes: every check is a full gradcheck, and the suite must stay fast.
SETTINGS = settings(max_examples=25, deadline=None)

MAX_SIDE = 4
MAX_DIMS = 3
MARGIN = 0.05  # distance kept from every kink


def shapes(
    min_dims: int = 0, max_dims: int = MAX_DIMS, max_side: int = MAX_SIDE
) -> st.SearchStrategy:
    """Array shapes such as (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def broadcastable_shapes(max_dims: int = MAX_DIMS) -> st.SearchStrategy:
    """Pairs of shapes that broadcast together, e.g. ((3, 1), (2, 1, 4))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=max_dims, min_side=1, max_side=MAX_SIDE
    ).map(lambda drawn: drawn.input_shapes)


def floats(low: float, high: float, avoid: Sequence[float] = ()) -> st.SearchStrategy:
    """float64 values in [low, high], at least MARGIN away from every point of ``avoid``."""
    values = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if avoid:
        values = values.filter(lambda v: all(abs(v - point) >= MARGIN for point in avoid))
    return values


def arrays(
    shape: tuple[int, ...], low: float = -2.0, high: float = 2.0, avoid: Sequence[float] = ()
) -> st.SearchStrategy:
    """float64 arrays of ``shape`` with values from :func:`floats`."""
    return hnp.arrays(np.float64, shape, elements=floats(low, high, avoid))


def distinct_arrays(
    shapes_: Sequence[tuple[int, ...]], low: float = -2.0, gap: float = 0.02
) -> st.SearchStrategy:
    """Arrays of the given shapes whose values (over all of them) are at least ``gap`` apart.

    The values are distinct points of the grid low, low + gap, ... (no ties for max or maximum).
    """
    sizes = [int(np.prod(shape)) for shape in shapes_]
    grid_points = max(200, 2 * sum(sizes))

    def build(picks: list[int]) -> tuple[np.ndarray, ...]:
        values = low + gap * np.array(picks, dtype=np.float64)
        bounds = np.cumsum(sizes)[:-1]
        return tuple(
            part.reshape(shape)
            for part, shape in zip(np.split(values, bounds), shapes_, strict=True)
        )

    total = sum(sizes)
    return st.lists(
        st.integers(0, grid_points - 1), min_size=total, max_size=total, unique=True
    ).map(build)


def axes(ndim: int) -> st.SearchStrategy:
    """A reduction's ``axis``: None, one axis (maybe negative) or a tuple of distinct axes."""
    if ndim == 0:
        return st.sampled_from([None, ()])
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return st.one_of(st.none(), one, several)
