"""Smoke tests of examples/mnist_contrastive.py: a few iterations, every output checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import tinysiam

EXAMPLE = Path(__file__).parents[1] / "examples" / "mnist_contrastive.py"
FIGURES = ["training_images.png", "pairs.png", "loss.png", "embedding.png", "retrieval.png"]


def run_example(*args: str, data_root: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    if data_root is not None:
        env["TINYSIAM_DATA"] = str(data_root)
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--no-show", "--device", "cpu", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_digits_run_writes_every_figure_and_sane_metrics(tmp_path):
    result = run_example(
        "--dataset", "digits", "--iterations", "20", "--train-size", "500", "--out", str(tmp_path)
    )
    assert "synthetic digits" in result.stdout
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 1000, name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_size"] == 500 and metrics["test_size"] == 5000
    assert (
        metrics["hyperparameters"]["margin"] == 0.3
        and metrics["hyperparameters"]["iterations"] == 20
    )
    assert np.isfinite(metrics["final_loss"]) and metrics["final_loss"] > 0
    assert 0.0 <= metrics["knn5_accuracy"] <= 1.0 and 0.0 <= metrics["precision_at_9"] <= 1.0
    assert metrics["knn5_accuracy"] > 0.15  # above chance (0.1) after a few steps
    assert metrics["iterations_per_second"] > 0


def test_mnist_is_used_when_found(tmp_path, shared_data):
    result = run_example(
        "--dataset",
        "auto",
        "--iterations",
        "3",
        "--train-size",
        "300",
        "--out",
        str(tmp_path),
        data_root=shared_data,
    )
    assert "MNIST" in result.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_size"] == 10000 and metrics["train_size"] == 300


def test_resume_equals_uninterrupted_run(tmp_path):
    common = ["--dataset", "digits", "--train-size", "300", "--seed", "3"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_example(*common, "--iterations", "6", "--out", str(straight))
    run_example(*common, "--iterations", "3", "--checkpoint-every", "3", "--out", str(split))
    run_example(
        *common, "--iterations", "6", "--resume", str(split / "checkpoint.npz"), "--out", str(split)
    )
    a = json.loads((straight / "metrics.json").read_text())
    b = json.loads((split / "metrics.json").read_text())
    assert a["final_loss"] == b["final_loss"]
    assert a["knn5_accuracy"] == b["knn5_accuracy"] and a["precision_at_9"] == b["precision_at_9"]
    first_session = float(
        tinysiam.load(split / "checkpoint.npz")["seconds"]
    )  # saved after iteration 3
    assert first_session > 0 and b["training_seconds"] > round(
        first_session, 2
    )  # the total of both sessions


def test_bad_arguments_are_argparse_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--iterations", "0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "--iterations must be positive" in result.stderr


def test_best_preset_trains_on_every_pair_of_a_class_batch(tmp_path):
    result = run_example(
        "--preset",
        "best",
        "--dataset",
        "digits",
        "--iterations",
        "8",
        "--train-size",
        "400",
        "--per-class",
        "4",
        "--out",
        str(tmp_path),
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    hyper = metrics["hyperparameters"]
    assert (
        hyper["network"] == "conv" and hyper["pairs"] == "all-in-batch" and hyper["per_class"] == 4
    )
    assert hyper["batch_pairs"] is None and hyper["schedule"] == "cosine"
    assert np.isfinite(metrics["final_loss"]) and metrics["final_loss"] > 0
    assert "5-NN accuracy" in result.stdout
