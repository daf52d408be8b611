"""The course in docs/ runs, its links resolve, and the site builds.

Each page's ```python blocks run in order, in one namespace per page, on the CPU. A ```text block
that follows a python block (only blank lines between) is that block's output: what the block
prints must equal it (trailing spaces ignored). Solutions inside <details> blocks run too.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import tinysiam

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(path.name for path in DOCS.glob("*.md"))
FIGURE_LIMIT_BYTES = 150 * 1024

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


@dataclass
class Block:
    line: int
    code: str
    output: str | None  # the ```text block right after it, if any


def python_blocks(text: str) -> list[Block]:
    """The page's python blocks, each with the text block that shows its output."""
    fences = list(FENCE.finditer(text))
    blocks = []
    for k, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        output = None
        following = fences[k + 1] if k + 1 < len(fences) else None
        if (
            following
            and following.group(1) == "text"
            and not text[fence.end() : following.start()].strip()
        ):
            output = following.group(2)
        blocks.append(Block(text.count("\n", 0, fence.start()) + 1, fence.group(2), output))
    return blocks


def normalised(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a block that writes a file writes it here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(
        tinysiam.random, "_default", tinysiam.random._default
    )  # pages may call manual_seed
    namespace: dict = {"__name__": f"docs.{page}"}
    for block in python_blocks((DOCS / page).read_text()):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block.code, f"docs/{page}, block at line {block.line}", "exec"), namespace)
        if block.output is not None:
            assert normalised(printed.getvalue()) == normalised(block.output), (
                f"docs/{page}, block at line {block.line}: printed output differs from the page\n"
                f"--- printed:\n{printed.getvalue()}\n--- page:\n{block.output}"
            )


@pytest.mark.parametrize("page", PAGES)
def test_page_links_resolve(page: str) -> None:
    """Relative links (pages, figures, the library's source) point at files that exist."""
    text = FENCE.sub("", (DOCS / page).read_text())
    for match in LINK.finditer(text):
        target = (match.group(1) or match.group(2)).split("#")[0]
        if not target or "://" in target or target.startswith("mailto:"):
            continue
        assert (DOCS / target).resolve().exists(), (
            f"docs/{page} links to {target}, which does not exist"
        )


def test_figures_are_small_and_generated() -> None:
    script = (DOCS / "make_figures.py").read_text()
    figures = sorted((DOCS / "figures").glob("*.png"))
    assert figures, "no figures in docs/figures (run python docs/make_figures.py)"
    for figure in figures:
        assert figure.stat().st_size < FIGURE_LIMIT_BYTES, (
            f"{figure.name} is over {FIGURE_LIMIT_BYTES} bytes"
        )
        assert figure.name in script, f"{figure.name} is not made by docs/make_figures.py"


def test_blocks_are_found() -> None:
    """The extraction itself: a text block after a python block is its output."""
    text = "```python\nprint(1)\n```\n\n```text\n1\n```\n\n```python\nx = 2\n```\n"
    blocks = python_blocks(text)
    assert [(b.line, b.code, b.output) for b in blocks] == [
        (1, "print(1)\n", "1\n"),
        (9, "x = 2\n", None),
    ]


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` as the tests run it: no ``--quiet``, which would drop the
    warnings before strict mode counts them, and so let a broken link pass."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d"]
    return subprocess.run(
        [*command, str(site)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_strict_build_fails_on_a_warning(tmp_path: Path) -> None:
    """The build command itself can fail: one broken link in a one-page site aborts it."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n[missing](missing.md)\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: broken\n")
    result = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0, "a link to a missing page did not stop the strict build"
    assert "missing.md" in result.stderr + result.stdout


def test_site_builds_strict(tmp_path: Path) -> None:
    for module in (
        "mkdocs",
        "material",
        "mkdocstrings",
        "mkdocstrings_handlers.python",
        "pymdownx",
    ):
        pytest.importorskip(
            module, reason="the docs packages are not installed (mkdocs, mkdocs-material, ...)"
        )
    result = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, f"mkdocs build warned:\n{output}"
    assert (tmp_path / "site" / "source" / "tinysiam" / "autograd.py").exists()
