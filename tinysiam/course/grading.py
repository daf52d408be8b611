"""Grading a workspace: one row per task, passed, failed or not started.

The graders run in a child process (``python -m tinysiam.course.grading``), never in the
process that prints the table, so nothing a learner's code does (raise SystemExit, recurse
without end, loop forever, print without end, crash NumPy) can stop the grader:

* the child imports the workspace afresh for each task, under a package name of its own, puts
  the library's code in for every other task (:func:`workspace.transplant`), runs the task's
  grader and writes one JSON line per task to a results file; its output goes nowhere;
* the parent reads the results as they come. A task that runs past the time limit, or a child
  that dies, fails that task; the parent starts a new child for the tasks left.

A task is *not started* when its grader stops at the task's own NotImplementedError and every
function of the task is still the stub; it *passed* when every check of its grader held.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import workspace
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


class GradeFailure(AssertionError):
    """A check of a grader that did not hold; the message is the row's detail."""


# ----- what graders use ----------------------------------------------------------------------
class Workspace:
    """The learner's package, loaded, as graders see it: ``ws.mod("autograd")``."""

    def __init__(self, package: types.ModuleType, directory: Path) -> None:
        self.package = package
        self.directory = directory

    def mod(self, name: str) -> types.ModuleType:
        """The workspace's module ``name`` ("ops.elementwise")."""
        return importlib.import_module(f"{self.package.__name__}.{name}")

    @staticmethod
    def lib(name: str) -> types.ModuleType:
        """The installed library's module ``name``: the expected answers come from it."""
        return importlib.import_module(f"tinysiam.{name}")


def fail(message: str) -> None:
    raise GradeFailure(message)


def describe(value: Any, limit: int = 70) -> str:
    """A short one-line picture of an array or number for a failure message."""
    if value is None:
        return "None"
    if hasattr(value, "data") and not isinstance(value, np.ndarray):  # a Tensor
        value = value.data
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything the learner returned
        return _short(repr(value), limit)
    if array.dtype == object:
        return _short(repr(value), limit)
    if array.ndim == 0:
        return f"{array.item():.6g}" if array.dtype.kind == "f" else str(array.item())
    text = np.array2string(
        array, precision=4, separator=", ", threshold=12, edgeitems=2, max_line_width=10**9
    )
    text = _short(" ".join(text.split()), limit)
    return f"{text} {array.shape}" if array.ndim > 1 or array.size > 12 else text


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_array(value: Any, what: str, given: str) -> np.ndarray:
    """``value`` (an array, or a Tensor's data) as a numpy array, or a failure saying what came."""
    if value is None:
        fail(f"{given}: {what} is None")
    if hasattr(value, "data") and not isinstance(value, np.ndarray):
        value = value.data
    try:
        array = np.asarray(value, dtype=np.float64)
    except Exception:  # noqa: BLE001
        fail(f"{given}: {what} should be an array, got {_short(repr(value), 60)}")
    return array


def expect(
    what: str,
    got: Any,
    expected: Any,
    given: str,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Fail unless ``got`` has ``expected``'s shape and values (to rounding)."""
    expected = np.asarray(expected.data if hasattr(expected, "_node") else expected)
    got_array = as_array(got, what, given)
    if got_array.shape != expected.shape:
        fail(
            f"{given}: expected {what} of shape {expected.shape}, got shape {got_array.shape}: "
            f"{describe(got_array)}"
        )
    if not np.allclose(got_array, expected, rtol=rtol, atol=atol, equal_nan=False):
        fail(f"{given}: expected {what} {describe(expected)}, got {describe(got_array)}")


def call(what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code; what it raises (but a task's NotImplementedError) becomes a failure."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError as error:
        if str(error).startswith("Task "):
            raise
        raise GradeFailure(f"{what} raised NotImplementedError: {error}{where(error)}") from None
    except GradeFailure:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit, RecursionError, ... all fail the task
        raise GradeFailure(
            f"{what} raised {type(error).__name__}: {_short(str(error), 160)}{where(error)}"
        ) from None


def where(error: BaseException) -> str:
    """' (tinysiam/autograd.py, line 12)': the last frame of the error inside a workspace."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        parts = Path(frame.filename).parts
        if "tinysiam" in parts and "course" not in parts and not _is_library(frame.filename):
            inside = parts[len(parts) - 1 - parts[::-1].index("tinysiam") :]
            return f" ({'/'.join(inside)}, line {frame.lineno})"
    return ""


def _is_library(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(workspace.PACKAGE)


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
        detail = _short(detail, DETAIL_LIMIT)
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


if __name__ == "__main__":  # the child; run through the package's module, so one GradeFailure class
    from tinysiam.course.grading import child_main as _child_main

    _child_main(sys.argv[1:])
