"""tinysiam beside PyTorch: one training iteration of each workload, and W2's single ops.

Each workload runs in two worker processes, one per framework (see harness.py for why), timed
turn by turn: median of --repeats iterations after --warmup. PyTorch is optional; without it only
the tinysiam column is filled. The workloads are defined in workloads.py.

Run from the repository root:
    python benchmarks/bench.py                                  # W1, W2, W3, ops on the CPU
    python benchmarks/bench.py --workloads W1,W2 --repeats 11 --json runs/bench.json
    python benchmarks/bench.py --device cuda                    # CuPy against PyTorch CUDA
    python benchmarks/bench.py --profile --workloads W1,W2      # where tinysiam's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import importlib.util
import json
import os
import platform
import pstats
import sys
from functools import partial
from pathlib import Path
from typing import Any

import harness
import numpy as np
import workloads
from harness import Contender, WorkerError

import tinysiam
from tinysiam.autograd import Function
from tinysiam.backend import GPU_INSTALL

ALL_WORKLOADS = ("W1", "W2", "W3", "ops")
FRAMEWORKS = ("tinysiam", "pytorch")
KEEP_FREED_MEMORY = ("tinysiam", "all", "none")  # who calls tinysiam.keep_freed_memory()
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GOAL_TIME_RATIO = 1.0  # every workload at most this x PyTorch CPU's time
GOAL_W1_PEAK_FRACTION = 0.70  # W1 at least this fraction of the GEMM-peak bound
GOAL_W2_MEMORY_RATIO = 1.5  # W2 peak memory at most this x PyTorch's


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workloads",
        default=",".join(ALL_WORKLOADS),
        help=f"comma-separated, from {','.join(ALL_WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed iterations per framework (median reported)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument(
        "--w1-pairs",
        type=int,
        default=workloads.DEFAULT_PAIRS["W1"],
        help="pairs per W1 batch (180)",
    )
    parser.add_argument(
        "--w2-pairs",
        type=int,
        default=workloads.DEFAULT_PAIRS["W2"],
        help="pairs per W2 batch, also the batch (2 x pairs) of the single ops (8)",
    )
    parser.add_argument(
        "--w3-pairs",
        type=int,
        default=workloads.DEFAULT_PAIRS["W3"],
        help="pairs per W3 batch (128)",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cpu: NumPy vs PyTorch CPU; cuda: CuPy vs PyTorch CUDA",
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help="comma-separated, from tinysiam,pytorch (default: both; pytorch only where installed)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for the timing workers' BLAS / OpenMP "
        "(default: the libraries' own, all cores)",
    )
    parser.add_argument(
        "--keep-freed-memory",
        choices=KEEP_FREED_MEMORY,
        default="tinysiam",
        help="which workers call tinysiam.keep_freed_memory() first, so that malloc reuses freed "
        "blocks: tinysiam (as the examples run; default), all (PyTorch too), none",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of timing: cProfile tinysiam's training steps and print where the time goes",
    )
    args = parser.parse_args(argv)
    args.workloads = _choices(parser, "--workloads", args.workloads, ALL_WORKLOADS)
    args.frameworks = _choices(parser, "--frameworks", args.frameworks, FRAMEWORKS)
    for name in ("repeats", "w1_pairs", "w2_pairs", "w3_pairs", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    args.pairs = {"W1": args.w1_pairs, "W2": args.w2_pairs, "W3": args.w3_pairs}
    return args


def _choices(
    parser: argparse.ArgumentParser, flag: str, value: str, valid: tuple[str, ...]
) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in valid]
    if unknown or not chosen:
        parser.error(f"{flag}: unknown {unknown or value!r}; valid ones are {','.join(valid)}")
    return chosen


# ----- who runs what -------------------------------------------------------------------------
def contenders(
    kind: str,
    device: str,
    frameworks: list[str],
    keep_freed_memory: str = "tinysiam",
    **options: Any,
) -> dict[str, Contender]:
    """The tinysiam and PyTorch contenders of one row.

    ``kind`` is "training" (options: workload, pairs) or "op" (options: case).

    keep_freed_memory: "tinysiam", "all" or "none", the workers that call
    tinysiam.keep_freed_memory() before anything else.
    """
    if kind == "training":
        builders = {
            "tinysiam": workloads.tinysiam_training_step,
            "pytorch": workloads.torch_training_step,
        }
    else:
        builders = {"tinysiam": workloads.tinysiam_op_step, "pytorch": workloads.torch_op_step}
    gpu = device == "cuda"
    memory = {
        "tinysiam": workloads.cupy_peak_bytes if gpu else None,
        "pytorch": workloads.torch_peak_bytes if gpu else None,
    }
    preload = {"tinysiam": ("tinysiam",), "pytorch": ("torch", "tinysiam")}
    prime = {"tinysiam": workloads.tinysiam_prime, "pytorch": workloads.torch_prime}
    keeps = {
        "tinysiam": keep_freed_memory in ("tinysiam", "all"),
        "pytorch": keep_freed_memory == "all",
    }
    return {
        name: Contender(
            partial(builders[name], device=device, **options),
            preload[name],
            partial(workloads.keep_freed_memory_then, prime[name], device)
            if keeps[name]
            else partial(prime[name], device),
            memory[name],
        )
        for name in frameworks
    }


def rows_to_run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One dict per table row: its label, FLOPs per iteration and the contenders' arguments."""
    rows = []
    for workload in ("W1", "W2", "W3"):
        if workload not in args.workloads:
            continue
        pairs = args.pairs[workload]
        rows.append(
            {
                "label": f"{workload} ({pairs} pairs)",
                "kind": "training",
                "flops": workloads.training_flops(workload, pairs),
                "options": {"workload": workload, "pairs": pairs},
            }
        )
    if "ops" in args.workloads:
        for case in workloads.w2_op_cases(args.pairs["W2"]):
            rows.append(
                {
                    "label": case.label,
                    "kind": "op",
                    "flops": case.flops(),
                    "options": {"case": case},
                }
            )
    return rows


def run_rows(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """Time every row, storing each framework's result (or its failure) in the row."""
    for row in rows:
        print(f"timing {row['label']} ...", file=sys.stderr, flush=True)
        todo = contenders(
            row["kind"], args.device, args.frameworks, args.keep_freed_memory, **row["options"]
        )
        row["results"], row["failed"] = {}, {}
        while todo:  # a framework that fails is reported and the others are timed without it
            try:
                row["results"] = harness.time_interleaved(todo, args.repeats, args.warmup)
                break
            except WorkerError as error:
                print(f"  {error}", file=sys.stderr)
                row["failed"][error.name] = str(error).strip().splitlines()[-1]
                todo.pop(error.name)


# ----- the table -----------------------------------------------------------------------------
def _ms(result: dict | None) -> str:
    return f"{1e3 * result['seconds']:.1f}" if result else "-"


def _memory_bytes(result: dict | None) -> int | None:
    if not result:
        return None
    return (
        result["device_peak_bytes"]
        if result["device_peak_bytes"] is not None
        else result["peak_bytes"]
    )


def _mb(result: dict | None) -> str:
    value = _memory_bytes(result)
    return "-" if value is None else f"{value / 2**20:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def _throughput(flops: int, result: dict | None, peak: float) -> str:
    if not result or not flops:
        return "-"
    gflops = flops / result["seconds"] / 1e9
    return f"{gflops:.1f} ({100 * gflops / peak:.0f}%)"


def table(rows: list[dict[str, Any]], peak: float, device: str) -> str:
    """The results as a Markdown table (paste it into benchmarks/README.md)."""
    other = "PyTorch CUDA" if device == "cuda" else "PyTorch CPU"
    memory = "device MB" if device == "cuda" else "MB"
    header = [
        "workload",
        "GFLOP/iter",
        "tinysiam ms",
        f"{other} ms",
        "time ratio",
        f"tinysiam {memory}",
        f"{other} {memory}",
        "memory ratio",
        "tinysiam GFLOP/s (% peak)",
        f"{other} GFLOP/s (% peak)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        ts, pt = row["results"].get("tinysiam"), row["results"].get("pytorch")
        cells = [
            row["label"],
            f"{row['flops'] / 1e9:.2f}" if row["flops"] else "-",
            _ms(ts),
            _ms(pt),
            _ratio(ts and ts["seconds"], pt and pt["seconds"]),
            _mb(ts),
            _mb(pt),
            _ratio(_memory_bytes(ts), _memory_bytes(pt)),
            _throughput(row["flops"], ts, peak),
            _throughput(row["flops"], pt, peak),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(rows: list[dict[str, Any]], peak: float, device: str) -> str:
    """The goals the table is read against, each marked met / MISSED / not measured."""

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "MISSED")

    training = {row["options"]["workload"]: row for row in rows if row["kind"] == "training"}
    lines = [
        "Goals (set for --device cpu"
        + ("; shown here against PyTorch CUDA" if device == "cuda" else "")
        + "):"
    ]
    ratios = []
    for name, row in training.items():
        ts, pt = row["results"].get("tinysiam"), row["results"].get("pytorch")
        ratio = ts["seconds"] / pt["seconds"] if ts and pt else None
        ratios.append(
            f"{name} {'-' if ratio is None else f'{ratio:.2f}x'} "
            f"{verdict(None if ratio is None else ratio <= GOAL_TIME_RATIO)}"
        )
    lines.append(
        f"  every workload <= {GOAL_TIME_RATIO:.1f}x PyTorch's time: "
        + ("; ".join(ratios) or "not measured")
    )
    w1 = training.get("W1", {}).get("results", {}).get("tinysiam")
    fraction = training["W1"]["flops"] / w1["seconds"] / 1e9 / peak if w1 else None
    bound = f"{1e3 * training['W1']['flops'] / 1e9 / peak:.1f} ms bound, " if w1 else ""
    lines.append(
        f"  W1 >= {GOAL_W1_PEAK_FRACTION:.0%} of the GEMM-peak bound (FLOPs / {peak:.0f} GFLOP/s): "
        + (
            f"{bound}{fraction:.0%} {verdict(fraction >= GOAL_W1_PEAK_FRACTION)}"
            if w1
            else "not measured"
        )
    )
    w2 = training.get("W2", {}).get("results", {})
    ts_mem, pt_mem = _memory_bytes(w2.get("tinysiam")), _memory_bytes(w2.get("pytorch"))
    ratio = ts_mem / pt_mem if ts_mem is not None and pt_mem else None
    lines.append(
        f"  W2 peak memory <= {GOAL_W2_MEMORY_RATIO:.1f}x PyTorch's: "
        + (
            f"{ratio:.2f}x {verdict(ratio <= GOAL_W2_MEMORY_RATIO)}"
            if ratio is not None
            else "not measured"
        )
    )
    return "\n".join(lines)


def checks(rows: list[dict[str, Any]]) -> list[str]:
    """Warnings where the two frameworks' first losses differ (the models were not built alike)."""
    warnings = []
    for row in rows:
        outputs = [row["results"].get(name, {}).get("first_output") for name in FRAMEWORKS]
        if None in outputs:
            continue
        a, b = outputs
        if not np.isclose(a, b, rtol=1e-3, atol=1e-6):
            warnings.append(
                f"warning: {row['label']}: first-step loss {a:.6g} (tinysiam) "
                f"vs {b:.6g} (PyTorch): "
                "the two sides are not computing the same thing"
            )
    return warnings


def machine(device: str, peak: float) -> dict[str, Any]:
    """What the numbers were measured on."""

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "device": device,
        "cpu": cpu,
        "cores": cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tinysiam": tinysiam.__dict__.get("__version__", version("tinysiam")),
        "torch": version("torch"),
        "cupy": version("cupy-cuda12x") or version("cupy"),
        "gemm_gflops": peak,
    }


# ----- profile ---------------------------------------------------------------------------------
def op_methods() -> dict[tuple[str, int, str], str]:
    """(file, line, name) of every Function subclass's forward / backward -> "Class.forward"."""
    found, stack = {}, list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        for method in ("forward", "backward"):
            code = getattr(getattr(cls, method, None), "__code__", None)
            if code is not None and method in vars(cls):
                found[(code.co_filename, code.co_firstlineno, code.co_name)] = (
                    f"{cls.__name__}.{method}"
                )
    return found


def profile(args: argparse.Namespace) -> None:
    """cProfile tinysiam's training steps: each op's forward and backward as a % of the step."""
    methods = op_methods()
    if args.keep_freed_memory != "none":
        tinysiam.keep_freed_memory()
    for workload in ("W1", "W2", "W3"):
        if workload not in args.workloads:
            continue
        step = workloads.tinysiam_training_step(workload, args.pairs[workload], args.device)
        for _ in range(max(1, args.warmup)):
            step()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeats):
            step()
        profiler.disable()
        stats = pstats.Stats(
            profiler
        ).stats  # (file, line, name) -> (calls, ..., tottime, cumtime, callers)
        total = sum(entry[2] for entry in stats.values())
        costs = {}
        for key, (_, _, _, cumulative, _) in stats.items():
            if key in methods:
                costs[methods[key]] = costs.get(methods[key], 0.0) + cumulative
            elif key[2] == "step" and key[0].endswith(os.path.join("tinysiam", "optim", "adam.py")):
                costs["Adam.step"] = costs.get("Adam.step", 0.0) + cumulative
        print(
            f"\n{workload} ({args.pairs[workload]} pairs), tinysiam on {args.device}: "
            f"{1e3 * total / args.repeats:.1f} ms per step under cProfile"
        )
        print("  op forward/backward (cumulative)      ms/step   % of step")
        for name, seconds in sorted(costs.items(), key=lambda item: -item[1])[:12]:
            print(f"  {name:<38}{1e3 * seconds / args.repeats:9.1f}{100 * seconds / total:10.1f}")
        rest = total - sum(costs.values())
        print(
            f"  {'(engine, graph, Python glue)':<38}"
            f"{1e3 * rest / args.repeats:9.1f}{100 * rest / total:10.1f}"
        )
        print(
            "  top functions by own time "
            "(array expressions and @ count in the function that runs them):"
        )
        for key, entry in sorted(stats.items(), key=lambda item: -item[1][2])[:8]:
            where = f"{Path(key[0]).name}:{key[1]} {key[2]}" if key[1] else key[2]
            print(f"    {where:<52}{100 * entry[2] / total:6.1f}%")


# ----- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not tinysiam.cuda_available():
        print(
            "error: --device cuda needs CuPy and an NVIDIA GPU that runs a kernel and a matrix "
            f"product ({GPU_INSTALL}); this machine has none, or CuPy lacks its CUDA runtime "
            "libraries. Use --device cpu.",
            file=sys.stderr,
        )
        return 2
    if args.threads:  # read by OpenBLAS, OpenMP and MKL when the worker processes start
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(args.threads)
    if args.profile:
        profile(args)
        return 0
    if "pytorch" in args.frameworks and importlib.util.find_spec("torch") is None:
        print("note: PyTorch is not installed; timing tinysiam alone", file=sys.stderr)
        args.frameworks = [f for f in args.frameworks if f != "pytorch"]
    peak_before = harness.measure_gemm_gflops(args.device)
    rows = rows_to_run(args)
    run_rows(args, rows)
    # measured at both ends of the run, the higher kept: one slow moment of a shared machine
    # (we saw 107 against 199-210 GFLOP/s) would otherwise flatter every "% of peak" and the W1 goal
    peak = max(peak_before, harness.measure_gemm_gflops(args.device))

    info = machine(args.device, peak)
    threads = f", {args.threads} threads each" if args.threads else ""
    print(
        f"\n{info['cpu']}, {info['cores']} cores{threads}, device {args.device}; "
        f"numpy {info['numpy']}, torch {info['torch']}; "
        f"measured float32 GEMM peak {peak:.0f} GFLOP/s; "
        f"median of {args.repeats} after {args.warmup} warm-up; "
        f"keep_freed_memory: {args.keep_freed_memory}\n"
    )
    print(table(rows, peak, args.device))
    print()
    print(goals(rows, peak, args.device))
    for line in checks(rows):
        print(line)
    for row in rows:
        for name, why in row["failed"].items():
            print(f"note: {row['label']}: {name} failed: {why}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "machine": info,
            "threads": args.threads,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "keep_freed_memory": args.keep_freed_memory,
            "rows": [
                {
                    "label": row["label"],
                    "kind": row["kind"],
                    "flops": row["flops"],
                    "options": {
                        k: (vars(v) if k == "case" else v) for k, v in row["options"].items()
                    },
                    "results": row["results"],
                    "failed": row["failed"],
                }
                for row in rows
            ],
        }
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
