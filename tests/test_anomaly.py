"""Anomaly mode: ``with tinysiam.detect_anomaly():`` names the op that first produced NaN or inf."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from devices import devices

import tinysiam as ts
from tinysiam import losses, nn

pytestmark = pytest.mark.filterwarnings(
    "ignore::RuntimeWarning"
)  # numpy warns too; the AnomalyError says more


@devices
def test_log_of_zero_is_named_in_the_forward_pass(device) -> None:
    x = ts.tensor([1.0, 0.0], device=device)
    with ts.detect_anomaly(), pytest.raises(ts.AnomalyError) as error:
        x.log()
    assert (
        str(error.value) == "Log forward produced -inf in its output (2,) from finite inputs (2,)"
    )


@devices
def test_sqrt_at_zero_distance_is_named_in_the_backward_pass(device) -> None:
    # contrastive loss without its guard: d = sqrt(sum (f1 - f2)^2) at f1 == f2 has an infinite
    # slope
    f1 = ts.tensor(np.ones((3, 2)), requires_grad=True, device=device)
    f2 = ts.tensor(np.ones((3, 2)), device=device)
    with ts.detect_anomaly():
        loss = losses.contrastive_loss(f1, f2, [0, 1, 0], eps=0.0)  # the forward is finite
        with pytest.raises(ts.AnomalyError) as error:
            loss.backward()
    message = str(error.value)
    assert message.startswith(
        "Sqrt backward produced NaN and -inf in the gradient of input 0 (3,); inputs (3,)"
    )
    assert "gradient of the output (3,) was finite" in message
    assert (
        "losses.py" in message and "in contrastive_loss (d = d_squared.sqrt())" in message
    )  # where the op ran
    assert "test_anomaly.py" in message  # and the caller outside the library


def test_a_nan_already_in_the_data_is_reported_as_coming_from_before_the_op() -> None:
    net = nn.Dense(3, 2, rng=np.random.default_rng(0))
    images = ts.tensor(np.array([[0.0, np.nan, 1.0]], np.float32))
    with (
        ts.detect_anomaly(),
        pytest.raises(
            ts.AnomalyError,
            match=r"^DenseOp forward produced NaN in its output \(1, 2\) "
            r"but input 0 already held NaN",
        ),
    ):
        net(images)


def test_a_non_finite_gradient_passed_to_backward_is_reported_as_such() -> None:
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    with ts.detect_anomaly():
        y = x * 3.0
        with pytest.raises(
            ts.AnomalyError, match=r"^Mul backward produced inf .* was already non-finite"
        ):
            y.backward(np.array([np.inf, 1.0]))


def test_anomaly_error_is_a_floating_point_error() -> None:
    assert issubclass(ts.AnomalyError, FloatingPointError)


def test_off_by_default_and_restored_after_the_block_even_on_error() -> None:
    assert not ts.anomaly.is_anomaly_enabled()
    with pytest.raises(ts.AnomalyError), ts.detect_anomaly():
        with ts.detect_anomaly():  # nesting keeps it on
            assert ts.anomaly.is_anomaly_enabled()
        assert ts.anomaly.is_anomaly_enabled()
        ts.tensor([-1.0]).sqrt()
    assert not ts.anomaly.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        assert np.isnan(ts.tensor([-1.0]).sqrt().item())  # off: NaN is just a value


def test_off_means_no_checks_run(monkeypatch) -> None:
    def fail(*args):
        raise AssertionError("a check ran outside detect_anomaly()")

    for name in ("after_forward", "check_forward", "check_backward", "call_site"):
        monkeypatch.setattr(ts.anomaly, name, fail)
    x = ts.tensor(np.ones((2, 3)), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad is not None


def test_a_finite_training_step_is_unchanged_in_anomaly_mode() -> None:
    def step(anomaly: bool) -> list[np.ndarray]:
        twin = nn.Twin(
            nn.Sequential(
                nn.Dense(4, 8, rng=np.random.default_rng(1)),
                nn.ReLU(),
                nn.Dense(8, 2, rng=np.random.default_rng(2)),
            )
        )
        rng = np.random.default_rng(0)
        a, b = (ts.tensor(rng.standard_normal((5, 4)).astype(np.float32)) for _ in range(2))
        opt = ts.optim.Adam(twin.parameters(), lr=1e-2)
        with ts.detect_anomaly() if anomaly else contextlib.nullcontext():
            loss = losses.contrastive_loss(*twin(a, b), [0, 1, 1, 0, 1], margin=1.0)
            loss.backward()
        opt.step()
        return [p.numpy() for p in twin.parameters()]

    for plain, checked in zip(step(False), step(True), strict=True):
        np.testing.assert_array_equal(plain, checked)
