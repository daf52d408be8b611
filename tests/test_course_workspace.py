"""Workspaces hold the engine only, and transplanting the library's code touches only its targets.

Fast tests, in this process: nothing here runs the command line or a grader.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinysiam.course import workspace
from tinysiam.course.tasks import TASKS, TASKS_BY_ID

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


def module_variables(name: str) -> dict[tuple[str, str], int]:
    """The id of every module-level value of the loaded package ``name``'s modules."""
    return {
        (module_name, key): id(value)
        for module_name, module in list(sys.modules.items())
        if module_name.startswith(name + ".")
        for key, value in vars(module).items()
    }


def test_transplant_puts_back_a_missing_function_and_touches_nothing_else(loaded):
    directory, name = loaded
    remove_function(directory / "tinysiam" / "gradcheck.py", "_check_directions")
    package = workspace.load(directory, name)
    backend = importlib.import_module(f"{name}.backend")
    random = importlib.import_module(f"{name}.random")
    gradcheck = importlib.import_module(f"{name}.gradcheck")
    assert not hasattr(gradcheck, "_check_directions")
    assert backend._cupy is None and random._default is None  # variables that hold None
    before = module_variables(name)

    workspace.transplant(package, list(TASKS_BY_ID["4.1"].targets))

    restored = gradcheck._check_directions
    assert restored.__globals__ is vars(gradcheck)  # the library's body, in the workspace's module
    changed = {key for key, value in module_variables(name).items() if before.get(key) != value}
    assert changed == {
        (f"{name}.gradcheck", "_check_directions"),
        (f"{name}.gradcheck", "_check_elementwise"),  # the task's other function
    }
    assert backend._cupy is None and random._default is None


def test_transplant_replaces_a_function_where_other_modules_imported_it(loaded):
    directory, name = loaded
    package = workspace.load(directory, name)
    conv = importlib.import_module(f"{name}.reference.conv")
    pool = importlib.import_module(f"{name}.reference.pool")
    learners = conv.im2col
    assert pool.im2col is learners  # `from .conv import col2im, im2col`

    workspace.transplant(package, list(TASKS_BY_ID["8.1"].targets))

    assert conv.im2col is not learners and pool.im2col is conv.im2col
