"""Workspaces: a copy of the library's engine with some functions left for the learner to write.

``create(DIR, tasks)`` copies the installed package's engine to ``DIR/tinysiam`` (everything
but LEFT_OUT: the course, the experiments' toolkit and its deprecated aliases, which the track
does not ask for) and replaces the body of each chosen task's functions by
``raise NotImplementedError("Task 3.2: ...")``, keeping the signature and the docstring. The
functions are found with :mod:`ast` by qualified name ("Mul.backward"), so the library's source
carries no markers. ``DIR/course.json`` records the tasks and the library the workspace was made
from (its version and a hash of its source, :func:`library_fingerprint`);
:func:`library_warning` says when the grading library is another.

A few files of a workspace are not the engine's but the course's starter code (STARTER_FILES,
e.g. ``experiment1.py``, experiment 1's recipe): the library keeps them in
``tinysiam/course/starter/`` and a workspace gets them inside its package, next to the engine
they import; :func:`library_path` says where the library's copy of a workspace file is.

``load(DIR, name)`` imports ``DIR/tinysiam`` under another package name (its imports inside
the package are relative), so the learner's engine and the installed one live side by side in
one process: run-experiment trains that way. Grading never imports a workspace in the grader's
process (see :mod:`tinysiam.course.grading`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import shutil
import sys
import types
from importlib import metadata
from pathlib import Path
from typing import Any

import tinysiam

from .tasks import EXPERIMENT, TASKS, Target, Task

PACKAGE = Path(tinysiam.__file__).resolve().parent
MANIFEST = "course.json"
LEFT_OUT = (  # parts of the package a workspace does not copy: all but the engine
    "course",
    "experiments",
    "data.py",  # the deprecated aliases of tinysiam.experiments' modules
    "training.py",
    "plot.py",
    "metrics.py",
    "models.py",
)

STARTER = PACKAGE / "course" / "starter"
STARTER_FILES = ("experiment1.py",)  # a workspace's files that the library keeps in STARTER


def library_path(file: str) -> Path:
    """The library's copy of the workspace file ``file`` ("autograd.py", "experiment1.py")."""
    return STARTER / file if file in STARTER_FILES else PACKAGE / file


class WorkspaceError(Exception):
    """A workspace that cannot be created or read; the message says what to do."""


def version() -> str:
    try:
        return metadata.version("tinysiam")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        return "unknown"


@functools.cache
def library_fingerprint() -> str:
    """The SHA-256 of the installed package's source: every .py file, by path, in order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def library_warning(directory: Path) -> str | None:
    """A warning line when the workspace was made from another library than the grading one.

    None when ``DIR/course.json`` records this library's version and source hash.
    """
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    made = (manifest.get("tinysiam_version"), manifest.get("library_source_sha256"))
    grading = (version(), library_fingerprint())
    if made == grading:
        return None
    if made[1] is None:
        return (
            f"{directory / MANIFEST} does not record the library the workspace was made "
            f"from; it is graded by tinysiam {grading[0]} (source {grading[1][:12]})"
        )
    return (
        f"the workspace was made from tinysiam {made[0]} (source {str(made[1])[:12]}) "
        f"and is graded by tinysiam {grading[0]} (source {grading[1][:12]}): the starter code "
        "and the graders may differ"
    )


# ----- creating ------------------------------------------------------------------------------
def create(directory: Path, tasks: list[Task], with_solutions: bool = False) -> list[Task]:
    """Write a workspace to ``directory`` (new or empty) and return the tasks left to write.

    Args:
        directory: where to write it; the package goes to ``directory/tinysiam``.
        tasks: the tasks to stub; the rest of the package stays solved.
        with_solutions: stub nothing (a solved copy for teachers and CI); the README still
            lists ``tasks``.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise WorkspaceError(
            f"{directory} already exists and is not an empty folder; pick a new one"
        )
    directory.mkdir(parents=True, exist_ok=True)
    package = directory / "tinysiam"
    shutil.copytree(
        PACKAGE,
        package,
        ignore=lambda folder, names: [
            n
            for n in names
            if n == "__pycache__"
            or n.endswith(".pyc")
            or (Path(folder) == PACKAGE and n in LEFT_OUT)
        ],
    )
    for file in STARTER_FILES:
        shutil.copyfile(STARTER / file, package / file)
    if not with_solutions:
        for file, targets in _by_file(tasks).items():
            path = package / file
            path.write_text(stub_source(path.read_text(), targets))
    manifest = {
        "tinysiam_version": version(),
        "library_source_sha256": library_fingerprint(),
        "tasks": [task.id for task in tasks],
        "with_solutions": with_solutions,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (directory / "README.md").write_text(readme(directory, tasks, with_solutions))
    return tasks


def _by_file(tasks: list[Task]) -> dict[str, list[tuple[Task, Target]]]:
    files: dict[str, list[tuple[Task, Target]]] = {}
    for task in tasks:
        for target in task.targets:
            files.setdefault(target.file, []).append((task, target))
    return files


def find_function(tree: ast.Module, qualname: str) -> ast.FunctionDef | None:
    """The def of ``qualname`` ("Class.method" or "function") at the top of a module."""
    scope: list[ast.stmt] = tree.body
    *classes, name = qualname.split(".")
    for class_name in classes:
        found = [n for n in scope if isinstance(n, ast.ClassDef) and n.name == class_name]
        if not found:
            return None
        scope = found[0].body
    functions = [n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name]
    return functions[0] if functions else None


def _docstring_node(function: ast.FunctionDef) -> ast.stmt | None:
    first = function.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def stub_source(source: str, targets: list[tuple[Task, Target]]) -> str:
    """``source`` with the body of each target after its docstring replaced by a raise."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    replacements = []
    for task, target in targets:
        function = find_function(tree, target.qualname)
        if function is None:
            raise WorkspaceError(
                f"task {task.id}: no function {target.qualname} in tinysiam/{target.file}"
            )
        docstring = _docstring_node(function)
        body = function.body[1:] if docstring is not None else function.body
        if not body:
            raise WorkspaceError(f"task {task.id}: {target.qualname} has no body to replace")
        assert body[-1].end_lineno is not None
        start = docstring.end_lineno if docstring is not None else function.body[0].lineno - 1
        assert start is not None
        if start + 1 <= function.lineno:  # a body on the def's own line
            raise WorkspaceError(f"task {task.id}: {target.qualname} is written on one line")
        indent = " " * body[0].col_offset
        raise_line = f"{indent}raise NotImplementedError({task.message(target)!r})\n"
        replacements.append((start, body[-1].end_lineno, raise_line))
    for start, stop, text in sorted(replacements, reverse=True):
        lines[start:stop] = [text]
    return "".join(lines)


def is_stub(source: str, task: Task, target: Target) -> bool:
    """Whether ``target`` in ``source`` is still the stub a workspace starts with."""
    try:
        function = find_function(ast.parse(source), target.qualname)
    except SyntaxError:
        return False
    if function is None:
        return False
    body = function.body[1:] if _docstring_node(function) is not None else function.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise):
        return False
    return f"Task {task.id}:" in ast.unparse(body[0])


def readme(directory: Path, tasks: list[Task], with_solutions: bool) -> str:
    """The workspace's README: how to work, and the tasks in order with the page of each."""
    chosen = {task.id for task in tasks}
    rows = "\n".join(
        f"| {task.id} | {task.title} | "
        f"{'solved (given)' if with_solutions or task.id not in chosen else 'to write'} | "
        f"page {task.page_number}, `{task.page}` | {_functions(task)} |"
        for task in TASKS
    )
    last_row = (
        f"| 15 | Train experiment 1 on your engine | last step | page 15, `{EXPERIMENT}` | "
        "`run-experiment` |"
    )
    state = (
        "This workspace is solved: every function is the library's own (for teachers and CI)."
        if with_solutions
        else f"{len(tasks)} of the {len(TASKS)} tasks are yours to write; the others are given."
    )
    return f"""# Build it yourself: your tinysiam workspace

`tinysiam/` here is a copy of the library's engine: tensors and autodiff, the ops, layers,
losses, optimisers and the gradient checker (the experiments' toolkit and the course stay in
the installed package). In the functions of the tasks below, the
body is replaced by `raise NotImplementedError("Task ...")`: the signature and the docstring
(with the formula) are left. Write each body, grade it, and read the page when a task fails.
{state}

## The loop

```bash
python -m tinysiam.course check --workspace {directory}        # every task of this workspace
python -m tinysiam.course check 3.2 --workspace {directory}    # one task
```

Run these from outside this folder: inside it, `import tinysiam` finds this copy, which is
handy for trying your code (`cd {directory} && python`), but the grader is the installed
package. Each task is graded on inputs that Hypothesis generates, against the installed
library's answer, with every other task's code taken from the installed library, so a task
fails for its own mistakes only. A row says passed, failed (with the first failing input, what
was expected and what came) or not started.

When every task passes, train experiment 1 on your own engine:

```bash
python -m tinysiam.course run-experiment --workspace {directory} --dataset digits
```

## The tasks, in order

The number of a task starts with the number of the docs page that teaches it.

| task | what | state | page | functions |
| --- | --- | --- | --- | --- |
{rows}
{last_row}
"""


def _functions(task: Task) -> str:
    """The task's functions, file by file: "`tinysiam/autograd.py`: `backward`"."""
    files: dict[str, list[str]] = {}
    for target in task.targets:
        files.setdefault(target.file, []).append(f"`{target.qualname}`")
    return "; ".join(f"`tinysiam/{file}`: {', '.join(names)}" for file, names in files.items())


# ----- reading -------------------------------------------------------------------------------
def check_workspace(directory: Path) -> dict[str, Any]:
    """The workspace's manifest, after checking that ``directory`` is a workspace."""
    if not directory.is_dir():
        raise WorkspaceError(
            f"workspace {directory} not found; create one with: "
            f"python -m tinysiam.course new {directory}"
        )
    if not (directory / "tinysiam" / "__init__.py").is_file():
        raise WorkspaceError(
            f"{directory} is not a course workspace (no {directory / 'tinysiam' / '__init__.py'}); "
            f"create one with: python -m tinysiam.course new DIR"
        )
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return {"tasks": [task.id for task in TASKS], "tinysiam_version": None}
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise WorkspaceError(f"{manifest_path} is not valid JSON: {error}") from None
    return manifest


def load(directory: Path, name: str) -> types.ModuleType:
    """Import ``directory/tinysiam`` as the package ``name`` (never as ``tinysiam``)."""
    root = directory.resolve() / "tinysiam"
    spec = importlib.util.spec_from_file_location(
        name, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        unload(name)
        raise
    return module


def unload(name: str) -> None:
    """Forget the package ``name`` and its submodules: the next load reads the files afresh."""
    for module_name in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module_name]
