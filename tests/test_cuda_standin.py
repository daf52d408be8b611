"""The CuPy stand-in keeps the CuPy rules it promises, counts what it promises, and has every
array function tinysiam calls. (Its own tests: they run without the cuda marker.)"""

from __future__ import annotations

import re
from pathlib import Path

import cupy_standin as cp
import numpy as np
import pytest

LIBRARY = Path(__file__).parents[1] / "tinysiam"


def device(values) -> cp.ndarray:
    return cp.asarray(np.asarray(values, dtype=np.float32))


def test_its_arrays_are_their_own_type_from_a_module_named_cupy() -> None:
    a = device([1.0, 2.0])
    assert isinstance(a, cp.ndarray) and not isinstance(a, np.ndarray)
    assert type(a).__module__ == "cupy"


def test_implicit_conversion_to_numpy_is_refused() -> None:
    a = device([1.0, 2.0])
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array([a, a])


@pytest.mark.parametrize(
    "call",
    [
        lambda a, h: a + h,
        lambda a, h: h + a,
        lambda a, h: a * h,
        lambda a, h: cp.add(a, h),
        lambda a, h: np.add(h, a),
        lambda a, h: cp.multiply(a, 2.0, out=h),
        lambda a, h: cp.matmul(a, h),
        lambda a, h: a.__setitem__(slice(None), h),
        lambda a, h: a.fill(h),
    ],
    ids=["a+h", "h+a", "a*h", "cp.add", "np.add", "out=", "matmul", "setitem", "fill"],
)
def test_numpy_arrays_are_refused_as_operands_out_and_values(call) -> None:
    with pytest.raises(TypeError):
        call(device([1.0, 2.0]), np.ones(2, dtype=np.float32))


def test_numpy_indices_and_explicit_copies_are_accepted_and_counted() -> None:
    cp.counts.reset()
    a = device([1.0, 2.0, 3.0])
    assert cp.counts.h2d == 1 and cp.counts.h2d_bytes == 12
    picked = a[np.array([2, 0])]
    assert cp.counts.h2d == 2 and cp.counts.launches == 1  # the index sent, one gather
    assert isinstance(picked, cp.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(picked), [3.0, 1.0])
    np.testing.assert_array_equal(picked.get(), [3.0, 1.0])
    assert cp.counts.d2h == 2 and cp.counts.syncs == 2 and cp.counts.d2h_bytes == 16


def test_reductions_and_integer_indexing_give_0d_arrays() -> None:
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    for value in (a.sum(), a.max(), cp.sum(a), a.mean(), a[1, 2], (a * 2)[0, 0], np.sum(a)):
        assert isinstance(value, cp.ndarray) and value.shape == ()
    assert float(a[1, 2]) == 5.0


class Priority:
    def __init__(self, priority: float) -> None:
        self.__array_priority__ = priority

    def __rmul__(self, other):
        return "Priority.__rmul__"

    __radd__ = __rmatmul__ = __rmul__


@pytest.mark.parametrize("op", ["mul", "add", "matmul"])
def test_operators_go_to_the_other_operand_only_at_a_strictly_higher_priority(op) -> None:
    a = device([[1.0]])
    call = {"mul": lambda x: a * x, "add": lambda x: a + x, "matmul": lambda x: a @ x}[op]
    with pytest.raises(TypeError):
        call(Priority(100))  # a tie stays with the CuPy array, which cannot take the object
    assert call(Priority(100.5)) == "Priority.__rmul__"


def test_each_kind_of_work_counts_its_launches_and_views_none() -> None:
    a = cp.asarray(np.ones((4, 6), dtype=np.float32))
    cp.counts.reset()
    views = [a[1:3], a.T, a.reshape(6, 4), a.transpose(1, 0), cp.broadcast_to(a[0], (4, 6))]
    views.append(cp.empty((3,)))
    assert cp.counts.launches == 0
    work = [
        lambda: a + 1,
        lambda: a.sum(axis=0),
        lambda: a @ a.T,
        lambda: a.astype(np.float64),
        lambda: a.T.reshape(-1),  # not a view: a copy
        lambda: cp.ascontiguousarray(a.T),
        lambda: a[cp.asarray(np.array([0, 2]))],
        lambda: a.__setitem__((0, 0), 5.0),
        lambda: cp.zeros((3,)),
        lambda: cp.multiply(a, 2, out=a),
    ]
    for k, call in enumerate(work, start=1):
        before = cp.counts.launches
        call()
        assert cp.counts.launches == before + 1, k


def test_reading_back_synchronises_and_sending_does_not() -> None:
    a = device([1.0, 0.0])
    cp.counts.reset()
    b = a * 2
    assert cp.counts.syncs == 0
    bool(b[0])
    float(b[1])
    b.sum().item()
    assert cp.counts.syncs == 3
    a[a > 0]  # boolean mask: the result's size is read back
    assert cp.counts.syncs == 4


def test_it_has_every_array_function_tinysiam_calls() -> None:
    """Every ``xp.NAME`` and ``get_array_module(...).NAME`` in the library exists here."""
    names = set()
    for path in LIBRARY.rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"\bxp\.([a-z_][a-z_0-9]*)", text))
        names |= set(re.findall(r"array_module\([^()]*\)\.([a-z_][a-z_0-9]*)", text))
    assert {"asarray", "empty", "matmul"} <= names  # the search found the library's calls
    missing = sorted(n for n in names if not hasattr(cp, n))
    assert not missing, f"the stand-in lacks {missing}"


def test_an_in_place_update_of_a_slice_is_one_launch_as_in_cupy() -> None:
    a = cp.zeros((4, 6))
    b = cp.ones((2, 6))
    cp.counts.reset()
    a[1:3] += b  # the addition; writing the view back onto itself is skipped
    assert cp.counts.launches == 1
    a[1:3] = b  # a copy
    assert cp.counts.launches == 2
    np.testing.assert_array_equal(a.get()[1:3], 1.0)
