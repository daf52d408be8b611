"""Reductions and shape ops: forward against NumPy, backward against finite differences
(float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import SETTINGS, arrays, axes, distinct_arrays, shapes

import tinysiam as ts

pytestmark = pytest.mark.filterwarnings("error")


def check(op, reference, *values: np.ndarray) -> None:
    """``op`` on tensors equals ``reference`` on arrays, and its backward passes gradcheck."""
    out = op(*(ts.tensor(v) for v in values))
    expected = reference(*values)
    assert out.dtype == np.float64 and out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)
    tensors = [ts.tensor(v, requires_grad=True) for v in values]
    assert ts.gradcheck(op, *tensors)


# ----- reductions ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean"])
@SETTINGS
@given(data=st.data(), keepdims=st.booleans())
def test_sum_and_mean(name: str, data: st.DataObject, keepdims: bool) -> None:
    x = data.draw(shapes().flatmap(arrays))
    axis = data.draw(axes(x.ndim))
    reference = getattr(np, name)
    check(
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
        lambda v: reference(v, axis=axis, keepdims=keepdims),
        x,
    )


@SETTINGS
@given(data=st.data(), keepdims=st.booleans())
def test_max(data: st.DataObject, keepdims: bool) -> None:
    (x,) = data.draw(shapes().flatmap(lambda shape: distinct_arrays([shape])))
    axis = data.draw(axes(x.ndim))
    check(
        lambda t: t.max(axis=axis, keepdims=keepdims),
        lambda v: np.max(v, axis=axis, keepdims=keepdims),
        x,
    )


def test_max_gradient_goes_to_the_maximum_only() -> None:
    x = ts.tensor(np.array([[1.0, 7.0, 3.0], [9.0, 2.0, 4.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def test_max_gives_the_whole_gradient_of_a_tie_to_the_first_maximum() -> None:
    x = ts.tensor(np.array([2.0, 5.0, 5.0, 1.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 0.0])


# ----- reshape, flatten, transpose -------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_reshape(data: st.DataObject) -> None:
    x = data.draw(shapes().flatmap(arrays))
    new_shape = data.draw(
        st.sampled_from([(-1,), (x.size, 1), (1, x.size, 1)]) | st.permutations(x.shape).map(tuple)
    )
    check(lambda t: t.reshape(new_shape), lambda v: v.reshape(new_shape), x)


@SETTINGS
@given(data=st.data())
def test_flatten(data: st.DataObject) -> None:
    x = data.draw(shapes(min_dims=1, max_dims=4).flatmap(arrays))
    start_dim = data.draw(st.integers(0, x.ndim - 1))
    check(lambda t: t.flatten(start_dim), lambda v: v.reshape(v.shape[:start_dim] + (-1,)), x)


@SETTINGS
@given(data=st.data())
def test_transpose(data: st.DataObject) -> None:
    x = data.draw(shapes(min_dims=1, max_dims=4).flatmap(arrays))
    order = data.draw(st.permutations(range(x.ndim)))
    negative = data.draw(st.booleans())  # the same permutation written with negative axes
    order = tuple(a - x.ndim for a in order) if negative else tuple(order)
    check(lambda t: t.transpose(*order), lambda v: v.transpose(order), x)


@SETTINGS
@given(data=st.data())
def test_transpose_without_axes_reverses_them(data: st.DataObject) -> None:
    x = data.draw(shapes(max_dims=4).flatmap(arrays))
    check(lambda t: t.T, lambda v: v.T, x)


# ----- indexing --------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_getitem_basic_index(data: st.DataObject) -> None:
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    check(lambda t: t[index], lambda v: v[index], x)


@SETTINGS
@given(data=st.data())
def test_getitem_integer_array_with_repeats(data: st.DataObject) -> None:
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    n = x.shape[0]
    rows = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8))
    rows = rows + rows[:1]  # at least one index picked twice
    check(lambda t: t[rows], lambda v: v[rows], x)
    check(lambda t: t[np.array(rows)], lambda v: v[np.array(rows)], x)


@SETTINGS
@given(data=st.data())
def test_getitem_integer_arrays_on_several_axes(data: st.DataObject) -> None:
    x = data.draw(shapes(min_dims=2).flatmap(arrays))
    index = data.draw(
        hnp.integer_array_indices(
            x.shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)
        )
    )
    check(lambda t: t[index], lambda v: v[index], x)


@SETTINGS
@given(data=st.data())
def test_getitem_boolean_mask(data: st.DataObject) -> None:
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    check(lambda t: t[mask], lambda v: v[mask], x)
    check(lambda t: t[ts.tensor(mask)], lambda v: v[mask], x)


def test_getitem_repeated_index_accumulates_its_gradient() -> None:
    x = ts.tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_getitem_mixes_slices_and_index_arrays() -> None:
    x = np.arange(12.0).reshape(3, 4)
    check(lambda t: t[1:, [0, 3, 3]], lambda v: v[1:, [0, 3, 3]], x)


# ----- concatenate and stack ---------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_concatenate(data: st.DataObject) -> None:
    base = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = []
    for size in sizes:
        shape = list(base)
        shape[axis] = size
        parts.append(data.draw(arrays(tuple(shape))))
    check(
        lambda *ts_: ts.concatenate(list(ts_), axis=axis),
        lambda *vs: np.concatenate(vs, axis=axis),
        *parts,
    )


@SETTINGS
@given(data=st.data())
def test_stack(data: st.DataObject) -> None:
    shape = data.draw(shapes())
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    count = data.draw(st.integers(1, 3))
    parts = [data.draw(arrays(shape)) for _ in range(count)]
    check(lambda *ts_: ts.stack(list(ts_), axis=axis), lambda *vs: np.stack(vs, axis=axis), *parts)


def test_concatenate_gradient_is_split_back() -> None:
    a = ts.tensor(np.ones((2, 2)), requires_grad=True)
    b = ts.tensor(np.ones((2, 3)), requires_grad=True)
    weights = ts.tensor(np.arange(10.0).reshape(2, 5))
    (ts.concatenate([a, b], axis=1) * weights).sum().backward()
    np.testing.assert_array_equal(a.grad, [[0.0, 1.0], [5.0, 6.0]])
    np.testing.assert_array_equal(b.grad, [[2.0, 3.0, 4.0], [7.0, 8.0, 9.0]])
