"""A workspace read as a submission, without running it, and the copy each task is graded on.

:func:`inspect` parses every file of ``DIR/tinysiam`` and compares it with the library's
source. It finds, before anything runs:

* a file that does not parse (nothing can be graded);
* per task: a task's file deleted, a task's function renamed or deleted, a signature changed;
* per task: code that reaches for the installed library (``import tinysiam``, ``importlib``,
  ``sys.modules``, ``__import__``, ``exec``): a task passes on the learner's own code only;
* the tasks whose functions are all still the library's own code, as in a workspace where the
  task was not assigned (never stubbed): they do not count as the learner's work;
* code outside the task functions that differs from the starter: a warning.

:func:`assemble` writes the copy a task is graded on: the workspace with every *other* task's
functions replaced by the library's, at source level, so that the learner's process imports
one package, the workspace, and a task fails for its own mistakes only.
"""

from __future__ import annotations

import ast
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .tasks import TASKS, Target, Task
from .workspace import LEFT_OUT, PACKAGE, STARTER_FILES, find_function, library_path

ROUTE_MODULES = ("tinysiam", "importlib", "runpy")  # a task's code may not import these
ROUTE_NAMES = ("__import__", "importlib", "exec", "eval", "compile", "__builtins__")
ROUTE_ATTRIBUTES = ("modules", "import_module", "spec_from_file_location", "exec_module")


@dataclass
class Inspection:
    """What :func:`inspect` found; every message names the file and what to do."""

    broken: str | None = None  # the workspace cannot be graded at all
    problems: dict[str, str] = field(default_factory=dict)  # task id -> a malformed task
    routes: dict[str, str] = field(default_factory=dict)  # task id -> a way to the library
    library_code: set[str] = field(default_factory=set)  # task ids still the library's code
    warnings: list[str] = field(default_factory=list)


def library_source(file: str) -> str:
    """The installed library's source of ``file`` ("ops/reduce.py", "experiment1.py")."""
    return library_path(file).read_text()


def engine_files() -> list[str]:
    """The files a workspace starts with, relative to its package: "autograd.py", ..."""
    engine = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts and path.relative_to(PACKAGE).parts[0] not in LEFT_OUT
    ]
    return sorted([*engine, *STARTER_FILES])


# ----- inspecting ------------------------------------------------------------------------------
def inspect(directory: Path) -> Inspection:
    """Read the workspace in ``directory`` against the library; run none of it."""
    found = Inspection()
    package = directory / "tinysiam"
    if not (package / "__init__.py").is_file():
        found.broken = f"{package / '__init__.py'} is missing: this is not a course workspace"
        return found
    trees: dict[str, ast.Module] = {}
    for path in sorted(package.rglob("*.py")):
        file = path.relative_to(package).as_posix()
        try:
            trees[file] = ast.parse(path.read_text(), filename=str(path))
        except (SyntaxError, ValueError, UnicodeDecodeError) as error:
            line = f", line {error.lineno}" if isinstance(error, SyntaxError) else ""
            found.broken = (
                f"the workspace does not import: {type(error).__name__}: "
                f"{getattr(error, 'msg', error)} (tinysiam/{file}{line})"
            )
            return found
    library = {file: ast.parse(library_source(file)) for file in engine_files()}
    for task in TASKS:
        _inspect_task(task, trees, library, found)
    for file in sorted(set(trees) - set(library)):
        found.warnings.append(f"tinysiam/{file} is not part of the starter code")
    for file in sorted(set(trees) & set(library)):
        changed = _changed_outside(trees[file], library[file], file)
        if changed:
            lines = ", ".join(_span(node) for node in changed) or "code removed"
            found.warnings.append(
                f"tinysiam/{file}: code outside the task functions differs from the starter "
                f"({lines})"
            )
            for task in TASKS:
                if task.id not in found.routes and any(t.file == file for t in task.targets):
                    route = _first_route(changed, file)
                    if route:
                        found.routes[task.id] = _route_message(task, route)
    return found


def _inspect_task(
    task: Task, trees: dict[str, ast.Module], library: dict[str, ast.Module], found: Inspection
) -> None:
    same = []
    for target in task.targets:
        if target.file not in trees:
            found.problems[task.id] = (
                f"tinysiam/{target.file} is missing: it holds {target.qualname} of task {task.id}; "
                "copy it back from a new workspace"
            )
            return
        mine = find_function(trees[target.file], target.qualname)
        theirs = find_function(library[target.file], target.qualname)
        assert theirs is not None, target
        if mine is None:
            found.problems[task.id] = (
                f"tinysiam/{target.file} has no function {target.qualname} (renamed or "
                f"deleted?): task {task.id} is graded by calling it by that name"
            )
            return
        if _signature(mine) != _signature(theirs):
            found.problems[task.id] = (
                f"{target.qualname} in tinysiam/{target.file}, line {mine.lineno}, must keep its "
                f"signature ({ast.unparse(theirs.args)}); the workspace has "
                f"({ast.unparse(mine.args)})"
            )
            return
        route = task.id not in found.routes and _first_route(_without_docstring(mine), target.file)
        if route:
            found.routes[task.id] = _route_message(task, route, target)
        same.append(ast.dump(mine) == ast.dump(theirs))
    if all(same):
        found.library_code.add(task.id)


def _without_docstring(function: ast.FunctionDef) -> list[ast.stmt]:
    first = function.body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return function.body[1:] if docstring else function.body


def _signature(function: ast.FunctionDef) -> str:
    return ast.dump(function.args) + "".join(ast.dump(d) for d in function.decorator_list)


def _first_route(nodes: list[ast.stmt], file: str) -> str | None:
    """How ``nodes`` reach for the installed library, or None: "imports tinysiam (line 3)"."""
    for node in (n for statement in nodes for n in ast.walk(statement)):
        line = f"tinysiam/{file}, line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            if name.split(".")[0] in ROUTE_MODULES:
                return f"imports {name} ({line})"
        if isinstance(node, ast.Name) and node.id in ROUTE_NAMES:
            return f"uses {node.id} ({line})"
        if isinstance(node, ast.Attribute) and node.attr in ROUTE_ATTRIBUTES:
            return f"uses .{node.attr} ({line})"
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and (text == "tinysiam" or text.startswith("tinysiam.")):
            return f"names the module {text!r} in a string ({line})"
    return None


def _route_message(task: Task, route: str, target: Target | None = None) -> str:
    where = target.qualname if target is not None else "code added next to it"
    return (
        f"task {task.id} must be your own code, not the library's: {where} {route}; "
        "while grading, `tinysiam` is your workspace and the installed library cannot be imported"
    )


def _changed_outside(mine: ast.Module, theirs: ast.Module, file: str) -> list[ast.stmt]:
    """The statements of ``mine`` outside the task functions that the starter does not have.

    When the workspace only removed some of the starter's statements, the list holds one
    ``ast.Pass`` without a line (shown as "code removed"); an empty list means no change.
    """
    targets = {t.qualname for task in TASKS for t in task.targets if t.file == file}
    mine_parts, theirs_parts = _outside(mine, targets), _outside(theirs, targets)
    theirs_count = Counter(dump for _, dump in theirs_parts)
    added = []
    for node, dump in mine_parts:
        if theirs_count[dump] > 0:
            theirs_count[dump] -= 1
        else:
            added.append(node)
    if added or sum(theirs_count.values()):
        return added or [ast.Pass()]  # a removal only: no line of the workspace to show
    return []


def _outside(tree: ast.Module, targets: set[str]) -> list[tuple[ast.stmt, str]]:
    parts: list[tuple[ast.stmt, str]] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            header = [node.name, *node.bases, *node.keywords, *node.decorator_list]
            parts.append((node, " ".join(map(_dump, header))))
            for inner in node.body:
                if not (
                    isinstance(inner, ast.FunctionDef) and f"{node.name}.{inner.name}" in targets
                ):
                    parts.append((inner, ast.dump(inner)))
        elif not (isinstance(node, ast.FunctionDef) and node.name in targets):
            parts.append((node, ast.dump(node)))
    return parts


def _dump(part: object) -> str:
    return ast.dump(part) if isinstance(part, ast.AST) else str(part)


def _span(node: ast.stmt) -> str:
    if not hasattr(node, "lineno"):
        return "code removed"
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}, line {node.lineno}"
    end = node.end_lineno or node.lineno
    return f"line {node.lineno}" if end == node.lineno else f"lines {node.lineno}-{end}"


# ----- assembling ----------------------------------------------------------------------------
def assemble(directory: Path, task: Task | None, into: Path) -> dict[str, list[int]]:
    """Copy the workspace's package to ``into/tinysiam``, every task but ``task`` the library's.

    Each function of another task (every task when ``task`` is None) is replaced by the
    library's def; one the workspace lacks is put back (at the end of its module or class).

    Returns:
        For each file changed, the workspace line of each of its lines (0: the library's), so
        that an error's line can be shown as the learner's.
    """
    package = into / "tinysiam"
    shutil.copytree(
        directory / "tinysiam",
        package,
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    files: dict[str, list[Target]] = {}
    for other in TASKS:
        if other is not task:
            for target in other.targets:
                files.setdefault(target.file, []).append(target)
    origins = {}
    for file, targets in files.items():
        path = package / file
        path.parent.mkdir(parents=True, exist_ok=True)
        text, origins[file] = _splice(
            path.read_text() if path.is_file() else None, library_source(file), targets
        )
        path.write_text(text)
    return origins


def _splice(mine: str | None, theirs: str, targets: list[Target]) -> tuple[str, list[int]]:
    """``mine`` with the library's def of each target, and the origin of each line."""
    library_lines = theirs.splitlines(keepends=True)
    library_tree = ast.parse(theirs)
    try:
        tree = ast.parse(mine) if mine is not None else None
    except SyntaxError:
        tree = None
    if mine is None or tree is None:
        return theirs, [0] * len(library_lines)
    lines = mine.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    origins = list(range(1, len(lines) + 1))
    edits: dict[tuple[int, int], list[str]] = {}  # (start, stop) in lines -> new lines
    classes_back: set[str] = set()
    for target in targets:
        library_def = find_function(library_tree, target.qualname)
        assert library_def is not None, target
        new = library_lines[_start(library_def) - 1 : library_def.end_lineno]
        found = find_function(tree, target.qualname)
        if found is not None:
            edits[(_start(found) - 1, found.end_lineno or found.lineno)] = new
            continue
        *classes, _ = target.qualname.split(".")
        owner = next(
            (n for n in tree.body if isinstance(n, ast.ClassDef) and [n.name] == classes), None
        )
        if classes and owner is None:  # the whole class is gone: put the library's back
            if classes[0] in classes_back:
                continue
            classes_back.add(classes[0])
            library_class = next(
                n for n in library_tree.body if isinstance(n, ast.ClassDef) and [n.name] == classes
            )
            new = library_lines[_start(library_class) - 1 : library_class.end_lineno]
            end = len(lines)
        else:
            end = owner.end_lineno if owner is not None and owner.end_lineno else len(lines)
        edits.setdefault((end, end), [])
        edits[(end, end)] += ["\n", *new]
    for (start, stop), new in sorted(edits.items(), reverse=True):
        lines[start:stop] = new
        origins[start:stop] = [0] * len(new)
    return "".join(lines), origins


def _start(node: ast.FunctionDef | ast.ClassDef) -> int:
    """The first line of a def, its decorators included."""
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])
