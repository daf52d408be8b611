"""benchmarks/omniglot_variants.py: its variants are flags the example accepts, and it tabulates
and draws finished runs (no training here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import example_scripts
import pytest
from benchmark_scripts import BENCHMARKS, load

variants = load("omniglot_variants")


def load_example():
    return example_scripts.load("omniglot_bce")


@pytest.mark.parametrize("name", list(variants.VARIANTS))
def test_each_variant_is_the_cpu_preset_with_flags_the_example_accepts(name, tmp_path):
    example = load_example()
    flags = variants.VARIANTS[name][1]
    args = example.parse_args(
        ["--preset", "cpu", "--device", "cpu", "--out", str(tmp_path), *flags]
    )
    preset = example.parse_args(["--preset", "cpu", "--device", "cpu", "--out", str(tmp_path)])
    changed = {key for key in vars(args) if getattr(args, key) != getattr(preset, key)}
    named = {flag.removeprefix("--").replace("-", "_") for flag in flags if flag.startswith("--")}
    assert changed <= named  # a flag equal to the preset's value changes nothing


def fake_run(folder: Path, iterations: int, single: float, views: float) -> None:
    folder.mkdir(parents=True)
    metrics = {
        "hyperparameters": {"iterations": iterations},
        "training_seconds": 60.0 * iterations / 500,
        "one_shot_accuracy": views,
        "one_shot_ci95": [views - 0.03, views + 0.03],
        "one_shot_accuracy_single_view": single,
        "one_shot_single_view_ci95": [single - 0.04, single + 0.04],
        "one_shot_views": 16,
        "pair_accuracy_reference": 0.92,
        "pair_accuracy": 0.93,
        "roc_auc": 0.985,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_finished_runs_become_rows_a_report_and_a_figure(tmp_path):
    fake_run(tmp_path / "a", 6000, 0.75, 0.80)
    fake_run(tmp_path / "b", 12_000, 0.81, 0.86)
    out = tmp_path / "report"
    figure = tmp_path / "variants.png"
    command = [sys.executable, str(BENCHMARKS / "omniglot_variants.py"), "--variants", "none",
               "--runs", f"short run={tmp_path / 'a'}", str(tmp_path / "b"), "--out", str(out),
               "--figure", str(figure)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [
        line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(lines) == 3 and lines[0].startswith("| run |")  # the header and two runs
    assert lines[1].startswith("| short run | 6000 | 12.0 | 75.00% (71.0%-79.0%) | 80.00%")
    assert lines[2].startswith(f"| {tmp_path / 'b'} | 12000 | 24.0 | 81.00%")
    rows = json.loads((out / "variants.json").read_text())
    assert [row["one_shot"] for row in rows] == [0.80, 0.86]
    assert figure.stat().st_size > 10_000


def test_an_unknown_variant_is_refused(tmp_path):
    command = [sys.executable, str(BENCHMARKS / "omniglot_variants.py"), "--variants", "faster",
               "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert (
        "unknown variants ['faster']; known: short, longer, one-alphabet, preset" in result.stderr
    )
