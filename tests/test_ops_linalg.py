"""Matrix products: matmul (2-D and batched, batch axes broadcast) and the fused dense layer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import MAX_SIDE, SETTINGS, arrays

import tinysiam as ts
import tinysiam.functional as F

pytestmark = pytest.mark.filterwarnings("error")

sides = st.integers(1, MAX_SIDE)


def check(op, reference, *values: np.ndarray) -> None:
    """``op`` on tensors equals ``reference`` on arrays, and its backward passes gradcheck."""
    out = op(*(ts.tensor(v) for v in values))
    expected = reference(*values)
    assert out.dtype == np.float64 and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert ts.gradcheck(op, *(ts.tensor(v, requires_grad=True) for v in values))


@SETTINGS
@given(data=st.data(), n=sides, k=sides, m=sides)
def test_matmul_2d(data: st.DataObject, n: int, k: int, m: int) -> None:
    a, b = data.draw(arrays((n, k))), data.draw(arrays((k, m)))
    check(lambda x, y: x @ y, np.matmul, a, b)


@SETTINGS
@given(data=st.data())
def test_matmul_batched_with_broadcast_batch_axes(data: st.DataObject) -> None:
    # e.g. (2, 1, 3, 4) @ (5, 4, 2): batch axes (2, 1) and (5,) broadcast to (2, 5)
    shape_a, shape_b = data.draw(
        hnp.mutually_broadcastable_shapes(signature="(n,k),(k,m)->(n,m)", max_dims=2, max_side=3)
    ).input_shapes
    check(lambda x, y: x @ y, np.matmul, data.draw(arrays(shape_a)), data.draw(arrays(shape_b)))


def test_matmul_broadcast_weight_gets_the_sum_over_the_batch() -> None:
    a = np.arange(12.0).reshape(3, 2, 2)  # a batch of three 2x2 matrices
    w = ts.tensor(np.eye(2), requires_grad=True)  # one matrix shared by the batch
    (ts.tensor(a) @ w).sum().backward()
    # d/dW sum(A_b W) = sum_b A_b^T 1
    np.testing.assert_allclose(w.grad, sum(m.T @ np.ones((2, 2)) for m in a))


@SETTINGS
@given(data=st.data(), n=sides, in_features=sides, out_features=sides, with_bias=st.booleans())
def test_dense(
    data: st.DataObject, n: int, in_features: int, out_features: int, with_bias: bool
) -> None:
    x, weight = data.draw(arrays((n, in_features))), data.draw(arrays((out_features, in_features)))
    if with_bias:
        bias = data.draw(arrays((out_features,)))
        check(F.dense, lambda x, w, b: x @ w.T + b, x, weight, bias)
    else:
        check(F.dense, lambda x, w: x @ w.T, x, weight)


def test_dense_with_constant_inputs_only_differentiates_what_requires_grad() -> None:
    x = ts.tensor(np.ones((2, 3)))
    weight = ts.tensor(np.ones((4, 3)), requires_grad=True)
    bias = ts.tensor(np.zeros(4))
    F.dense(x, weight, bias).sum().backward()
    np.testing.assert_array_equal(weight.grad, np.full((4, 3), 2.0))
    assert x.grad is None and bias.grad is None


def test_linear_is_a_deprecated_alias_of_dense() -> None:
    x, weight = ts.tensor(np.ones((2, 3))), ts.tensor(np.ones((4, 3)))
    with pytest.warns(DeprecationWarning, match=r"F\.linear is deprecated; call F\.dense"):
        y = F.linear(x, weight)
    np.testing.assert_array_equal(y.data, F.dense(x, weight).data)
