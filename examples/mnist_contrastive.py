"""Experiment 1: a Siamese network that maps digit images to 2-D points (contrastive loss).

Rebuilds MATLAB's "Train a Siamese network for dimensionality reduction", after Hadsell, Chopra
and LeCun, "Dimensionality Reduction by Learning an Invariant Mapping" (CVPR 2006). The recipe
(docs/14-the-experiments.md; every value a flag, defaults in PRESETS below):

    data        28x28 digits in [0, 1]: MNIST (60,000 train / 10,000 test) when it is on disk or
                can be downloaded, else built-in synthetic digits (5000 / 5000, as the reference)
    pairs       180 fresh random pairs per iteration, similar (same digit) with probability 0.5
    branch      flatten 784 -> Dense 1024 -> ReLU -> Dense 1024 -> ReLU -> Dense 2, He init
    loss        d = sqrt(|f1 - f2|^2 + 1e-6);  0.5 * SUM_batch [ y d^2 + (1 - y) max(0.3 - d, 0)^2 ]
    optimiser   Adam, lr 1e-4, decays 0.9 / 0.99, 3000 iterations
    evaluation  5-NN digit accuracy in 2-D (training embeddings as reference), precision@9

``--preset best`` departs from it for the best 2-D embedding in under 10 minutes on 2 CPU cores:
a small conv branch; every pair of a batch of 18 images of each digit scored (16,110 pairs,
similar and dissimilar weighted half and half); margin 1; Adam 1e-3, cosine decay, 3500 steps.
Figures and metrics.json go to --out; Ctrl-C saves a checkpoint that --resume continues.

Run:
    python examples/mnist_contrastive.py                       # the faithful recipe
    python examples/mnist_contrastive.py --dataset digits      # no download needed
    python examples/mnist_contrastive.py --preset best         # 98.7% 5-NN in 2-D, 5.5 minutes
    python examples/mnist_contrastive.py --optimizer sgd --lr 1e-3   # 79.2% 5-NN (page 15)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import tinysiam
from tinysiam import losses, nn, optim
from tinysiam.backend import to_device
from tinysiam.experiments import models, plot
from tinysiam.experiments.data import DataError, PairSampler, all_pairs
from tinysiam.experiments.data.digits import DATASETS, load_digits, random_subset
from tinysiam.experiments.metrics import knn_accuracy, nearest_neighbours, precision_at_k
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

PRESETS = {  # batch_pairs is used with pairs="random", per_class with pairs="all-in-batch"
    "reference": dict(network="mlp", pairs="random", iterations=3000, batch_pairs=180,
                      per_class=18, margin=0.3, reduction="sum", lr=1e-4, schedule="constant"),
    "best": dict(network="conv", pairs="all-in-batch", iterations=3500, batch_pairs=180,
                 per_class=18, margin=1.0, reduction="mean", lr=1e-3, schedule="cosine"),
}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device, figures = args.device, plot.Figures(args.out, show=not args.no_show)
    tinysiam.keep_freed_memory()  # glibc reuses freed big arrays: faster; affects the process

    # 1. Data: images (N, 1, 28, 28) in [0, 1], labels 0..9, --train-size of the training ones.
    train_x, train_y, test_x, test_y, source = load_data(args)
    print(f"data: {source}; {len(train_x)} training, {len(test_x)} test images; device {device}")
    shown = np.random.default_rng(args.seed).choice(len(train_x), 9, replace=False)
    grid = plot.image_grid(
        train_x[shown], [str(d) for d in train_y[shown]], title="training images"
    )
    figures.add("training_images.png", grid)

    # 2. Pairs: similar (y = 1, same digit, two different images) with probability 0.5. The
    #    images go to the device once; the sampler draws indices into them.
    sampler = PairSampler(to_device(train_x, device), train_y, seed=args.seed)
    i1, i2, y = sampler.sample_indices(10)
    titles = ["similar" if s else "dissimilar" for s in y]
    figures.add("pairs.png", plot.pairs(train_x[i1], train_x[i2], titles, title="example pairs"))

    # 3. Network: one branch applied to both images of a pair (shared weights).
    rng = np.random.default_rng(args.seed)
    branch = models.mnist_mlp(rng) if args.network == "mlp" else models.mnist_conv_net(rng)
    twin = nn.Twin(branch).to(device)
    if args.optimizer == "adam":
        optimizer = optim.Adam(twin.parameters(), lr=args.lr, betas=(0.9, 0.99))
    else:
        optimizer = optim.SGD(twin.parameters(), lr=args.lr)

    # 4. Loss: contrastive, on separate random pairs, or (best) on every pair of a batch.
    def batch_loss() -> tinysiam.Tensor:
        if args.pairs == "random":
            x1, x2, y = sampler.sample(args.batch_pairs)
            f1, f2 = twin(tinysiam.tensor(x1, device=device), tinysiam.tensor(x2, device=device))
            return losses.contrastive_loss(f1, f2, y, margin=args.margin, reduction=args.reduction)
        batch = sampler.sample_class_batch(args.per_class)  # (B,): per_class images of each digit
        f = branch(tinysiam.tensor(sampler.images[batch], device=device))  # (B, 2): each once
        i, j, y, weight = all_pairs(train_y[batch])  # all B (B - 1) / 2 pairs
        per_pair = losses.contrastive_loss(f[i], f[j], y, margin=args.margin, reduction="none")
        return (per_pair * tinysiam.tensor(weight, device=device)).sum()  # weights sum to 1

    # 5. Training loop: fresh pairs each iteration, the loss, one optimiser step.
    run = TrainingRun.from_args(args, model=twin, optimizer=optimizer, sampler=sampler)
    for iteration in run:  # the run keeps the progress bar, checkpoints, resume, NaN stop
        loss = batch_loss()
        optimizer.lr = optim.scheduled_lr(args.lr, args.schedule, iteration, args.iterations)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.record(loss)

    # 6. Evaluation: every image embedded in 2-D; 5-NN digit accuracy and retrieval precision@9.
    train_features = embed(branch, train_x, device, batch=2000)
    test_features = embed(branch, test_x, device, batch=2000)
    knn = knn_accuracy(train_features, train_y, test_features, test_y, k=5)
    precision = precision_at_k(test_features, test_y, k=9)

    # 7. Figures: the loss, the 2-D embedding, a test query with its 9 nearest test images.
    figures.add("loss.png", plot.loss_curve(run.losses["loss"], run.seconds))
    title = "2-D feature representation of digit images"
    figures.add("embedding.png", plot.embedding_scatter(test_features, test_y, title))
    query = int(np.random.default_rng(args.seed).integers(len(test_x)))
    others = np.delete(np.arange(len(test_x)), query)  # the query is removed from the test set
    nearest = others[nearest_neighbours(test_features[[query]], test_features[others], k=9)[0]]
    titles = [str(d) for d in test_y[nearest]]
    figures.add("retrieval.png", plot.retrieval(test_x[query], test_x[nearest], titles))

    sizes = {"data": source, "train_size": len(train_x), "test_size": len(test_x)}
    results = {"knn5_accuracy": knn, "precision_at_9": precision}
    settings = {"preset": args.preset, "hyperparameters": hyperparameters(args)}
    metrics = write_metrics(args.out, {**sizes, **settings, **run.summary(), **results})
    print(f"5-NN accuracy {knn:.4f}, precision@9 {precision:.4f}, {run.seconds:.0f} s of training")
    figures.show_or_close()
    return metrics


FLAGS = {  # flag: (type or choices, help[, default]); None: the preset's value
    "--dataset": (DATASETS, "auto: MNIST if found or downloadable, else synthetic digits", "auto"),
    "--train-size": (int, "use only this many training images"),
    "--iterations": (int, "training iterations (reference 3000, best 3500)"),
    "--pairs": (["random", "all-in-batch"], "separate random pairs, or every pair of a batch"),
    "--batch-pairs": (int, "random pairs per iteration (reference 180)"),
    "--per-class": (int, "images of each digit in an all-in-batch batch (best 18)"),
    "--margin": (float, "contrastive margin (reference 0.3, best 1)"),
    "--lr": (float, "learning rate (reference 1e-4, best 1e-3)"),
    "--optimizer": (["adam", "sgd"], "adam (decays 0.9/0.99, the reference) or plain SGD", "adam"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, each left out set by the preset; bad values end in an argparse error."""
    out = Path("runs/mnist_contrastive")
    at_least = {"train_size": 20, "per_class": 2}  # per_class: a similar pair per digit
    return parse_example_args(
        argv, __doc__, FLAGS, default_out=out, presets=PRESETS, at_least=at_least
    )


def load_data(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """The digits of --dataset, --train-size of the training ones, and a line saying which; a
    FlagError when --dataset mnist finds no MNIST or --per-class is more than the data hold."""
    try:
        train_x, train_y, test_x, test_y, source = load_digits(args.dataset, args.seed)
    except DataError as error:  # only --dataset mnist raises it; auto falls back to digits
        raise FlagError("--dataset", args.dataset, str(error), "or use --dataset digits") from None
    train_x, train_y = random_subset(train_x, train_y, args.train_size, args.seed)
    most = np.sort(np.bincount(train_y, minlength=10))[-2]  # images of the second largest digit
    if args.pairs == "all-in-batch" and args.per_class > most:
        raise FlagError(
            "--per-class",
            args.per_class,
            f"a batch needs two digits with that many images each; the {len(train_y)} training "
            f"images hold {most} of the second most common digit",
            "give a smaller --per-class or a larger --train-size",
        )
    return train_x, train_y, test_x, test_y, source


def hyperparameters(args: argparse.Namespace) -> dict:
    """This run's settings for metrics.json (None: the pair setting that it does not use)."""
    names = "network pairs iterations batch_pairs per_class margin reduction optimizer lr schedule"
    settings = {name: getattr(args, name) for name in names.split()}
    settings["per_class" if args.pairs == "random" else "batch_pairs"] = None
    betas = [0.9, 0.99] if args.optimizer == "adam" else None
    return {**settings, "eps": 1e-6, "betas": betas}


if __name__ == "__main__":
    try:
        main()
    except FlagError as error:  # a flag's value found unusable: one line, exit status 2
        exit_for_flag(error)
    except NonFiniteLossError as error:  # the message names the iteration and likely causes
        raise SystemExit(f"error: {error}") from None
    except TrainingInterrupted as stop:  # Ctrl-C saved a checkpoint: say how to go on
        print(f"Continue with:\n  {resume_command(stop.checkpoint)}")
        raise
