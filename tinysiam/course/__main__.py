"""python -m tinysiam.course new | check | run-experiment | list: the graded task track.

python -m tinysiam.course new ws                      # a workspace with every task to write
python -m tinysiam.course new ws --tasks 3-5          # only the tasks of pages 3 to 5
python -m tinysiam.course check --workspace ws        # one row per task
python -m tinysiam.course check 3.2 --workspace ws --json grade.json
python -m tinysiam.course run-experiment --workspace ws --dataset digits
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from . import tasks as task_table
from .grading import DEFAULT_TIMEOUT, NOT_STARTED, PASSED, Row
from .tasks import TASKS, TaskSelectionError
from .workspace import WorkspaceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinysiam.course",
        description="Build tinysiam yourself: write the engine, task by task, graded as you go.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new = commands.add_parser("new", help="create a workspace: the package with tasks to write")
    new.add_argument("directory", type=Path, metavar="DIR", help="a new (or empty) folder")
    new.add_argument(
        "--tasks",
        default="all",
        help="the tasks to write: ids (3.2), pages (3), ranges (1-6, 3.2-5.1), comma-separated; "
        "default all",
    )
    new.add_argument(
        "--with-solutions",
        action="store_true",
        help="write the solved copy instead (for teachers and CI)",
    )

    check = commands.add_parser("check", help="grade a workspace: one row per task")
    check.add_argument(
        "tasks", nargs="*", metavar="TASK", help="tasks to grade (default: the workspace's)"
    )
    check.add_argument("--workspace", type=Path, required=True, metavar="DIR")
    check.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the grades as JSON ('-': stdout only)"
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of one task's grading (default {DEFAULT_TIMEOUT:g})",
    )

    experiment = commands.add_parser(
        "run-experiment", help="train experiment 1 on your engine and print its 5-NN accuracy"
    )
    experiment.add_argument("--workspace", type=Path, required=True, metavar="DIR")
    experiment.add_argument(
        "--dataset",
        choices=["auto", "mnist", "digits"],
        default="auto",
        help="auto: MNIST if found or downloadable, else the built-in digits",
    )
    experiment.add_argument(
        "--iterations", type=int, default=3000, help="default 3000, the recipe's"
    )
    experiment.add_argument("--seed", type=int, default=0)
    experiment.add_argument(
        "--skip-check", action="store_true", help="train without grading the tasks first"
    )

    commands.add_parser("list", help="list the tasks, in order, with the page of each")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "new":
            return _new(args, parser)
        if args.command == "check":
            return _check(args, parser)
        if args.command == "run-experiment":
            return _run_experiment(args, parser)
        return _list()
    except WorkspaceError as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")
    return 2  # pragma: no cover - parser.exit does not return


def _new(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .workspace import create

    try:
        chosen = task_table.select(args.tasks)
    except TaskSelectionError as error:
        parser.error(f"--tasks: {error}")
    create(args.directory, chosen, with_solutions=args.with_solutions)
    if args.with_solutions:
        print(f"wrote {args.directory}: a solved workspace ({len(chosen)} tasks listed)")
    else:
        print(f"wrote {args.directory}: {len(chosen)} tasks to write, listed in its README.md")
        first = chosen[0]
        print(
            f"start with task {first.id} ({first.title}, docs page {first.page_number}); "
            "grade with:\n"
            f"  python -m tinysiam.course check --workspace {args.directory}"
        )
    return 0


def _selected(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list:
    from .workspace import check_workspace

    manifest = check_workspace(args.workspace)
    try:
        if args.tasks:
            return task_table.select(list(args.tasks))
        return task_table.select(",".join(manifest.get("tasks") or ["all"]))
    except TaskSelectionError as error:
        parser.error(str(error))


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .grading import grade

    chosen = _selected(args, parser)
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout:g}")
    to_stdout = args.json is not None and str(args.json) == "-"
    if not to_stdout:
        print(f"grading {args.workspace}: {len(chosen)} task{'s' if len(chosen) > 1 else ''}")
    rows = grade(args.workspace, chosen, timeout=args.timeout)
    report = _report(args.workspace, rows)
    if to_stdout:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(rows))
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
            print(f"wrote {args.json}")
    return 0 if all(row.status == PASSED for row in rows) else 1


def _report(directory: Path, rows: list[Row]) -> dict[str, Any]:
    from .workspace import version

    counts = {
        status: sum(row.status == status for row in rows)
        for status in ("passed", "failed", "not started")
    }
    return {
        "workspace": str(directory),
        "tinysiam_version": version(),
        "summary": {**counts, "total": len(rows)},
        "tasks": [vars(row) for row in rows],
    }


def format_table(rows: list[Row], width: int = 100) -> str:
    """The grades as a table: one line per task, and a failure's detail under its line."""
    title_width = max(len(row.title) for row in rows)
    lines = []
    for row in rows:
        lines.append(f"  {row.task:<5} {row.title:<{title_width}}  {row.status}")
        if row.status not in (PASSED, NOT_STARTED) and row.detail:
            wrapped = textwrap.wrap(row.detail, width=width - 8)
            if len(wrapped) > 3:
                wrapped = wrapped[:3]
                wrapped[-1] += " ..."
            lines += [" " * 8 + line for line in wrapped]
    counts = {s: sum(row.status == s for row in rows) for s in ("passed", "failed", "not started")}
    lines.append(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['not started']} not started"
    )
    todo = [row for row in rows if row.status != PASSED]
    if todo:
        page = todo[0].page
        lines.append(f"next: task {todo[0].task}, taught on docs page {int(page[:2])} ({page})")
    return "\n".join(lines)


def _run_experiment(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from . import experiment
    from .grading import grade
    from .workspace import check_workspace

    check_workspace(args.workspace)
    if args.iterations < 1:
        parser.error(f"--iterations must be positive, got {args.iterations}")
    if not args.skip_check:
        print(f"grading every task of {args.workspace} first", flush=True)
        rows = grade(args.workspace, list(TASKS))
        if not all(row.status == PASSED for row in rows):
            print(format_table(rows))
            print("finish these tasks first (or train anyway with --skip-check)")
            return 1
        print(f"all {len(rows)} tasks passed")
    try:
        result = experiment.run(
            args.workspace, args.dataset, args.iterations, args.seed, log=_print_now
        )
    except experiment.TrainingError as error:
        print(f"training stopped: {error}", file=sys.stderr)
        return 1
    accuracy = result["knn5_accuracy"]
    print(
        f"5-NN accuracy {accuracy:.2%} on {result['data']} after {result['iterations']} iterations "
        f"({result['training_seconds']:.0f} s of training on your engine)"
    )
    if args.iterations == experiment.ITERATIONS and result["data"].startswith("MNIST"):
        verdict = "reached" if accuracy >= experiment.TARGET else "below"
        print(f"{verdict} the target on MNIST, {experiment.TARGET:.0%}")
    elif args.iterations == experiment.ITERATIONS:
        print(
            f"the library's own engine reaches {experiment.DIGITS_REFERENCE:.2%} on these digits "
            f"(seed 0), and at least {experiment.TARGET:.0%} on MNIST"
        )
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)  # progress shows as it comes, also when the output is a file


def _list() -> int:
    for task in TASKS:
        print(f"{task.id:<5} {task.title:<45} page {task.page_number:>2} ({task.page})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
