"""Workspaces hold the engine only, and assembling a task's copy touches only the other tasks.

Fast tests, in this process: nothing here runs the command line or a grader.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinysiam.course import submission, workspace
from tinysiam.course.tasks import TASKS, TASKS_BY_ID, select

TOOLKIT_ALIASES = ("data.py", "training.py", "plot.py", "metrics.py", "models.py")


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A solved workspace's directory and the package name to load it under (unloaded after)."""
    directory = tmp_path / "ws"
    workspace.create(directory, list(TASKS), with_solutions=True)
    name = "tinysiam_workspace_under_test"
    yield directory, name
    workspace.unload(name)


def test_a_workspace_copies_the_engine_and_leaves_out_the_toolkit_and_the_course(tmp_path):
    workspace.create(tmp_path / "ws", list(TASKS), with_solutions=True)
    package = tmp_path / "ws" / "tinysiam"
    for left_out in ("course", "experiments", *TOOLKIT_ALIASES):
        assert not (package / left_out).exists(), left_out
    for engine in ("autograd.py", "tensor.py", "nn", "ops", "reference", "losses.py"):
        assert (package / engine).exists(), engine


def test_a_workspace_imports_without_the_parts_left_out(loaded):
    directory, name = loaded
    package = workspace.load(directory, name)
    nn = importlib.import_module(f"{name}.nn")
    assert package.__file__ == str((directory / "tinysiam" / "__init__.py").resolve())
    assert nn.Dense.__module__ == f"{name}.nn.layers"


def remove_function(path: Path, qualname: str) -> None:
    """Delete the module-level def ``qualname`` from the file ``path``."""
    source = path.read_text()
    function = workspace.find_function(ast.parse(source), qualname)
    assert function is not None and function.end_lineno is not None, qualname
    lines = source.splitlines(keepends=True)
    del lines[function.lineno - 1 : function.end_lineno]
    path.write_text("".join(lines))


def test_assemble_puts_the_library_in_for_other_tasks_and_leaves_the_task_alone(tmp_path):
    directory = tmp_path / "ws"
    workspace.create(directory, select("8"))
    origins = submission.assemble(directory, TASKS_BY_ID["8.1"], tmp_path / "copy")
    source = (tmp_path / "copy" / "tinysiam" / "reference" / "conv.py").read_text()
    tree = ast.parse(source)
    task = TASKS_BY_ID["8.1"]
    assert workspace.is_stub(source, task, task.targets[0])  # the task's own: still the stub
    for other in ("8.2", "8.3"):
        (target,) = TASKS_BY_ID[other].targets
        mine = workspace.find_function(tree, target.qualname)
        library = workspace.find_function(
            ast.parse(workspace.library_path(target.file).read_text()), target.qualname
        )
        assert ast.dump(mine) == ast.dump(library), other
    learner = (directory / "tinysiam" / "reference" / "conv.py").read_text().splitlines()
    copied = source.splitlines()
    for line, origin in enumerate(origins["reference/conv.py"], start=1):
        if origin:  # a workspace line keeps its text, and the map gives its line number
            assert copied[line - 1] == learner[origin - 1]


def test_assemble_puts_back_a_function_the_workspace_lacks(tmp_path):
    directory = tmp_path / "ws"
    workspace.create(directory, list(TASKS), with_solutions=True)
    remove_function(directory / "tinysiam" / "gradcheck.py", "_check_directions")
    origins = submission.assemble(directory, TASKS_BY_ID["3.1"], tmp_path / "copy")
    source = (tmp_path / "copy" / "tinysiam" / "gradcheck.py").read_text()
    assert workspace.find_function(ast.parse(source), "_check_directions") is not None
    assert origins["gradcheck.py"][-1] == 0  # appended: the library's lines
    assert "gradcheck.py" not in submission.inspect(directory).problems.get("3.1", "")
    assert "has no function _check_directions" in submission.inspect(directory).problems["4.1"]
