"""The package's three layers: the engine, the experiments' toolkit, the course.

The engine (tinysiam's top-level modules) imports neither ``tinysiam.experiments`` nor
``tinysiam.course``: import-linter checks that from the contracts in pyproject.toml. These tests
check what the contracts cannot: that every engine module is listed in them, that the engine
runs with NumPy as its only third-party package, and that the toolkit's old module names still
work, with a warning.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import tomllib
import warnings
from pathlib import Path

import pytest

import tinysiam

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(tinysiam.__file__).resolve().parent
LAYERS = ("experiments", "course")  # the subpackages above the engine
MOVED = ("data", "training", "plot", "metrics", "models")  # deprecated aliases of the toolkit's
ENGINE_CONTRACT = "The engine imports neither the experiments' toolkit nor the course"


def contract(name: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def top_level_modules() -> set[str]:
    """tinysiam's own modules and subpackages, one level down."""
    names = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    names |= {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    return names


def test_every_engine_module_is_under_the_engine_contract():
    listed = {
        name.removeprefix("tinysiam.") for name in contract(ENGINE_CONTRACT)["source_modules"]
    }
    engine = top_level_modules() - set(LAYERS) - set(MOVED)
    assert engine - listed == set(), "engine modules missing from the contract in pyproject.toml"
    assert listed - engine == set(), "the contract lists modules that are not the engine's"


def test_the_engine_contract_forbids_the_layers_and_their_packages():
    forbidden = set(contract(ENGINE_CONTRACT)["forbidden_modules"])
    assert {"tinysiam.experiments", "tinysiam.course"} <= forbidden
    assert {"matplotlib", "PIL", "tqdm", "hypothesis"} <= forbidden


# The README's "taste of the API", run in a child process where importing any third-party
# package other than NumPy fails, as on a machine where only NumPy is installed.
NUMPY_ONLY = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class OnlyNumpy(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in {"matplotlib", "PIL", "tqdm", "hypothesis", "graphviz", "IPython", "cupy"}:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, OnlyNumpy())
    """
)


def readme_api_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A taste of the API", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_api_snippet_runs_with_numpy_alone():
    code = NUMPY_ONLY + readme_api_snippet()
    code += textwrap.dedent(
        """
        loaded = sorted(m for m in sys.modules if m.startswith(("tinysiam.experiments",
                                                                  "tinysiam.course")))
        assert not loaded, loaded
        print("loss", float(loss.item()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loss ")


def test_the_toolkit_says_which_extra_it_needs_without_its_packages():
    code = NUMPY_ONLY + "import tinysiam.experiments.plot\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "pip install -e '.[experiments]'" in result.stderr


@pytest.mark.parametrize("name", MOVED)
def test_the_old_module_names_warn_and_keep_working(name):
    sys.modules.pop(f"tinysiam.{name}", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alias = importlib.import_module(f"tinysiam.{name}")
    moved = importlib.import_module(f"tinysiam.experiments.{name}")
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(f"tinysiam.experiments.{name}" in m for m in messages), messages
    public = [n for n in getattr(moved, "__all__", dir(moved)) if not n.startswith("_")]
    assert public and all(getattr(alias, n) is getattr(moved, n) for n in public)
