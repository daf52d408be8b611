"""draw_graph: the nodes, edges and labels it draws, its DOT text, collapsing, and its errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tinysiam
from tinysiam import nn
from tinysiam.viz import Graph, GraphvizNotFoundError, draw_graph

NODE = re.compile(r"^  (\w+) \[label=<(.*)>, (.*)\];$")
EDGE = re.compile(r'^  (\w+) -> (\w+)(?: \[label="([^"]*)", [^\]]*\])?;$')
HAS_DOT = shutil.which("dot") is not None


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A small parser for the DOT that draw_graph writes: {node: label}, [(tail, head)].

    Every line must be a header, an attribute statement, a node or an edge, and every edge must
    join declared nodes, so malformed output fails here even where Graphviz is not installed.
    """
    lines = text.splitlines()
    assert lines[0] == "digraph tinysiam {" and lines[-1] == "}", "not one digraph block"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if node := NODE.match(line):
            assert node.group(1) not in nodes, f"node {node.group(1)} declared twice"
            label = node.group(2)
            assert label.count("<") == label.count(">"), f"unbalanced HTML label: {label}"
            nodes[node.group(1)] = label
        elif edge := EDGE.match(line):
            edges.append((edge.group(1), edge.group(2)))
        else:
            assert re.match(r"^  (rankdir|dpi|node|edge|label)\b.*;$", line), f"bad line {line!r}"
    for tail, head in edges:
        assert tail in nodes and head in nodes, f"edge {tail} -> {head} joins undeclared nodes"
    return nodes, edges


def text_of(label: str) -> str:
    """A node's label without its HTML tags, lines joined by " | "."""
    return re.sub(r"<[^>]+>", "", label.replace("<BR/>", " | "))


def example() -> tuple[dict[str, tinysiam.Tensor], tinysiam.Tensor]:
    """L = (a b + a)^2 at a = 2, b = -3, as page 3 computes it."""
    a = tinysiam.tensor(2.0, requires_grad=True)
    b = tinysiam.tensor(-3.0, requires_grad=True)
    c = a * b
    d = c + a
    L = d**2
    return {"a": a, "b": b, "c": c, "d": d, "L": L}, L


def small_twin(seed: int = 0) -> nn.Twin:
    rng = np.random.default_rng(seed)
    return nn.Twin(nn.Sequential(nn.Dense(4, 3, rng=rng), nn.ReLU(), nn.Dense(3, 2, rng=rng)))


def batch(seed: int) -> tinysiam.Tensor:
    return tinysiam.tensor(np.random.default_rng(seed).random((2, 4)).astype(np.float32))


def twin_distance(twin: nn.Twin) -> tinysiam.Tensor:
    """Squared distance between the two embeddings of a pair, the branch called twice."""
    f1, f2 = twin.embed(batch(1)), twin.embed(batch(2))
    return ((f1 - f2) ** 2).sum()


# ----- a known expression ----------------------------------------------------------------------
def test_counts_and_labels_of_a_known_expression() -> None:
    tensors, L = example()
    nodes, edges = parse_dot(draw_graph(L, labels=tensors).dot)
    texts = {name: text_of(label) for name, label in nodes.items()}
    ops = sorted(t for name, t in texts.items() if name.startswith("op"))
    assert ops == ["Add +", "Mul ×", "Pow **"]
    # tensors: a, b, c, d, L and the constant exponent 2; edges: 2 + 2 + 2 into the ops, 3 out
    assert len(nodes) == 9 and len(edges) == 9
    by_label = {t.split(" | ")[0]: name for name, t in texts.items() if not name.startswith("op")}
    assert texts[by_label["c"]] == "c | scalar float32 | value -6"
    assert texts[by_label["L"]] == "L | scalar float32 | value 16"
    op_of = {text: name for name, text in texts.items() if name.startswith("op")}
    # a feeds both Mul and Add: drawn once, with two outgoing edges
    assert sorted(head for tail, head in edges if tail == by_label["a"]) == sorted(
        [op_of["Mul ×"], op_of["Add +"]]
    )
    assert (op_of["Pow **"], by_label["L"]) in edges


def test_gradients_show_after_backward_and_from_grads() -> None:
    tensors, L = example()
    L.backward()
    nodes, _ = parse_dot(draw_graph(L, labels=tensors, grads={tensors["d"]: -8.0}).dot)
    texts = [text_of(label) for label in nodes.values()]
    assert "a | scalar float32 | value 2 | grad 16" in texts
    assert "b | scalar float32 | value -3 | grad -16" in texts
    assert "d | scalar float32 | value -4 | grad -8" in texts
    assert "c | scalar float32 | value -6" in texts  # an intermediate keeps no .grad


def test_local_derivatives_label_the_edges() -> None:
    tensors, L = example()
    L = tensors["d"] * tensors["d"]  # d read twice: two edges, each dL/dd = d = -4
    graph = draw_graph(L, labels={**tensors, "L": L}, local_derivatives=True)
    labels = sorted(
        edge.group(3)
        for line in graph.dot.splitlines()
        if (edge := EDGE.match(line)) and edge.group(3)
    )
    assert labels == [
        "local ∂L/∂d (input 0) = -4",
        "local ∂L/∂d (input 1) = -4",
        "local ∂c/∂a = -3",
        "local ∂c/∂b = 2",
        "local ∂d/∂a = 1",
        "local ∂d/∂c = 1",
    ]
    L.backward()
    with pytest.raises(ValueError, match="retain_graph=True"):
        draw_graph(L, local_derivatives=True)


def test_a_tensor_read_twice_by_one_op_has_two_edges() -> None:
    x = tinysiam.tensor([1.0, 2.0], requires_grad=True)
    graph = draw_graph(x * x)
    assert len(graph.nodes) == 3 and graph.edges.count(("t0", "op1")) == 2


def test_large_tensors_show_no_values_and_leaves_differ_by_kind() -> None:
    w = nn.Parameter(np.ones((3, 3), np.float32))
    x = tinysiam.tensor(np.ones((2, 3), np.float32))
    s = tinysiam.tensor(np.ones(3, np.float32), requires_grad=True)
    graph = draw_graph((x @ w + s).sum(), max_values=3)
    kinds = {node.kind for node in graph.nodes}
    assert {"parameter", "input", "leaf", "op", "tensor", "output"} <= kinds
    parameter = next(node for node in graph.nodes if node.kind == "parameter")
    assert parameter.lines == ["<B>Parameter</B>", "(3, 3) float32"]
    style = {}  # kind -> the DOT attributes after the label
    for line in graph.dot.splitlines():
        if node := NODE.match(line):
            style[next(n.kind for n in graph.nodes if n.name == node.group(1))] = node.group(3)
    assert len({style[k] for k in ("parameter", "input", "leaf", "tensor")}) == 4


def test_op_classes_get_readable_names() -> None:
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, rng=rng), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    x = tinysiam.tensor(np.ones((1, 1, 6, 6), np.float32))
    graph = draw_graph(nn.Dense(8, 2, rng=rng)(net(x)).sigmoid())
    ops = [node.lines[0] for node in graph.nodes if node.kind == "op"]
    assert ops == ["Conv2d", "ReLU", "MaxPool2d", "Reshape", "Dense", "Sigmoid"]


# ----- twins and modules -------------------------------------------------------------------------
def test_twin_shared_weights_appear_once_with_two_uses() -> None:
    twin = small_twin()
    graph = draw_graph(twin_distance(twin), labels=twin)
    nodes, edges = parse_dot(graph.dot)
    names = {text_of(label).split(" | ")[0]: name for name, label in nodes.items()}
    for parameter in ("branch.0.weight", "branch.0.bias", "branch.2.weight", "branch.2.bias"):
        assert parameter in names, f"{parameter} not drawn"
        uses = [head for tail, head in edges if tail == names[parameter]]
        assert len(uses) == 2 and len(set(uses)) == 2, f"{parameter}: {uses}"
    assert sum(text_of(label).startswith("branch.0.weight") for label in nodes.values()) == 1
    assert sum(text_of(label) == "Dense" for label in nodes.values()) == 4


def test_collapse_draws_each_call_as_one_node() -> None:
    twin = small_twin()
    loss = twin_distance(twin)
    full = draw_graph(loss, labels=twin)
    collapsed = draw_graph(loss, labels=twin, collapse=[twin.branch])
    nodes, edges = parse_dot(collapsed.dot)
    assert len(nodes) < len(full.nodes)
    calls = [n for n in collapsed.nodes if n.kind == "module"]
    assert [text_of("<BR/>".join(n.lines)) for n in calls] == [
        "branch | Sequential, 3 ops | call 1 of 2",
        "branch | Sequential, 3 ops | call 2 of 2",
    ]
    (params,) = [n for n in collapsed.nodes if n.kind == "parameters"]
    assert text_of("<BR/>".join(params.lines)) == "branch parameters | 4 tensors, 23 values"
    assert sorted(head for tail, head in edges if tail == params.name) == sorted(
        n.name for n in calls
    )
    assert not any(n.kind == "op" and n.lines[0] == "Dense" for n in collapsed.nodes)
    assert parse_dot(draw_graph(loss, labels=twin, collapse=True).dot) == (nodes, edges)


def test_labels_from_a_module_and_a_dict_together() -> None:
    twin = small_twin()
    f1, f2 = twin.embed(batch(1)), twin.embed(batch(2))
    d2 = ((f1 - f2) ** 2).sum()
    nodes, _ = parse_dot(draw_graph(d2, labels=[twin, {"f1": f1, "f2": f2, "d2": d2}]).dot)
    names = [text_of(label).split(" | ")[0] for label in nodes.values()]
    assert {"f1", "f2", "d2", "branch.0.weight", "branch.2.bias"} <= set(names)


def test_collapse_true_collapses_each_layer_with_parameters() -> None:
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Dense(4, 3, rng=rng), nn.ReLU(), nn.Dense(3, 2, rng=rng))
    graph = draw_graph(net(batch(1)).sum(), labels=net, collapse=True)
    modules = [text_of("<BR/>".join(n.lines)) for n in graph.nodes if n.kind == "module"]
    assert modules == ["0 | Dense, 1 op", "2 | Dense, 1 op"]
    assert [n.lines[0] for n in graph.nodes if n.kind == "op"] == ["ReLU", "Sum"]
    params = [text_of("<BR/>".join(n.lines)) for n in graph.nodes if n.kind == "parameters"]
    assert params == ["0 parameters | 2 tensors, 15 values", "2 parameters | 2 tensors, 8 values"]


def test_collapse_of_a_batched_twin_is_one_call() -> None:
    twin = small_twin()
    f1, f2 = twin(batch(1), batch(2))  # one batch through the shared branch
    graph = draw_graph(((f1 - f2) ** 2).sum(), labels=twin, collapse=True)
    assert sum(n.kind == "module" for n in graph.nodes) == 1
    ops = sorted(n.lines[0] for n in graph.nodes if n.kind == "op")
    assert ops == ["GetItem", "GetItem", "Pow **", "Sub −", "Sum"]  # the split, then the distance


def test_collapse_needs_modules_with_parameters() -> None:
    twin = small_twin()
    loss = twin_distance(twin)
    with pytest.raises(ValueError, match="ReLU: it has no parameters"):
        draw_graph(loss, collapse=[nn.ReLU()])
    with pytest.raises(ValueError, match="collapse=True .* pass labels=model"):
        draw_graph(loss, collapse=True)
    with pytest.raises(TypeError, match="collapse must be Modules.*got a str"):
        draw_graph(loss, collapse=["branch"])


# ----- output formats ----------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz programs are not installed")
def test_dot_text_is_accepted_by_graphviz(tmp_path: Path) -> None:
    twin = small_twin()
    for graph in (
        draw_graph(example()[1], labels=example()[0], title='L = "(ab + a)^2"'),
        draw_graph(twin_distance(twin), labels=twin, collapse=True, rankdir="TB"),
    ):
        result = subprocess.run(
            ["dot", "-Tsvg"], input=graph.dot, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0 and not result.stderr, result.stderr
        assert result.stdout.lstrip().startswith("<?xml")
    graph = draw_graph(example()[1])
    assert graph.save(tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in graph.save(tmp_path / "g.svg").read_text()
    assert "image/svg+xml" in graph._repr_mimebundle_()


def test_dot_text_needs_nothing_installed(tmp_path: Path) -> None:
    graph = draw_graph(example()[1])
    assert isinstance(graph, Graph) and graph.source == graph.dot
    assert graph.save(tmp_path / "g.dot").read_text() == graph.dot
    with pytest.raises(ValueError, match=r"unknown format '.jpeg'.*use .dot, .svg"):
        graph.save(tmp_path / "g.jpeg")


def test_missing_graphviz_programs_say_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    graph = draw_graph(example()[1])
    with pytest.raises(GraphvizNotFoundError) as error:
        graph.save(tmp_path / "g.svg")
    message = str(error.value)
    for instruction in (
        "apt-get install graphviz",
        "dnf install graphviz",
        "brew install graphviz",
        "conda install -c conda-forge graphviz",
        "print(graph.dot)",
    ):
        assert instruction in message
    assert graph._repr_svg_() is None  # Jupyter falls back to text instead of a traceback
    assert "brew install graphviz" in graph._repr_mimebundle_()["text/plain"]
    assert graph.dot  # the text still works


def test_missing_graphviz_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_graphviz(name: str, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    install_hint = r"package `graphviz`(.|\n)*pip install -e '\.\[viz\]'"
    with pytest.raises(GraphvizNotFoundError, match=install_hint):
        draw_graph(example()[1]).render("svg")


# ----- bad input ---------------------------------------------------------------------------------
def test_bad_input_is_named() -> None:
    with pytest.raises(TypeError, match="expected a tinysiam Tensor, got ndarray"):
        draw_graph(np.ones(3))
    tensors, L = example()
    with pytest.raises(TypeError, match="labels must map tensors to names.*int -> str"):
        draw_graph(L, labels={1: "a"})
    with pytest.raises(TypeError, match="labels must be a dict, a Module or a list .*got Tensor"):
        draw_graph(L, labels=[tensors["a"]])
    with pytest.raises(ValueError, match="rankdir must be .*got 'XY'"):
        draw_graph(L, rankdir="XY")
    with pytest.raises(ValueError, match="max_values must be an int >= 0, got -1"):
        draw_graph(L, max_values=-1)


def test_a_leaf_alone_is_one_node() -> None:
    graph = draw_graph(tinysiam.tensor([1.0, 2.0]))
    assert [n.kind for n in graph.nodes] == ["input"] and graph.edges == []
