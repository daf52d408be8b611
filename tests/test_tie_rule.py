"""One tie rule for every max: the first winner takes the whole gradient.

Max over axes: the first maximum in row-major order over the reduced axes. MaxPool2dOp: the first
maximum of each window in row-major order (what ``argmax`` of the flattened window picks).
Maximum(a, b): ``a``. Values drawn from a few integers make ties common.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import SETTINGS

import tinysiam as ts
from tinysiam import functional as F


def tied_values(shape: tuple[int, ...]) -> st.SearchStrategy:
    """float64 arrays of small integers: most draws hold ties."""
    return hnp.arrays(np.float64, shape, elements=st.integers(0, 2).map(float))


def expected_max_grad(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """1 at the first maximum (row-major over ``axes``) of each reduced group, 0 elsewhere."""
    grad = np.zeros_like(x)
    kept = [i for i in range(x.ndim) if i not in axes]
    for outer in np.ndindex(*[x.shape[i] for i in kept]):
        index: list[object] = [slice(None)] * x.ndim
        for i, k in zip(kept, outer, strict=True):
            index[i] = k
        group = x[tuple(index)]  # the reduced axes, in order
        first = np.unravel_index(np.argmax(group), group.shape)
        target = list(index)
        for i, k in zip(axes, first, strict=True):
            target[i] = k
        grad[tuple(target)] = 1.0
    return grad


@st.composite
def arrays_and_axes(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...] | None]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = draw(tied_values(shape))
    axes = draw(st.none() | st.sets(st.integers(0, len(shape) - 1), min_size=1).map(tuple))
    return x, axes


@SETTINGS
@given(drawn=arrays_and_axes(), keepdims=st.booleans())
def test_max_sends_the_gradient_to_the_first_maximum(drawn, keepdims: bool) -> None:
    x, axes = drawn
    t = ts.tensor(x, requires_grad=True)
    out = t.max(axis=axes, keepdims=keepdims)
    np.testing.assert_array_equal(out.numpy(), np.max(x, axis=axes, keepdims=keepdims))
    out.sum().backward()
    reduced = tuple(range(x.ndim)) if axes is None else tuple(sorted(axes))
    np.testing.assert_array_equal(t.grad, expected_max_grad(x, reduced))


def test_max_over_two_axes_counts_row_major_order() -> None:
    x = np.array([[[0.0, 1.0], [1.0, 0.0]]])  # (1, 2, 2): the tie (0, 1) and (1, 0) in axes 1, 2
    t = ts.tensor(x, requires_grad=True)
    t.max(axis=(1, 2)).sum().backward()
    np.testing.assert_array_equal(t.grad, [[[0.0, 1.0], [0.0, 0.0]]])  # row 0 comes first


def expected_pool_grad(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Each window's gradient (1) on its first maximum in row-major order; overlaps add up."""
    n, c, h, w = x.shape
    grad = np.zeros_like(x)
    for i in range((h - kernel) // stride + 1):
        for j in range((w - kernel) // stride + 1):
            for b in range(n):
                for ch in range(c):
                    window = x[
                        b, ch, i * stride : i * stride + kernel, j * stride : j * stride + kernel
                    ]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    grad[b, ch, i * stride + u, j * stride + v] += 1.0
    return grad


@SETTINGS
@given(
    geometry=st.sampled_from([(2, 2), (3, 3), (2, 1), (3, 2), (3, 1)]),  # (kernel, stride)
    data=st.data(),
)
def test_max_pool2d_sends_each_window_gradient_to_its_first_maximum(geometry, data) -> None:
    kernel, stride = geometry
    side = data.draw(st.integers(kernel, 7))
    x = data.draw(tied_values((2, 2, side, side)))
    t = ts.tensor(x, requires_grad=True)
    F.max_pool2d(t, kernel, stride=stride).sum().backward()
    np.testing.assert_array_equal(t.grad, expected_pool_grad(x, kernel, stride))


@SETTINGS
@given(data=st.data())
def test_maximum_gives_a_tie_to_its_first_input(data) -> None:
    a_values = data.draw(tied_values((3, 4)))
    b_values = data.draw(tied_values((3, 4)))
    a = ts.tensor(a_values, requires_grad=True)
    b = ts.tensor(b_values, requires_grad=True)
    ts.ops.Maximum.apply(a, b).sum().backward()
    a_wins = a_values >= b_values
    np.testing.assert_array_equal(a.grad, a_wins.astype(float))
    np.testing.assert_array_equal(b.grad, (~a_wins).astype(float))
