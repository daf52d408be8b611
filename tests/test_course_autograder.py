"""The Gradescope autograder: the zip, run_autograder end to end, check --format gradescope.

Each submission is graded the way Gradescope grades it: the zip unpacked into
``ROOT/source``, the submission in ``ROOT/submission``, ``run_autograder`` run from a copy at
``ROOT/run_autograder`` with ``TINYSIAM_AUTOGRADER_ROOT=ROOT``, the results read from
``ROOT/results/results.json``. setup.sh's installs are not run (this machine is offline; the
project is installed here already): run_autograder is pointed at this Python, with the zip's
tinysiam on its path.

A submission passes a task on the learner's own code only: the library's (a workspace made
with --with-solutions, or a task's body copied from it) does not count. The "student" below
writes the graded tasks in other words than the library's (OWN).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from workspace_edits import replace_body

from tinysiam.course import gradescope, workspace
from tinysiam.course.__main__ import main
from tinysiam.course.tasks import TASKS, select

GRADED = "5.1,6.2,8.1,11.1"  # quick tasks, in four files
POINTS = "2,8.1=5"
MAX_SCORE = {"5.1": 2.0, "6.2": 2.0, "8.1": 5.0, "11.1": 2.0}
TITLES = {task.id: task.title for task in TASKS}
VERSION = workspace.version()

# A student's solutions of the GRADED tasks: file, function, body
OWN = {
    "5.1": [
        (
            "autograd.py",
            "unbroadcast",
            """\
while grad.ndim > len(shape):  # the axes broadcasting added in front
    grad = grad.sum(axis=0)
for axis, size in enumerate(shape):  # the axes it stretched from 1
    if size == 1 and grad.shape[axis] != 1:
        grad = grad.sum(axis=axis, keepdims=True)
return grad""",
        )
    ],
    "6.2": [
        (
            "ops/elementwise.py",
            "ReLUOp.forward",
            "out = a * (a > 0)\nctx.save_for_backward(out)\nreturn out",
        ),
        (
            "ops/elementwise.py",
            "ReLUOp.backward",
            "(out,) = ctx.saved_tensors\nreturn (grad * (out != 0),)",
        ),
    ],
    "8.1": [
        (
            "reference/conv.py",
            "im2col",
            """\
xp = get_array_module(x_padded)
(sh, sw), (oh, ow) = stride, out_hw
rows = []
for channel in range(x_padded.shape[1]):  # one row per (channel, i, j)
    for i in range(kh):
        for j in range(kw):
            window = x_padded[:, channel, i : i + sh * oh : sh, j : j + sw * ow : sw]
            rows.append(window.reshape(-1))  # (N * OH * OW,)
return xp.stack(rows)""",
        )
    ],
    "11.1": [
        (
            "reference/optim.py",
            "ReferenceSGD.step",
            """\
for i, p in enumerate(self.params):
    if p.grad is None:
        continue
    state = self._buffers(i, ("momentum_buffer",) if self.momentum else ())
    state["step"] = state.get("step", 0) + 1
    velocity = p.grad
    if self.momentum:
        velocity = self.momentum * state["momentum_buffer"] + p.grad
        state["momentum_buffer"] = velocity
    p.data -= self.lr * velocity""",
        )
    ],
}
WRONG_IM2COL = OWN["8.1"][0][2].replace("x_padded.shape[1]", "x_padded.shape[1] - 1")
NOT_ASSIGNED = "not assigned in this workspace: every function of task"


def course_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m tinysiam.course ARGS`` in a new process, as a teacher or student runs it."""
    command = [sys.executable, "-m", "tinysiam.course", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def course(*args: str) -> tuple[int, str, str]:
    """``python -m tinysiam.course ARGS`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def make_autograder(folder: Path, *options: str) -> Path:
    """Write an autograder zip with the CLI, unpack it to ``folder/source``; return the zip."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "autograder.zip"
    code, stdout, stderr = course("autograder", "--out", str(out), *options)
    assert code == 0, stderr
    assert f"wrote {out}" in stdout
    with zipfile.ZipFile(out) as archive:
        archive.extractall(folder / "source")
    for script in ("setup.sh", "run_autograder"):  # extractall drops the mode; Gradescope keeps it
        (folder / "source" / script).chmod(0o755)
    return out


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unpacked autograder of the GRADED tasks, worth POINTS (its folder holds source/)."""
    folder = tmp_path_factory.mktemp("autograder")
    make_autograder(folder, "--tasks", GRADED, "--points", POINTS)
    return folder


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``new --with-solutions``: every task the library's own code."""
    directory = tmp_path_factory.mktemp("solved") / "ws"
    workspace.create(directory, list(TASKS), with_solutions=True)
    return directory


def write_tasks(directory: Path, task_ids: str, wrong_im2col: bool = False) -> None:
    """Write the student's solutions (OWN) of ``task_ids`` into the workspace ``directory``."""
    for task_id in task_ids.split(","):
        for file, qualname, body in OWN[task_id]:
            if wrong_im2col and qualname == "im2col":
                body = WRONG_IM2COL
            replace_body(directory / "tinysiam" / file, qualname, body)


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh workspace with the GRADED tasks written by the student (every other task stubbed)."""
    directory = tmp_path_factory.mktemp("student") / "ws"
    workspace.create(directory, list(TASKS))
    write_tasks(directory, GRADED)
    return directory


@pytest.fixture(scope="module")
def half_solved(tmp_path_factory: pytest.TempPathFactory, solved: Path) -> Path:
    """A fresh workspace: 5.1 written, 6.2 not started, 8.1 written wrong, 11.1's file copied
    from the solved workspace. Its course.json lists task 3.1 only: the autograder ignores it."""
    directory = tmp_path_factory.mktemp("half") / "ws"
    workspace.create(directory, list(TASKS))
    write_tasks(directory, "5.1,8.1", wrong_im2col=True)
    optim = "tinysiam/reference/optim.py"
    shutil.copyfile(solved / optim, directory / optim)
    manifest = json.loads((directory / "course.json").read_text())
    (directory / "course.json").write_text(json.dumps({**manifest, "tasks": ["3.1"]}))
    return directory


def run_autograder(
    autograder: Path, root: Path, submit: Any = None, **env: str
) -> tuple[dict, str]:
    """Lay out Gradescope's /autograder in ``root``, submit, run run_autograder.

    ``submit(folder)`` puts the submission's files into ``root/submission``.

    Returns:
        results.json, and what run_autograder printed (Gradescope shows it to the teacher).
    """
    shutil.copytree(autograder / "source", root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    if submit is not None:
        submit(root / "submission")
    completed = subprocess.run(
        ["bash", str(root / "run_autograder")],
        cwd=root,
        env={
            **os.environ,
            "TINYSIAM_AUTOGRADER_ROOT": str(root),
            "TINYSIAM_AUTOGRADER_PYTHON": sys.executable,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads((root / "results" / "results.json").read_text()), completed.stdout


def check_results(results: dict, expected: dict[str, tuple[str, str]]) -> None:
    """Every documented field of ``results``; ``expected``: {task: (status, text in output)}."""
    assert set(results) == {"score", "execution_time", "output", "tests", "extra_data"}
    assert [test["number"] for test in results["tests"]] == list(expected)
    for test in results["tests"]:
        task = test["number"]
        status, text = expected[task]
        assert set(test) == {"name", "number", "score", "max_score", "status", "output"}
        assert test["name"] == f"{task} {TITLES[task]}"
        assert test["max_score"] == MAX_SCORE[task]
        assert test["status"] == status
        assert test["score"] == (MAX_SCORE[task] if status == "passed" else 0.0)
        assert text in test["output"], (task, test["output"])
    score = sum(test["score"] for test in results["tests"])
    passed = sum(test["status"] == "passed" for test in results["tests"])
    assert results["score"] == score and isinstance(results["score"], float)
    assert results["output"].startswith(
        f"{passed} of {len(expected)} tasks passed: {score:g} of {sum(MAX_SCORE.values()):g} "
        "points (tinysiam "
    )
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert results["extra_data"] == {"tinysiam_version": VERSION}


# ----- the zip -------------------------------------------------------------------------------
def test_the_zip_has_gradescope_scripts_at_its_root_and_carries_the_library(autograder):
    with zipfile.ZipFile(autograder / "autograder.zip") as archive:
        entries = {entry.filename: entry for entry in archive.infolist()}
        config = json.loads(archive.read("autograder.json"))
        requirements = archive.read("requirements.txt").decode().split()
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(entries[script].external_attr >> 16) == 0o755
        assert (autograder / "source" / script).read_text().startswith("#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", str(autograder / "source" / script)], check=True)
    library = sorted(
        "tinysiam/" + path.relative_to(workspace.PACKAGE).as_posix()
        for path in workspace.PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert sorted(name for name in entries if name.startswith("tinysiam/")) == library
    assert "tinysiam/course/gradescope.py" in library
    assert config == {
        "tinysiam_version": VERSION,
        "tasks": list(MAX_SCORE),
        "points": MAX_SCORE,
        "timeout": 120.0,
        "total_timeout": 540.0,
    }
    assert [line.split("==")[0] for line in requirements] == ["numpy", "hypothesis"]
    assert all(line.count("==") == 1 and line.split("==")[1] for line in requirements)


def test_the_zip_is_the_same_bytes_each_time(tmp_path):
    tasks = select("5.1")
    first = gradescope.build(tmp_path / "a.zip", tasks, {"5.1": 1.0}, 10.0).read_bytes()
    second = gradescope.build(tmp_path / "b.zip", tasks, {"5.1": 1.0}, 10.0).read_bytes()
    assert first == second


# ----- run_autograder, end to end ------------------------------------------------------------
def test_a_solved_submission_scores_every_point_with_the_zips_tinysiam(
    autograder, student, tmp_path
):
    def submit(folder: Path) -> None:  # a zip of the folder, unpacked: the folder, and macOS's
        shutil.copytree(student, folder / "ws")
        (folder / "__MACOSX" / "ws" / "tinysiam").mkdir(parents=True)

    results, log = run_autograder(autograder, tmp_path, submit)
    check_results(results, {task: ("passed", "passed") for task in MAX_SCORE})
    assert results["score"] == 11.0
    assert results["output"] == f"4 of 4 tasks passed: 11 of 11 points (tinysiam {VERSION})"
    assert f"grading {tmp_path / 'submission' / 'ws' / 'tinysiam'}\n" in log
    assert f"with tinysiam {VERSION} from {tmp_path / 'source' / 'tinysiam'}\n" in log


def test_the_librarys_own_code_scores_nothing(autograder, solved, tmp_path):
    results, _ = run_autograder(autograder, tmp_path, lambda f: shutil.copytree(solved, f / "ws"))
    check_results(results, {task: ("failed", NOT_ASSIGNED) for task in MAX_SCORE})
    assert results["score"] == 0.0


@pytest.fixture(scope="module")
def half_solved_results(
    autograder: Path, half_solved: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    root = tmp_path_factory.mktemp("root")
    return run_autograder(autograder, root, lambda f: shutil.copytree(half_solved, f / "w"))[0]


def test_a_half_solved_submission_scores_its_passed_tasks_and_says_why_not(
    half_solved, half_solved_results
):
    results = half_solved_results
    checked = course_cli("check", "8.1", "--workspace", str(half_solved), "--json", "-")
    failure = json.loads(checked.stdout)["tasks"][0]  # what check prints
    assert failure["status"] == "failed" and failure["detail"].startswith("im2col(x_padded = ")
    check_results(
        results,
        {
            "5.1": ("passed", "passed"),
            "6.2": ("failed", "not started: Task 6.2: ReLUOp.forward: "),
            "8.1": ("failed", f"{failure['detail']}\n\ntaught on docs page 8 (08-convolution.md)"),
            "11.1": ("failed", NOT_ASSIGNED),
        },
    )
    assert results["score"] == 2.0


def test_a_syntax_error_fails_every_task_naming_the_file(autograder, student, tmp_path):
    def submit(folder: Path) -> None:
        shutil.copytree(student, folder / "ws")
        with (folder / "ws" / "tinysiam" / "reference" / "conv.py").open("a") as file:
            file.write("\ndef im2col_twice(x:\n")

    results, _ = run_autograder(autograder, tmp_path, submit)
    text = "the workspace does not import: SyntaxError"
    check_results(results, {task: ("failed", text) for task in MAX_SCORE})
    assert all("tinysiam/reference/conv.py, line" in test["output"] for test in results["tests"])


def test_an_endless_loop_fails_its_task_within_the_time_limit(student, tmp_path):
    make_autograder(tmp_path / "zip", "--tasks", GRADED, "--points", POINTS, "--timeout", "3")

    def submit(folder: Path) -> None:
        shutil.copytree(student, folder / "ws")
        replace_body(
            folder / "ws" / "tinysiam" / "autograd.py", "unbroadcast", "while True:\n    pass"
        )

    results, _ = run_autograder(tmp_path / "zip", tmp_path / "root", submit)
    expected = {task: ("passed", "passed") for task in MAX_SCORE}
    check_results(results, {**expected, "5.1": ("failed", "3 s")})
    assert results["score"] == 9.0


def test_a_missing_task_file_fails_its_task_and_the_others_are_graded(
    autograder, student, tmp_path
):
    def submit(folder: Path) -> None:  # the package's folder alone, one file short
        shutil.copytree(student / "tinysiam", folder / "tinysiam")
        (folder / "tinysiam" / "reference" / "optim.py").unlink()

    results, _ = run_autograder(autograder, tmp_path, submit)
    expected = {task: ("passed", "passed") for task in MAX_SCORE}
    missing = "the submission has no tinysiam/reference/optim.py"
    check_results(results, {**expected, "11.1": ("failed", missing)})
    assert results["output"].splitlines()[1] == (
        "not in the submission, so taken from the library (a graded task of one of them "
        "scores 0): tinysiam/reference/optim.py"
    )


def test_an_empty_submission_scores_zero_with_rows_that_say_so(autograder, tmp_path):
    results, _ = run_autograder(autograder, tmp_path)
    check_results(results, {task: ("failed", gradescope.NO_WORKSPACE) for task in MAX_SCORE})
    assert all(test["output"] == gradescope.NO_WORKSPACE for test in results["tests"])
    assert results["score"] == 0.0
    assert results["output"].splitlines()[1] == gradescope.NO_WORKSPACE


def test_a_grader_that_cannot_start_still_leaves_results(autograder, tmp_path):
    results, _ = run_autograder(autograder, tmp_path, TINYSIAM_AUTOGRADER_PYTHON="false")
    assert results["score"] == 0
    assert results["output"].startswith("The autograder could not grade this submission")


@pytest.mark.parametrize(
    "layout, found",
    [
        ({"ws/course.json": "", "ws/tinysiam/autograd.py": ""}, "ws/tinysiam"),
        ({"a/b/tinysiam/autograd.py": "", ".hidden/tinysiam/autograd.py": ""}, "a/b/tinysiam"),
        ({"__init__.py": "", "autograd.py": "", "ops/reduce.py": ""}, "."),
        ({"ws/course.json": ""}, "ws/tinysiam"),  # a workspace without its package
        ({"notes.txt": "", "src/autograd.py": ""}, None),
    ],
)
def test_the_package_is_found_wherever_the_submission_holds_it(tmp_path, layout, found):
    for name, text in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    package = gradescope.find_package(tmp_path)
    assert package == (None if found is None else tmp_path / found)


# ----- check --format gradescope and --points ------------------------------------------------
def test_check_prints_the_results_json_run_autograder_writes(half_solved, half_solved_results):
    checked = course_cli(
        "check",
        GRADED,
        "--workspace",
        str(half_solved),
        "--format",
        "gradescope",
        "--points",
        POINTS,
    )
    assert checked.returncode == 1  # not every task passed, as for the table
    local = json.loads(checked.stdout)
    on_gradescope = dict(half_solved_results)
    for results in (local, on_gradescope):
        del results["execution_time"]
    assert local == on_gradescope


@pytest.mark.parametrize(
    "spec, expected",
    [
        (None, {"5.1": 1.0, "8.1": 1.0}),
        ("3", {"5.1": 3.0, "8.1": 3.0}),
        ("8.1=2.5", {"5.1": 1.0, "8.1": 2.5}),
        ("8.1=5, 2", {"5.1": 2.0, "8.1": 5.0}),
        ("0,5.1=1", {"5.1": 1.0, "8.1": 0.0}),
    ],
)
def test_points(spec, expected):
    assert gradescope.parse_points(spec, select("5.1,8.1")) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("3.2=1", "'3.2=1' names task '3.2', which is not graded; the tasks graded: 5.1, 8.1"),
        ("8.1=many", "'8.1=many': expected points as a number >= 0"),
        ("-1", "'-1': expected points as a number >= 0"),
        ("5.1=nan", "'5.1=nan': expected points"),
    ],
)
def test_points_that_cannot_be_read_are_refused_saying_why(spec, message):
    with pytest.raises(gradescope.PointsError, match="^" + message.replace(".", r"\.")):
        gradescope.parse_points(spec, select("5.1,8.1"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["autograder", "--tasks", "5.1", "--points", "8.1=2"], "--points: '8.1=2' names task"),
        (["autograder", "--tasks", "99"], "--tasks: "),
        (["autograder", "--timeout", "0"], "--timeout must be positive"),
        (["autograder", "--out", "."], "--out . is a folder"),
        (
            ["autograder", "--out", "nowhere/a.zip"],
            "--out nowhere/a.zip: there is no folder nowhere",
        ),
        (["autograder", "--total-timeout", "-5"], "--total-timeout must be positive, got -5"),
        (["check", "--workspace", "{ws}", "--points", "2"], "--points goes with --format"),
        (
            ["check", "--workspace", "{ws}", "--format", "gradescope", "--json", "-"],
            "--json writes the course's format",
        ),
    ],
)
def test_bad_command_lines_get_a_clear_message(solved, args, message):
    code, _, stderr = course(*(arg.format(ws=solved) for arg in args))
    assert code == 2
    assert message in stderr
