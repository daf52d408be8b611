"""The notebooks in notebooks/: rebuilt from their pages, they match what is committed; the
autodiff page's and experiment 1's notebooks run in a real kernel (nbclient), on a small setting.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook packages are not installed")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def load_builder() -> ModuleType:
    """notebooks/build.py, imported from its file (notebooks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_builder()
SOURCES = build.sources()


def test_every_course_page_has_a_notebook_source() -> None:
    pages = sorted(p.name for p in (ROOT / "docs").glob("[0-9][0-9]-*.md"))
    names = [s.name for s in SOURCES]
    assert pages and set(pages) <= set(names)
    assert "experiment-1.md" in names


@pytest.fixture(scope="module")
def rebuilt_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every notebook rebuilt from its source, once, into a temporary folder."""
    folder = tmp_path_factory.mktemp("notebooks")
    build.build(folder)
    return folder


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_notebook_is_rebuilt_from_its_page(source: Path, rebuilt_folder: Path) -> None:
    """A page edited without rebuilding its notebook fails here, naming both."""
    rebuilt = build.notebook_path(source, rebuilt_folder)
    committed = build.notebook_path(source)
    where = source.relative_to(ROOT)
    assert committed.is_file(), (
        f"{where} has no notebook {committed.relative_to(ROOT)}: run python notebooks/build.py"
    )
    ours = build.cell_sources(nbformat.read(committed, as_version=4))
    theirs = build.cell_sources(nbformat.read(rebuilt, as_version=4))
    assert ours == theirs, (
        f"{where} changed but {committed.relative_to(ROOT)} was not rebuilt: "
        "run python notebooks/build.py"
    )


def test_no_notebook_without_a_source() -> None:
    expected = {build.notebook_path(s).name for s in SOURCES}
    stray = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.name not in expected)
    assert not stray, f"notebooks without a page to build them from: {stray}"


PAGE = """\
# 9. A page

See [page 3](03-autodiff.md#the-chain-rule) and ![a figure](figures/x.png), and
[the source](../tinysiam/autograd.py).

```python
print(1 + 1)
```

```text
2
```

```bash
python -m pytest
```

**1.** An exercise.

<details markdown="1">
<summary>Solution</summary>

Because.

```python
answer = 42
```

```text
```

Then more.

</details>

**2.** Another.

<details markdown="1">
<summary>Solution</summary>

```python
answer = 43
```

</details>

The end.
"""


def test_conversion_rules() -> None:
    notebook = build.convert(PAGE, build.DOCS / "09-a-page.md")
    cells = [(c.cell_type, c.source) for c in notebook.cells]
    setup = cells[0][1]
    assert cells[0][0] == "code" and "Generated from docs/09-a-page.md" in setup
    assert "try:\n    import tinysiam\n    import tinysiam.experiments" in setup
    # the clone the notebook sits in, with what the pages' examples and graphs need
    assert '%pip install --quiet -e "{clone}[experiments,viz]"' in setup
    assert 'DEVICE = "cuda" if tinysiam.cuda_available() else "cpu"' in setup
    code = [source for kind, source in cells if kind == "code"]
    assert code[1:] == ["print(1 + 1)", "answer = 42", "answer = 43"]
    markdown = "\n".join(source for kind, source in cells if kind == "markdown")
    assert "(03-autodiff.ipynb#the-chain-rule)" in markdown  # pages become notebooks
    assert "(../docs/figures/x.png)" in markdown and "(../tinysiam/autograd.py)" in markdown
    # figures that exist are embedded: the notebook shows them wherever it is opened
    page = build.convert("![the graph](figures/autodiff-graph.png)\n", build.DOCS / "03-x.md")
    figure = page.cells[1]
    assert figure.source == "![the graph](attachment:autodiff-graph.png)"
    png = base64.b64decode(figure.attachments["autodiff-graph.png"]["image/png"])
    assert png == (build.DOCS / "figures" / "autodiff-graph.png").read_bytes()
    assert "```text" not in markdown and "```bash\npython -m pytest\n```" in markdown
    assert 'markdown="1"' not in markdown
    for cell in notebook.cells:  # every <details> opened in a cell is closed in it
        if cell.cell_type == "markdown":
            assert cell.source.count("<details>") == cell.source.count("</details>"), cell.source
    solutions = [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
    assert [c.source for c in solutions] == ["answer = 42", "answer = 43"]
    assert all(c.metadata["jupyter"]["source_hidden"] for c in solutions)
    assert not notebook.cells[1].metadata.get("tags")
    assert "*Solution: in the collapsed cell below.*" in markdown
    assert (
        "markdown",
        "<details>\n<summary>Solution, continued</summary>\n\nThen more.\n\n</details>\n\n"
        "**2.** Another.\n\n*Solution: in the collapsed cell below.*",
    ) in cells
    assert cells[-1] == ("markdown", "The end.")
    assert [c["id"] for c in notebook.cells] == [f"09-a-page-{k}" for k in range(len(cells))]


# ----- running notebooks in a kernel -------------------------------------------------------------
def execute(path: Path, tmp_path: Path) -> tuple[object, float]:
    """Run a notebook in a fresh python3 kernel, in its quick setting; (notebook, seconds)."""
    pytest.importorskip("nbclient", reason="nbclient is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # figures drawn inline
    env["TINYSIAM_NOTEBOOK_QUICK"] = "1"
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": tmp_path}}
    )
    started = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - started
    print(f"{path.name}: executed in {seconds:.1f} s")
    return notebook, seconds


WIDGET = "application/vnd.jupyter.widget-view+json"


def outputs(notebook) -> list[dict]:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def test_autodiff_notebook_runs(tmp_path: Path) -> None:
    notebook, _ = execute(NOTEBOOKS / "03-autodiff.ipynb", tmp_path)
    printed = "".join(o.get("text", "") for o in outputs(notebook) if o["output_type"] == "stream")
    assert "16.0 16.0 -16.0" in printed


def test_experiment_1_notebook_trains_and_draws(tmp_path: Path) -> None:
    notebook, _ = execute(NOTEBOOKS / "experiment-1.ipynb", tmp_path)
    produced = outputs(notebook)
    images = [o for o in produced if "image/png" in o.get("data", {})]
    # training images, pairs, loss curve, embedding, retrieval
    assert len(images) == 5, f"{len(images)} inline figures"
    streams = "".join(o.get("text", "") for o in produced if o["output_type"] == "stream")
    assert "quick run: 10 iterations" in streams
    # tqdm.auto: a widget where ipywidgets is installed, else a text bar on stderr
    widgets = [o for o in produced if WIDGET in o.get("data", {})]
    assert widgets or "training: 100%" in streams, "no progress bar in the notebook's output"
    assert "5-NN digit accuracy" in streams


PAGE_NOTEBOOKS = [s for s in SOURCES if s.parent.name == "docs"]


@pytest.mark.slow
@pytest.mark.parametrize("source", PAGE_NOTEBOOKS, ids=[s.stem for s in PAGE_NOTEBOOKS])
def test_every_page_notebook_runs(source: Path, tmp_path: Path) -> None:
    """Every course notebook runs top to bottom in a kernel (about 2 minutes in all)."""
    notebook, _ = execute(build.notebook_path(source), tmp_path)
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]
