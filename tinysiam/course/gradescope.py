"""Gradescope: the autograder zip a teacher uploads, and the results.json it writes.

    python -m tinysiam.course autograder --out autograder.zip --tasks 3-5 --points 2,5.1=4

Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "Autograder
Specifications"): the zip holds ``setup.sh`` and ``run_autograder`` at its root. Gradescope
unpacks it into ``/autograder/source`` and runs ``setup.sh`` there once, while it builds the
image that grades; then, for each submission, it puts the student's files into
``/autograder/submission`` (a zip the student uploads arrives unpacked), runs ``run_autograder``
from ``/autograder`` and shows the student ``/autograder/results/results.json``.

The zip this module writes (:func:`build`):

    setup.sh           Python 3.11 or newer in the virtual environment /autograder/venv, with
                       NumPy and Hypothesis (requirements.txt) and /autograder/source on its path
    run_autograder     ``python -m tinysiam.course.gradescope``, also with /autograder/source on
                       PYTHONPATH: the tinysiam that grades is the one in the zip
    requirements.txt   NumPy and Hypothesis, pinned to the versions the zip was made with
    autograder.json    the tasks graded, the points of each, the time limits of a task and of
                       the whole submission
    tinysiam/          the library's source, the teacher's version (it is not on a package index)

The results (:func:`grade_package`), one test per task; a task scores all its points or none:

    {"score": 3.0, "execution_time": 2,
     "output": "1 of 2 tasks passed: 3 of 4 points (tinysiam 0.1.0)",
     "tests": [{"name": "5.1 unbroadcast", "number": "5.1", "score": 3.0, "max_score": 3.0,
                "status": "passed", "output": "passed"},
               {"name": "8.1 im2col", "number": "8.1", "score": 0.0, "max_score": 1.0,
                "status": "failed", "output": "<the first failing input, shrunk>..."}],
     "extra_data": {"tinysiam_version": "0.1.0"}}

``TINYSIAM_AUTOGRADER_ROOT`` moves ``/autograder`` elsewhere (to try the autograder on your
machine, and for the tests); ``TINYSIAM_AUTOGRADER_PYTHON`` names the Python run_autograder uses
instead of /autograder/venv's.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections import deque
from importlib import metadata
from pathlib import Path
from typing import Any

from .grading import FAILED, NOT_STARTED, PASSED, Row, assess
from .submission import engine_files
from .tasks import TASKS_BY_ID, Task
from .workspace import MANIFEST, PACKAGE, library_path, version

ROOT_VARIABLE = "TINYSIAM_AUTOGRADER_ROOT"
DEFAULT_ROOT = Path("/autograder")
CONFIG = "autograder.json"
DEFAULT_TOTAL_TIMEOUT = 540.0  # seconds per submission: under Gradescope's default of 10 minutes
REQUIREMENTS = ("numpy", "hypothesis")  # what grading imports besides tinysiam
NO_WORKSPACE = (
    "no workspace in the submission: upload your workspace folder (the one holding course.json "
    "and tinysiam/) or a zip of it"
)


class PointsError(ValueError):
    """A --points value that cannot be read; the message says what was expected."""


# ----- points --------------------------------------------------------------------------------
def parse_points(spec: str | None, tasks: list[Task]) -> dict[str, float]:
    """The points of each task from a --points value.

    Comma-separated items: a number is every task's points (default 1), ``TASK=POINTS`` one
    task's: "2" (2 each), "5.1=3,8.1=5" (those two; the others 1), "2,8.1=5".

    Returns:
        {task id: points} for every task of ``tasks``, in their order.
    """
    graded = [task.id for task in tasks]
    default, chosen = 1.0, {}
    for item in (part.strip() for part in (spec or "").split(",")):
        if not item:
            continue
        task_id, equals, value = item.rpartition("=")
        points = _points(value, item)
        if not equals:
            default = points
        elif task_id.strip() in graded:
            chosen[task_id.strip()] = points
        else:
            raise PointsError(
                f"{item!r} names task {task_id.strip()!r}, which is not graded; "
                f"the tasks graded: {', '.join(graded)}"
            )
    return {task_id: chosen.get(task_id, default) for task_id in graded}


def _points(value: str, item: str) -> float:
    try:
        points = float(value)
    except ValueError:
        points = math.nan
    if not math.isfinite(points) or points < 0:
        raise PointsError(
            f"{item!r}: expected points as a number >= 0 ('2') or TASK=POINTS ('8.1=5')"
        )
    return points


# ----- the zip -------------------------------------------------------------------------------
def build(
    out: Path,
    tasks: list[Task],
    points: dict[str, float],
    timeout: float,
    total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT,
) -> Path:
    """Write the autograder zip to ``out``: grade ``tasks``, worth ``points``.

    Args:
        timeout: seconds per task; total_timeout: seconds per submission (None: no limit).

    The same inputs give the same bytes (the entries are sorted and dated 1980-01-01).
    """
    config = {
        "tinysiam_version": version(),
        "tasks": [task.id for task in tasks],
        "points": {task.id: points[task.id] for task in tasks},
        "timeout": timeout,
        "total_timeout": total_timeout,
    }
    requirements = "".join(f"{name}=={metadata.version(name)}\n" for name in REQUIREMENTS)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "setup.sh", SETUP_SH, executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(archive, "requirements.txt", requirements)
        _add(archive, CONFIG, json.dumps(config, indent=2) + "\n")
        for path in sorted(PACKAGE.rglob("*.py")):
            if "__pycache__" not in path.parts:
                name = "tinysiam/" + path.relative_to(PACKAGE).as_posix()
                _add(archive, name, path.read_text())
    return out


def _add(archive: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = (0o100755 if executable else 0o100644) << 16  # a file, its mode
    archive.writestr(entry, text)


# ----- finding the workspace in a submission -------------------------------------------------
def find_package(submission: Path, depth: int = 4) -> Path | None:
    """The submitted ``tinysiam`` package: the shallowest folder that is one.

    A folder is the package when it is named ``tinysiam``, when it is the ``tinysiam`` of a
    folder holding ``course.json`` (it may be missing: then every file is), or when it holds
    ``__init__.py`` and ``autograd.py`` (the package's files uploaded without their folder).
    Hidden folders, ``__MACOSX`` and links are not searched. None when there is no package.
    """
    folders = deque([(submission, 0)])
    while folders:
        folder, level = folders.popleft()
        if (folder / "tinysiam").is_dir() or (folder / "course.json").is_file():
            return folder / "tinysiam"
        if (folder / "__init__.py").is_file() and (folder / "autograd.py").is_file():
            return folder
        if level < depth and folder.is_dir():
            folders.extend(
                (child, level + 1)
                for child in sorted(folder.iterdir())
                if child.is_dir()
                and not child.is_symlink()
                and not child.name.startswith((".", "__"))
            )
    return None


def _copy_package(package: Path, copy: Path) -> set[str]:
    """Copy the .py files of ``package`` to ``copy``; put the library's in for the missing ones.

    Links are not followed (a link to the library's own file is no answer). Returns the missing
    files, as paths inside the package ("reference/pool.py").
    """
    copy.mkdir(parents=True)
    if package.is_dir():
        for path in package.rglob("*.py"):
            inside = path.relative_to(package)
            if path.is_file() and not _skipped(path, inside):
                (copy / inside).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy / inside)
    missing = {file for file in engine_files() if not (copy / file).is_file()}
    for file in missing:
        (copy / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library_path(file), copy / file)
    return missing


def _skipped(path: Path, inside: Path) -> bool:
    in_link = any(parent.is_symlink() for parent in [path, *path.parents][: len(inside.parts)])
    return in_link or any(part.startswith((".", "__pycache__")) for part in inside.parts)


# ----- grading -------------------------------------------------------------------------------
def grade_package(
    package: Path | None,
    tasks: list[Task],
    points: dict[str, float],
    timeout: float,
    total_timeout: float | None = None,
    tinysiam_version: str | None = None,
) -> dict[str, Any]:
    """Grade the submitted package ``package`` (None: there was none) and return results.json.

    The package is graded in a copy, beside its workspace's course.json if it has one (which
    says what library the workspace was made from; the tasks are ``tasks``, whatever it lists).
    Files the package lacks are the library's in the copy, so that it still imports; a task
    whose own file is missing fails without being graded. The workspace's warnings (code
    changed outside the tasks, another library) go into the results' output.

    Args:
        timeout: seconds per task; total_timeout: seconds for the whole submission (the tasks
            left when it is spent fail), or None.
    """
    start = time.monotonic()
    notes = []
    if package is None:
        rows = [_failed(task, NO_WORKSPACE) for task in tasks]
        notes.append(NO_WORKSPACE)
    else:
        with tempfile.TemporaryDirectory(prefix="tinysiam-submission-") as folder:
            copy = Path(folder)
            missing = _copy_package(package, copy / "tinysiam")
            if package.name == "tinysiam" and (package.parent / MANIFEST).is_file():
                shutil.copyfile(package.parent / MANIFEST, copy / MANIFEST)
            by_id = {}
            for task in tasks:
                lacking = sorted({target.file for target in task.targets} & missing)
                if lacking:
                    named = ", ".join(f"tinysiam/{file}" for file in lacking)
                    by_id[task.id] = _failed(task, f"the submission has no {named}")
            to_grade = [task for task in tasks if task.id not in by_id]
            if to_grade:
                graded = assess(copy, to_grade, timeout, total_timeout=total_timeout)
                by_id |= {row.task: row for row in graded.rows}
                notes += [warning.replace(f"{copy}/", "") for warning in graded.warnings]
            rows = [by_id[task.id] for task in tasks]
        if missing:
            files = [f"tinysiam/{file}" for file in sorted(missing)]
            more = f" and {len(files) - 5} more" if len(files) > 5 else ""
            notes.insert(
                0,
                f"not in the submission, so taken from the library (a graded task of one of "
                f"them scores 0): {', '.join(files[:5])}{more}",
            )
    return results_json(
        rows, points, time.monotonic() - start, notes, tinysiam_version or version()
    )


def _failed(task: Task, detail: str) -> Row:
    return Row(task.id, task.title, task.page, FAILED, detail, 0.0)


def results_json(
    rows: list[Row], points: dict[str, float], seconds: float, notes: list[str], tinysiam: str
) -> dict[str, Any]:
    """Gradescope's results.json of ``rows``: one test per task, all its points or none."""
    tests = [
        {
            "name": f"{row.task} {row.title}",
            "number": row.task,
            "score": points[row.task] if row.status == PASSED else 0.0,
            "max_score": points[row.task],
            "status": "passed" if row.status == PASSED else "failed",
            "output": _output(row),
        }
        for row in rows
    ]
    passed = [row.task for row in rows if row.status == PASSED]
    score = float(sum(points[task_id] for task_id in passed))
    summary = (
        f"{len(passed)} of {len(rows)} task{'s' if len(rows) != 1 else ''} passed: "
        f"{score:g} of {sum(points.values()):g} points (tinysiam {tinysiam})"
    )
    return {
        "score": score,
        "execution_time": round(seconds),
        "output": "\n".join([summary, *notes]),
        "tests": tests,
        "extra_data": {"tinysiam_version": tinysiam},
    }


def _output(row: Row) -> str:
    """What the student reads under a task: passed, or why not and the page that teaches it."""
    if row.status == PASSED:
        return "passed"
    if row.status == NOT_STARTED:
        return f"not started: {row.detail}"
    if row.detail == NO_WORKSPACE:
        return NO_WORKSPACE
    page = TASKS_BY_ID[row.task].page_number
    return f"{row.detail}\n\ntaught on docs page {page} ({row.page})"


# ----- on Gradescope: run_autograder ---------------------------------------------------------
def run(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` as ``root/source/autograder.json`` says; write the results.

    Returns:
        The results, also written to ``root/results/results.json``.
    """
    config = json.loads((root / "source" / CONFIG).read_text())
    tasks = [TASKS_BY_ID[task_id] for task_id in config["tasks"]]
    package = find_package(root / "submission")
    print(f"grading {package or 'nothing: ' + NO_WORKSPACE}")
    print(f"with tinysiam {config['tinysiam_version']} from {Path(__file__).parents[1]}")
    graded = grade_package(
        package,
        tasks,
        config["points"],
        config["timeout"],
        config["total_timeout"],
        config["tinysiam_version"],
    )
    path = root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(graded, indent=2) + "\n")
    for test in graded["tests"]:
        print(f"  {test['name']:<50} {test['status']:<7} {test['score']:g}/{test['max_score']:g}")
    print(graded["output"])
    return graded


SETUP_SH = r"""#!/usr/bin/env bash
# The tinysiam autograder's setup. Gradescope runs it once, in /autograder/source, while it
# builds the image that grades every submission: a virtual environment with Python 3.11 or newer
# in /autograder/venv, with NumPy and Hypothesis (requirements.txt: the versions the autograder
# was made with) and the tinysiam of this zip (a .pth file puts /autograder/source on its path:
# tinysiam is on no package index).
set -euo pipefail
root="${TINYSIAM_AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" > /dev/null \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        python="$candidate"
        break
    fi
done
if [ -z "$python" ]; then  # Ubuntu 22.04 has python3.11; older releases get it from deadsnakes
    apt-get update
    if ! apt-get install -y python3.11 python3.11-venv; then
        apt-get install -y software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y python3.11 python3.11-venv
    fi
    python=python3.11
fi

if ! "$python" -m venv "$root/venv"; then  # Ubuntu's Python makes venvs with python3.X-venv
    apt-get update
    venv_package=$("$python" -c 'import sys; print(f"python3.{sys.version_info[1]}-venv")')
    apt-get install -y "$venv_package"
    "$python" -m venv --clear "$root/venv"
fi
"$root/venv/bin/python" -m pip install --upgrade pip
"$root/venv/bin/python" -m pip install -r "$root/source/requirements.txt"
site_packages=$("$root/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$root/source" > "$site_packages/tinysiam-autograder.pth"
"$root/venv/bin/python" -c 'import tinysiam.course.gradescope'
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# The tinysiam autograder. Gradescope runs it for each submission: it grades
# /autograder/submission with the tinysiam in /autograder/source (python -m
# tinysiam.course.gradescope) and writes /autograder/results/results.json.
root=$(cd "${TINYSIAM_AUTOGRADER_ROOT:-/autograder}" && pwd) || exit 1
python="${TINYSIAM_AUTOGRADER_PYTHON:-$root/venv/bin/python}"
results="$root/results/results.json"
export TINYSIAM_AUTOGRADER_ROOT="$root"
export PYTHONPATH="$root/source${PYTHONPATH:+:$PYTHONPATH}"
cd "$root" || exit 1
mkdir -p "$root/results"
rm -f "$results"
if ! "$python" -m tinysiam.course.gradescope && [ ! -s "$results" ]; then
    # the grader itself failed (its error is in the log above): results that say so
    message="The autograder could not grade this submission: this says nothing of your work."
    message+=" Ask your teacher to read the autograder's log and run it again."
    printf '{"score": 0, "output": "%s"}\n' "$message" > "$results"
fi
"""


def main() -> int:
    run(Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT)))
    return 0


if __name__ == "__main__":  # run_autograder, on Gradescope
    sys.exit(main())
