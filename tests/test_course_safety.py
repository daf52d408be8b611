"""Grading a class: the verdict is out of the learner's reach, and no workspace can sink it.

Each cheating route, each limit of the learner's process and each malformed workspace gets a
row whose status and message are checked. Few tasks and short time limits keep each test quick.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
from workspace_edits import replace_body

from tinysiam.course import submission, workspace
from tinysiam.course.grading import assess, grade
from tinysiam.course.remote import Limits
from tinysiam.course.tasks import select

UNBROADCAST = "autograd.py"


def new(tmp_path: Path, spec: str, solved: bool = False) -> Path:
    directory = tmp_path / "ws"
    workspace.create(directory, select(spec), with_solutions=solved)
    return directory


def write_body(directory: Path, file: str, qualname: str, body: str) -> None:
    """Put ``body`` in place of the body of ``qualname`` (after its docstring)."""
    replace_body(directory / "tinysiam" / file, qualname, body)


def append(directory: Path, file: str, code: str) -> None:
    path = directory / "tinysiam" / file
    path.write_text(path.read_text() + "\n" + textwrap.dedent(code))


def rows_of(directory: Path, spec: str, timeout: float = 30.0, **options) -> dict:
    return {row.task: row for row in grade(directory, select(spec), timeout, **options)}


# ----- the verdict is reached outside the learner's process -----------------------------------
def test_patching_the_graders_from_the_workspace_grades_nothing(tmp_path):
    directory = new(tmp_path, "5.1")
    append(
        directory,
        "__init__.py",
        """
        import sys
        for _module in list(sys.modules.values()):  # no grader lives in this process
            for _name in dir(_module):
                if _name.startswith("grade_"):
                    setattr(_module, _name, lambda ws: None)
        try:
            import tinysiam.course.graders as _graders
        except ImportError:
            _graders = None
        """,
    )
    (row,) = grade(directory, select("5.1"), 30)
    assert row.status == "not started", row
    assert any(
        "tinysiam/__init__.py: code outside the task functions differs" in line
        for line in row.warnings
    ), row.warnings


# ----- a task passes on the learner's own code only -------------------------------------------
@pytest.mark.parametrize(
    ("body", "route"),
    [
        (
            "from tinysiam.autograd import unbroadcast as u\nreturn u(grad, shape)",
            "imports tinysiam",
        ),
        (
            "import importlib\n"
            "return importlib.import_module('tinysiam.autograd').unbroadcast(grad, shape)",
            "imports importlib",
        ),
        (
            "import sys\nreturn sys.modules['tinysiam.autograd'].unbroadcast(grad, shape)",
            ".modules",
        ),
        ("return __import__('tinysiam').autograd.unbroadcast(grad, shape)", "uses __import__"),
    ],
)
def test_calling_the_library_fails_the_task_saying_so(tmp_path, body, route):
    directory = new(tmp_path, "5.1")
    write_body(directory, UNBROADCAST, "unbroadcast", body)
    (row,) = grade(directory, select("5.1"), 30)
    assert row.status == "failed" and "must be your own code, not the library's" in row.detail
    assert route in row.detail and "(tinysiam/autograd.py, line" in row.detail, row.detail


def test_a_route_the_reader_misses_finds_no_library_in_the_learners_process(tmp_path):
    directory = new(tmp_path, "5.1,5.2")
    append(directory, "backend.py", "import importlib as _loader\n")
    write_body(  # the names spelled in pieces: only the running process can stop this
        directory,
        UNBROADCAST,
        "unbroadcast",
        """
        from .backend import _loader
        load = getattr(_loader, "import_" + "module")
        return load("tiny" + "siam.autograd").unbroadcast(grad, shape)
        """,
    )
    write_body(
        directory,
        "ops/reduce.py",
        "Sum.backward",
        """
        from .. import backend
        course = getattr(backend._loader, "import_" + "module")("tiny" + "siam.course.graders")
        return course
        """,
    )
    rows = rows_of(directory, "5.1,5.2")
    # tinysiam.autograd is the workspace's own module: the call comes back to itself
    assert rows["5.1"].status == "failed" and "RecursionError" in rows["5.1"].detail
    assert rows["5.2"].status == "failed"
    assert "ModuleNotFoundError: No module named 'tinysiam.course'" in rows["5.2"].detail
    assert any("tinysiam/backend.py: code outside" in line for line in rows["5.1"].warnings)


# ----- the teacher's list decides -----------------------------------------------------------
def test_a_trimmed_course_json_does_not_trim_the_teachers_list(tmp_path):
    directory = new(tmp_path, "3.1,5.1")
    manifest = json.loads((directory / "course.json").read_text())
    (directory / "course.json").write_text(json.dumps({**manifest, "tasks": ["5.1"]}))
    rows = rows_of(directory, "3.1,5.1")
    assert list(rows) == ["3.1", "5.1"]
    assert rows["3.1"].status == rows["5.1"].status == "not started"


def test_pre_solved_tasks_of_a_workspace_without_course_json_do_not_pass(tmp_path):
    directory = new(tmp_path, "5.1")
    (directory / "course.json").unlink()
    assessment = assess(directory, select("3.1,5.1"), 30)
    rows = {row.task: row for row in assessment.rows}
    assert rows["3.1"].status == "failed"
    assert rows["3.1"].detail.startswith("not assigned in this workspace")
    assert rows["5.1"].status == "not started"
    assert any("does not record the library" in line for line in assessment.warnings)


# ----- limits on the learner's process ------------------------------------------------------
def test_filling_the_memory_fails_at_once_naming_the_limit(tmp_path):
    directory = new(tmp_path, "5.1")
    write_body(directory, UNBROADCAST, "unbroadcast", "import numpy\nreturn numpy.ones(5 * 10**9)")
    started = time.monotonic()
    (row,) = grade(directory, select("5.1"), 30, limits=Limits(memory=2**30))
    assert time.monotonic() - started < 15
    assert row.status == "failed" and "MemoryError" in row.detail, row.detail
    assert "ran out of memory: the limit is 1 GiB" in row.detail


def test_an_endless_loop_fails_after_the_time_limit(tmp_path):
    directory = new(tmp_path, "5.1")
    write_body(directory, UNBROADCAST, "unbroadcast", "while True:\n    pass")
    (row,) = grade(directory, select("5.1"), 2)
    assert row.status == "failed" and "still running after 2 s" in row.detail


def test_a_cpu_time_limit_stops_a_loop_before_the_clock_does(tmp_path):
    directory = new(tmp_path, "5.1")
    write_body(directory, UNBROADCAST, "unbroadcast", "while True:\n    pass")
    (row,) = grade(directory, select("5.1"), 30, limits=Limits(cpu_seconds=1))
    assert row.status == "failed" and "more than 1 s of CPU time" in row.detail, row.detail
    assert row.seconds < 10


@pytest.mark.parametrize(
    "body",
    [
        "while True:\n    print('x' * 1000)",
        "with open('big.bin', 'wb') as f:\n    f.write(b'x' * 3 * 2**20)",
    ],
)
def test_output_past_the_limit_fails_the_task(tmp_path, body):
    directory = new(tmp_path, "5.1")
    write_body(directory, UNBROADCAST, "unbroadcast", body)
    (row,) = grade(directory, select("5.1"), 10)
    assert row.status == "failed" and "output limit, 1 MiB" in row.detail, row.detail


def test_a_hang_at_import_fails_every_task_at_once_with_one_message(tmp_path):
    directory = new(tmp_path, "3.1,5.1,6.2")
    append(directory, "__init__.py", "while True:\n    pass\n")
    started = time.monotonic()
    rows = grade(directory, select("3.1,5.1,6.2"), 2)
    assert time.monotonic() - started < 8  # one time-out, not one per task
    assert len({row.detail for row in rows}) == 1 and all(row.status == "failed" for row in rows)
    assert rows[0].detail.startswith("the workspace does not import: still running after 2 s")


def test_a_module_that_raises_on_import_fails_every_task_naming_the_line(tmp_path):
    directory = new(tmp_path, "3.1,5.1")
    append(directory, "ops/__init__.py", "raise ValueError('broken on purpose')\n")
    rows = grade(directory, select("3.1,5.1"), 30)
    assert len({row.detail for row in rows}) == 1
    assert (
        "does not import: ValueError: broken on purpose (tinysiam/ops/__init__.py" in rows[0].detail
    )


def test_the_submissions_time_limit_fails_the_tasks_left(tmp_path):
    directory = new(tmp_path, "5.1,6.2")
    write_body(directory, UNBROADCAST, "unbroadcast", "while True:\n    pass")
    rows = rows_of(directory, "5.1,6.2", timeout=60, total_timeout=3)
    assert "still running after" in rows["5.1"].detail
    assert rows["6.2"].status == "failed" and "submission's time limit (3 s)" in rows["6.2"].detail


# ----- malformed workspaces, named up front -------------------------------------------------
def test_a_deleted_task_file_fails_its_tasks_and_not_the_others(tmp_path):
    directory = new(tmp_path, "5.1,9.1")
    (directory / "tinysiam" / "reference" / "pool.py").unlink()
    rows = rows_of(directory, "5.1,9.1")
    assert rows["9.1"].status == "failed"
    assert rows["9.1"].detail.startswith("tinysiam/reference/pool.py is missing")
    assert rows["5.1"].status == "not started"


def test_a_renamed_function_fails_its_task_and_is_put_back_for_the_others(tmp_path):
    directory = new(tmp_path, "3.2,5.1", solved=True)
    path = directory / "tinysiam" / UNBROADCAST
    path.write_text(path.read_text().replace("def unbroadcast(", "def sum_to_shape("))
    rows = rows_of(directory, "3.2,5.1", accept_library_code=True)
    assert "has no function unbroadcast (renamed or deleted?)" in rows["5.1"].detail
    assert rows["3.2"].status == "passed", rows["3.2"].detail  # backward uses the library's


def test_a_changed_signature_is_named(tmp_path):
    directory = new(tmp_path, "5.1")
    path = directory / "tinysiam" / UNBROADCAST
    path.write_text(path.read_text().replace("def unbroadcast(grad", "def unbroadcast(g"))
    (row,) = grade(directory, select("5.1"), 30)
    assert row.status == "failed" and "must keep its signature (grad" in row.detail, row.detail


def test_inspection_of_a_solved_workspace_finds_nothing(tmp_path):
    found = submission.inspect(new(tmp_path, "all", solved=True))
    assert found.broken is None and found.problems == {} and found.routes == {}
    assert found.warnings == [] and len(found.library_code) == len(select("all"))


# ----- the library a workspace was made from --------------------------------------------------
def test_course_json_records_the_library_and_a_different_one_is_a_warning(tmp_path):
    directory = new(tmp_path, "5.1")
    manifest = json.loads((directory / "course.json").read_text())
    assert manifest["library_source_sha256"] == workspace.library_fingerprint()
    assert workspace.library_warning(directory) is None
    (directory / "course.json").write_text(
        json.dumps({**manifest, "library_source_sha256": "0" * 64})
    )
    warning = workspace.library_warning(directory)
    assert warning is not None and "made from tinysiam" in warning and "000000000000" in warning
    (row,) = grade(directory, select("5.1"), 30)
    assert row.warnings == [warning]
