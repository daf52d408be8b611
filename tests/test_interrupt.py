"""Interruption, resume, kill-during-save and determinism against real processes, and the CLI of
examples/mnist_contrastive.py (every flag documented, bad arguments are argparse errors)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import example_scripts
import numpy as np
import pytest

import tinysiam as ts

EXAMPLE = Path(__file__).parents[1] / "examples" / "mnist_contrastive.py"
ENV = dict(os.environ, MPLBACKEND="Agg")
QUICK = ["--dataset", "digits", "--train-size", "300", "--no-show", "--device", "cpu"]


def example(*args: str) -> list[str]:
    return [sys.executable, str(EXAMPLE), *QUICK, *args]


def wait_for_progress(
    process: subprocess.Popen, stderr: Path, iterations: int, timeout: float = 180
) -> int:
    """Poll the progress bar in ``stderr`` until it shows ``iterations`` done; return the count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [int(n) for n in re.findall(r"(\d+)/100000", stderr.read_text(errors="replace"))]
        if counts and counts[-1] >= iterations:
            return counts[-1]
        if process.poll() is not None:
            pytest.fail(
                f"the example exited ({process.returncode}) before training:\n"
                f"{stderr.read_text()[-3000:]}"
            )
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no training progress within {timeout} s:\n{stderr.read_text()[-3000:]}")


# ----- Ctrl-C: save at the iteration boundary, exit 130, resume ------------------------------
def test_sigint_saves_a_checkpoint_that_resumes(tmp_path: Path) -> None:
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = example("--iterations", "100000", "--out", "tmp")
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=ENV,
            stdout=out,
            stderr=err,
        )
        try:
            wait_for_progress(process, stderr, iterations=2)
            process.send_signal(signal.SIGINT)
            returncode = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    printed = stdout.read_text()
    assert returncode == 130, stderr.read_text()[-3000:]
    assert "Traceback" not in stderr.read_text()
    match = re.search(
        r"interrupted after iteration (\d+); saved (\S+)\.\nContinue with:\n  (.+)\n", printed
    )
    assert match, printed
    saved, checkpoint = int(match.group(1)), tmp_path / match.group(2)
    assert match.group(2) == os.path.join("tmp", "checkpoint.npz")
    state = ts.load(checkpoint)
    assert state["iteration"] == saved >= 2 and len(state["losses"]["loss"]) == saved
    # the example prints its own command line, the same flags and --resume the checkpoint
    resume = shlex.split(match.group(3))
    assert resume == ["python", *command[1:], "--resume", match.group(2)]

    resume[0], resume[resume.index("--iterations") + 1] = sys.executable, str(saved + 2)
    resumed = subprocess.run(
        resume,
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {match.group(2)} at iteration {saved}" in resumed.stdout
    metrics = json.loads((tmp_path / "tmp" / "metrics.json").read_text())
    assert metrics["hyperparameters"]["iterations"] == saved + 2 and np.isfinite(
        metrics["final_loss"]
    )


# ----- SIGKILL while saving: the last complete checkpoint always loads ------------------------
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tinysiam
    for k in range(1, 10**6):
        tinysiam.save(sys.argv[1], k=k, weights=np.full(2_000_000, k, dtype=np.float64))  # 16 MB
        print(k, flush=True)
    """
)


def check_checkpoint(path: Path) -> int:
    """Load ``path`` and check that it is whole: its 16 MB array holds its own number k."""
    state = ts.load(path)
    assert state["weights"].shape == (2_000_000,) and np.all(state["weights"] == state["k"])
    return state["k"]


@pytest.mark.parametrize("delay", [0.0, 0.04, 0.11, 0.23])
def test_sigkill_during_save_leaves_the_last_complete_checkpoint(
    tmp_path: Path, delay: float
) -> None:
    path = tmp_path / "ckpt.npz"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "1"  # one checkpoint is complete
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        printed = process.communicate(timeout=30)[0].split()
    finally:
        if process.poll() is None:
            process.kill()
    last_printed = int(printed[-1]) if printed else 1
    k = check_checkpoint(path)
    assert k in (
        last_printed,
        last_printed + 1,
    )  # killed after the rename but before the print: one ahead
    assert list(tmp_path.iterdir()) == [path]  # load removed what the killed save left


# ----- determinism: one seed, one result ------------------------------------------------------
def assert_identical(a: Any, b: Any, where: str = "checkpoint") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert a.dtype == b.dtype, where
    else:
        assert a == b, where


def test_same_seed_gives_bit_identical_training_on_cpu(tmp_path: Path) -> None:
    runs = [
        subprocess.Popen(
            example(
                "--iterations",
                "3",
                "--checkpoint-every",
                "3",
                "--seed",
                "5",
                "--out",
                str(tmp_path / name),
            ),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()[-3000:]
        run.stderr.close()
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("a", "b"))
    assert a["final_loss"] == b["final_loss"] and a["knn5_accuracy"] == b["knn5_accuracy"]
    checkpoint_a, checkpoint_b = (
        ts.load(tmp_path / "a" / "checkpoint.npz"),
        ts.load(tmp_path / "b" / "checkpoint.npz"),
    )
    assert (
        checkpoint_a.pop("seconds") > 0 and checkpoint_b.pop("seconds") > 0
    )  # wall-clock time: the one thing that differs
    assert_identical(checkpoint_a, checkpoint_b)


# ----- the command line ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli() -> Any:
    """The example imported as a module (main() does not run)."""
    return example_scripts.load("mnist_contrastive")


def example_parser(cli: Any, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser that the example's parse_args builds, caught as it starts parsing."""

    class Caught(Exception):
        pass

    def catch(parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        raise Caught(parser)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    with pytest.raises(Caught) as caught:
        cli.parse_args([])
    return caught.value.args[0]


def test_help_documents_every_flag(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = example_parser(cli, monkeypatch)
    flags = [
        action for action in parser._actions if action.option_strings and action.dest != "help"
    ]
    assert len(flags) >= 14
    undocumented = [action.option_strings[0] for action in flags if not (action.help or "").strip()]
    assert not undocumented, f"flags without a help string: {undocumented}"
    text = parser.format_help()
    assert all(action.option_strings[0] in text for action in flags)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--iterations", "0"], "--iterations must be positive"),
        (["--iterations", "ten"], "invalid int value: 'ten'"),
        (["--batch-pairs", "-5"], "--batch-pairs must be positive"),
        (["--lr", "-0.001"], "--lr must be positive"),
        (["--margin", "0"], "--margin must be positive"),
        (["--train-size", "5"], "--train-size must be at least 20"),
        (["--device", "gpu"], "invalid choice: 'gpu'"),
        (["--preset", "fast"], "invalid choice: 'fast'"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_invalid_arguments_are_argparse_errors(
    cli: Any, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.parse_args(argv)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_invalid_argument_exits_2_without_traceback() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--lr", "abc"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "invalid float value: 'abc'" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("usage:")
