"""Grading a workspace: one row per task, reached in this process, the learner's code in another.

``grade(DIR, tasks)`` returns one :class:`Row` per task: passed, failed or not started;
``assess(DIR, tasks)`` returns the rows and the workspace's warnings. Nothing of the learner's
runs in this process, so nothing a learner's code does (patch the graders, raise SystemExit,
loop forever, print without end, fill the memory, crash NumPy) can change a grade:

1. the workspace is read, not run (:func:`submission.inspect`): a file that does not parse, a
   task's file or function deleted or renamed, a changed signature, code that reaches for the
   installed library, tasks left as the library's code, code changed outside the tasks;
2. the workspace is imported once in a learner process (:mod:`.remote`); when that raises or
   hangs, every task fails at once with that one message;
3. each task gets a fresh copy of the workspace with every other task's functions the
   library's (:func:`submission.assemble`) and a fresh learner process, limited in memory, CPU
   time and output. Its grader (:mod:`.graders`) runs here, calls the learner's functions
   through proxies and compares what comes back with the installed library's answers. A task
   that runs past its time limit, or whose process dies, fails; the next task starts afresh.

A task is *not started* when its grader stops at the task's own NotImplementedError and every
function of the task is still the stub; it *passed* when every check of its grader held.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import graders, submission, workspace
from .grader_helpers import GradeFailure, Workspace, kind, shorten, where
from .remote import Learner, LearnerError, LearnerStopped, Limits
from .tasks import Task

PASSED, FAILED, NOT_STARTED = "passed", "failed", "not started"
DEFAULT_TIMEOUT = 120.0  # seconds per task
DETAIL_LIMIT = 600  # characters of a failure shown


@dataclass
class Row:
    """The grade of one task, and the workspace's warnings (another library, changed code)."""

    task: str
    title: str
    page: str
    status: str
    detail: str | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


@dataclass
class Assessment:
    """The rows of the graded tasks and the warnings about the workspace as a whole."""

    rows: list[Row]
    warnings: list[str]


def grade(
    directory: Path,
    tasks: list[Task],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    limits: Limits | None = None,
    total_timeout: float | None = None,
    accept_library_code: bool = False,
) -> list[Row]:
    """Grade ``tasks`` of the workspace in ``directory``, in order; see :func:`assess`."""
    return assess(
        directory,
        tasks,
        timeout,
        limits=limits,
        total_timeout=total_timeout,
        accept_library_code=accept_library_code,
    ).rows


def assess(
    directory: Path,
    tasks: list[Task],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    limits: Limits | None = None,
    total_timeout: float | None = None,
    accept_library_code: bool = False,
) -> Assessment:
    """Grade ``tasks`` (the teacher's list decides, not the workspace's course.json).

    Args:
        directory: the workspace.
        tasks: the tasks to grade, in order.
        timeout: seconds per task, the workspace's import included.
        limits: memory, output and CPU time of the learner's process (default :class:`Limits`).
        total_timeout: seconds for the whole submission; the tasks left when it is spent fail.
        accept_library_code: let a task whose functions are the library's own code pass (a
            solved workspace, for teachers and CI); by default such a task fails as not
            assigned in this workspace.
    """
    directory = directory.resolve()
    limits = limits or Limits()
    started = time.monotonic()
    found = submission.inspect(directory)
    warnings = [w for w in [workspace.library_warning(directory)] if w] + found.warnings
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tinysiam-course-") as folder:
        stop = found.broken or _import_failure(directory, Path(folder), limits, timeout)
        for task in tasks:
            spent = time.monotonic() - started
            if stop is None and total_timeout is not None and spent > total_timeout:
                stop = (
                    f"not graded: the submission's time limit ({total_timeout:g} s) was "
                    "spent on the tasks before"
                )
            if stop is not None:
                rows.append(_row(task, FAILED, stop))
                continue
            left = timeout
            if total_timeout is not None:
                left = min(timeout, total_timeout - (time.monotonic() - started))
            place = Path(folder) / f"task-{task.id}"
            rows.append(
                _grade_task(directory, task, place, found, limits, left, accept_library_code)
            )
    for row in rows:
        row.warnings = list(warnings)
    return Assessment(rows, warnings)


def _row(task: Task, status: str, detail: str | None, seconds: float = 0.0) -> Row:
    if detail is not None:
        detail = shorten(detail, DETAIL_LIMIT)
    return Row(task.id, task.title, task.page, status, detail, round(seconds, 2))


def _start(
    directory: Path, task: Task | None, folder: Path, limits: Limits, timeout: float
) -> Learner:
    """A learner process on the workspace assembled for ``task`` (None: all the library's)."""
    folder.mkdir(parents=True)
    origins = submission.assemble(directory, task, folder / "copy")
    per_process = dataclasses.replace(
        limits, cpu_seconds=min(limits.cpu_seconds, math.ceil(timeout) + 1)
    )
    return Learner(folder / "copy", origins, per_process, time.monotonic() + timeout, folder)


def _import_failure(directory: Path, folder: Path, limits: Limits, timeout: float) -> str | None:
    """Why the workspace does not import (with the library's code in every task), or None."""
    try:
        _start(directory, None, folder / "import", limits, timeout).close()
    except LearnerError as error:
        return f"the workspace does not import: {kind(error)}: {error}{where(error)}"
    except LearnerStopped as error:
        return f"the workspace does not import: {error}"
    return None


def _grade_task(
    directory: Path,
    task: Task,
    folder: Path,
    found: submission.Inspection,
    limits: Limits,
    timeout: float,
    accept_library_code: bool,
) -> Row:
    start = time.perf_counter()

    def row(status: str, detail: str | None) -> Row:
        return _row(task, status, detail, time.perf_counter() - start)

    for problems in (found.problems, found.routes):
        if task.id in problems:
            return row(FAILED, problems[task.id])
    if task.id in found.library_code and not accept_library_code:
        return row(
            FAILED,
            f"not assigned in this workspace: every function of task {task.id} is the library's "
            "own code, never stubbed, so it does not count as yours; make a workspace with this "
            "task (python -m tinysiam.course new DIR --tasks ...)",
        )
    learner = None
    try:
        learner = _start(directory, task, folder, limits, timeout)
        getattr(graders, task.grader)(Workspace(learner, directory))
        return row(PASSED, None)
    except BaseException as error:  # noqa: BLE001
        error = _first(error)
        if isinstance(error, KeyboardInterrupt):
            raise
        if isinstance(error, LearnerStopped):
            return row(FAILED, str(error))
        if isinstance(error, NotImplementedError) and str(error).startswith(f"Task {task.id}:"):
            if _all_stubs(directory, task):
                return row(NOT_STARTED, str(error))
            return row(FAILED, f"not written yet: {error}")
        if isinstance(error, GradeFailure):
            return row(FAILED, str(error))
        return row(FAILED, f"{kind(error)}: {error}{where(error)}")
    finally:
        if learner is not None:
            learner.close()


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
