"""Grading a workspace: each task's grader run in a child process, one row per task.

``grade(DIR, tasks)`` returns one :class:`Row` per task: passed, failed or not started. The
graders (:mod:`.graders`, one per task, named in the task table) run in a child process
(``python -m tinysiam.course.grading``), never in the process that prints the table, so
nothing a learner's code does (raise SystemExit, recurse without end, loop forever, print
without end, crash NumPy) can stop the grader:

* the child imports the workspace afresh for each task, under a package name of its own, puts
  the library's code in for every other task (:func:`workspace.transplant`), runs the task's
  grader and writes one JSON line per task to a results file; its output goes nowhere;
* the parent reads the results as they come. A task that runs past the time limit, or a child
  that dies, fails that task; the parent starts a new child for the tasks left.

A task is *not started* when its grader stops at the task's own NotImplementedError and every
function of the task is still the stub; it *passed* when every check of its grader held.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import workspace
from .grader_helpers import GradeFailure, Workspace, shorten, where
from .tasks import TASKS, TASKS_BY_ID, Task

PASSED, FAILED, NOT_STARTED = "passed", "failed", "not started"
DEFAULT_TIMEOUT = 120.0  # seconds per task
DETAIL_LIMIT = 400  # characters of a failure shown


@dataclass
class Row:
    """The grade of one task."""

    task: str
    title: str
    page: str
    status: str
    detail: str | None = None
    seconds: float = 0.0


# ----- the parent: a table of rows -----------------------------------------------------------
def grade(directory: Path, tasks: list[Task], timeout: float = DEFAULT_TIMEOUT) -> list[Row]:
    """Grade ``tasks`` of the workspace in ``directory``, each in a child process, in order."""
    rows: dict[str, Row] = {}
    pending = [task.id for task in tasks]
    while pending:
        before = len(pending)
        _run_child(directory.resolve(), pending, rows, timeout)
        pending = [task_id for task_id in pending if task_id not in rows]
        if len(pending) == before:  # the child could not grade anything: give up on the rest
            for task_id in pending:
                rows[task_id] = _row(
                    TASKS_BY_ID[task_id], FAILED, "the grading process did not start"
                )
            break
    return [rows[task.id] for task in tasks]


def _row(task: Task, status: str, detail: str | None, seconds: float = 0.0) -> Row:
    if detail is not None:
        detail = shorten(detail, DETAIL_LIMIT)
    return Row(task.id, task.title, task.page, status, detail, round(seconds, 2))


def _run_child(directory: Path, pending: list[str], rows: dict[str, Row], timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix="tinysiam-course-") as folder:
        results = Path(folder) / "results.jsonl"
        results.touch()
        debug = os.environ.get("TINYSIAM_COURSE_DEBUG")
        child = subprocess.Popen(
            [sys.executable, "-m", "tinysiam.course.grading", str(directory), str(results)]
            + pending,
            cwd=folder,  # not the caller's folder: there, `tinysiam` may be a workspace
            stdin=subprocess.DEVNULL,
            stdout=None if debug else subprocess.DEVNULL,
            stderr=None if debug else subprocess.DEVNULL,
            start_new_session=True,
        )
        current, started, read = None, time.monotonic(), 0
        try:
            while True:
                finished = child.poll() is not None
                with results.open() as stream:
                    stream.seek(read)
                    lines = stream.read()
                complete = lines[: lines.rfind("\n") + 1]
                read += len(complete)
                for line in complete.splitlines():
                    record = json.loads(line)
                    task = TASKS_BY_ID[record["task"]]
                    if record["event"] == "start":
                        current, started = task, time.monotonic()
                    else:
                        rows[task.id] = _row(
                            task, record["status"], record["detail"], record["seconds"]
                        )
                        current, started = None, time.monotonic()
                if finished:
                    break
                if current is not None and time.monotonic() - started > timeout:
                    rows[current.id] = _row(
                        current,
                        FAILED,
                        f"still running after {timeout:g} s: an endless loop? "
                        f"(the limit is --timeout)",
                        timeout,
                    )
                    current = None
                    break
                if current is None and time.monotonic() - started > timeout:
                    break  # the child hangs before its first task
                time.sleep(0.02)
        finally:
            if child.poll() is None:
                _kill(child)
        if current is not None:  # it died in the middle of a task
            rows[current.id] = _row(
                current,
                FAILED,
                f"the grading process stopped during this task (exit code {child.returncode}): "
                "os._exit, a crash inside NumPy, or out of memory",
                time.monotonic() - started,
            )


def _kill(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    child.wait()


# ----- the child: grade tasks, one JSON line each --------------------------------------------
def _grade_one(directory: Path, task: Task, number: int, graders: types.ModuleType) -> Row:
    name = f"tinysiam_workspace_{number}"
    start = time.perf_counter()

    def row(status: str, detail: str | None) -> Row:
        return _row(task, status, detail, time.perf_counter() - start)

    try:
        package = workspace.load(directory, name)
    except BaseException as error:  # noqa: BLE001 - a learner's syntax error, import error, ...
        if isinstance(error, KeyboardInterrupt):
            raise
        return row(
            FAILED,
            f"the workspace does not import: {type(error).__name__}: {error}{where(error)}",
        )
    try:
        others = [t for other in TASKS if other is not task for t in other.targets]
        try:
            workspace.transplant(package, others)
        except Exception as error:  # noqa: BLE001
            return row(
                FAILED,
                "could not put the library's code in place of the other tasks "
                f"({type(error).__name__}: {error}); did a function or class get renamed?",
            )
        grader = getattr(graders, task.grader)
        grader(Workspace(package, directory))
        return row(PASSED, None)
    except BaseException as error:  # noqa: BLE001
        error = _first(error)
        if isinstance(error, KeyboardInterrupt):
            raise
        if isinstance(error, NotImplementedError) and str(error).startswith(f"Task {task.id}:"):
            if _all_stubs(directory, task):
                return row(NOT_STARTED, str(error))
            return row(FAILED, f"not written yet: {error}")
        if isinstance(error, GradeFailure):
            return row(FAILED, str(error))
        return row(FAILED, f"{type(error).__name__}: {error}{where(error)}")
    finally:
        workspace.unload(name)


def _first(error: BaseException) -> BaseException:
    """The first plain exception inside an exception group (Hypothesis may raise one)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _all_stubs(directory: Path, task: Task) -> bool:
    for target in task.targets:
        path = directory / "tinysiam" / target.file
        if not path.is_file() or not workspace.is_stub(path.read_text(), task, target):
            return False
    return True


def child_main(argv: list[str]) -> None:
    """Grade the tasks ``argv[2:]`` of workspace ``argv[0]``, writing results to ``argv[1]``."""
    directory, results, task_ids = Path(argv[0]), Path(argv[1]), argv[2:]
    with results.open("a", buffering=1) as stream:

        def emit(**record: Any) -> None:
            stream.write(json.dumps(record) + "\n")
            stream.flush()

        try:
            from . import graders
        except ImportError as error:
            for task_id in task_ids:
                emit(event="start", task=task_id)
                emit(
                    event="result",
                    task=task_id,
                    status=FAILED,
                    detail=f"the graders need {error.name}: pip install {error.name}",
                    seconds=0.0,
                )
            return
        for number, task_id in enumerate(task_ids):
            emit(event="start", task=task_id)
            row = _grade_one(directory, TASKS_BY_ID[task_id], number, graders)
            emit(event="result", **{k: v for k, v in asdict(row).items() if k != "title"})


if __name__ == "__main__":  # the child, started by grade()
    child_main(sys.argv[1:])
