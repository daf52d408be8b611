"""Smoke tests of benchmarks/: every workload builds and trains one step at a tiny size.

No timing is asserted. PyTorch is not needed; where it is installed, the PyTorch twin of each
workload is checked to start from the same loss as tinysiam (the benchmark's "built identically").
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_scripts import BENCHMARKS, load

workloads = load("workloads")
TINY_PAIRS = {"W1": 3, "W2": 1, "W3": 2}
TRAINING = list(workloads.TRAINING_WORKLOADS)


@pytest.mark.parametrize("workload", TRAINING)
def test_tinysiam_training_step_runs_and_learns(workload):
    step = workloads.tinysiam_training_step(workload, TINY_PAIRS[workload])
    first = step()
    assert math.isfinite(first) and first >= 0
    assert step() != first, "the optimiser step did not change the loss of the same batch"


def test_w1_flops_are_three_forwards_minus_the_first_input_gradient():
    pairs = 5
    n = 2 * pairs
    gemms = [2 * n * 784 * 1024, 2 * n * 1024 * 1024, 2 * n * 1024 * 2]
    assert workloads.training_flops("W1", pairs) == 3 * sum(gemms) - gemms[0]


def test_w2_layer_shapes_follow_the_reference():
    branch, head = workloads.build_tinysiam("W2")
    shapes = [out for _, _, out in workloads.layer_shapes(branch, (2, 1, 105, 105))]
    assert [s[-1] for s in shapes if len(s) == 4] == [96, 96, 48, 42, 42, 21, 18, 18, 9, 5, 5]
    assert shapes[-1] == (2, 4096) and head.fc.in_features == 4096


def test_w2_op_cases_cover_every_conv_and_pool_and_run_one_step():
    cases = workloads.w2_op_cases(pairs=1)
    assert [c.kind for c in cases] == ["conv2d", "max_pool2d"] * 3 + ["conv2d"]
    assert [c.x_shape for c in cases][:2] == [(2, 1, 105, 105), (2, 64, 96, 96)]
    assert not cases[0].input_grad and all(c.input_grad for c in cases[1:])
    assert cases[1].flops() == 0 and cases[0].flops() == 2 * (2 * 2 * 64 * 96 * 96 * 100)
    for case in cases[1:3]:  # a pool and a conv; the rest are the same code at other shapes
        workloads.tinysiam_op_step(case)()


def run_bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench.py"),
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--json",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| workload |" in result.stdout and "Goals" in result.stdout
    return json.loads(out.read_text())


@pytest.mark.parametrize("workload, pairs", [(w, TINY_PAIRS[w]) for w in TRAINING] + [("W2", 8)])
def test_gemm_floor_times_the_products_the_flop_count_counts(monkeypatch, workload, pairs):
    """W2 at 8 pairs splits its big convolution into chunks: their products must add up too."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    floor = load("gemm_floor")
    assert floor.product_flops(floor.step_products(workload, pairs)) == workloads.training_flops(
        workload, pairs
    )


def test_gemm_floor_script_prints_a_row_per_workload():
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "gemm_floor.py"), "--workloads", "W1", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    row = result.stdout.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "W1 (180 pairs)" and float(row[2]) == pytest.approx(3.43, abs=0.01)
    assert float(row[3]) > 0 and float(row[5]) > 0 and row[6].strip().endswith("%")


def test_bench_script_times_w1_end_to_end(tmp_path):
    report = run_bench(tmp_path, "--workloads", "W1", "--w1-pairs", "4")
    (row,) = report["rows"]
    assert row["label"].startswith("W1") and row["flops"] == workloads.training_flops("W1", 4)
    timed = row["results"]["tinysiam"]
    assert timed["seconds"] > 0 and len(timed["times"]) == 1 and timed["peak_bytes"] >= 0
    assert report["machine"]["gemm_gflops"] > 0
    torch_installed = importlib.util.find_spec("torch") is not None
    assert ("pytorch" in row["results"]) == torch_installed
    if torch_installed:
        assert row["results"]["pytorch"]["first_output"] == pytest.approx(
            timed["first_output"], rel=1e-4
        )


def test_keep_freed_memory_reaches_the_chosen_workers(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # bench.py imports its neighbours by name
    bench = load("bench")
    for choice, expected in [
        ("tinysiam", {"tinysiam"}),
        ("all", {"tinysiam", "pytorch"}),
        ("none", set()),
    ]:
        todo = bench.contenders(
            "training", "cpu", ["tinysiam", "pytorch"], choice, workload="W1", pairs=2
        )
        keeping = {
            name
            for name, c in todo.items()
            if c.prime.func is bench.workloads.keep_freed_memory_then
        }
        assert keeping == expected, choice


def test_bench_report_names_its_allocator_setting(tmp_path):
    report = run_bench(
        tmp_path,
        "--workloads",
        "W1",
        "--w1-pairs",
        "2",
        "--frameworks",
        "tinysiam",
        "--keep-freed-memory",
        "none",
    )
    assert report["keep_freed_memory"] == "none"


@pytest.mark.parametrize("workload", TRAINING)
def test_pytorch_twin_starts_from_the_same_loss(workload):
    pytest.importorskip("torch")
    pairs = TINY_PAIRS[workload]
    tinysiam_loss = workloads.tinysiam_training_step(workload, pairs)()
    torch_loss = workloads.torch_training_step(workload, pairs)()
    assert torch_loss == pytest.approx(tinysiam_loss, rel=1e-4, abs=1e-6)
