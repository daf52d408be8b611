"""Smoke tests of examples/two_source_digits.py: a few iterations, every output checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).parents[1] / "examples" / "two_source_digits.py"
FIGURES = [
    "pairs.png",
    "loss.png",
    "embedding_separate.png",
    "embedding_shared.png",
    "retrieval.png",
]
SMALL = ["--train-size", "500", "--test-size", "500", "--print-size", "300", "--batch-pairs", "32"]


def run_example(*args: str, data_root: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", TINYSIAM_DATA=str(data_root))
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--no-show", "--device", "cpu", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_run_writes_every_figure_and_sane_metrics(tmp_path, shared_data):
    result = run_example(*SMALL, "--iterations", "8", "--out", str(tmp_path), data_root=shared_data)
    assert "cross-domain accuracy" in result.stdout
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 1000, name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_size"] == 500 and metrics["test_size"] == 500
    assert metrics["print_train_size"] == 300 and metrics["print_test_size"] == 300
    assert (
        metrics["hyperparameters"]["iterations"] == 8
        and metrics["hyperparameters"]["print_branch"] == "mlp"
    )
    assert (
        metrics["parameters"]["separate"] > metrics["parameters"]["shared"] > 0
    )  # the MLP branch adds weights
    for kind in ("separate", "shared"):
        assert np.isfinite(metrics["final_loss"][kind]) and metrics["final_loss"][kind] > 0
        assert metrics["training_seconds"][kind] > 0
    for kind in ("separate", "shared", "pixels"):
        scores = metrics["cross_domain_accuracy"][kind]
        for name in ("class_mean", "nearest_printed"):
            low, high = scores[f"{name}_95ci"]
            assert 0.0 <= low <= scores[name] <= high <= 1.0
    assert (
        metrics["cross_domain_accuracy"]["pixels"]["nearest_printed"] > 0.3
    )  # well above chance (0.1)


def test_resume_equals_uninterrupted_run(tmp_path, shared_data):
    common = [
        *SMALL,
        "--test-size",
        "100",
        "--seed",
        "3",
        "--print-branch",
        "conv",
        "--schedule",
        "constant",
    ]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_example(*common, "--iterations", "4", "--out", str(straight), data_root=shared_data)
    run_example(
        *common,
        "--iterations",
        "2",
        "--checkpoint-every",
        "2",
        "--out",
        str(split),
        data_root=shared_data,
    )
    run_example(
        *common,
        "--iterations",
        "4",
        "--resume",
        str(split / "checkpoint.npz"),
        "--out",
        str(split),
        data_root=shared_data,
    )
    a = json.loads((straight / "metrics.json").read_text())
    b = json.loads((split / "metrics.json").read_text())
    assert a["final_loss"] == b["final_loss"]
    assert a["cross_domain_accuracy"] == b["cross_domain_accuracy"]


def test_without_mnist_it_says_so(tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ):
        (tmp_path / "mnist" / name).write_bytes(
            b"not MNIST"
        )  # found, so nothing is downloaded, then rejected
    result = run_example(
        "--iterations", "1", "--out", str(tmp_path / "out"), data_root=tmp_path, check=False
    )
    assert result.returncode == 1
    assert "this example needs MNIST" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments_are_argparse_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--print-size", "10", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "--print-size must be at least 100" in result.stderr
