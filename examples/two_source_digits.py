"""Two kinds of input, one embedding space: handwritten digits matched to printed ones.

A twin network whose two branches do NOT share weights: the "two data sources" case of the
spec's experiment 1 (a camera photo on one side, a map tile on the other). Here the two kinds are
handwriting (MNIST) and print (tinysiam's font-rendered synthetic digits); each kind gets its own
branch, and the contrastive loss pulls a handwritten digit and a printed digit together when they
show the same number. The recipe (every value a flag below):

    data        handwriting: MNIST (60,000 train / 10,000 test); this example needs it
                print: the built-in synthetic digits (5000 train, seed; 5000 test, seed + 1)
    pairs       128 fresh (handwritten, printed) pairs per iteration: a random handwritten image,
                then a printed image of the SAME digit with probability 0.5 (y = 1), else of one
                of the 9 other digits (y = 0)
    branch A    handwriting, a small conv net: conv 5x5x16 -> ReLU -> pool 2 -> conv 5x5x32 ->
                ReLU -> pool 2 -> Dense 128 -> ReLU -> Dense 16
    branch B    print, an MLP: 784 -> Dense 256 -> ReLU -> Dense 128 -> ReLU -> Dense 16
                nn.Twin(branch_a, branch_b): separate weights, each input through its own branch
    loss        contrastive, margin 1, mean over the batch (d guarded by eps = 1e-6)
    optimiser   Adam, lr 1e-3, decays 0.9 / 0.99, cosine decay to 0 over 600 iterations

For comparison the SAME recipe trains, on the same pairs, a twin with shared weights:
nn.Twin(branch_a), one conv net for both kinds (both are 28x28 images, so the shapes allow it).

Evaluation is cross-domain retrieval: every handwritten MNIST test image (branch A) is classified
by the nearest printed test embedding (branch B), either the nearest of the 10 printed class means
or the nearest single printed image (1-NN). The baseline does the same in raw pixel space.
Figures: example pairs, the loss curves, a 2-D PCA view of each twin's embedding with both kinds
(handwriting o, print x) coloured by digit, and handwritten queries with their nearest printed
digits; numbers go to metrics.json. The default run takes about a minute on 2 idle CPU cores;
measured (seed 0): nearest-class-mean accuracy 81.5% with separate weights, 90.7% with shared
weights, 52.2% in pixels (docs/13-weight-sharing.md discusses why sharing wins here).

Run:
    python examples/two_source_digits.py
    python examples/two_source_digits.py --print-branch conv   # separate weights, same architecture
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import tinysiam
from tinysiam import checkpoint, losses, nn, optim, plot
from tinysiam.data import DataError, load_mnist, synthetic_digits
from tinysiam.metrics import accuracy_interval, nearest_neighbours
from tinysiam.training import (
    InterruptFlag,
    add_run_arguments,
    check_finite,
    check_run_arguments,
    outputs_in_batches,
    progress_bar,
    resolve_device,
)

KINDS = ("separate", "shared")  # the two twins trained side by side


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="use only this many handwritten training images",
    )
    parser.add_argument(
        "--test-size",
        type=int,
        default=None,
        help="classify only this many handwritten test images",
    )
    parser.add_argument(
        "--print-size",
        type=int,
        default=5000,
        help="printed images in each of the train and test sets",
    )
    parser.add_argument(
        "--print-branch",
        choices=["mlp", "conv"],
        default="mlp",
        help="branch B of the separate twin: an MLP (default) or a conv net like branch A",
    )
    parser.add_argument("--iterations", type=int, default=600, help="training iterations")
    parser.add_argument("--batch-pairs", type=int, default=128, help="pairs per iteration")
    parser.add_argument("--dim", type=int, default=16, help="embedding dimension")
    parser.add_argument("--margin", type=float, default=1.0, help="contrastive margin")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument(
        "--schedule",
        choices=optim.SCHEDULES,
        default="cosine",
        help="cosine: decay the learning rate to 0 over --iterations; constant: keep it",
    )
    add_run_arguments(parser, default_out=Path("runs/two_source_digits"))
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    for name in ("iterations", "batch_pairs", "dim"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.lr <= 0 or args.margin <= 0:
        parser.error(f"--lr and --margin must be positive, got {args.lr} and {args.margin}")
    if args.print_size < 100:
        parser.error(
            f"--print-size must be at least 100 (every digit needs printed examples), got {args.print_size}"
        )
    for name in ("train_size", "test_size"):
        if getattr(args, name) is not None and getattr(args, name) < 20:
            parser.error(
                f"--{name.replace('_', '-')} must be at least 20, got {getattr(args, name)}"
            )
    return args


# ----- 1. data ------------------------------------------------------------------------------------
def load_handwriting() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST training and test images (N, 1, 28, 28) with labels; a DataError saying why if absent."""
    try:
        return (*load_mnist("train"), *load_mnist("test"))
    except DataError as error:
        raise DataError(
            "this example needs MNIST, the handwritten side of every pair (the synthetic digits are "
            f"the printed side, so they cannot stand in for it).\n{error}"
        ) from error


def subset(
    images: np.ndarray, labels: np.ndarray, size: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``size`` of the images (all of them when size is None or larger)."""
    if size is None or size >= len(images):
        return images, labels
    keep = np.random.default_rng(seed).choice(len(images), size, replace=False)
    return images[keep], labels[keep]


# ----- 2. pairs -----------------------------------------------------------------------------------
class CrossPairs:
    """(handwritten, printed) pairs: same digit (y = 1) with probability 0.5, else another digit.

    Vectorised over the batch: printed images are sorted by digit once, so "a random printed image
    of digit c" is ``order[first[c] + offset]`` with a random ``offset < count[c]``.

    Args:
        hand_labels: (NA,) digit of each handwritten image.
        print_labels: (NB,) digit of each printed image; every digit 0..9 must occur.
        seed: seed of the generator (saved in checkpoints through :meth:`state_dict`).
    """

    def __init__(self, hand_labels: np.ndarray, print_labels: np.ndarray, seed: int) -> None:
        self.hand_labels = hand_labels
        self.order = np.argsort(print_labels, kind="stable")
        self.count = np.bincount(print_labels, minlength=10)
        self.first = np.cumsum(self.count) - self.count
        if (self.count == 0).any():
            raise ValueError(
                f"every digit needs a printed image; counts per digit: {self.count.tolist()}"
            )
        self.rng = np.random.default_rng(seed)

    def sample_indices(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """i: (n,) handwritten indices, j: (n,) printed indices, y: (n,) float32 1 = same digit."""
        rng = self.rng
        i = rng.integers(0, len(self.hand_labels), n)
        same = rng.random(n) < 0.5
        other = (
            self.hand_labels[i] + rng.integers(1, 10, n)
        ) % 10  # uniform over the 9 other digits
        digit = np.where(same, self.hand_labels[i], other)
        j = self.order[self.first[digit] + rng.integers(0, self.count[digit])]
        return i, j, same.astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


# ----- 3. the branches ----------------------------------------------------------------------------
def conv_branch(dim: int, rng: np.random.Generator) -> nn.Sequential:
    """Branch A (and the shared branch): (N, 1, 28, 28) -> (N, dim)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 28 -> 24 -> 12
        nn.Conv2d(16, 32, 5, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 12 -> 8 -> 4
        nn.Flatten(),
        nn.Dense(32 * 4 * 4, 128, rng=rng),
        nn.ReLU(),
        nn.Dense(128, dim, rng=rng),
    )


def mlp_branch(dim: int, rng: np.random.Generator) -> nn.Sequential:
    """Branch B: (N, 1, 28, 28) -> flatten 784 -> 256 -> 128 -> (N, dim)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Dense(784, 256, rng=rng),
        nn.ReLU(),
        nn.Dense(256, 128, rng=rng),
        nn.ReLU(),
        nn.Dense(128, dim, rng=rng),
    )


def embed(
    twin: nn.Twin, images: np.ndarray, branch: int, device: str, batch: int = 1000
) -> np.ndarray:
    """Features (N, dim) of images (N, 1, 28, 28) through one branch, without a graph."""
    twin.eval()
    features = outputs_in_batches(lambda x: twin.embed(x, branch=branch), images, device, batch)
    twin.train()
    return features


# ----- 4. checkpoints of the two twins ------------------------------------------------------------
def save_state(
    path: Path, iteration: int, history: dict, twins: dict, optimizers: dict, pairs: CrossPairs
) -> None:
    """Write both twins, both optimisers, the pair generator and the loss histories, atomically."""
    checkpoint.save(
        path,
        iteration=iteration,
        losses=history,
        pairs=pairs.state_dict(),
        models={kind: twins[kind].state_dict() for kind in KINDS},
        optimizers={kind: optimizers[kind].state_dict() for kind in KINDS},
    )


def load_state(path: Path, twins: dict, optimizers: dict, pairs: CrossPairs) -> tuple[int, dict]:
    """Restore what :func:`save_state` wrote; returns (iteration, loss histories)."""
    state = checkpoint.load(path)
    for kind in KINDS:
        twins[kind].load_state_dict(state["models"][kind])
        optimizers[kind].load_state_dict(state["optimizers"][kind])
    pairs.load_state_dict(state["pairs"])
    return int(state["iteration"]), {
        kind: [float(v) for v in state["losses"][kind]] for kind in KINDS
    }


# ----- 5. evaluation ------------------------------------------------------------------------------
def cross_domain_accuracy(
    queries: np.ndarray, query_labels: np.ndarray, printed: np.ndarray, printed_labels: np.ndarray
) -> dict:
    """Classify each query (Q, D) by the printed references (P, D): nearest class mean and 1-NN."""
    means = np.stack([printed[printed_labels == digit].mean(axis=0) for digit in range(10)])
    by_mean = nearest_neighbours(queries, means, k=1)[:, 0]
    by_image = printed_labels[nearest_neighbours(queries, printed, k=1)[:, 0]]
    result = {}
    for name, guess in (("class_mean", by_mean), ("nearest_printed", by_image)):
        correct = int((guess == query_labels).sum())
        result[name] = correct / len(queries)
        result[f"{name}_95ci"] = [round(v, 4) for v in accuracy_interval(correct, len(queries))]
    return result


def pca_2d(points: np.ndarray) -> np.ndarray:
    """Project (N, D) points on their two directions of largest variance: (N, 2)."""
    centred = points - points.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)  # rows: principal directions
    return centred @ directions[:2].T


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = resolve_device(args.device)
    tinysiam.keep_freed_memory()  # reuse big freed arrays instead of fresh pages every iteration (tinysiam/memory.py)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = []

    # 1. Data: handwriting (MNIST) and print (synthetic digits), images (N, 1, 28, 28) in [0, 1].
    hand_x, hand_y, hand_test_x, hand_test_y = load_handwriting()
    hand_x, hand_y = subset(hand_x, hand_y, args.train_size, args.seed)
    hand_test_x, hand_test_y = subset(hand_test_x, hand_test_y, args.test_size, args.seed)
    print_x, print_y, _ = synthetic_digits(args.print_size, seed=args.seed)
    print_test_x, print_test_y, _ = synthetic_digits(args.print_size, seed=args.seed + 1)
    print(
        f"data: {len(hand_x)} handwritten (MNIST) + {len(print_x)} printed training images; "
        f"{len(hand_test_x)} handwritten queries against {len(print_test_x)} printed test images; device: {device}"
    )

    # 2. Pairs: (handwritten, printed), the same digit with probability 0.5.
    pairs = CrossPairs(hand_y, print_y, seed=args.seed)
    i, j, y = pairs.sample_indices(10)
    figures.append(
        plot.pairs(
            hand_x[i],
            print_x[j],
            ["same digit" if s else "different" for s in y],
            title="pairs: handwritten (top), printed (bottom)",
        )
    )
    plot.save(figures[-1], args.out / "pairs.png")

    # 3. Two twins: separate weights (a branch per kind of input), and shared weights for comparison.
    rng = np.random.default_rng(args.seed)
    hand_net = conv_branch(args.dim, rng)
    print_net = (
        mlp_branch(args.dim, rng) if args.print_branch == "mlp" else conv_branch(args.dim, rng)
    )
    twins = {
        "separate": nn.Twin(hand_net, print_net).to(device),
        "shared": nn.Twin(conv_branch(args.dim, rng)).to(device),
    }
    optimizers = {
        kind: optim.Adam(twins[kind].parameters(), lr=args.lr, betas=(0.9, 0.99)) for kind in KINDS
    }

    # 4. Training: each iteration both twins take one Adam step on the SAME fresh pairs.
    start_iteration, history = 0, {kind: [] for kind in KINDS}
    if args.resume is not None:
        start_iteration, history = load_state(args.resume, twins, optimizers, pairs)
        print(f"resumed from {args.resume} at iteration {start_iteration}")
    checkpoint_path = args.out / "checkpoint.npz"
    seconds = {kind: 0.0 for kind in KINDS}  # forward + backward + step of each twin
    bar = progress_bar(args.iterations, initial=start_iteration)
    with InterruptFlag() as interrupt:
        for iteration in range(start_iteration, args.iterations):
            i, j, y = pairs.sample_indices(args.batch_pairs)
            hand = tinysiam.tensor(hand_x[i], device=device)  # (B, 1, 28, 28)
            printed = tinysiam.tensor(print_x[j], device=device)  # (B, 1, 28, 28)
            same = tinysiam.tensor(y, device=device)  # (B,)
            lr = optim.scheduled_lr(args.lr, args.schedule, iteration, args.iterations)
            for kind in KINDS:
                started = time.perf_counter()
                f_hand, f_print = twins[kind](hand, printed)  # (B, dim) each
                loss = losses.contrastive_loss(
                    f_hand, f_print, same, margin=args.margin, reduction="mean"
                )
                optimizers[kind].lr = lr
                optimizers[kind].zero_grad()
                loss.backward()
                optimizers[kind].step()
                value = loss.item()
                seconds[kind] += time.perf_counter() - started
                check_finite(value, iteration + 1, history[kind][-1] if history[kind] else None)
                history[kind].append(value)
            bar.update()
            bar.set_postfix(
                separate=f"{history['separate'][-1]:.4f}",
                shared=f"{history['shared'][-1]:.4f}",
                refresh=False,
            )
            if args.checkpoint_every and (iteration + 1) % args.checkpoint_every == 0:
                save_state(checkpoint_path, iteration + 1, history, twins, optimizers, pairs)
            if interrupt.requested:
                bar.close()
                save_state(checkpoint_path, iteration + 1, history, twins, optimizers, pairs)
                print(
                    f"\ninterrupted after iteration {iteration + 1}; saved {checkpoint_path}. Continue with:\n"
                    f"  python examples/two_source_digits.py --resume {checkpoint_path} (and the same flags)"
                )
                raise SystemExit(130)
    bar.close()
    total = sum(seconds.values())
    figures.append(plot.loss_curve(history["separate"], total, title="Contrastive loss"))
    axes = figures[-1].axes[0]
    axes.lines[0].set_label("separate weights")
    axes.plot(
        np.arange(1, len(history["shared"]) + 1),
        history["shared"],
        linewidth=0.8,
        label="shared weights",
    )
    axes.set_yscale("log")
    axes.legend()
    plot.save(figures[-1], args.out / "loss.png")

    # 5. Evaluation: handwritten test queries (branch A) against printed test images (branch B).
    features = {
        kind: (
            embed(twins[kind], hand_test_x, 0, device),
            embed(twins[kind], print_test_x, 1, device),
        )
        for kind in KINDS
    }
    features["pixels"] = (
        hand_test_x.reshape(len(hand_test_x), -1),
        print_test_x.reshape(len(print_test_x), -1),
    )  # (N, 784)
    accuracy = {
        kind: cross_domain_accuracy(queries, hand_test_y, printed, print_test_y)
        for kind, (queries, printed) in features.items()
    }

    shown_hand = np.random.default_rng(args.seed).choice(
        len(hand_test_x), min(2000, len(hand_test_x)), replace=False
    )
    shown_print = np.random.default_rng(args.seed).choice(
        len(print_test_x), min(300, len(print_test_x)), replace=False
    )
    digits = np.concatenate([hand_test_y[shown_hand], print_test_y[shown_print]])
    kind_of_point = np.repeat(
        [0, 1], [len(shown_hand), len(shown_print)]
    )  # 0 handwriting (o), 1 print (x)
    for kind in KINDS:
        queries, printed = features[kind]
        both = pca_2d(
            np.concatenate([queries[shown_hand], printed[shown_print]])
        )  # one projection for both kinds
        title = f"{kind} weights: handwriting (o), print (x); PCA of {args.dim}-D"
        figures.append(plot.embedding_scatter(both, digits, title, markers=kind_of_point))
        plot.save(figures[-1], args.out / f"embedding_{kind}.png")

    # Queries: 8 handwritten test digits (rows), each followed by its 5 nearest printed test digits.
    chosen = np.random.default_rng(args.seed + 1).choice(len(hand_test_x), 8, replace=False)
    queries, printed = features["separate"]
    nearest = nearest_neighbours(queries[chosen], printed, k=5)  # (8, 5)
    tiles = np.concatenate([hand_test_x[chosen][:, None], print_test_x[nearest]], axis=1).reshape(
        -1, 1, 28, 28
    )
    titles = []
    for row, query in enumerate(chosen):
        titles.append(f"query ({hand_test_y[query]})")
        titles += [
            str(d) if d == hand_test_y[query] else f"{d} (wrong)"
            for d in print_test_y[nearest[row]]
        ]
    figures.append(
        plot.image_grid(
            tiles, titles, cols=6, title="handwritten queries and their nearest printed digits"
        )
    )
    plot.save(figures[-1], args.out / "retrieval.png")

    trained = args.iterations - start_iteration
    metrics = {
        "data": "handwriting: MNIST; print: tinysiam synthetic digits",
        "train_size": len(hand_x),
        "test_size": len(hand_test_x),
        "print_train_size": len(print_x),
        "print_test_size": len(print_test_x),
        "hyperparameters": {
            "iterations": args.iterations,
            "batch_pairs": args.batch_pairs,
            "dim": args.dim,
            "margin": args.margin,
            "reduction": "mean",
            "eps": 1e-6,
            "optimizer": "adam",
            "lr": args.lr,
            "schedule": args.schedule,
            "betas": [0.9, 0.99],
            "print_branch": args.print_branch,
        },
        "parameters": {
            kind: int(sum(p.data.size for p in twins[kind].parameters())) for kind in KINDS
        },
        "seed": args.seed,
        "device": device,
        "final_loss": {kind: history[kind][-1] if history[kind] else None for kind in KINDS},
        "training_seconds": {kind: round(seconds[kind], 2) for kind in KINDS},
        "iterations_per_second": round(trained / total, 2) if trained else None,
        "cross_domain_accuracy": accuracy,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        "cross-domain accuracy (handwritten query -> nearest printed class mean / printed image):"
    )
    for kind in ("separate", "shared", "pixels"):
        print(
            f"  {kind:9s} {accuracy[kind]['class_mean']:.4f} / {accuracy[kind]['nearest_printed']:.4f}"
        )
    print(f"{total:.0f} s of training; wrote {args.out}")
    plot.show_or_close(figures, show=not args.no_show)
    return metrics


if __name__ == "__main__":
    try:
        main()
    except DataError as error:
        raise SystemExit(f"error: {error}") from None
