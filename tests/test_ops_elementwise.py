"""Elementwise ops: forward against NumPy, backward against finite differences (float64).

One table row per op: its name, the op on tensors, the same math in NumPy, and a strategy for
its inputs (kept away from the op's kinks). Binary ops draw broadcastable shape pairs, so every
row also checks that the engine sums gradients back to each input's shape.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import SETTINGS, arrays, broadcastable_shapes, distinct_arrays, floats, shapes

import tinysiam as ts
import tinysiam.functional as F

pytestmark = pytest.mark.filterwarnings(
    "error"
)  # an overflow or invalid-value warning is a failure


def unary(low: float = -2.0, high: float = 2.0, avoid: tuple[float, ...] = ()) -> st.SearchStrategy:
    return shapes().flatmap(lambda shape: st.tuples(arrays(shape, low, high, avoid)))


def binary(
    a: tuple[float, float] = (-2.0, 2.0),
    b: tuple[float, float] = (-2.0, 2.0),
    b_avoid: tuple[float, ...] = (),
) -> st.SearchStrategy:
    return broadcastable_shapes().flatmap(
        lambda pair: st.tuples(arrays(pair[0], *a), arrays(pair[1], *b, avoid=b_avoid))
    )


def without_ties() -> st.SearchStrategy:
    return broadcastable_shapes().flatmap(distinct_arrays)


def stable_sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


@dataclass(frozen=True)
class OpCase:
    name: str
    op: Callable[..., ts.Tensor]  # on tensors
    reference: Callable[..., np.ndarray]  # the same math on float64 arrays
    inputs: st.SearchStrategy  # tuples of float64 arrays, one per tensor argument


CASES = [
    OpCase("add", lambda a, b: a + b, np.add, binary()),
    OpCase("sub", lambda a, b: a - b, np.subtract, binary()),
    OpCase("mul", lambda a, b: a * b, np.multiply, binary()),
    OpCase("div", lambda a, b: a / b, np.divide, binary(b=(-2.0, 2.0), b_avoid=(0.0,))),
    OpCase("scalar_div_tensor", lambda a: 1.5 / a, lambda a: 1.5 / a, unary(avoid=(0.0,))),
    OpCase("scalar_sub_tensor", lambda a: 1.5 - a, lambda a: 1.5 - a, unary()),
    OpCase("neg", lambda a: -a, np.negative, unary()),
    OpCase("pow_tensor_exponent", lambda a, b: a**b, np.power, binary(a=(0.5, 2.0), b=(-2.0, 2.0))),
    OpCase("pow_square", lambda a: a**2, np.square, unary()),
    OpCase("pow_fractional", lambda a: a**2.5, lambda a: a**2.5, unary(0.5, 2.0)),
    OpCase("pow_negative", lambda a: a**-1.5, lambda a: a**-1.5, unary(0.5, 2.0)),
    OpCase("scalar_pow_tensor", lambda a: 1.5**a, lambda a: 1.5**a, unary()),
    OpCase("exp", lambda a: a.exp(), np.exp, unary()),
    OpCase("log", lambda a: a.log(), np.log, unary(0.2, 3.0)),
    OpCase("log1p", lambda a: a.log1p(), np.log1p, unary(-0.8, 3.0)),
    OpCase("sqrt", lambda a: a.sqrt(), np.sqrt, unary(0.2, 3.0)),
    OpCase("abs", lambda a: a.abs(), np.abs, unary(avoid=(0.0,))),
    OpCase("maximum", F.maximum, np.maximum, without_ties()),
    OpCase(
        "maximum_scalar",
        lambda a: F.maximum(a, 0.3),
        lambda a: np.maximum(a, 0.3),
        unary(avoid=(0.3,)),
    ),
    OpCase(
        "clip",
        lambda a: a.clip(-0.5, 0.7),
        lambda a: np.clip(a, -0.5, 0.7),
        unary(avoid=(-0.5, 0.7)),
    ),
    OpCase(
        "clip_low",
        lambda a: F.clip(a, low=-0.5),
        lambda a: np.maximum(a, -0.5),
        unary(avoid=(-0.5,)),
    ),
    OpCase(
        "clip_high",
        lambda a: F.clip(a, high=0.7),
        lambda a: np.minimum(a, 0.7),
        unary(avoid=(0.7,)),
    ),
    OpCase("relu", F.relu, lambda a: np.maximum(a, 0.0), unary(avoid=(0.0,))),
    OpCase("sigmoid", F.sigmoid, stable_sigmoid, unary(-6.0, 6.0)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@SETTINGS
@given(data=st.data())
def test_forward_matches_numpy(case: OpCase, data: st.DataObject) -> None:
    values = data.draw(case.inputs)
    out = case.op(*(ts.tensor(v) for v in values))
    expected = case.reference(*values)
    assert out.dtype == np.float64
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@SETTINGS
@given(data=st.data())
def test_backward_matches_finite_differences(case: OpCase, data: st.DataObject) -> None:
    tensors = [ts.tensor(v, requires_grad=True) for v in data.draw(case.inputs)]
    assert ts.gradcheck(case.op, *tensors)
    case.op(*tensors).sum().backward()
    for t in tensors:
        assert t.grad.shape == t.shape  # broadcasting undone


@SETTINGS
@given(data=st.data(), exponent=floats(-2.0, 3.0))
def test_pow_with_any_scalar_exponent(data: st.DataObject, exponent: float) -> None:
    base = data.draw(shapes().flatmap(lambda shape: arrays(shape, 0.5, 2.0)))
    x = ts.tensor(base, requires_grad=True)
    np.testing.assert_allclose((x**exponent).numpy(), base**exponent, rtol=1e-12)
    assert ts.gradcheck(lambda t: t**exponent, x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_stable_at_large_inputs(dtype: type) -> None:
    x = ts.tensor(
        np.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0], dtype=dtype),
        requires_grad=True,
    )
    # e^-1000 underflowing to 0 is the intended result; overflow, 0/0 or inf/inf are not.
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.sigmoid(x)
        out.sum().backward()
    assert out.dtype == dtype
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(x.grad))
    assert out.numpy()[0] == 0.0 and out.numpy()[-1] == 1.0
    assert out.numpy()[3] == 0.5
    np.testing.assert_allclose(
        out.numpy()[[2, 4]],
        [np.exp(-30.0) / (1 + np.exp(-30.0)), 1 / (1 + np.exp(-30.0))],
        rtol=1e-6,
    )
    assert x.grad[0] == 0.0 and x.grad[-1] == 0.0 and x.grad[3] == 0.25


def test_maximum_sends_the_gradient_of_a_tie_to_the_first_input() -> None:
    a = ts.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = ts.tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    F.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.0, 1.0, 0.0])


def test_relu_and_abs_have_zero_gradient_at_zero() -> None:
    x = ts.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    (F.relu(x) + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])


def test_clip_gradient_is_zero_where_clamped() -> None:
    x = ts.tensor(np.array([-2.0, -0.1, 0.4, 3.0]), requires_grad=True)
    x.clip(-0.5, 0.7).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 0.0])
