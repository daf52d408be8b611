"""Two kinds of input, one embedding space: handwritten digits matched to printed ones.

A twin network whose two branches do NOT share weights: the "two data sources" case of
experiment 1 (docs/14-the-experiments.md: a camera photo on one side, a map tile on the other).
Here the two kinds are handwriting (MNIST) and print (tinysiam's font-rendered synthetic digits);
each kind gets its own branch, and the contrastive loss pulls a handwritten digit and a printed
digit together when they show the same number. The recipe (every value a flag below):

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
import time
from pathlib import Path
from typing import Any

import numpy as np

import tinysiam
from tinysiam import losses, nn, optim
from tinysiam.backend import to_device
from tinysiam.experiments import models, plot
from tinysiam.experiments.data import DataError, load_mnist, synthetic_digits
from tinysiam.experiments.data.digits import random_subset
from tinysiam.experiments.data.pairs import CrossPairSampler
from tinysiam.experiments.metrics import accuracy_interval, nearest_neighbours
from tinysiam.experiments.training import (
    FlagError,
    NonFiniteLossError,
    TrainingInterrupted,
    TrainingRun,
    embed,
    exit_for_flag,
    parse_example_args,
    resume_command,
    write_metrics,
)

KINDS = ("separate", "shared")  # the two twins trained side by side


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device, figures = args.device, plot.Figures(args.out, show=not args.no_show)
    tinysiam.keep_freed_memory()  # glibc reuses freed big arrays: faster; affects the process

    # 1. Data: handwriting (MNIST) and print (synthetic digits), images (N, 1, 28, 28) in [0, 1].
    hand_x, hand_y, hand_test_x, hand_test_y = load_handwriting(args)
    print_x, print_y, _ = synthetic_digits(args.print_size, seed=args.seed)
    print_test_x, print_test_y, _ = synthetic_digits(args.print_size, seed=args.seed + 1)
    print(f"data: {len(hand_x)} + {len(hand_test_x)} handwritten (MNIST) training and test "
          f"images, {len(print_x)} + {len(print_test_x)} printed; device {device}")  # fmt: skip

    # 2. Pairs: (handwritten, printed), the same digit with probability 0.5.
    pairs = CrossPairSampler(hand_y, print_y, seed=args.seed)
    i, j, y = pairs.sample_indices(10)
    titles = ["same digit" if s else "different" for s in y]
    title = "pairs: handwritten (top), printed (bottom)"
    figures.add("pairs.png", plot.pairs(hand_x[i], print_x[j], titles, title=title))
    hand_images, print_images = to_device(hand_x, device), to_device(print_x, device)

    # 3. Two twins: separate weights (a branch per kind of input), and shared weights to compare.
    rng = np.random.default_rng(args.seed)
    print_branch = mlp_branch if args.print_branch == "mlp" else conv_branch
    separate = nn.Twin(conv_branch(args.dim, rng), print_branch(args.dim, rng))
    twins = {"separate": separate, "shared": nn.Twin(conv_branch(args.dim, rng))}
    for twin in twins.values():
        twin.to(device)
    optimizers = {
        k: optim.Adam(t.parameters(), lr=args.lr, betas=(0.9, 0.99)) for k, t in twins.items()
    }

    # 4. Loss: contrastive (margin --margin), mean over the batch of pairs.
    def pair_loss(twin, hand, printed, y) -> tinysiam.Tensor:  # hand, printed: (B, 1, 28, 28)
        f_hand, f_print = twin(hand, printed)  # (B, dim) each
        return losses.contrastive_loss(f_hand, f_print, y, margin=args.margin, reduction="mean")

    # 5. Training loop: each iteration both twins take one Adam step on the SAME fresh pairs.
    state = {**twins, **{f"{kind}_optimizer": o for kind, o in optimizers.items()}}
    run = TrainingRun.from_args(args, names=KINDS, pairs=pairs, **state)
    seconds = dict.fromkeys(KINDS, 0.0)  # forward + backward + step of each twin
    for iteration in run:  # the run keeps the progress bar, checkpoints, resume, NaN stop
        i, j, y = pairs.sample_indices(args.batch_pairs)
        hand = tinysiam.tensor(hand_images[i], device=device)  # (B, 1, 28, 28)
        printed = tinysiam.tensor(print_images[j], device=device)  # (B, 1, 28, 28)
        lr, step = optim.scheduled_lr(args.lr, args.schedule, iteration, args.iterations), {}
        for kind, twin in twins.items():
            started = time.perf_counter()
            loss = pair_loss(twin, hand, printed, y)
            optimizers[kind].lr = lr
            optimizers[kind].zero_grad()
            loss.backward()
            optimizers[kind].step()
            seconds[kind] += time.perf_counter() - started
            step[kind] = loss
        run.record(**step)

    # 6. Evaluation: handwritten test queries (branch 0) against printed test images (branch 1).
    features = {kind: embed_both(t, hand_test_x, print_test_x, device) for kind, t in twins.items()}
    features["pixels"] = (hand_test_x.reshape(-1, 784), print_test_x.reshape(-1, 784))
    accuracy = {
        k: cross_domain_accuracy(q, hand_test_y, p, print_test_y) for k, (q, p) in features.items()
    }

    # 7. Figures: the loss curves, each twin's embedding, handwritten queries with their matches.
    figures.add("loss.png", loss_curves(run.losses, sum(seconds.values())))
    for kind in KINDS:
        figure = embedding_figure(features[kind], hand_test_y, print_test_y, kind, args)
        figures.add(f"embedding_{kind}.png", figure)
    chosen = np.random.default_rng(args.seed + 1).choice(len(hand_test_x), 8, replace=False)
    nearest = nearest_neighbours(features["separate"][0][chosen], features["separate"][1], k=5)
    queries = (hand_test_x[chosen], hand_test_y[chosen])
    figures.add("retrieval.png", retrieval_figure(*queries, print_test_x, print_test_y, nearest))

    sizes = {"train_size": len(hand_x), "test_size": len(hand_test_x)}
    sizes |= {"print_train_size": len(print_x), "print_test_size": len(print_test_x)}
    results = {**run.summary(), **timing(seconds, run.trained), "cross_domain_accuracy": accuracy}
    metrics = write_metrics(args.out, {**describe(args, twins), **sizes, **results})
    print(report(accuracy, sum(seconds.values())))
    figures.show_or_close()
    return metrics


# ----- the settings ---------------------------------------------------------------------------
FLAGS = {  # flag: (type or choices, help[, default])
    "--train-size": (int, "use only this many handwritten training images"),
    "--test-size": (int, "classify only this many handwritten test images"),
    "--print-size": (int, "printed images in each of the train and test sets", 5000),
    "--print-branch": (
        ["mlp", "conv"],
        "branch B of the separate twin: an MLP or a conv net",
        "mlp",
    ),
    "--iterations": (int, "training iterations", 600),
    "--batch-pairs": (int, "pairs per iteration", 128),
    "--dim": (int, "embedding dimension", 16),
    "--margin": (float, "contrastive margin", 1.0),
    "--lr": (float, "Adam learning rate", 1e-3),
    "--schedule": (optim.SCHEDULES, "cosine: decay the learning rate to 0; constant", "cosine"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags; bad values end in an argparse error."""
    at_least = {"train_size": 20, "test_size": 20, "print_size": 100}  # every digit printed
    at_least["dim"] = 2  # the embedding figures are 2-D views
    out = Path("runs/two_source_digits")
    return parse_example_args(argv, __doc__, FLAGS, default_out=out, at_least=at_least)


def describe(args: argparse.Namespace, twins: dict) -> dict:
    """The data, settings and parameter counts of this run, for metrics.json."""
    names = "iterations batch_pairs dim margin lr schedule print_branch"
    settings = {name: getattr(args, name) for name in names.split()}
    fixed = {"reduction": "mean", "eps": 1e-6, "optimizer": "adam", "betas": [0.9, 0.99]}
    return {
        "data": "handwriting: MNIST; print: tinysiam synthetic digits",
        "hyperparameters": {**settings, **fixed},
        "parameters": {k: sum(p.data.size for p in t.parameters()) for k, t in twins.items()},
    }


# ----- data and branches ----------------------------------------------------------------------
def load_handwriting(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """MNIST training and test images (N, 1, 28, 28) with labels, --train-size and --test-size
    of them; a DataError saying why when MNIST is absent."""
    try:
        train_x, train_y = load_mnist("train")
        test_x, test_y = load_mnist("test")
    except DataError as error:
        raise DataError(
            "this example needs MNIST, the handwritten side of every pair (the synthetic digits "
            f"are the printed side, so they cannot stand in for it).\n{error}"
        ) from error
    train_x, train_y = random_subset(train_x, train_y, args.train_size, args.seed)
    test_x, test_y = random_subset(test_x, test_y, args.test_size, args.seed)
    return train_x, train_y, test_x, test_y


def conv_branch(dim: int, rng: np.random.Generator) -> nn.Sequential:
    """Branch A (and the shared branch): conv 5x5x16 -> ReLU -> pool 2 -> conv 5x5x32 -> ReLU ->
    pool 2 -> Dense 512 -> 128 -> ReLU -> Dense 128 -> dim; (N, 1, 28, 28) -> (N, dim)."""
    return models.mnist_conv_net(rng, dim, channels=(16, 32), hidden=128)


def mlp_branch(dim: int, rng: np.random.Generator) -> nn.Sequential:
    """Branch B: (N, 1, 28, 28) -> flatten 784 -> 256 -> 128 -> (N, dim)."""
    return models.mnist_mlp(rng, dim, hidden=(256, 128))


# ----- evaluation and figures -----------------------------------------------------------------
def timing(seconds: dict[str, float], iterations: int) -> dict:
    """Each twin's training seconds (forward, backward, step), and the iterations per second."""
    total = sum(seconds.values())
    return {
        "training_seconds": {kind: round(s, 2) for kind, s in seconds.items()},
        "iterations_per_second": round(iterations / total, 2) if iterations else None,
    }


def embed_both(
    twin: nn.Twin, hand: np.ndarray, printed: np.ndarray, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, dim) of the handwritten images (branch 0) and the printed ones (branch 1)."""
    return embed(twin, hand, device, branch=0), embed(twin, printed, device, branch=1)


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


def loss_curves(history: dict, seconds: float) -> plot.Figure:
    """Both twins' losses against iteration, on a log scale."""
    figure = plot.loss_curve(history["separate"], seconds, title="Contrastive loss")
    axes = figure.axes[0]
    axes.lines[0].set_label("separate weights")
    shared = history["shared"]
    axes.plot(np.arange(1, len(shared) + 1), shared, linewidth=0.8, label="shared weights")
    axes.set_yscale("log")
    axes.legend()
    return figure


def embedding_figure(
    features: tuple, hand_labels: np.ndarray, print_labels: np.ndarray, kind: str, args: Any
) -> plot.Figure:
    """A 2-D PCA view of one twin's embedding: 2000 handwritten (o) and 300 printed (x) digits."""
    queries, printed = features
    shown_hand = np.random.default_rng(args.seed).choice(
        len(queries), min(2000, len(queries)), replace=False
    )
    shown_print = np.random.default_rng(args.seed).choice(
        len(printed), min(300, len(printed)), replace=False
    )
    digits = np.concatenate([hand_labels[shown_hand], print_labels[shown_print]])
    kind_of_point = np.repeat([0, 1], [len(shown_hand), len(shown_print)])  # 0 hand, 1 print
    both = pca_2d(np.concatenate([queries[shown_hand], printed[shown_print]]))  # one projection
    title = f"{kind} weights: handwriting (o), print (x); PCA of {args.dim}-D"
    return plot.embedding_scatter(both, digits, title, markers=kind_of_point)


def retrieval_figure(
    queries: np.ndarray,
    query_labels: np.ndarray,
    printed: np.ndarray,
    printed_labels: np.ndarray,
    nearest: np.ndarray,
) -> plot.Figure:
    """Each handwritten query (a row) followed by its nearest printed digits ``nearest`` (Q, k)."""
    tiles = np.concatenate([queries[:, None], printed[nearest]], axis=1).reshape(-1, 1, 28, 28)
    titles = []
    for row, label in enumerate(query_labels):
        titles.append(f"query ({label})")
        titles += [str(d) if d == label else f"{d} (wrong)" for d in printed_labels[nearest[row]]]
    title = "handwritten queries and their nearest printed digits"
    return plot.image_grid(tiles, titles, cols=nearest.shape[1] + 1, title=title)


def report(accuracy: dict, seconds: float) -> str:
    """The lines printed at the end of a run."""
    lines = ["cross-domain accuracy (handwritten query -> nearest printed class mean / image):"]
    for kind in ("separate", "shared", "pixels"):
        a = accuracy[kind]
        lines.append(f"  {kind:9s} {a['class_mean']:.4f} / {a['nearest_printed']:.4f}")
    return "\n".join([*lines, f"{seconds:.0f} s of training"])


if __name__ == "__main__":
    try:
        main()
    except FlagError as error:  # a flag's value found unusable: one line, exit status 2
        exit_for_flag(error)
    except (DataError, NonFiniteLossError) as error:  # the message says why and what to do
        raise SystemExit(f"error: {error}") from None
    except TrainingInterrupted as stop:  # Ctrl-C saved a checkpoint: say how to go on
        print(f"Continue with:\n  {resume_command(stop.checkpoint)}")
        raise
