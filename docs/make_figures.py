"""Draw the course's figures from real tinysiam runs:  python docs/make_figures.py

    figures/autodiff-graph.png   page 3: the graph of L = (ab + a)^2, values and adjoints
    figures/im2col.png           page 8: an input and its column matrix
    figures/optimisers.png       page 11: SGD, momentum and Adam on a stretched quadratic
    figures/twin-graph.png       page 13: a twin's graph, each shared parameter drawn once

Each figure is computed here with tinysiam (nothing is typed in by hand), on the CPU, in seconds.
``--only im2col.png`` (repeatable) redraws just the figures named.

The figures of pages 15 and 16 come from full runs of the two examples, which take minutes to
hours; they are copied, not redrawn:

    python docs/make_figures.py --runs runs   # runs/mnist_contrastive/, runs/omniglot_bce/

copies the figures listed in RUN_FIGURES (ex1-*.png, ex2-*.png) and draws nothing else.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinysiam  # noqa: E402
from tinysiam import optim  # noqa: E402
from tinysiam.autograd import unbroadcast  # noqa: E402
from tinysiam.reference import im2col  # noqa: E402  (the version page 8 teaches)

FIGURES = Path(__file__).resolve().parent / "figures"
RED = "#c0392b"
BLUE = "#2e86c1"


def save(fig: plt.Figure, name: str) -> None:
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / name, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(f"wrote docs/figures/{name} ({(FIGURES / name).stat().st_size // 1024} KB)")


# ----- pages 3 and 13: computation graphs, drawn by tinysiam.viz.draw_graph -------------------
def all_adjoints(output: tinysiam.Tensor) -> dict[int, float]:
    """dL/dv for every tensor v of the graph, by the engine's loop (the version shown on page 3)."""
    order, visited, stack = [], set(), [(output, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
        elif id(tensor) not in visited:
            visited.add(id(tensor))
            stack.append((tensor, True))
            if tensor._node is not None:
                stack.extend((t, False) for t in tensor._node.inputs if t.requires_grad)
    adjoint = {id(output): 1.0}
    for tensor in reversed(order):
        node = tensor._node
        if node is None:
            continue
        grads = node.function.backward(node.ctx, adjoint[id(tensor)])
        for parent, g in zip(node.inputs, grads, strict=True):
            if g is not None and parent.requires_grad:
                adjoint[id(parent)] = adjoint.get(id(parent), 0.0) + unbroadcast(g, parent.shape)
    return {key: float(value) for key, value in adjoint.items()}


def autodiff_graph() -> None:
    """Page 3: the graph of L = (ab + a)^2 at a = 2, b = -3, each tensor with value and adjoint."""
    from tinysiam.viz import draw_graph

    a = tinysiam.tensor(2.0, requires_grad=True)
    b = tinysiam.tensor(-3.0, requires_grad=True)
    c = a * b
    d = c + a
    L = d * d
    named = {"a": a, "b": b, "c = a·b": c, "d = c + a": d, "L = d·d": L}
    adjoint = all_adjoints(L)  # every adjoint, not only the leaves' .grad
    graph = draw_graph(
        L,
        labels=named,
        grads={t: adjoint[id(t)] for t in named.values()},
        local_derivatives=True,  # each edge: the op's derivative with respect to that input
        title="L = (a·b + a)²: each tensor's value and its adjoint ∂L/∂v (grad, red)",
        rankdir="TB",  # top to bottom: narrow enough to read at the page's width
    )
    save_graph(graph, "autodiff-graph.png")


def twin_graph() -> None:
    """Page 13: a small twin network, its one branch called on both inputs of a pair.

    Each parameter is drawn once, with one edge into each branch's op: the picture of weight
    sharing, and of why backward adds the two branches' gradients.
    """
    from tinysiam import nn
    from tinysiam.viz import draw_graph

    rng = np.random.default_rng(0)
    twin = nn.Twin(nn.Sequential(nn.Dense(3, 2, rng=rng), nn.ReLU(), nn.Dense(2, 2, rng=rng)))
    x1 = tinysiam.tensor(rng.random((1, 3)).astype(np.float32))
    x2 = tinysiam.tensor(rng.random((1, 3)).astype(np.float32))
    f1, f2 = twin.embed(x1), twin.embed(x2)  # the same branch (same Parameters) twice
    d2 = ((f1 - f2) ** 2).sum()
    named = {
        "x1": x1,
        "x2": x2,
        "f1 = branch(x1)": f1,
        "f2 = branch(x2)": f2,
        "d² = |f1 − f2|²": d2,
    }
    graph = draw_graph(
        d2,
        labels=[twin, named],
        max_values=1,  # values of the scalars only
        title="A twin network: each parameter drawn once, read by both branches",
        rankdir="TB",  # the two branches side by side, each running down the page
    )
    save_graph(graph, "twin-graph.png")


GRAPH_DPI = 90  # 11-point labels 14 px high; both graphs under 700 px wide, the page's width


def save_graph(graph, name: str) -> None:
    """Write a draw_graph picture into docs/figures (needs Graphviz: apt-get install graphviz).

    Drawn top to bottom at GRAPH_DPI, a graph fits the text column of the site (about 700 px)
    at its own size, so no browser shrinks its labels.
    """
    FIGURES.mkdir(exist_ok=True)
    graph.save(FIGURES / name, dpi=GRAPH_DPI)
    print(f"wrote docs/figures/{name} ({(FIGURES / name).stat().st_size // 1024} KB)")


# ----- page 8: im2col -------------------------------------------------------------------------
def grid(
    ax: plt.Axes, values: np.ndarray, highlight: np.ndarray, title: str, fmt: str = "{:g}"
) -> None:
    """Draw a 2-D array as a table of numbers, the highlighted cells shaded.

    ``highlight`` is a boolean mask that broadcasts to ``values``' shape: a (1, cols) mask shades
    whole columns, and is stretched to (rows, cols) here so that every cell of them is shaded.
    """
    rows, cols = values.shape
    highlight = np.broadcast_to(highlight, values.shape)
    ax.imshow(np.where(highlight, 1.0, 0.0), cmap="Blues", vmin=0, vmax=2.5, aspect="equal")
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, fmt.format(values[r, c]), ha="center", va="center", fontsize=10)
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.6", lw=0.8)
    ax.tick_params(which="both", length=0)
    ax.set_title(title, fontsize=10)


def im2col_figure() -> None:
    c, h, k = 2, 3, 2
    x = np.concatenate([np.arange(9.0), 10 + np.arange(9.0)]).reshape(
        1, c, h, h
    )  # (N, C, H, W): 0..8, 10..18
    oh = h - k + 1
    cols = im2col(x, k, k, (1, 1), (oh, oh))  # (C*k*k, N*OH*OW) = (8, 4)
    chosen = 1  # the output pixel (oh, ow) = (0, 1)
    fig = plt.figure(figsize=(8.6, 3.6))
    spec = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.5], hspace=0.5)
    for channel in range(c):
        ax = fig.add_subplot(spec[channel, 0])
        window = np.zeros((h, h), bool)
        window[0:k, 1 : 1 + k] = True
        grid(ax, x[0, channel], window, f"x[0, {channel}]  (H, W) = ({h}, {h})")
        ax.set_xticks(range(h))
        ax.set_yticks(range(h))
    ax = fig.add_subplot(spec[:, 2])
    grid(
        ax,
        cols,
        np.arange(cols.shape[1])[None, :] == chosen,
        f"cols = im2col(x): ({c}·{k}·{k}, N·OH·OW) = {cols.shape}",
    )
    ax.set_yticks(
        range(cols.shape[0]),
        [f"c={ci} i={i} j={j}" for ci in range(c) for i in range(k) for j in range(k)],
        fontsize=8,
    )
    ax.set_xticks(
        range(cols.shape[1]), [f"({r},{q})" for r in range(oh) for q in range(oh)], fontsize=8
    )
    ax.set_xlabel("output pixel (oh, ow)", fontsize=9)
    text_ax = fig.add_subplot(spec[:, 1])
    text_ax.axis("off")
    text_ax.text(
        0.5,
        0.5,
        "the 2x2 window of output\npixel (0, 1), in both\nchannels, becomes\ncolumn 1"
        "\n\n⟶\n\nout = W.reshape(O, 8) @ cols\n(O, 8) @ (8, 4) = (O, 4)",
        ha="center",
        va="center",
        fontsize=9.5,
    )
    save(fig, "im2col.png")


# ----- page 11: optimisers ---------------------------------------------------------------------
SCALES = np.array([1.0, 25.0])  # f(w) = 0.5 (w1^2 + 25 w2^2): 25 times steeper across than along
START = np.array([-4.0, 1.2])


def quadratic(w: tinysiam.Tensor) -> tinysiam.Tensor:
    return 0.5 * (tinysiam.tensor(SCALES) * w * w).sum()


def run(make_optimiser, steps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the quadratic with a tinysiam optimiser; the path of w and the losses."""
    w = tinysiam.nn.Parameter(START.copy())
    opt = make_optimiser([w])
    path, losses = [w.numpy().copy()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = quadratic(w)
        loss.backward()
        opt.step()
        path.append(w.numpy().copy())
        losses.append(loss.item())
    return np.array(path), np.array(losses)


OPTIMISERS = {  # label: the optimiser (the page 11 runs use the same settings)
    "SGD, lr 0.035": lambda p: optim.SGD(p, lr=0.035),
    "SGD + momentum 0.8, lr 0.015": lambda p: optim.SGD(p, lr=0.015, momentum=0.8),
    "Adam, lr 0.1, betas (0.9, 0.99)": lambda p: optim.Adam(p, lr=0.1, betas=(0.9, 0.99)),
}


def optimisers_figure() -> None:
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.4, 1]}
    )
    u, v = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.6, 1.6, 200))
    left.contour(
        u,
        v,
        0.5 * (SCALES[0] * u**2 + SCALES[1] * v**2),
        levels=np.geomspace(0.05, 40, 10),
        colors="0.8",
        linewidths=0.8,
    )
    for (label, make), colour in zip(OPTIMISERS.items(), [BLUE, "#27ae60", RED], strict=True):
        path, losses = run(make)
        left.plot(path[:, 0], path[:, 1], ".-", color=colour, lw=1, ms=3, label=label)
        right.semilogy(np.arange(1, len(losses) + 1), losses, color=colour, label=label)
    left.plot(*START, "ko", ms=4)
    left.plot(0, 0, "k*", ms=9)
    left.set_xlabel("$w_1$")
    left.set_ylabel("$w_2$")
    left.set_title(
        r"$f(w) = \frac{1}{2}(w_1^2 + 25\,w_2^2)$, 60 steps from $(-4, 1.2)$", fontsize=10
    )
    left.legend(fontsize=8, loc="lower right")
    right.set_xlabel("step")
    right.set_ylabel("f(w) before the step")
    right.set_title("loss", fontsize=10)
    right.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, "optimisers.png")


# ----- pages 15 and 16: figures of the example runs ----------------------------------------------
RUN_FIGURES = {  # (an example's output folder, its figure): the name in docs/figures
    ("mnist_contrastive", "pairs.png"): "ex1-pairs.png",
    ("mnist_contrastive", "loss.png"): "ex1-loss.png",
    ("mnist_contrastive", "embedding.png"): "ex1-embedding.png",
    ("mnist_contrastive", "retrieval.png"): "ex1-retrieval.png",
    (
        "mnist_contrastive_best",
        "embedding.png",
    ): "ex1-best-embedding.png",  # --preset best --out runs/mnist_contrastive_best
    (
        "mnist_contrastive_sgd",
        "embedding.png",
    ): "ex1-sgd-embedding.png",  # --optimizer sgd --lr 1e-3 --out runs/mnist_contrastive_sgd
    ("omniglot_bce", "pairs.png"): "ex2-pairs.png",
    ("omniglot_bce", "loss.png"): "ex2-loss.png",
    ("omniglot_bce", "test_pairs.png"): "ex2-test-pairs.png",
    ("omniglot_bce", "one_shot_trial.png"): "ex2-one-shot-trial.png",
    (  # python benchmarks/omniglot_variants.py --figure runs/omniglot_variants/variants.png
        "omniglot_variants",
        "variants.png",
    ): "ex2-variants.png",
}
FIGURE_LIMIT_BYTES = 150 * 1024  # what tests/test_docs.py allows a figure


def run_figures(runs: Path) -> None:
    """Copy the example runs' figures from ``runs/<example>/`` into docs/figures, renamed per page.

    ``runs`` holds the examples' output folders (their default ``--out`` is runs/mnist_contrastive
    and runs/omniglot_bce). A figure that is missing is reported and skipped, so one example's run
    is enough to update its own page's figures; a figure over the size limit stops the copy.
    """
    copied = 0
    for (example, figure), name in RUN_FIGURES.items():
        source = runs / example / figure
        if not source.is_file():
            print(f"skipped docs/figures/{name}: no {source}")
            continue
        if source.stat().st_size >= FIGURE_LIMIT_BYTES:
            raise SystemExit(
                f"{source} is {source.stat().st_size // 1024} KB, over the "
                f"{FIGURE_LIMIT_BYTES // 1024} KB a docs figure may have"
            )
        FIGURES.mkdir(exist_ok=True)
        shutil.copyfile(source, FIGURES / name)
        copied += 1
        size_kb = (FIGURES / name).stat().st_size // 1024
        print(f"wrote docs/figures/{name} ({size_kb} KB) from {source}")
    if not copied:
        raise SystemExit(
            f"no run figures found under {runs}/mnist_contrastive or {runs}/omniglot_bce"
        )


DRAWN_FIGURES = {  # every drawn figure, in page order; --only redraws the ones named
    "autodiff-graph.png": autodiff_graph,
    "im2col.png": im2col_figure,
    "optimisers.png": optimisers_figure,
    "twin-graph.png": twin_graph,
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Draw the course's figures into docs/figures.")
    parser.add_argument(
        "--runs",
        type=Path,
        metavar="DIR",
        help="copy the figures of pages 15 and 16 from DIR/mnist_contrastive and "
        "DIR/omniglot_bce instead of drawing the others",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(DRAWN_FIGURES),
        metavar="FIGURE",
        help=f"draw only this figure (repeatable): one of {', '.join(sorted(DRAWN_FIGURES))}",
    )
    args = parser.parse_args()
    if args.runs is not None:
        run_figures(args.runs)
    elif args.only:
        for figure in args.only:
            DRAWN_FIGURES[figure]()
    else:
        for draw in DRAWN_FIGURES.values():
            draw()
