"""Figures the examples share: image tiles, pairs, loss curves, embeddings, retrieval, one-shot.

Each function draws one figure from host NumPy arrays and returns it; :func:`save` writes it as
PNG, and :func:`show_or_close` shows every figure at the end of a run (or just frees them).
:class:`Figures` does both for a run: each figure saved as it is added, all shown at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _gray(ax, image: np.ndarray, title: str | None = None) -> None:
    ax.imshow(np.asarray(image).reshape(image.shape[-2:]), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def image_grid(
    images: np.ndarray, titles: Sequence[str] | None = None, cols: int = 3, title: str | None = None
) -> Figure:
    """Images (N, 1, H, W) in a grid of ``cols`` columns, each with an optional title."""
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(images):
            _gray(ax, images[k], titles[k] if titles else None)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pairs(
    x1: np.ndarray, x2: np.ndarray, titles: Sequence[str], title: str | None = None
) -> Figure:
    """Pairs side by side: column k shows x1[k] above x2[k], titled titles[k]."""
    n = len(x1)
    fig, axes = plt.subplots(2, n, figsize=(1.5 * n, 3.4), squeeze=False)
    for k in range(n):
        _gray(axes[0, k], x1[k], titles[k])
        _gray(axes[1, k], x2[k])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curve(losses: Sequence[float], seconds: float, title: str = "Training loss") -> Figure:
    """Loss against iteration, with the elapsed training time in the title."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(1, len(losses) + 1), losses, linewidth=0.8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(f"{title} (elapsed {seconds:.0f} s)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def embedding_scatter(
    points: np.ndarray, labels: np.ndarray, title: str, markers: np.ndarray | None = None
) -> Figure:
    """2-D points coloured by label with a legend; ``markers`` (0/1 per point) picks o or x."""
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab10")
    kinds = [None] if markers is None else sorted(set(markers.tolist()))
    for kind_index, kind in enumerate(kinds):
        chosen = np.ones(len(points), bool) if kind is None else markers == kind
        for label in np.unique(labels):
            mask = chosen & (labels == label)
            ax.scatter(
                points[mask, 0],
                points[mask, 1],
                s=3 if kind_index == 0 else 25,
                color=cmap(int(label) % 10),
                marker="o" if kind_index == 0 else "x",
                label=str(label) if kind_index == 0 else None,
            )
    ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def retrieval(
    query: np.ndarray, neighbours: np.ndarray, neighbour_titles: Sequence[str] | None = None
) -> Figure:
    """A query image beside its nearest neighbours (a 3x3 tile for 9)."""
    cols = int(np.ceil(np.sqrt(len(neighbours))))
    rows = -(-len(neighbours) // cols)
    fig = plt.figure(figsize=(1.6 * (cols + 1.5), 1.7 * rows))
    grid = fig.add_gridspec(rows, cols + 1)
    _gray(fig.add_subplot(grid[:, 0]), query, "query")
    for k, image in enumerate(neighbours):
        _gray(
            fig.add_subplot(grid[k // cols, 1 + k % cols]),
            image,
            neighbour_titles[k] if neighbour_titles else None,
        )
    fig.suptitle("nearest neighbours")
    fig.tight_layout()
    return fig


def one_shot_trial(query: np.ndarray, candidates: np.ndarray, chosen: int, answer: int) -> Figure:
    """A query and its candidates: the chosen one framed green when right, red when wrong; the
    answer framed blue."""
    cols = 10
    rows = -(-len(candidates) // cols)
    fig = plt.figure(figsize=(1.3 * cols, 1.4 * (rows + 1)))
    grid = fig.add_gridspec(rows + 1, cols)
    _gray(fig.add_subplot(grid[0, cols // 2]), query, "query")
    for k, image in enumerate(candidates):
        ax = fig.add_subplot(grid[1 + k // cols, k % cols])
        _gray(ax, image)
        colour = (
            "green"
            if k == chosen == answer
            else "red"
            if k == chosen
            else "blue"
            if k == answer
            else None
        )
        if colour:
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3)
    fig.suptitle("20-way one-shot trial: chosen (green right / red wrong), answer (blue)")
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` and return the path."""
    fig.savefig(path, dpi=110)
    return path


def show_or_close(figures: Sequence[Figure], show: bool) -> None:
    """Show the figures on screen (a blocking window) or free them."""
    if show and plt.get_backend().lower() != "agg":
        plt.show()
    for fig in figures:
        plt.close(fig)


class Figures:
    """The figures of a run: each written to ``out`` as it is added, all shown at the end.

    Example:
        >>> figures = Figures("runs/demo", show=False)
        >>> figures.add("loss.png", loss_curve(losses, seconds))
        >>> figures.show_or_close()
    """

    def __init__(self, out: str | Path, show: bool) -> None:
        self.out, self.show = Path(out), show
        self.figures: list[Figure] = []
        self.out.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, fig: Figure) -> Figure:
        """Save ``fig`` as ``out/name`` (PNG) and keep it for :meth:`show_or_close`."""
        save(fig, self.out / name)
        self.figures.append(fig)
        return fig

    def show_or_close(self) -> None:
        """Show every figure (a blocking window) when ``show``, then free them."""
        show_or_close(self.figures, self.show)
