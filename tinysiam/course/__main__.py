"""python -m tinysiam.course new | check | run-experiment | list | autograder: the task track.

python -m tinysiam.course new ws                      # a workspace with every task to write
python -m tinysiam.course new ws --tasks 3-5          # only the tasks of pages 3 to 5
python -m tinysiam.course check --workspace ws        # one row per task
python -m tinysiam.course check 3.2 --workspace ws --json grade.json
python -m tinysiam.course run-experiment --workspace ws --dataset digits
python -m tinysiam.course autograder --out autograder.zip --tasks 3-5 --points 2,5.1=4
python -m tinysiam.course check --workspace ws --format gradescope --points 2,5.1=4
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from . import gradescope
from . import tasks as task_table
from .grading import DEFAULT_TIMEOUT, NOT_STARTED, PASSED, Row
from .tasks import TASKS, Task, TaskSelectionError
from .workspace import WorkspaceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinysiam.course",
        description="Build tinysiam yourself: write the engine and the network, task by task, "
        "graded as you go.",
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
    check.add_argument(
        "--format",
        choices=["table", "gradescope"],
        default="table",
        help="table: one row per task (default); gradescope: print the results.json that the "
        "Gradescope autograder writes",
    )
    check.add_argument(
        "--points", metavar="POINTS", help=f"with --format gradescope: {POINTS_HELP}"
    )
    check.add_argument(
        "--accept-library-code",
        action="store_true",
        help="let a task whose code is still the library's pass (to check a solved copy made "
        "with new --with-solutions); by default it fails as not assigned in this workspace",
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

    autograder = commands.add_parser(
        "autograder",
        help="write a Gradescope autograder: a zip to upload, carrying this tinysiam",
        description="Write a Gradescope autograder: a zip with setup.sh and run_autograder at its "
        "root and this tinysiam's source. Upload it as a programming assignment's autograder; "
        "students submit their workspace folder (or a zip of it) and get one test per task.",
    )
    autograder.add_argument(
        "--out",
        type=Path,
        default=Path("autograder.zip"),
        metavar="PATH",
        help="the zip to write (default autograder.zip)",
    )
    autograder.add_argument(
        "--tasks",
        default="all",
        help="the tasks graded, whatever the submission's course.json says: ids (3.2), pages (3), "
        "ranges (1-6, 3.2-5.1), comma-separated; default all",
    )
    autograder.add_argument("--points", metavar="POINTS", help=POINTS_HELP)
    autograder.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of one task's grading (default {DEFAULT_TIMEOUT:g})",
    )
    autograder.add_argument(
        "--total-timeout",
        type=float,
        default=gradescope.DEFAULT_TOTAL_TIMEOUT,
        metavar="SECONDS",
        help="time limit of one submission: the tasks left when it is spent fail (default "
        f"{gradescope.DEFAULT_TOTAL_TIMEOUT:g}); keep it under the assignment's autograder "
        "timeout on Gradescope (10 minutes unless you change it), which ends a run without results",
    )
    return parser


POINTS_HELP = (
    "the points of each task, comma-separated: a number for every task (default 1), TASK=POINTS "
    "for one; '2,8.1=5' gives 5 to task 8.1 and 2 to each other task; a task scores all its "
    "points when it passes, else 0"
)


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
        if args.command == "autograder":
            return _autograder(args, parser)
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
    from .grading import assess

    chosen = _selected(args, parser)
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout:g}")
    if args.format == "gradescope":
        return _check_gradescope(args, parser, chosen)
    if args.points is not None:
        parser.error("--points goes with --format gradescope")
    to_stdout = args.json is not None and str(args.json) == "-"
    if not to_stdout:
        print(f"grading {args.workspace}: {len(chosen)} task{'s' if len(chosen) > 1 else ''}")
    assessment = assess(
        args.workspace, chosen, args.timeout, accept_library_code=args.accept_library_code
    )
    rows = assessment.rows
    report = _report(args.workspace, rows)
    if to_stdout:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(rows))
        for warning in assessment.warnings:
            print(f"warning: {warning}")
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
            print(f"wrote {args.json}")
    return 0 if all(row.status == PASSED for row in rows) else 1


def _check_gradescope(
    args: argparse.Namespace, parser: argparse.ArgumentParser, chosen: list[Task]
) -> int:
    if args.json is not None:
        parser.error(
            "--json writes the course's format and --format gradescope Gradescope's: pick one"
        )
    if args.accept_library_code:
        parser.error(
            "--accept-library-code is for checking a solved copy, not with --format "
            "gradescope, which grades a student's own code"
        )
    try:
        points = gradescope.parse_points(args.points, chosen)
    except gradescope.PointsError as error:
        parser.error(f"--points: {error}")
    package = args.workspace / "tinysiam"
    results = gradescope.grade_package(package, chosen, points, args.timeout)
    print(json.dumps(results, indent=2))
    return 0 if all(test["status"] == "passed" for test in results["tests"]) else 1


def _autograder(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        chosen = task_table.select(args.tasks)
        points = gradescope.parse_points(args.points, chosen)
    except TaskSelectionError as error:
        parser.error(f"--tasks: {error}")
    except gradescope.PointsError as error:
        parser.error(f"--points: {error}")
    for option, seconds in (("--timeout", args.timeout), ("--total-timeout", args.total_timeout)):
        if seconds <= 0:
            parser.error(f"{option} must be positive, got {seconds:g}")
    if args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name the zip to write, e.g. autograder.zip")
    if not args.out.resolve().parent.is_dir():
        parser.error(f"--out {args.out}: there is no folder {args.out.parent}")
    gradescope.build(args.out, chosen, points, args.timeout, args.total_timeout)
    total = sum(points.values())
    print(
        f"wrote {args.out}: {len(chosen)} task{'s' if len(chosen) > 1 else ''} graded, "
        f"{total:g} points in all; at most {args.timeout:g} s a task, "
        f"{args.total_timeout:g} s a submission"
    )
    print(
        "upload it as the autograder of a Gradescope programming assignment; "
        "see docs/build-it-yourself.md, For teachers"
    )
    return 0


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
        rows = grade(args.workspace, list(TASKS), accept_library_code=True)  # unassigned: solved
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
