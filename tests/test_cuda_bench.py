"""benchmarks/ on the "cuda" device: the training steps run there, and bench.py --device cuda
fails clearly where no GPU answers."""

from __future__ import annotations

import math
import sys

import pytest
from benchmark_scripts import BENCHMARKS, load
from devices import cuda_only

import tinysiam


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # bench.py imports harness and workloads
    return load("bench")


def test_bench_with_device_cuda_and_no_gpu_says_why_and_exits_2(
    bench, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(tinysiam, "cuda_available", lambda: False)
    assert bench.main(["--device", "cuda"]) == 2
    error = capsys.readouterr().err
    assert "--device cuda needs CuPy and an NVIDIA GPU" in error and "--device cpu" in error


@cuda_only
@pytest.mark.parametrize("workload, pairs", [("W1", 3), ("W2", 1), ("W3", 2)])
def test_each_training_workload_steps_on_cuda(bench, workload: str, pairs: int) -> None:
    workloads = sys.modules["workloads"]
    step = workloads.tinysiam_training_step(workload, pairs, "cuda")
    first, second = step(), step()
    assert math.isfinite(first) and math.isfinite(second)


@cuda_only
def test_bench_profile_runs_on_cuda(bench, capsys: pytest.CaptureFixture) -> None:
    argv = ["--device", "cuda", "--profile", "--workloads", "W1", "--w1-pairs", "4"]
    assert bench.main([*argv, "--repeats", "1", "--warmup", "0"]) == 0
    assert "tinysiam on cuda" in capsys.readouterr().out
