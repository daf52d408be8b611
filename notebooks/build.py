"""Make the course notebooks from the tested pages:  python notebooks/build.py

Each course page (docs/NN-*.md, and docs/build-it-yourself.md when it exists) becomes
notebooks/<same name>.ipynb, and notebooks/experiment-1.md becomes notebooks/experiment-1.ipynb:

* the first cell installs tinysiam where it is missing (a hosted notebook service) and chooses
  the GPU when CuPy and one are present (``DEVICE``);
* each ```python block becomes a code cell, in order, so the notebook runs what the page's test
  runs; the ```text block that shows a block's output is dropped (running the cell shows it);
* the prose becomes Markdown cells; links to other pages point at their notebooks, other files
  at ../docs/, and the figures of docs/figures/ are embedded in their cells (attachments), so a
  notebook uploaded alone to a hosted notebook service still shows them;
* exercise solutions stay hidden until opened: their prose stays inside <details> and their code
  cells are collapsed (metadata ``jupyter.source_hidden``, tag ``solution``).

The pages are the source: edit them, then run this script. ``--check`` rebuilds into memory and
lists the notebooks that differ from what is committed (tests/test_notebooks.py does the same).
Needs nbformat (`pip install -e '.[notebooks]'` in the clone).
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)  # as tests/test_docs.py
DETAILS_OPEN = re.compile(r"<details[^>]*>\s*<summary>(.*?)</summary>", re.S)
DETAILS_CLOSE = "</details>"
REOPENED = "<details>\n<summary>Solution, continued</summary>\n\n"
FIGURE = re.compile(r"(!\[[^\]]*\]\()\.\./docs/figures/([\w.-]+\.png)\)")
LINK = re.compile(r"(\]\(|<img [^>]*src=\")([^)\"\s#]*)")

SETUP = """\
# {title}
# Generated from {source} by notebooks/build.py: edit the page, then rebuild.
# Setup: install tinysiam from the clone this notebook sits in when it is missing, and use the GPU
# when CuPy and one are present. The page's code runs on the CPU; to use the GPU, pass
# device=DEVICE to tinysiam.tensor() and call .to(DEVICE) on a model.
try:
    import tinysiam
    import tinysiam.experiments  # the data sets and figures of the pages' examples
except ImportError:  # not installed: install the clone of tinysiam this notebook sits in
    import pathlib

    clone = pathlib.Path.cwd().parent
    if not (clone / "pyproject.toml").is_file():
        raise ImportError(
            "tinysiam is not installed: pip install its source (a clone of the repository), "
            "or open this notebook from the notebooks/ folder of a clone"
        ) from None
    %pip install --quiet -e "{{clone}}[experiments,viz]"
    import tinysiam

DEVICE = "cuda" if tinysiam.cuda_available() else "cpu"
print("tinysiam, arrays on", DEVICE)
"""


def sources() -> list[Path]:
    """The pages and notebook sources that become notebooks, in course order."""
    pages = sorted(DOCS.glob("[0-9][0-9]-*.md"))
    extra = [DOCS / "build-it-yourself.md", NOTEBOOKS / "experiment-1.md"]
    return pages + [path for path in extra if path.is_file()]


def notebook_path(source: Path, folder: Path = NOTEBOOKS) -> Path:
    return folder / f"{source.stem}.ipynb"


def convert(text: str, source: Path) -> NotebookNode:
    """A notebook from a page's Markdown: prose cells, code cells, hidden solutions."""
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
    where = source.relative_to(ROOT).as_posix()
    cells = [new_code_cell(SETUP.format(title=title or source.stem, source=where))]
    in_details = False
    fences = list(FENCE.finditer(text))
    position = 0
    previous_was_python = False
    prose: list[str] = []  # Markdown (and non-python fences) waiting for the next code cell
    for fence in fences:
        language, body = fence.group(1), fence.group(2)
        between = text[position : fence.start()]
        position = fence.end()
        if language == "text" and previous_was_python and not between.strip():
            previous_was_python = False  # the output of the block before: running it shows it
            continue
        prose.append(between)
        if language != "python":
            prose.append(fence.group(0))
            previous_was_python = False
            continue
        in_details = _flush(prose, cells, in_details, source)
        cell = new_code_cell(body.rstrip("\n"))
        if in_details:  # an exercise's solution: collapsed until the reader opens it
            cell.metadata["jupyter"] = {"source_hidden": True}
            cell.metadata["tags"] = ["solution"]
        cells.append(cell)
        previous_was_python = True
    prose.append(text[position:])
    _flush(prose, cells, in_details, source)
    for k, cell in enumerate(cells):
        cell["id"] = f"{source.stem[:40]}-{k}"  # stable ids: rebuilding changes nothing
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def _flush(prose: list[str], cells: list[NotebookNode], in_details: bool, source: Path) -> bool:
    """Turn the waiting prose into a Markdown cell; returns whether a <details> is still open.

    A <details> block that holds code cannot span cells (each cell is its own HTML), so its
    prose is closed before the code cell and reopened after it.
    """
    text = "".join(prose)
    prose.clear()
    continued = ""
    if in_details:  # this prose continues a <details> that a code cell interrupted
        close = text.find(DETAILS_CLOSE)
        inside, text = (
            (text, "") if close == -1 else (text[:close], text[close + len(DETAILS_CLOSE) :])
        )
        if inside.strip():
            continued = f"{REOPENED}{inside.strip()}\n\n{DETAILS_CLOSE}"
        if close == -1:
            _add_markdown(cells, continued, source)
            return True
    opens = list(DETAILS_OPEN.finditer(text))
    still_open = len(opens) > text.count(DETAILS_CLOSE)  # a solution opens; its code follows
    if still_open and text[opens[-1].end() :].strip():  # its prose comes before its code
        text = f"{text.strip()}\n\n{DETAILS_CLOSE}"
    elif still_open:  # the solution is code only: say where it is
        summary = opens[-1].group(1).strip()
        text = f"{text[: opens[-1].start()].strip()}\n\n*{summary}: in the collapsed cell below.*"
    _add_markdown(cells, f"{continued}\n\n{text.strip()}", source)
    return still_open


def _add_markdown(cells: list[NotebookNode], text: str, source: Path) -> None:
    text = text.replace('<details markdown="1">', "<details>").strip()
    if text:
        cells.append(_attach_figures(new_markdown_cell(_relink(text, source))))


def _attach_figures(cell: NotebookNode) -> NotebookNode:
    """Embed the course's figures in the cell (``attachment:``), so that a notebook uploaded on
    its own to a hosted notebook service still shows them."""

    def attach(match: re.Match[str]) -> str:
        path = DOCS / "figures" / match.group(2)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        cell.setdefault("attachments", {})[path.name] = {"image/png": data}
        return f"{match.group(1)}attachment:{path.name})"

    cell.source = FIGURE.sub(attach, cell.source)
    return cell


def _relink(text: str, source: Path) -> str:
    """Links as seen from notebooks/: pages become their notebooks, other files ../docs/..."""
    if source.parent != DOCS:
        return text

    def target(match: re.Match[str]) -> str:
        link = match.group(2)
        if not link or "://" in link or link.startswith(("../", "mailto:", "/")):
            return match.group(0)
        if link.endswith(".md") and notebook_path(DOCS / link).stem in {s.stem for s in sources()}:
            return match.group(1) + link[: -len(".md")] + ".ipynb"
        return match.group(1) + "../docs/" + link

    return LINK.sub(target, text)


def build(folder: Path = NOTEBOOKS) -> list[Path]:
    """Write every notebook into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources():
        path = notebook_path(source, folder)
        nbformat.write(convert(source.read_text(), source), path)
        written.append(path)
    return written


def stale() -> list[str]:
    """The notebooks whose cells differ from their source's (or that are missing)."""
    out_of_date = []
    for source in sources():
        path = notebook_path(source)
        fresh = convert(source.read_text(), source)
        if not path.is_file() or cell_sources(nbformat.read(path, as_version=4)) != cell_sources(
            fresh
        ):
            out_of_date.append(f"{path.relative_to(ROOT)} (from {source.relative_to(ROOT)})")
    return out_of_date


def cell_sources(notebook: NotebookNode) -> list[tuple[str, str, dict]]:
    """What a reader sees of a notebook: each cell's type, source and embedded figures (no
    outputs, no metadata)."""
    return [(cell.cell_type, cell.source, cell.get("attachments", {})) for cell in notebook.cells]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="list out-of-date notebooks instead of writing them"
    )
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for line in out_of_date:
            print(f"out of date: {line}")
        return 1 if out_of_date else 0
    for path in build():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
