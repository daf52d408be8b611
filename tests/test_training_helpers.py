"""tinysiam.experiments.training helpers that the examples share."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinysiam
from tinysiam import nn, optim
from tinysiam.experiments.training import (
    NonFiniteLossError,
    TrainingRun,
    embed,
    outputs_in_batches,
    parse_example_args,
)


def test_outputs_in_batches_equal_one_forward_and_record_no_graph() -> None:
    tinysiam.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Dense(12, 3))
    images = np.random.default_rng(0).random((10, 1, 3, 4), dtype=np.float32)
    seen = []

    def forward(x: tinysiam.Tensor) -> tinysiam.Tensor:
        out = net(x)
        seen.append((x.shape[0], out.requires_grad))
        return out

    batched = outputs_in_batches(forward, images, "cpu", batch=4)
    assert isinstance(batched, np.ndarray) and batched.shape == (10, 3)
    assert seen == [(4, False), (4, False), (2, False)]  # three batches, none building a graph
    np.testing.assert_allclose(batched, net(tinysiam.tensor(images)).numpy(), rtol=1e-6)


# ----- TrainingRun ----------------------------------------------------------------------------
def _args(tmp_path: Path, **overrides: Any) -> argparse.Namespace:
    values = dict(iterations=6, out=tmp_path, checkpoint_every=0, resume=None, device="cpu", seed=0)
    return argparse.Namespace(**{**values, **overrides})


def _train(args: argparse.Namespace, nan_at: int | None = None) -> tuple[TrainingRun, nn.Module]:
    """A tiny regression trained under a TrainingRun; the data come from a generator it saves."""
    net = nn.Dense(3, 1, rng=np.random.default_rng(1))
    optimizer = optim.Adam(net.parameters(), lr=0.05)
    data_rng = np.random.default_rng(2)
    run = TrainingRun(args, "demo.py", model=net, optimizer=optimizer, data_rng=data_rng)
    for iteration in run:
        x = data_rng.random((8, 3), dtype=np.float32)
        loss = ((net(tinysiam.tensor(x)) - 1.0) ** 2).mean()
        if iteration + 1 == nan_at:
            loss = loss * float("nan")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.record(loss)
    return run, net


def test_a_resumed_run_continues_exactly_as_the_uninterrupted_one(tmp_path: Path) -> None:
    straight, straight_net = _train(_args(tmp_path / "a"))
    assert len(straight.losses) == 6 and straight.trained == 6 and straight.start == 0
    _train(_args(tmp_path / "b", iterations=3, checkpoint_every=3))
    checkpoint = tmp_path / "b" / "checkpoint.npz"
    assert tinysiam.load(checkpoint)["iteration"] == 3
    resumed, resumed_net = _train(_args(tmp_path / "b", resume=checkpoint))
    assert resumed.start == 3 and resumed.trained == 3
    assert resumed.losses == straight.losses  # bit for bit, the history of both sessions
    np.testing.assert_array_equal(resumed_net.weight.data, straight_net.weight.data)
    summary = resumed.summary()
    assert summary["final_loss"] == straight.losses[-1] and summary["seed"] == 0
    assert summary["training_seconds"] >= round(float(tinysiam.load(checkpoint)["seconds"]), 2)


@pytest.mark.parametrize("device, every", [("cpu", 1), ("cuda", 4)])
def test_losses_are_read_back_in_blocks_on_a_gpu_and_a_nan_names_its_iteration(
    tmp_path: Path, device: str, every: int
) -> None:
    args = _args(tmp_path, iterations=20, device=device)
    run = TrainingRun(args, "demo.py", readback_every=4)
    seen = []
    with pytest.raises(NonFiniteLossError, match="at iteration 6;") as error:
        for iteration in run:
            seen.append(len(run.losses))  # losses on the host when the iteration starts
            value = float("nan") if iteration + 1 == 6 else 1.0 / (iteration + 1)
            run.record(tinysiam.tensor(np.float32(value)))
    assert "the last finite loss was 0.2" in str(error.value)  # iteration 5's
    assert seen == [every * (k // every) for k in range(len(seen))]
    assert len(seen) == (6 if every == 1 else 8)  # found at the next read-back


def test_several_named_losses_and_misuse(tmp_path: Path) -> None:
    run = TrainingRun(_args(tmp_path, iterations=2), "demo.py", names=("a", "b"))
    for _ in run:
        run.record(a=tinysiam.tensor(np.float32(1.0)), b=tinysiam.tensor(np.float32(2.0)))
    assert run.losses == {"a": [1.0, 1.0], "b": [2.0, 2.0]}
    assert run.summary()["final_loss"] == {"a": 1.0, "b": 2.0}
    with pytest.raises(TypeError, match="expected the losses"):
        run.record(tinysiam.tensor(np.float32(1.0)))
    with pytest.raises(RuntimeError, match="once in every iteration"):
        for _ in TrainingRun(_args(tmp_path, iterations=2), "demo.py"):
            pass


# ----- parse_example_args, embed ----------------------------------------------------------------
FLAGS = {
    "--iterations": (int, "training iterations"),
    "--lr": (float, "learning rate"),
    "--size": (int, "image size", 28),
    "--kind": (["a", "b"], "which kind", "a"),
}
PRESETS = {"small": {"iterations": 10, "lr": 0.1}, "big": {"iterations": 1000, "lr": 0.01}}


def _parse(argv: list[str], **kwargs: Any) -> argparse.Namespace:
    return parse_example_args(
        argv, "demo", FLAGS, default_out=Path("out"), presets=PRESETS, **kwargs
    )


def test_presets_fill_the_flags_left_out() -> None:
    args = _parse(["--device", "cpu"])
    assert (args.preset, args.iterations, args.lr, args.size, args.kind) == (
        "small",
        10,
        0.1,
        28,
        "a",
    )
    args = _parse(["--device", "cpu", "--preset", "big", "--lr", "0.5"])
    assert (args.preset, args.iterations, args.lr) == ("big", 1000, 0.5)
    args = _parse(
        ["--device", "cpu"], default_preset=lambda device: "big" if device == "cpu" else "small"
    )
    assert args.preset == "big" and args.device == "cpu" and args.out == Path("out")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--iterations", "0"], "--iterations must be positive, got 0"),
        (["--lr", "-1"], "--lr must be positive, got -1.0"),
        (["--size", "4"], "--size must be at least 8, got 4"),
        (["--kind", "c"], "invalid choice: 'c'"),
        (["--seed", "-1"], "--seed must be >= 0"),
    ],
)
def test_bad_values_are_argparse_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit:
        _parse(["--device", "cpu", *argv], at_least={"size": 8})
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_embed_restores_the_mode_and_embeds_with_either_branch_of_a_twin() -> None:
    a, b = (
        nn.Dense(4, 2, rng=np.random.default_rng(0)),
        nn.Dense(4, 2, rng=np.random.default_rng(1)),
    )
    twin = nn.Twin(a, b)
    x = np.random.default_rng(2).random((5, 4), dtype=np.float32)
    with_b = embed(twin, x, "cpu", batch=2, branch=1)
    np.testing.assert_allclose(with_b, b(tinysiam.tensor(x)).numpy(), rtol=1e-5, atol=1e-7)
    with_a = embed(a, x, "cpu", batch=3)
    np.testing.assert_allclose(with_a, a(tinysiam.tensor(x)).numpy(), rtol=1e-5, atol=1e-7)
    assert twin.training and a.training
    twin.eval()
    embed(twin, x, "cpu", branch=0)
    assert not twin.training  # left as it was found
