"""tinysiam.experiments.training helpers that the examples share."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinysiam
from tinysiam import nn, optim
from tinysiam.experiments.training import (
    FlagError,
    NonFiniteLossError,
    ResumeError,
    TrainingInterrupted,
    TrainingRun,
    embed,
    outputs_in_batches,
    parse_example_args,
    resume_command,
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
def _train(
    out: Path, iterations: int = 6, nan_at: int | None = None, **options: Any
) -> tuple[TrainingRun, nn.Module]:
    """A tiny regression trained under a TrainingRun; the data come from a generator it saves."""
    net = nn.Dense(3, 1, rng=np.random.default_rng(1))
    optimizer = optim.Adam(net.parameters(), lr=0.05)
    data_rng = np.random.default_rng(2)
    run = TrainingRun(
        iterations, out, seed=0, model=net, optimizer=optimizer, data_rng=data_rng, **options
    )
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
    straight, straight_net = _train(tmp_path / "a")
    assert list(straight.losses) == ["loss"] and len(straight.losses["loss"]) == 6
    assert straight.trained == 6 and straight.start == 0
    assert not (tmp_path / "a").exists()  # no checkpoint asked for, none written
    _train(tmp_path / "b", iterations=3, checkpoint_every=3)
    checkpoint = tmp_path / "b" / "checkpoint.npz"
    assert tinysiam.load(checkpoint)["iteration"] == 3
    resumed, resumed_net = _train(tmp_path / "b", resume=checkpoint)
    assert resumed.start == 3 and resumed.trained == 3
    assert resumed.losses == straight.losses  # bit for bit, the history of both sessions
    np.testing.assert_array_equal(resumed_net.weight.data, straight_net.weight.data)
    summary = resumed.summary()
    assert summary["final_loss"] == straight.losses["loss"][-1] and summary["seed"] == 0
    assert summary["training_seconds"] >= round(float(tinysiam.load(checkpoint)["seconds"]), 2)


def test_a_checkpoint_holding_the_history_as_one_list_resumes(tmp_path: Path) -> None:
    straight, _ = _train(tmp_path / "a", iterations=4)
    _train(tmp_path / "b", iterations=2, checkpoint_every=2)
    state = tinysiam.load(tmp_path / "b" / "checkpoint.npz")
    assert state["losses"] == {"loss": straight.losses["loss"][:2]}
    tinysiam.save(tmp_path / "list.npz", **{**state, "losses": state["losses"]["loss"]})
    resumed, _ = _train(tmp_path / "c", iterations=4, resume=tmp_path / "list.npz")
    assert resumed.start == 2 and resumed.losses == straight.losses


def test_a_checkpoint_that_does_not_fit_is_a_resume_error(tmp_path: Path) -> None:
    _train(tmp_path, iterations=3, checkpoint_every=3)
    checkpoint = tmp_path / "checkpoint.npz"
    with pytest.raises(ResumeError, match="past this run's 2 iterations"):
        _train(tmp_path, iterations=2, resume=checkpoint)
    with pytest.raises(ResumeError, match=r"the losses \['loss'\], this run records \['a', 'b'\]"):
        _train(tmp_path, resume=checkpoint, names=("a", "b"))
    with pytest.raises(ResumeError, match="holds no 'sampler'"):
        TrainingRun(6, tmp_path, resume=checkpoint, sampler=np.random.default_rng(0))
    with pytest.raises(ResumeError, match="load_state_dict"):
        TrainingRun(6, tmp_path, resume=checkpoint, model=nn.Dense(4, 1))  # other shapes
    tinysiam.save(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ResumeError, match="not a training checkpoint"):
        TrainingRun(6, tmp_path, resume=tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("not a checkpoint")
    with pytest.raises(ResumeError, match="not a readable tinysiam checkpoint"):
        TrainingRun(6, tmp_path, resume=tmp_path / "text.npz")


def test_from_args_reads_the_shared_flags_and_names_the_flag_of_a_bad_checkpoint(
    tmp_path: Path,
) -> None:
    flags = dict(iterations=5, out=tmp_path, device="cpu", seed=7, checkpoint_every=2)
    run = TrainingRun.from_args(argparse.Namespace(**flags, resume=None), names=("a", "b"))
    assert (run.iterations, run.checkpoint, run.seed, run.checkpoint_every, run.names) == (
        5,
        tmp_path / "checkpoint.npz",
        7,
        2,
        ("a", "b"),
    )
    (tmp_path / "text.npz").write_text("not a checkpoint")
    with pytest.raises(FlagError) as error:
        TrainingRun.from_args(argparse.Namespace(**flags, resume=tmp_path / "text.npz"))
    message = str(error.value)
    assert error.value.flag == "--resume" and "\n" not in message
    assert message.startswith(f"--resume {tmp_path / 'text.npz'}: ")
    assert message.endswith(
        "; give a checkpoint.npz that this program saved and the flags of the run that "
        "saved it (--iterations may grow)"
    )
    with pytest.raises(TypeError, match=r"TrainingRun\.from_args"):
        TrainingRun(argparse.Namespace(**flags, resume=None), "demo.py")  # type: ignore[arg-type]


def test_ctrl_c_saves_and_raises_training_interrupted(tmp_path: Path) -> None:
    run, handler = TrainingRun(10, tmp_path / "out"), signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as stop:
        for iteration in run:
            if iteration == 2:
                signal.raise_signal(signal.SIGINT)  # the first Ctrl-C: finish the iteration
            run.record(tinysiam.tensor(np.float32(iteration)))
    assert stop.value.code == 130 and stop.value.iteration == 3
    assert stop.value.checkpoint == tmp_path / "out" / "checkpoint.npz"
    assert tinysiam.load(stop.value.checkpoint)["losses"] == {"loss": [0.0, 1.0, 2.0]}
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C's handler put back


def test_resume_command_repeats_the_flags_with_the_checkpoint() -> None:
    argv = ["examples/x.py", "--out", "my runs", "--resume", "old.npz", "--seed", "3"]
    assert resume_command("my runs/checkpoint.npz", argv) == (
        "python examples/x.py --out 'my runs' --seed 3 --resume 'my runs/checkpoint.npz'"
    )
    assert resume_command("c.npz", ["x.py", "--resume=old.npz"]) == "python x.py --resume c.npz"


@pytest.mark.parametrize("device, every", [("cpu", 1), ("cuda", 4)])
def test_losses_are_read_back_in_blocks_on_a_gpu_and_a_nan_names_its_iteration(
    tmp_path: Path, device: str, every: int
) -> None:
    run = TrainingRun(20, tmp_path, device=device, readback_every=4)
    seen = []
    with pytest.raises(NonFiniteLossError, match="at iteration 6;") as error:
        for iteration in run:
            seen.append(len(run.losses["loss"]))  # losses on the host when the iteration starts
            value = float("nan") if iteration + 1 == 6 else 1.0 / (iteration + 1)
            run.record(tinysiam.tensor(np.float32(value)))
    assert "the last finite loss was 0.2" in str(error.value)  # iteration 5's
    assert seen == [every * (k // every) for k in range(len(seen))]
    assert len(seen) == (6 if every == 1 else 8)  # found at the next read-back


def test_several_named_losses_and_misuse(tmp_path: Path) -> None:
    run = TrainingRun(2, tmp_path, names=("a", "b"))
    for _ in run:
        run.record(a=tinysiam.tensor(np.float32(1.0)), b=tinysiam.tensor(np.float32(2.0)))
    assert run.losses == {"a": [1.0, 1.0], "b": [2.0, 2.0]}
    assert run.summary()["final_loss"] == {"a": 1.0, "b": 2.0}
    with pytest.raises(TypeError, match=r"expected the losses \['a', 'b'\], got \['loss'\]"):
        run.record(tinysiam.tensor(np.float32(1.0)))
    with pytest.raises(RuntimeError, match="once in every iteration"):
        for _ in TrainingRun(2, tmp_path):
            pass
    with pytest.raises(ValueError, match="names must be distinct loss names"):
        TrainingRun(2, tmp_path, names=("a", "a"))
    with pytest.raises(ValueError, match="must be >= 0"):
        TrainingRun(-1, tmp_path)


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


def test_presets_fill_the_flags_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default --out, "out", is created here
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
    assert (tmp_path / "out").is_dir()


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
