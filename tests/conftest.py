"""Shared fixtures: the real data sets, and a private per-user cache instead of ~/.cache."""

import os
from pathlib import Path

import pytest


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
