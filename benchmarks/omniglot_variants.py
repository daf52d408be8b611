"""Experiment 2's CPU variants side by side: one-shot accuracy against minutes of training.

Runs ``examples/omniglot_bce.py`` once per variant (the cpu preset with a few flags changed), a
few runs at a time, each on its own share of the cores, then prints a Markdown table and writes
a JSON report and a figure. Every run reports the one-shot benchmark both ways, one view of each
image and ``--one-shot-views`` views, so each row shows what the views add as well.

    python benchmarks/omniglot_variants.py                          # every variant, 2000 iterations
    python benchmarks/omniglot_variants.py --variants previous,preset --iterations 500
    python benchmarks/omniglot_variants.py --runs runs/omniglot_bce runs/omniglot_bce_seed1 \\
        --variants none                                             # only tabulate finished runs

``--jobs`` runs go at once, each with ``cores / jobs`` BLAS threads (default: 2 at once, one
thread each, on a 2-core machine); the minutes of the table are those of the runs as they ran,
side by side. Finished runs given with ``--runs`` (their ``metrics.json``) join the table and
the figure as they are, e.g. full-length runs of the preset made alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "omniglot_bce.py"
VARIANTS = {  # name: (what it changes from the cpu preset, flags)
    "previous": ("lr 1e-3, the rate of the cpu preset of 0.1.0", ["--lr", "1e-3"]),
    "preset": ("the cpu preset: lr 3e-3, every dissimilar pair weighted alike", []),
    "lr-6e-3": ("lr 6e-3", ["--lr", "6e-3"]),
    "share-0.5": ("half of the dissimilar pairs' weight on pairs from one alphabet",
                  ["--same-alphabet-share", "0.5"]),
    "batch-32": ("32 characters a batch (64 images) instead of 64", ["--batch-characters", "32"]),
    "batch-128": ("128 characters a batch (256 images)", ["--batch-characters", "128"]),
}  # fmt: skip
COLUMNS = (
    "| run | iterations | training min | one-shot, 1 view | one-shot, views | pair acc. "
    "(reference) | pair acc. (10,000) | AUC | peak GB |"
)


def main() -> None:
    args = parse_args()
    names = (
        list(VARIANTS)
        if args.variants == "all"
        else [name for name in args.variants.split(",") if name != "none"]
    )
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"error: unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run_variants(names, args) + [finished_run(Path(run)) for run in args.runs]
    print(COLUMNS)
    print("|" + " --- |" * COLUMNS.count(" |"))
    for row in rows:
        print(table_row(row))
    report = args.out / "variants.json"
    report.write_text(json.dumps(rows, indent=1))
    print(f"\nwrote {report}")
    if args.figure:
        draw(rows, args.figure)
        print(f"wrote {args.figure}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", default="all", help="comma-separated names, all, or none")
    parser.add_argument("--iterations", type=int, default=2000, help="iterations of every run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    parser.add_argument("--out", type=Path, default=Path("runs/omniglot_variants"))
    parser.add_argument("--runs", nargs="*", default=[], help="finished run folders to add")
    parser.add_argument("--figure", type=Path, help="also draw one-shot against minutes here")
    return parser.parse_args()


def run_variants(names: list[str], args: argparse.Namespace) -> list[dict]:
    """Run the example for each variant, ``args.jobs`` at a time; return their table rows."""
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads, MPLBACKEND="Agg")  # fmt: skip
    waiting, running, rows = list(names), {}, {}
    while waiting or running:
        while waiting and len(running) < args.jobs:
            name = waiting.pop(0)
            out = args.out / name
            command = [sys.executable, str(EXAMPLE), "--no-show", "--device", "cpu", "--preset",
                       "cpu", "--iterations", str(args.iterations), "--seed", str(args.seed),
                       "--out", str(out), *VARIANTS[name][1]]  # fmt: skip
            log = (args.out / f"{name}.log").open("w")
            print(f"{time.strftime('%H:%M:%S')} start {name}: {' '.join(command[1:])}", flush=True)
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            running[process.pid] = (name, out, log)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        name, out, log = running.pop(pid)
        log.close()
        if status != 0:
            raise SystemExit(f"error: variant {name} failed; see {args.out / (name + '.log')}")
        rows[name] = finished_run(out, peak_gb=usage.ru_maxrss / 2**20)  # KiB on Linux
        rows[name]["variant"] = f"{name}: {VARIANTS[name][0]}"
        print(f"{time.strftime('%H:%M:%S')} done  {table_row(rows[name])}", flush=True)
    return [rows[name] for name in names]


def finished_run(folder: Path, peak_gb: float | None = None) -> dict:
    """The table row of a finished run, from its metrics.json."""
    m = json.loads((folder / "metrics.json").read_text())
    return {
        "variant": str(folder),
        "iterations": m["hyperparameters"]["iterations"],
        "training_minutes": m["training_seconds"] / 60,
        "one_shot_single_view": m.get("one_shot_accuracy_single_view", m["one_shot_accuracy"]),
        "one_shot_single_view_ci95": m.get("one_shot_single_view_ci95", m["one_shot_ci95"]),
        "one_shot": m["one_shot_accuracy"],
        "one_shot_ci95": m["one_shot_ci95"],
        "views": m.get("one_shot_views", 1),
        "pair_accuracy_reference": m["pair_accuracy_reference"],
        "pair_accuracy": m["pair_accuracy"],
        "roc_auc": m["roc_auc"],
        "peak_gb": peak_gb,
        "flags": m["hyperparameters"],
    }


def table_row(row: dict) -> str:
    def accuracy(key: str) -> str:
        low, high = row[f"{key}_ci95"]
        return f"{row[key]:.2%} ({low:.1%}-{high:.1%})"

    peak = f"{row['peak_gb']:.2f}" if row["peak_gb"] is not None else "-"
    return (
        f"| {row['variant']} | {row['iterations']} | {row['training_minutes']:.1f} | "
        f"{accuracy('one_shot_single_view')} | {accuracy('one_shot')} ({row['views']} views) | "
        f"{row['pair_accuracy_reference']:.2%} | {row['pair_accuracy']:.2%} | "
        f"{row['roc_auc']:.3f} | {peak} |"
    )


def draw(rows: list[dict], path: Path) -> None:
    """One-shot accuracy (95% interval) against training minutes: a point per run, hollow for one
    view of each image, filled for the views."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for k, row in enumerate(rows):
        color = f"C{k % 10}"
        x = row["training_minutes"]
        for key, fill in (("one_shot_single_view", "none"), ("one_shot", color)):
            low, high = row[f"{key}_ci95"]
            ax.errorbar(x, row[key], yerr=[[row[key] - low], [high - row[key]]], fmt="o",
                        color=color, mfc=fill, capsize=3)  # fmt: skip
        ax.plot([x, x], [row["one_shot_single_view"], row["one_shot"]], color=color, lw=0.8,
                label=row["variant"].split(":")[0])  # fmt: skip
    ax.axhline(0.85, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("minutes of training")
    ax.set_ylabel("20-way one-shot accuracy (400 trials)")
    ax.set_title("hollow: one view of each image; filled: the views averaged")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
