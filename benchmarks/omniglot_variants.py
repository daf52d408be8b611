"""Experiment 2's CPU variants side by side: one-shot accuracy against minutes of training.

Runs ``examples/omniglot_bce.py`` once per variant (the cpu preset with a few flags changed),
then prints a Markdown table and writes a JSON report and a figure. Every run reports the
one-shot benchmark both ways, one view of each image and the preset's 16 views, so each row
shows what the views add as well.

    python benchmarks/omniglot_variants.py --figure runs/omniglot_variants/variants.png
    python benchmarks/omniglot_variants.py --variants short,preset --iterations 500 --jobs 2
    python benchmarks/omniglot_variants.py --variants none --runs runs/omniglot_bce   # tabulate

By default the runs go one at a time, each with every core, as the preset is timed (about 1 h
40 min for the four variants on 2 cores). ``--jobs N`` runs N at once, each with
``cores / N`` BLAS threads: quicker comparisons, slower minutes. Finished runs given with
``--runs`` (their ``metrics.json``) join the table and the figure as they are.
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
    "short": ("lr 1e-3, 6000 iterations, similar pairs half the weight",
              ["--lr", "1e-3", "--iterations", "6000", "--similar-share", "0.5"]),
    "longer": ("lr 3e-3, 12,000 iterations, similar pairs half the weight",
               ["--similar-share", "0.5"]),
    "one-alphabet": ("as longer, and half of the dissimilar weight on pairs from one alphabet",
                     ["--similar-share", "0.5", "--same-alphabet-share", "0.5"]),
    "preset": ("the cpu preset: lr 3e-3, 12,000 iterations, similar pairs 2/3 of the weight", []),
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
    rows = run_variants(names, args) + [labelled_run(run) for run in args.runs]
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
    parser.add_argument(
        "--iterations", type=int, help="iterations of every run (default: each variant's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument("--out", type=Path, default=Path("runs/omniglot_variants"))
    parser.add_argument(
        "--runs", nargs="*", default=[], help="finished runs to add: FOLDER or LABEL=FOLDER"
    )
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
            length = [] if args.iterations is None else ["--iterations", str(args.iterations)]
            command = [sys.executable, str(EXAMPLE), "--no-show", "--device", "cpu", "--preset",
                       "cpu", "--seed", str(args.seed), "--out", str(out), *VARIANTS[name][1],
                       *length]  # fmt: skip
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


def labelled_run(run: str) -> dict:
    """The table row of a finished run given as ``FOLDER`` or ``LABEL=FOLDER``."""
    label, _, folder = run.rpartition("=")
    row = finished_run(Path(folder))
    row["variant"] = label or folder
    return row


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
    view of each image, filled for the views, the two joined; the 85% target and the 30-minute
    budget as grey lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for k, row in enumerate(rows):
        color, x = f"C{k % 10}", row["training_minutes"] + 0.25 * (k - (len(rows) - 1) / 2)
        for key, fill in (("one_shot_single_view", "none"), ("one_shot", color)):
            low, high = row[f"{key}_ci95"]
            ax.errorbar(x, row[key], yerr=[[row[key] - low], [high - row[key]]], fmt="o",
                        color=color, mfc=fill, capsize=3)  # fmt: skip
        ax.plot([x, x], [row["one_shot_single_view"], row["one_shot"]], color=color, lw=0.8,
                label=row["variant"].split(":")[0])  # fmt: skip
    ax.axhline(0.85, color="grey", ls="--", lw=0.8)
    ax.axvline(30, color="grey", ls=":", lw=0.8)
    ax.set_xlim(0, 32)
    ax.set_xlabel("minutes of training (grey: the 30-minute budget)")
    ax.set_ylabel("20-way one-shot accuracy, 400 trials (grey: 85%)")
    ax.set_title("hollow: one view of each image; filled: 16 views; bars: 95% intervals")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
