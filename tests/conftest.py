"""Shared fixtures: the real data sets, a private per-user cache instead of ~/.cache, and the
device the cuda tests run on (real CuPy on a GPU, else the stand-in of tests/cupy_standin.py)."""

import os
import sys
from pathlib import Path

import cupy_standin
import pytest

from tinysiam import backend


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding ``mnist/`` and ``omniglot/``: ``TINYSIAM_DATA``, else ``../shared/data``.

    Tests that use it are skipped where the data is absent.
    """
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    folder = Path(os.environ.get("TINYSIAM_DATA") or default)
    if not folder.is_dir():
        pytest.skip(f"no data folder at {folder} (set TINYSIAM_DATA)")
    return folder


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty per-user cache (``XDG_CACHE_HOME``) in tmp_path, and no ``TINYSIAM_DATA``."""
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("TINYSIAM_DATA", raising=False)
    return home


# ----- the cuda tests: on real CuPy where a GPU answers, else on the CuPy stand-in ------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cupy-standin",
        action="store_true",
        help="run the cuda tests on the NumPy-backed CuPy stand-in even where a GPU answers",
    )


def _real_gpu() -> bool:
    """True when a real CuPy imports and runs a kernel and a matrix product on a GPU."""
    try:
        import cupy
    except ImportError:
        return False
    if getattr(cupy, "IS_STANDIN", False):
        return False
    return backend.cuda_available()


def uses_standin(config: pytest.Config) -> bool:
    """Whether the cuda tests of this session run on tests/cupy_standin.py."""
    if not hasattr(config, "_tinysiam_standin"):
        config._tinysiam_standin = config.getoption("--cupy-standin") or not _real_gpu()
    return config._tinysiam_standin


def pytest_report_header(config: pytest.Config) -> str:
    if uses_standin(config):
        return (
            "cuda tests: on the NumPy-backed CuPy stand-in (tests/cupy_standin.py), which checks "
            "CuPy's rules and counts launches, syncs and transfers, not GPU numerics or speed"
        )
    import cupy

    return f"cuda tests: on CuPy {cupy.__version__} and a real GPU"


@pytest.fixture(autouse=True)
def cuda_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """For a test marked ``cuda``: make ``cupy`` the stand-in where no GPU answers."""
    if request.node.get_closest_marker("cuda") is None or not uses_standin(request.config):
        return
    standin = cupy_standin.install_as_cupy()
    monkeypatch.setitem(sys.modules, "cupy", standin)
    monkeypatch.setattr(backend, "_cupy", standin)
    monkeypatch.setattr(backend, "_cuda_works", True)
    monkeypatch.setattr(backend, "_device_memory", None)
