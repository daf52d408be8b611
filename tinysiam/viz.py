"""Draw the computation graph behind a tensor: ``draw_graph(loss)``.

The engine records, on every tensor made by an op, a node with the op and its input tensors
(``tensor._node.function`` and ``tensor._node.inputs``, see :mod:`tinysiam.autograd`). Walking
those links back from a tensor gives the whole graph that ``backward`` will traverse.
:func:`draw_graph` turns it into a picture:

* one oval per op application, named after the op (``Mul ×``, ``Dense``, ``Conv2d``);
* one box per tensor: its label when one is given, its shape and dtype, and for a tensor of a
  few elements its value and, when known, its gradient (red);
* edges from each input tensor to the op, and from the op to the tensor it made.

Leaves are drawn by kind: a :class:`~tinysiam.nn.Parameter` in orange, any other leaf that
requires grad in blue, a constant or data input with a dashed border. A tensor is drawn once
however often it is used, so the shared weights of a twin network called on two inputs show
one box with two outgoing edges, one per branch.

The DOT text (Graphviz's graph language) is written here, with no dependency: ``graph.dot``.
Laying it out and rendering it (SVG, PNG, inline in Jupyter) uses the Graphviz programs through
the ``graphviz`` Python package: the ``viz`` extra, ``pip install -e '.[viz]'`` in a clone.

Collapsing modules: ``draw_graph(loss, labels=twin, collapse=[twin.branch])`` draws each call of
``twin.branch`` as one box. A call is recognised by the module's parameters: the ops that read
one of its parameters and every op between two of those (descendants of its parameters that lead
to an op reading one) form the call, split into separate calls where they are not connected.
Parameter-free ops before its first parameterised layer or after its last (a leading Flatten, a
trailing ReLU) stay visible. The module's parameters become one box with an edge into each call.

Example:
    >>> a = tinysiam.tensor(2.0, requires_grad=True)
    >>> b = tinysiam.tensor(-3.0, requires_grad=True)
    >>> L = (a * b + a) ** 2
    >>> graph = draw_graph(L, labels={"a": a, "b": b, "L": L})
    >>> print(graph.dot)              # always available
    >>> graph.save("graph.svg")       # needs Graphviz; in Jupyter, `graph` alone draws it
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backend import get_array_module, to_numpy
from .nn.module import Module, Parameter
from .tensor import Tensor

INSTALL_GRAPHVIZ = """\
Rendering a graph needs the Graphviz programs (the `dot` command) and its Python package.
Install the programs with one of:
    Debian/Ubuntu:  sudo apt-get install graphviz
    Fedora/RHEL:    sudo dnf install graphviz
    macOS:          brew install graphviz
    conda:          conda install -c conda-forge graphviz
and the Python package with:  pip install graphviz   (in a clone: pip install -e '.[viz]')
Without them the graph is still available as DOT text: print(graph.dot), or graph.save("g.dot")."""

SYMBOLS = {"Add": "+", "Sub": "−", "Mul": "×", "Div": "÷", "Pow": "**", "MatMul": "@", "Neg": "−"}

STYLES = {  # kind of node: its DOT attributes
    "op": 'shape=ellipse, style=filled, fillcolor="#eef0f2", color="#5d6d7e"',
    "parameter": 'shape=box, style="filled,bold", fillcolor="#fdebd0", color="#ca6f1e"',
    "leaf": 'shape=box, style=filled, fillcolor="#d6eaf8", color="#2e86c1"',
    "input": 'shape=box, style=dashed, color="#7f8c8d"',
    "tensor": 'shape=box, style=rounded, color="#5d6d7e"',
    "output": 'shape=box, style="rounded,bold", color="#1b2631"',
    "module": 'shape=box3d, style=filled, fillcolor="#e8daef", color="#7d3c98"',
    "parameters": 'shape=box, style="filled,bold", fillcolor="#fdebd0", color="#ca6f1e", '
    "peripheries=2",
}
GRAD_COLOUR = "#c0392b"


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz programs or its Python package are missing; the message says how to install."""


@dataclass
class GraphNode:
    """One drawn node. ``kind`` is one of the keys of :data:`STYLES`; ``lines`` its label."""

    name: str
    kind: str
    lines: list[str]


@dataclass
class Graph:
    """A drawn computation graph: its nodes and edges, as DOT text and (with Graphviz) images.

    Attributes:
        nodes: every node, in the order the graph was walked (inputs before what they make).
        edges: (from, to) node names; an op that reads a tensor twice has two edges from it.
        edge_labels: edge index -> label (the local derivatives, when asked for).
        title: the caption drawn under the graph, or "".
        rankdir: Graphviz's direction, "LR" (left to right) or "TB" (top to bottom).
    """

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    edge_labels: dict[int, str] = field(default_factory=dict)
    title: str = ""
    rankdir: str = "LR"

    @property
    def dot(self) -> str:
        """The graph in Graphviz's DOT language; needs nothing installed."""
        return self.dot_text()

    @property
    def source(self) -> str:
        """The same as :attr:`dot` (the name the ``graphviz`` package uses)."""
        return self.dot

    def dot_text(self, dpi: int | None = None) -> str:
        """DOT text, with a resolution for bitmap output when ``dpi`` is given."""
        lines = ["digraph tinysiam {", f"  rankdir={self.rankdir};"]
        if dpi is not None:
            lines.append(f"  dpi={int(dpi)};")
        lines.append('  node [fontname="Helvetica", fontsize=11];')
        lines.append('  edge [color="#566573", arrowsize=0.7, fontname="Helvetica"];')
        if self.title:
            lines.append(f'  label="{_quoted(self.title)}"; labelloc=t; fontname="Helvetica";')
        for node in self.nodes:
            lines.append(
                f"  {node.name} [label=<{'<BR/>'.join(node.lines)}>, {STYLES[node.kind]}];"
            )
        for k, (tail, head) in enumerate(self.edges):
            label = self.edge_labels.get(k)
            if label is None:
                lines.append(f"  {tail} -> {head};")
            else:
                style = 'fontsize=10, fontcolor="#34495e"'
                lines.append(f'  {tail} -> {head} [label="{_quoted(label)}", {style}];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, format: str = "svg", dpi: int | None = None) -> bytes:
        """The laid-out picture as bytes ("svg", "png", "pdf", ...), drawn by Graphviz's ``dot``.

        Raises:
            GraphvizNotFoundError: Graphviz is not installed (the message says how to install it).
        """
        graphviz = _import_graphviz()
        try:
            return graphviz.Source(self.dot_text(dpi)).pipe(format=format)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError(
                f"the Graphviz program `dot` was not found ({error}).\n{INSTALL_GRAPHVIZ}"
            ) from None

    def save(self, path: str | Path, dpi: int = 96) -> Path:
        """Write the graph to ``path``: .dot (text, needs nothing), .svg, .png or .pdf.

        Args:
            path: the file to write; its suffix chooses the format.
            dpi: resolution of a .png (Graphviz's default is 96).
        """
        path = Path(path)
        suffix = path.suffix.lower().lstrip(".")
        if suffix in ("dot", "gv"):
            path.write_text(self.dot)
        elif suffix in ("svg", "png", "pdf"):
            path.write_bytes(self.render(suffix, dpi=dpi if suffix == "png" else None))
        else:
            raise ValueError(
                f"save: unknown format {path.suffix!r} in {str(path)!r}; "
                "use .dot, .svg, .png or .pdf"
            )
        return path

    def _repr_svg_(self) -> str | None:
        """Jupyter draws the graph inline; without Graphviz it shows the text repr instead."""
        try:
            return self.render("svg").decode("utf-8")
        except GraphvizNotFoundError:
            return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        svg = self._repr_svg_()
        if svg is not None:
            return {"image/svg+xml": svg}
        return {"text/plain": f"{self!r}\n(no picture: {INSTALL_GRAPHVIZ})"}

    def __repr__(self) -> str:
        ops = sum(node.kind in ("op", "module") for node in self.nodes)
        return (
            f"<Graph: {len(self.nodes)} nodes ({ops} ops), {len(self.edges)} edges; "
            ".dot for the text, .save('graph.svg') to draw it>"
        )


def draw_graph(
    tensor: Tensor,
    *,
    labels: Module | Mapping[Any, Any] | list[Module | Mapping[Any, Any]] | None = None,
    collapse: bool | Module | Iterable[Module] | None = None,
    grads: Mapping[Tensor, Any] | None = None,
    max_values: int = 4,
    title: str = "",
    rankdir: str = "LR",
    local_derivatives: bool = False,
) -> Graph:
    """Draw the computation graph that ends at ``tensor``.

    Args:
        tensor: any tensor; the graph is every op and tensor it was computed from.
        labels: names for tensors: a dict ``{tensor: "name"}`` or ``{"name": tensor}``, a
            Module, whose parameters are then named as in ``named_parameters()``
            ("branch.0.weight"), or a list of these.
        collapse: modules to draw as one box per call (see the module docstring): a Module, a
            list of them, or True for every top-level submodule of the Module given as
            ``labels``. None or False draws every op.
        grads: gradients to show beside ``.grad`` (which the engine keeps for leaves only), e.g.
            the adjoints of intermediate tensors: ``{tensor: array}``.
        max_values: tensors with at most this many elements show their values and gradients.
        title: a caption drawn above the graph.
        rankdir: "LR" draws inputs on the left, "TB" at the top.
        local_derivatives: label each edge from a one-element tensor into a one-element op
            with the op's local derivative d(output)/d(input), found by calling the op's
            ``backward`` with a gradient of 1. Needs the graph's saved arrays: draw before
            ``backward()``, or after ``backward(retain_graph=True)``.

    Returns:
        A :class:`Graph`: ``.dot`` for the text, ``.save(path)`` for a file, and drawn inline
        when it is the last value of a Jupyter cell.

    Example:
        >>> f1, f2 = twin.embed(x1), twin.embed(x2)       # one branch, called twice
        >>> loss = tinysiam.losses.contrastive_loss(f1, f2, y)
        >>> draw_graph(loss, labels=twin).save("twin.svg")  # each weight drawn once, used twice
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"draw_graph: expected a tinysiam Tensor, got {type(tensor).__name__}; "
            "wrap arrays with tinysiam.tensor(...)"
        )
    if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 0:
        raise ValueError(f"draw_graph: max_values must be an int >= 0, got {max_values!r}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    names, module_names = _label_table(labels)
    order = _graph_tensors(tensor)
    groups = _collapse_groups(order, _collapse_modules(collapse, labels))
    given_grads = {id(t): g for t, g in (grads or {}).items()}
    return _build(
        tensor,
        order,
        names,
        module_names,
        groups,
        given_grads,
        max_values,
        title,
        rankdir,
        local_derivatives,
    )


# ----- walking the graph -----------------------------------------------------------------------
def _graph_tensors(output: Tensor) -> list[Tensor]:
    """Every tensor of the graph ending at ``output`` (constants and data inputs included),
    each after its inputs: an iterative depth-first search, as in the engine."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(output, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._node is not None:
            stack.extend((parent, False) for parent in reversed(tensor._node.inputs))
    return order


def _inputs(tensor: Tensor) -> tuple[Tensor, ...]:
    return () if tensor._node is None else tuple(tensor._node.inputs)


# ----- labels and collapsed modules --------------------------------------------------------------
def _label_sources(labels: Any) -> list[Any]:
    """``labels`` as a list of Modules and dicts (one of them, or a list or tuple of them)."""
    if labels is None:
        return []
    sources = list(labels) if isinstance(labels, list | tuple) else [labels]
    for source in sources:
        if not isinstance(source, Module | Mapping):
            raise TypeError(
                "draw_graph: labels must be a dict, a Module or a list of them, "
                f"got {type(source).__name__}"
            )
    return sources


def _label_table(labels: Any) -> tuple[dict[int, str], dict[int, str]]:
    """(tensor id -> name, module id -> dotted name) from the ``labels`` argument."""
    names: dict[int, str] = {}
    modules: dict[int, str] = {}
    for source in _label_sources(labels):
        if isinstance(source, Module):
            modules.update((id(m), name or type(m).__name__) for name, m in source.named_modules())
            names.update((id(p), name) for name, p in source.named_parameters())
            continue
        for key, value in source.items():
            if isinstance(key, Tensor) and isinstance(value, str):
                names[id(key)] = value
            elif isinstance(key, str) and isinstance(value, Tensor):
                names[id(value)] = key
            else:
                raise TypeError(
                    "draw_graph: labels must map tensors to names ({tensor: 'name'}) or names to "
                    f"tensors, got an entry {type(key).__name__} -> {type(value).__name__}"
                )
    return names, modules


def _collapse_modules(collapse: Any, labels: Any) -> list[Module]:
    if collapse is None or collapse is False:
        return []
    if collapse is True:
        models = [source for source in _label_sources(labels) if isinstance(source, Module)]
        if not models:
            raise ValueError(
                "draw_graph: collapse=True collapses the top-level modules of the model given as "
                "labels; pass labels=model, or collapse=[module, ...]"
            )
        top = [
            m for model in models for name, m in model.named_modules() if name and "." not in name
        ]
        return [m for m in top if m.parameters()]
    modules = [collapse] if isinstance(collapse, Module) else list(collapse)
    for m in modules:
        if not isinstance(m, Module):
            raise TypeError(
                f"draw_graph: collapse must be Modules, True or None, got a {type(m).__name__}"
            )
        if not m.parameters():
            raise ValueError(
                f"draw_graph: cannot collapse {type(m).__name__}: it has no parameters, and a "
                "module's ops are recognised by the parameters they read"
            )
    return modules


@dataclass
class _Group:
    module: Module
    call: int  # 1, 2, ... for the module's separate calls
    members: set[int]  # ids of the tensors its ops made


def _collapse_groups(order: list[Tensor], modules: list[Module]) -> list[_Group]:
    """For each module, the connected sets of ops from its first parameter use to its last."""
    groups: list[_Group] = []
    claimed: set[int] = set()
    for module in modules:
        params = {id(p) for p in module.parameters()}
        below: set[int] = set()  # made (directly or not) from one of the parameters
        for t in order:
            if any(id(u) in params or id(u) in below for u in _inputs(t)):
                below.add(id(t))
        above: set[int] = set()  # leads to an op that reads one of the parameters
        for t in reversed(order):
            if id(t) in above or any(id(u) in params for u in _inputs(t)):
                above.add(id(t))
                above.update(id(u) for u in _inputs(t))
        inside = (below & above) - claimed
        claimed |= inside
        for call, members in enumerate(_components(order, inside), start=1):
            groups.append(_Group(module, call, members))
    return groups


def _components(order: list[Tensor], inside: set[int]) -> list[set[int]]:
    """Split ``inside`` into sets connected through op inputs (union-find), in graph order."""
    parent = {i: i for i in inside}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for t in order:
        if id(t) in inside:
            for u in _inputs(t):
                if id(u) in inside:
                    parent[root(id(u))] = root(id(t))
    components: dict[int, set[int]] = {}
    for t in order:
        if id(t) in inside:
            components.setdefault(root(id(t)), set()).add(id(t))
    return list(components.values())


# ----- building the drawing ---------------------------------------------------------------------
def _build(
    output: Tensor,
    order: list[Tensor],
    names: dict[int, str],
    module_names: dict[int, str],
    groups: list[_Group],
    grads: dict[int, Any],
    max_values: int,
    title: str,
    rankdir: str,
    local_derivatives: bool,
) -> Graph:
    """Nodes and edges, in graph order; a collapsed call hides its ops and inner tensors."""
    graph = Graph(title=title, rankdir=rankdir)
    group_of = {i: k for k, g in enumerate(groups) for i in g.members}
    modules = list({id(g.module): g.module for g in groups}.values())
    params_of = {id(p): k for k, m in enumerate(modules) for p in m.parameters()}
    used_outside = {id(output)}  # tensors made in a collapsed call and read outside it
    for t in order:
        for u in _inputs(t):
            if id(u) in group_of and group_of.get(id(t)) != group_of[id(u)]:
                used_outside.add(id(u))

    index = {id(t): k for k, t in enumerate(order)}

    def node_of(t: Tensor) -> str | None:
        """The node a tensor is drawn as, or None when it is hidden inside a collapsed call."""
        if id(t) in params_of:
            return f"p{params_of[id(t)]}"
        if id(t) in group_of and id(t) not in used_outside:
            return None
        return f"t{index[id(t)]}"

    drawn: set[str] = set()
    once: set[tuple[str, str]] = set()  # edges touching a collapsed node are drawn once

    def add_edge(tail: str, head: str, label: str | None = None) -> None:
        if tail[0] in "pg" or head[0] in "pg":
            if (tail, head) in once or tail == head:
                return
            once.add((tail, head))
        if label is not None:
            graph.edge_labels[len(graph.edges)] = label
        graph.edges.append((tail, head))

    for t in order:
        name = node_of(t)
        head = None
        if t._node is not None:
            if id(t) in group_of:
                head = f"g{group_of[id(t)]}"
                if head not in drawn:
                    group = groups[group_of[id(t)]]
                    graph.nodes.append(_module_node(head, group, groups, module_names))
            else:
                head = f"op{index[id(t)]}"
                graph.nodes.append(GraphNode(head, "op", [_escape(_op_label(t._node.function))]))
            drawn.add(head)
        if name is not None and name not in drawn:
            drawn.add(name)
            if name[0] == "p":
                graph.nodes.append(_parameters_node(name, modules[params_of[id(t)]], module_names))
            else:
                graph.nodes.append(_tensor_node(name, t, names, grads, max_values, output))
        if head is None:
            continue
        local = _local_derivatives(t, names) if local_derivatives and head[0] == "o" else {}
        for k, u in enumerate(_inputs(t)):
            tail = node_of(u)
            if tail is not None:
                add_edge(tail, head, local.get(k))
        if name is not None:
            add_edge(head, name)
    return graph


def _local_derivatives(t: Tensor, names: dict[int, str]) -> dict[int, str]:
    """Input index -> "local ∂y/∂x = value" for each one-element input of the op that made ``t``.

    "local" tells the edge's label from the tensor's adjoint: for L = d * d each of the two edges
    from d carries the local derivative -4 (the other factor, named by its input slot), while d's
    adjoint is their sum, -8.
    """
    node = t._node
    if node is None or t.size != 1:
        return {}
    if getattr(node, "released", False):
        raise ValueError(
            "draw_graph(local_derivatives=True) needs the graph's saved arrays, which backward() "
            "released: draw before backward(), or call backward(retain_graph=True)"
        )
    grads = node.function.backward(node.ctx, get_array_module(t.data).ones_like(t.data))
    short = {i: name.split()[0] for i, name in names.items() if name.split()}
    labels = {}
    for k, (u, g) in enumerate(zip(node.inputs, grads, strict=True)):
        if g is not None and u.size == 1:
            out, into = short.get(id(t), "y"), short.get(id(u), "x")
            slot = f" (input {k})" if sum(w is u for w in node.inputs) > 1 else ""
            value = _values(np.asarray(to_numpy(g)).reshape(()))
            labels[k] = f"local ∂{out}/∂{into}{slot} = {value}"
    return labels


def _op_label(function: type) -> str:
    """A readable op name: the class name without an ``Op`` suffix, and its symbol if any."""
    name = function.__name__
    if name.endswith("Op") and len(name) > 2:
        name = name[:-2]
    return f"{name} {SYMBOLS[name]}" if name in SYMBOLS else name


def _tensor_node(
    name: str,
    t: Tensor,
    names: dict[int, str],
    grads: dict[int, Any],
    max_values: int,
    output: Tensor,
) -> GraphNode:
    if t._node is not None:
        kind = "tensor"
    elif isinstance(t, Parameter):
        kind = "parameter"
    else:
        kind = "leaf" if t.requires_grad else "input"
    lines = []
    if id(t) in names:
        lines.append(f"<B>{_escape(names[id(t)])}</B>")
    elif kind == "parameter":
        lines.append("<B>Parameter</B>")
    shape = "scalar" if t.ndim == 0 else str(t.shape)
    device = "" if t.device == "cpu" else f" on {t.device}"
    lines.append(_escape(f"{shape} {t.dtype}{device}"))
    if t.size <= max_values:
        lines.append(_escape(f"value {_values(t.data)}"))
        grad = grads.get(id(t), t.grad)
        if grad is not None:
            text = _escape(f"grad {_values(grad)}")
            lines.append(f'<FONT COLOR="{GRAD_COLOUR}">{text}</FONT>')
    if t is output and kind == "tensor":
        kind = "output"
    return GraphNode(name, kind, lines)


def _parameters_node(name: str, module: Module, module_names: dict[int, str]) -> GraphNode:
    params = module.parameters()
    count = sum(p.size for p in params)
    title = module_names.get(id(module), type(module).__name__)
    return GraphNode(
        name,
        "parameters",
        [
            f"<B>{_escape(title)} parameters</B>",
            _escape(f"{len(params)} tensors, {count:,} values"),
        ],
    )


def _module_node(
    name: str, group: _Group, groups: list[_Group], module_names: dict[int, str]
) -> GraphNode:
    calls = sum(g.module is group.module for g in groups)
    title = module_names.get(id(group.module), type(group.module).__name__)
    lines = [
        f"<B>{_escape(title)}</B>",
        _escape(f"{type(group.module).__name__}, {_count(len(group.members), 'op')}"),
    ]
    if calls > 1:
        lines.append(_escape(f"call {group.call} of {calls}"))
    return GraphNode(name, "module", lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _values(array: Any) -> str:
    values = np.asarray(to_numpy(array))
    if values.ndim == 0:
        return f"{values.item():.4g}"
    text = np.array2string(values, precision=4, separator=", ", suppress_small=True)
    return " ".join(text.split())  # one line, whatever the rank


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise GraphvizNotFoundError(
            f"the Python package `graphviz` is not installed.\n{INSTALL_GRAPHVIZ}"
        ) from None
    return graphviz
