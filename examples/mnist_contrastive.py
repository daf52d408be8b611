"""Experiment 1: a Siamese network that maps digit images to 2-D points (contrastive loss).

Rebuilds MATLAB's "Train a Siamese network for dimensionality reduction", after Hadsell, Chopra
and LeCun, "Dimensionality Reduction by Learning an Invariant Mapping" (CVPR 2006). The recipe
(../shared/spec/experiments.md in the project, every value a default flag below):

    data        28x28 digits in [0, 1]: MNIST (60,000 train / 10,000 test) when it is on disk or
                can be downloaded, else the built-in synthetic digits (5000 / 5000, as the reference)
    pairs       180 fresh random pairs per iteration, similar (same digit) with probability 0.5
    branch      flatten 784 -> Dense 1024 -> ReLU -> Dense 1024 -> ReLU -> Dense 2, He init
    loss        d = sqrt(|f1 - f2|^2 + 1e-6);  0.5 * SUM_batch [ y d^2 + (1 - y) max(0.3 - d, 0)^2 ]
    optimiser   Adam, lr 1e-4, decays 0.9 / 0.99, 3000 iterations

Then it embeds every test image, plots the 2-D embedding coloured by digit, shows a query with its
9 nearest test images, and writes metrics.json (5-NN digit accuracy with the training embeddings
as reference, retrieval precision@9, time).

``--preset best`` departs from the reference to get the best 2-D embedding in under 10 minutes on
2 CPU cores: a small conv branch instead of the MLP; instead of 180 separate pairs, a batch of 18
images of each digit with every one of its 16,110 pairs scored (similar and dissimilar pairs
weighted half and half: each image is embedded once and compared with 179 others); margin 1;
Adam 1e-3 with a cosine learning-rate schedule over 3500 iterations (values in PRESETS below).

Run:
    python examples/mnist_contrastive.py                       # the faithful recipe
    python examples/mnist_contrastive.py --dataset digits      # no download needed
    python examples/mnist_contrastive.py --preset best         # 98.7% 5-NN in 2-D, about 5.5 minutes
    python examples/mnist_contrastive.py --optimizer sgd --lr 1e-3   # rounder clusters (see docs)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import tinysiam
from tinysiam import losses, models, nn, optim, plot
from tinysiam.data import DataError, PairSampler, all_pairs, load_mnist, synthetic_digits
from tinysiam.metrics import knn_accuracy, nearest_neighbours, precision_at_k
from tinysiam.training import (
    InterruptFlag,
    add_run_arguments,
    check_finite,
    check_run_arguments,
    load_training_state,
    outputs_in_batches,
    progress_bar,
    resolve_device,
    save_training_state,
)

PRESETS = {
    "reference": dict(
        network="mlp",
        pairs="random",
        iterations=3000,
        batch_pairs=180,
        margin=0.3,
        reduction="sum",
        lr=1e-4,
        schedule="constant",
    ),
    "best": dict(
        network="conv",
        pairs="all-in-batch",
        iterations=3500,
        per_class=18,
        margin=1.0,
        reduction="mean",
        lr=1e-3,
        schedule="cosine",
    ),
}  # batch_pairs is used with pairs="random", per_class with pairs="all-in-batch"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="reference",
        help="reference: the published recipe (default); best: a conv branch tuned for accuracy",
    )
    parser.add_argument(
        "--dataset",
        choices=["auto", "mnist", "digits"],
        default="auto",
        help="auto: MNIST if found or downloadable, else the built-in synthetic digits",
    )
    parser.add_argument(
        "--train-size", type=int, default=None, help="use only this many training images"
    )
    parser.add_argument(
        "--iterations", type=int, default=None, help="training iterations (preset: 3000)"
    )
    parser.add_argument(
        "--pairs",
        choices=["random", "all-in-batch"],
        default=None,
        help="random: --batch-pairs separate pairs (reference); all-in-batch: every pair of a "
        "batch of --per-class images of each digit (best)",
    )
    parser.add_argument(
        "--batch-pairs", type=int, default=None, help="random pairs per iteration (preset: 180)"
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="images of each digit in an all-in-batch batch (best: 18)",
    )
    parser.add_argument(
        "--margin", type=float, default=None, help="contrastive margin (preset: 0.3)"
    )
    parser.add_argument("--lr", type=float, default=None, help="learning rate (preset: 1e-4)")
    parser.add_argument(
        "--optimizer",
        choices=["adam", "sgd"],
        default="adam",
        help="adam (decays 0.9/0.99, the reference) or plain gradient descent",
    )
    add_run_arguments(parser, default_out=Path("runs/mnist_contrastive"))
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    for name, value in PRESETS[args.preset].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    for name, default in (
        ("batch_pairs", 180),
        ("per_class", 18),
    ):  # the setting the preset does not use
        if getattr(args, name) is None:
            setattr(args, name, default)
    for name in ("iterations", "batch_pairs", "per_class"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.lr <= 0 or args.margin <= 0:
        parser.error(f"--lr and --margin must be positive, got {args.lr} and {args.margin}")
    if args.train_size is not None and args.train_size < 20:
        parser.error(f"--train-size must be at least 20, got {args.train_size}")
    return args


# ----- 1. data ------------------------------------------------------------------------------------
def load_digits(
    dataset: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Training and test images (N, 1, 28, 28) with labels, and a line saying which data and why."""
    if dataset in ("auto", "mnist"):
        try:
            train_x, train_y = load_mnist("train")
            test_x, test_y = load_mnist("test")
            return train_x, train_y, test_x, test_y, "MNIST (60,000 training, 10,000 test images)"
        except DataError as error:
            if dataset == "mnist":
                raise
            reason = str(error).splitlines()[0]
    else:
        reason = "--dataset digits"
    train_x, train_y, _ = synthetic_digits(5000, seed=seed)
    test_x, test_y, _ = synthetic_digits(5000, seed=seed + 1)
    return (
        train_x,
        train_y,
        test_x,
        test_y,
        f"built-in synthetic digits (5000 + 5000), because: {reason}",
    )


def conv_branch(rng: np.random.Generator) -> nn.Sequential:
    """The ``--preset best`` branch: (N, 1, 28, 28) -> (N, 2)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 28 -> 24 -> 12
        nn.Conv2d(32, 64, 5, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 12 -> 8 -> 4
        nn.Flatten(),
        nn.Dense(64 * 4 * 4, 256, rng=rng),
        nn.ReLU(),
        nn.Dense(256, 2, rng=rng),
    )


def embed(branch: nn.Module, images: np.ndarray, device: str, batch: int = 2000) -> np.ndarray:
    """2-D features (N, 2) of images (N, 1, 28, 28), in inference mode and without a graph."""
    branch.eval()
    features = outputs_in_batches(branch, images, device, batch)
    branch.train()
    return features


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = resolve_device(args.device)
    tinysiam.keep_freed_memory()  # reuse big freed arrays instead of fresh pages every iteration (tinysiam/memory.py)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = []

    # 1. Data: images (N, 1, 28, 28) in [0, 1], labels 0..9.
    train_x, train_y, test_x, test_y, source = load_digits(args.dataset, args.seed)
    if args.train_size is not None and args.train_size < len(train_x):
        keep = np.random.default_rng(args.seed).choice(len(train_x), args.train_size, replace=False)
        train_x, train_y = train_x[keep], train_y[keep]
    print(
        f"data: {source}; training on {len(train_x)} images, testing on {len(test_x)}; device: {device}"
    )
    shown = np.random.default_rng(args.seed).choice(len(train_x), 9, replace=False)
    figures.append(
        plot.image_grid(
            train_x[shown], [str(d) for d in train_y[shown]], cols=3, title="training images"
        )
    )
    plot.save(figures[-1], args.out / "training_images.png")

    # 2. Pairs: similar (y = 1, same digit, two different images) with probability 0.5.
    sampler = PairSampler(train_x, train_y, seed=args.seed)
    x1, x2, y = sampler.sample(10)
    figures.append(
        plot.pairs(x1, x2, ["similar" if s else "dissimilar" for s in y], title="example pairs")
    )
    plot.save(figures[-1], args.out / "pairs.png")

    # 3. The twin network: one branch applied to both images (shared weights).
    rng = np.random.default_rng(args.seed)
    branch = models.mnist_mlp(rng) if args.network == "mlp" else conv_branch(rng)
    twin = nn.Twin(branch).to(device)
    if args.optimizer == "adam":
        optimizer = optim.Adam(twin.parameters(), lr=args.lr, betas=(0.9, 0.99))
    else:
        optimizer = optim.SGD(twin.parameters(), lr=args.lr)

    def batch_loss() -> tinysiam.Tensor:
        """The contrastive loss of one batch: separate random pairs, or every pair of a batch."""
        if args.pairs == "random":
            x1, x2, y = sampler.sample(args.batch_pairs)
            f1, f2 = twin(tinysiam.tensor(x1, device=device), tinysiam.tensor(x2, device=device))
            return losses.contrastive_loss(
                f1,
                f2,
                tinysiam.tensor(y, device=device),
                margin=args.margin,
                reduction=args.reduction,
            )
        batch = sampler.sample_class_batch(args.per_class)  # (B,) = per_class images of each digit
        f = branch(
            tinysiam.tensor(train_x[batch], device=device)
        )  # (B, 2): each image embedded once
        i, j, y, weight = all_pairs(train_y[batch])  # all B (B - 1) / 2 pairs
        per_pair = losses.contrastive_loss(
            f[i], f[j], tinysiam.tensor(y, device=device), margin=args.margin, reduction="none"
        )
        return (
            per_pair * tinysiam.tensor(weight, device=device)
        ).sum()  # a mean, similar and dissimilar half each

    # 4. Training: fresh pairs each iteration, contrastive loss, one optimiser step.
    start_iteration, loss_history, previous_seconds = 0, [], 0.0
    if args.resume is not None:
        start_iteration, loss_history, previous_seconds = load_training_state(
            args.resume, twin, optimizer, sampler
        )
        print(f"resumed from {args.resume} at iteration {start_iteration}")
    checkpoint_path = args.out / "checkpoint.npz"
    started = time.perf_counter()
    bar = progress_bar(args.iterations, initial=start_iteration)
    with InterruptFlag() as interrupt:
        for iteration in range(start_iteration, args.iterations):
            loss = batch_loss()
            optimizer.lr = optim.scheduled_lr(args.lr, args.schedule, iteration, args.iterations)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = loss.item()
            check_finite(value, iteration + 1, loss_history[-1] if loss_history else None)
            loss_history.append(value)
            bar.update()
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
            seconds = previous_seconds + time.perf_counter() - started  # over every resumed session
            if args.checkpoint_every and (iteration + 1) % args.checkpoint_every == 0:
                save_training_state(
                    checkpoint_path, iteration + 1, loss_history, twin, optimizer, sampler, seconds
                )
            if interrupt.requested:
                bar.close()
                save_training_state(
                    checkpoint_path, iteration + 1, loss_history, twin, optimizer, sampler, seconds
                )
                print(
                    f"\ninterrupted after iteration {iteration + 1}; saved {checkpoint_path}. Continue with:\n"
                    f"  python examples/mnist_contrastive.py --resume {checkpoint_path} (and the same flags)"
                )
                raise SystemExit(130)
    bar.close()
    session_seconds = time.perf_counter() - started
    seconds = previous_seconds + session_seconds
    trained = args.iterations - start_iteration
    figures.append(plot.loss_curve(loss_history, seconds))
    plot.save(figures[-1], args.out / "loss.png")

    # 5. Evaluation: embed every image in 2-D; 5-NN accuracy and retrieval precision@9.
    train_features = embed(branch, train_x, device)
    test_features = embed(branch, test_x, device)
    knn = knn_accuracy(train_features, train_y, test_features, test_y, k=5)
    precision = precision_at_k(test_features, test_y, k=9)
    figures.append(
        plot.embedding_scatter(test_features, test_y, "2-D feature representation of digit images")
    )
    plot.save(figures[-1], args.out / "embedding.png")

    query = int(np.random.default_rng(args.seed).integers(len(test_x)))
    others = np.delete(np.arange(len(test_x)), query)  # the query is removed from the test set
    nearest = others[
        nearest_neighbours(test_features[query : query + 1], test_features[others], k=9)[0]
    ]
    figures.append(
        plot.retrieval(test_x[query], test_x[nearest], [str(d) for d in test_y[nearest]])
    )
    plot.save(figures[-1], args.out / "retrieval.png")

    metrics = {
        "data": source,
        "train_size": len(train_x),
        "test_size": len(test_x),
        "preset": args.preset,
        "hyperparameters": {
            "network": args.network,
            "pairs": args.pairs,
            "iterations": args.iterations,
            "batch_pairs": args.batch_pairs if args.pairs == "random" else None,
            "per_class": args.per_class if args.pairs == "all-in-batch" else None,
            "margin": args.margin,
            "reduction": args.reduction,
            "eps": 1e-6,
            "optimizer": args.optimizer,
            "lr": args.lr,
            "schedule": args.schedule,
            "betas": [0.9, 0.99] if args.optimizer == "adam" else None,
        },
        "seed": args.seed,
        "device": device,
        "final_loss": loss_history[-1] if loss_history else None,
        "training_seconds": round(seconds, 2),
        "iterations_per_second": round(trained / session_seconds, 2) if trained else None,
        "knn5_accuracy": knn,
        "precision_at_9": precision,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        f"5-NN accuracy {knn:.4f}, precision@9 {precision:.4f}, {seconds:.0f} s of training; wrote {args.out}"
    )
    plot.show_or_close(figures, show=not args.no_show)
    return metrics


if __name__ == "__main__":
    main()
