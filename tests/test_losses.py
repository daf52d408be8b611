"""tinysiam.losses: values against NumPy by hand, gradients against finite differences, guards."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import SETTINGS, arrays

import tinysiam
from tinysiam.losses import (
    SigmoidCrossEntropy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    contrastive_loss,
)

F64_EPS = np.finfo(np.float64).eps


def t64(values, requires_grad=True):
    return tinysiam.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def contrastive_by_hand(f1, f2, y, margin, eps=1e-6):
    d = np.sqrt(((f1 - f2) ** 2).sum(axis=1) + eps)
    return 0.5 * (y * d**2 + (1 - y) * np.maximum(margin - d, 0) ** 2)


@pytest.fixture
def pairs():
    """8 pairs of 3-D features; a margin of 2.5 puts some dissimilar pairs inside it, some out."""
    rng = np.random.default_rng(0)
    f1, f2 = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0], dtype=np.float64)
    d = np.sqrt(((f1 - f2) ** 2).sum(axis=1))
    assert np.any(d[y == 0] < 2.5) and np.any(d[y == 0] > 2.5) and np.all(np.abs(d - 2.5) > 0.05)
    return f1, f2, y


# ----- contrastive ------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_contrastive_value_matches_the_formula(pairs, reduction):
    f1, f2, y = pairs
    by_hand = contrastive_by_hand(f1, f2, y, margin=2.5)
    expected = {"sum": by_hand.sum(), "mean": by_hand.mean(), "none": by_hand}[reduction]
    loss = contrastive_loss(t64(f1), t64(f2), y, margin=2.5, reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_contrastive_gradcheck(pairs, reduction):
    f1, f2, y = pairs
    assert tinysiam.gradcheck(
        lambda a, b: contrastive_loss(a, b, t64(y, False), margin=2.5, reduction=reduction),
        t64(f1),
        t64(f2),
    )


@SETTINGS
@given(data=st.data(), n=st.integers(1, 4), d=st.integers(1, 3), margin=st.floats(0.2, 3.0))
def test_contrastive_gradcheck_any_shape(data, n, d, margin):
    f1, f2 = data.draw(arrays((n, d))), data.draw(arrays((n, d)))
    y = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
    distance = np.sqrt(((f1 - f2) ** 2).sum(axis=1) + 1e-6)
    assume(np.all(np.abs(distance - margin) > 0.05))  # keep away from the hinge's kink
    loss = lambda a, b: contrastive_loss(a, b, y, margin=margin)  # noqa: E731
    assert tinysiam.gradcheck(loss, t64(f1), t64(f2))


def test_contrastive_default_reduction_is_the_reference_sum(pairs):
    f1, f2, y = pairs
    total = contrastive_loss(t64(f1), t64(f2), y, margin=0.3).item()
    np.testing.assert_allclose(total, contrastive_by_hand(f1, f2, y, margin=0.3).sum(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contrastive_is_finite_at_zero_distance_for_both_labels(dtype):
    f = np.array([[0.3, -1.2], [0.3, -1.2]], dtype=dtype)
    f1, f2 = tinysiam.tensor(f, requires_grad=True), tinysiam.tensor(f.copy(), requires_grad=True)
    loss = contrastive_loss(f1, f2, np.array([1, 0]), margin=1.0, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.5e-6, 0.5 * (1 - 1e-3) ** 2], rtol=1e-5)
    loss.sum().backward()
    for grad in (f1.grad, f2.grad):
        assert np.all(np.isfinite(grad))
        np.testing.assert_array_equal(grad, 0)  # at d = 0 both terms are flat in f1 - f2


@pytest.mark.parametrize("label", [0.0, 1.0])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_contrastive_gradcheck_close_to_zero_distance(label, reduction):
    rng = np.random.default_rng(1)
    f1 = rng.standard_normal((3, 2))
    f2 = f1 + 3e-4 * rng.standard_normal((3, 2))  # d^2 of order 1e-7, below the guard eps = 1e-6
    y = t64(np.full(3, label), False)
    assert tinysiam.gradcheck(
        lambda a, b: contrastive_loss(a, b, y, margin=1.0, reduction=reduction), t64(f1), t64(f2)
    )


def test_contrastive_checks_its_arguments(pairs):
    f1, f2, y = pairs
    a, b = t64(f1), t64(f2)
    with pytest.raises(ValueError, match=r"f1 \(8, 3\) and f2 \(8, 2\)"):
        contrastive_loss(a, t64(f2[:, :2]), y)
    with pytest.raises(ValueError, match=r"one entry per pair, shape \(8,\), got shape \(7,\)"):
        contrastive_loss(a, b, y[:7])
    with pytest.raises(ValueError, match="0 .*or 1"):
        contrastive_loss(a, b, np.full(8, 0.5))
    with pytest.raises(ValueError, match="margin must be > 0"):
        contrastive_loss(a, b, y, margin=0.0)
    with pytest.raises(ValueError, match="'sum', 'mean', 'none'"):
        contrastive_loss(a, b, y, reduction="avg")


def test_contrastive_accepts_label_tensors_and_bools(pairs):
    f1, f2, y = pairs
    reference = contrastive_loss(t64(f1), t64(f2), y).item()
    assert (
        contrastive_loss(t64(f1), t64(f2), tinysiam.tensor(y.astype(np.float32))).item()
        == reference
    )
    assert contrastive_loss(t64(f1), t64(f2), y.astype(bool)).item() == reference
    assert contrastive_loss(t64(f1), t64(f2), y.reshape(-1, 1)).item() == reference


# ----- binary cross-entropy ----------------------------------------------------------------------
def bce_by_hand(p, y, eps=F64_EPS):
    p = np.clip(p, eps, 1 - eps)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@pytest.mark.parametrize("shape", [(6,), (6, 1)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_value_and_gradcheck(shape, reduction):
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, size=shape)
    y = np.array([1, 0, 0, 1, 1, 0])
    expected = bce_by_hand(p.reshape(-1), y)
    loss = binary_cross_entropy(t64(p), y, reduction=reduction)
    np.testing.assert_allclose(
        loss.item(), expected.mean() if reduction == "mean" else expected.sum(), rtol=1e-12
    )
    assert tinysiam.gradcheck(lambda q: binary_cross_entropy(q, y, reduction=reduction), t64(p))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_is_finite_at_probabilities_zero_and_one(dtype):
    eps = np.finfo(dtype).eps  # the default clamp: machine epsilon of p's dtype
    p = tinysiam.tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype), requires_grad=True)
    y = np.array([1, 0, 0, 1])
    loss = binary_cross_entropy(p, y, reduction="none")
    expected = [-np.log(eps), -np.log(eps), -np.log1p(-eps), -np.log1p(-eps)]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    assert np.all(np.isfinite(loss.numpy()))
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad))


def test_bce_explicit_eps_and_checks():
    p = t64([0.0, 0.5])
    np.testing.assert_allclose(
        binary_cross_entropy(p, [1, 1], eps=1e-3, reduction="none").numpy(),
        [-np.log(1e-3), np.log(2)],
    )
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\)"):
        binary_cross_entropy(t64(np.full((2, 2), 0.5)), [1, 0])
    with pytest.raises(ValueError, match="one entry per pair"):
        binary_cross_entropy(p, [1, 0, 1])
    with pytest.raises(ValueError, match="'sum', 'mean', 'none'"):
        binary_cross_entropy(p, [1, 0], reduction="batchmean")


# ----- binary cross-entropy from logits ----------------------------------------------------------
def test_logits_exact_at_plus_minus_500():
    z = t64([500.0, 500.0, -500.0, -500.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    loss = binary_cross_entropy_with_logits(z, y, reduction="none")
    # -log(1 - s(z)) = z + log1p(e^-z) and -log s(z) = log1p(e^-z) for z > 0; in float64:
    np.testing.assert_array_equal(loss.numpy()[[0, 2]], [500.0, 500.0])
    np.testing.assert_allclose(loss.numpy()[[1, 3]], [np.exp(-500.0), np.exp(-500.0)], rtol=1e-12)
    loss.sum().backward()
    sigmoid = np.array(
        [1.0, 1.0, np.exp(-500.0), np.exp(-500.0)]
    )  # s(-500) = e^-500 / (1 + e^-500)
    np.testing.assert_allclose(z.grad, sigmoid - y, rtol=1e-12, atol=0)


def test_logits_float32_large_values_are_finite():
    z = tinysiam.tensor(np.array([300.0, -300.0], np.float32), requires_grad=True)
    loss = binary_cross_entropy_with_logits(z, [0, 1], reduction="none")
    np.testing.assert_array_equal(loss.numpy(), np.array([300.0, 300.0], np.float32))
    loss.sum().backward()
    np.testing.assert_array_equal(z.grad, [1.0, -1.0])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_logits_gradcheck_including_zero(reduction):
    z = t64([[-3.0], [-0.4], [0.0], [0.0], [1.7], [6.0]])
    y = np.array([0, 1, 1, 0, 1, 0])
    assert tinysiam.gradcheck(
        lambda u: binary_cross_entropy_with_logits(u, y, reduction=reduction), z
    )


def test_logits_gradient_at_zero_is_half_minus_label():
    z = t64([0.0, 0.0])
    binary_cross_entropy_with_logits(z, [1, 0], reduction="sum").backward()
    np.testing.assert_array_equal(z.grad, [-0.5, 0.5])


def test_fused_op_gradcheck_in_both_inputs():
    z = t64([-2.0, 0.3, 4.0])
    y = t64([0.2, 0.9, 0.5])
    assert tinysiam.gradcheck(lambda a, b: SigmoidCrossEntropy.apply(a, b), z, y)


def test_logits_agree_with_bce_of_the_sigmoid():
    z = np.linspace(-8, 8, 9)
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1])
    from_logits = binary_cross_entropy_with_logits(t64(z), y).item()
    from_probabilities = binary_cross_entropy(t64(z).sigmoid(), y).item()
    np.testing.assert_allclose(from_logits, from_probabilities, rtol=1e-12)
