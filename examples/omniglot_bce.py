"""Experiment 2: a Siamese network that tells whether two handwritten characters match (BCE).

Rebuilds MATLAB's "Train a Siamese network to compare images", after Koch, Zemel and
Salakhutdinov, "Siamese Neural Networks for One-shot Image Recognition" (ICML 2015 workshop), on
Omniglot (Lake, Salakhutdinov and Tenenbaum, Science 2015). The recipe, ``--preset paper``
(docs/14-the-experiments.md, every value in PRESETS below):

    data        Omniglot background set (30 alphabets, 964 characters, 20 drawings each) for
                training, 105x105 pixels in [0, 1]; the 20 evaluation alphabets (659 characters
                never seen in training) for testing. Read inverted (ink 1, paper 0), where the
                reference reads the PNGs as they are (ink 0): both presets list it as a departure
    pairs       180 fresh random pairs per iteration, similar (same character) with probability 0.5
    branch      conv 10x10, 64 -> ReLU -> maxpool 2 -> conv 7x7, 128 -> ReLU -> maxpool 2 ->
                conv 4x4, 128 -> ReLU -> maxpool 2 -> conv 5x5, 256 -> ReLU -> Dense 6400 -> 4096,
                weights and biases N(0, 0.01^2)  (models.koch_net)
    head        p = sigmoid(w . |sigmoid(f1) - sigmoid(f2)| + b), w and b N(0, 0.01^2)
    loss        binary cross-entropy, mean over the batch, p clamped into [eps, 1 - eps]
    optimiser   Adam, lr 6e-5, decays 0.9 / 0.99, 10,000 iterations
    device      about 1.9 TFLOP per iteration: a GPU run (the default preset when CuPy sees one)

``--preset cpu`` (the default without a GPU) gets a real result on a 2-core laptop in under half
an hour (docs/16-experiment-2.md measures it, and what each of its settings buys). It departs
from the paper as follows (metrics.json lists the departures of each run):

    * images shrunk to 28x28 with area averaging (antialiased), not 105x105
    * a smaller branch, models.omniglot_cpu_net: three 3x3 conv (32, 64, 128 channels, zero
      padding 1) / maxpool 2 / ReLU blocks and a Dense 1152 -> 256, He init; the head (same form)
      on 256 features, He init
    * every pair of a batch scored, not 180 separate random pairs: a batch is 64 characters
      (8 from each of 8 random alphabets) x 2 drawings = 128 images, embedded once; the head
      scores all 8128 pairs among them (64 similar, 8064 dissimilar, 896 of those from one
      alphabet, the hard case of the one-shot benchmark), similar pairs two thirds of the loss
      and dissimilar pairs one third (``--similar-share``). Each forward pass thus teaches from
      8128 pairs instead of 64
    * the loss computed from the logit (binary_cross_entropy_with_logits), not from a clamped p
    * Koch et al.'s random affine distortions (rotation, shear, scale, shift, each part used with
      probability 0.5) applied to every training image, shift scaled to the 28-pixel image
    * Adam lr 3e-3 with cosine decay to 0 (``--schedule``), not a constant 6e-5; 12,000 iterations
    * the one-shot benchmark scored with 16 views of each image, itself and 15 distortions, the
      logits of all 16 x 16 pairings averaged (``--one-shot-views``); the one-view score is
      reported beside it

Evaluation (both presets): pair verification on the evaluation alphabets, as in the reference
(5 random batches of 150 pairs, similar when p rounds to 1, mean accuracy; the reference reports
89.07%) and on ``--eval-pairs`` pairs with a 95% interval and the ROC AUC; then Lake's 20-way
within-alphabet one-shot benchmark (20 runs x 20 queries, each query given the candidate with the
highest similarity; Koch et al. report 92.0% with the paper network).

Run:
    python examples/omniglot_bce.py                        # cpu preset without a GPU, else paper
    python examples/omniglot_bce.py --preset paper --device cuda
    python examples/omniglot_bce.py --classes 20 --iterations 5 --eval-pairs 200   # a smoke test
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import tinysiam
import tinysiam.functional as F
from tinysiam import losses, nn, optim
from tinysiam.backend import to_device
from tinysiam.experiments import models, plot
from tinysiam.experiments.data import (
    DataError,
    OmniglotSplit,
    PairSampler,
    load_omniglot,
    load_omniglot_runs,
)
from tinysiam.experiments.data.augment import random_affine
from tinysiam.experiments.metrics import accuracy_interval, roc_auc
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

PRESETS = {  # batch_pairs is used with pairs="random", batch_characters with pairs="all-in-batch"
    "paper": dict(size=105, network="koch", head_init="narrow-normal", loss="bce", augment=False,
                  pairs="random", batch_pairs=180, batch_characters=64, similar_share=0.5,
                  same_alphabet_share=None, lr=6e-5, schedule="constant", iterations=10_000,
                  one_shot_views=1),
    "cpu": dict(size=models.OMNIGLOT_CPU_IMAGE_SIZE, network="cpu", head_init="he",
                loss="bce-logits", augment=True, pairs="all-in-batch", batch_pairs=180,
                batch_characters=64, similar_share=2 / 3, same_alphabet_share=None, lr=3e-3,
                schedule="cosine", iterations=12_000, one_shot_views=16),
}  # fmt: skip
CHARACTERS_PER_ALPHABET = 8  # of an all-in-batch batch
REFERENCE_BATCHES, REFERENCE_BATCH_PAIRS = 5, 150  # the reference's evaluation
REFERENCE = {"pair_accuracy": 0.8907, "one_shot_accuracy_koch_et_al": 0.92}  # published figures


class SiameseNet(nn.Module):
    """The twin branch and the similarity head: (x1, x2) -> the logit that the pair matches."""

    def __init__(self, branch: nn.Module, head: models.SimilarityHead) -> None:
        self.twin = nn.Twin(branch)
        self.head = head

    def forward(self, x1: tinysiam.Tensor, x2: tinysiam.Tensor) -> tinysiam.Tensor:
        f1, f2 = self.twin(x1, x2)  # x1, x2: (N, 1, S, S) -> (N, features) each
        return self.head(f1, f2)  # (N,) logits; sigmoid gives the probability


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device, size, figures = args.device, args.size, plot.Figures(args.out, not args.no_show)
    tinysiam.keep_freed_memory()  # glibc reuses freed big arrays: faster; affects the process

    # 1. Data: the 30 background alphabets to train on, the 20 evaluation alphabets to test on.
    train = training_split(load_omniglot("background", size=size), args.classes)
    test = load_omniglot("evaluation", size=size)
    characters = len(np.unique(train.labels))
    print(f"data: Omniglot at {size}x{size}; training on {characters} characters "
          f"({len(train.images)} images), testing on {len(test.class_names)} unseen characters; "
          f"preset {args.preset}; device {device}")  # fmt: skip
    figures.add("training_images.png", training_images(train, args.seed))

    # 2. Pairs. paper: --batch-pairs random pairs, similar (y = 1) with probability 0.5.
    #    cpu: 64 characters x 2 drawings, every pair among them scored (similar: the 2 drawings of
    #    one character; dissimilar: all the rest, many from one alphabet); images distorted.
    #    Images stay on the device unless distorted (on the host); the sampler gives indices.
    images = train.images if args.augment else to_device(train.images, device)
    sampler = PairSampler(images, train.labels, seed=args.seed + 1, groups=train.alphabets)
    augment_rng = np.random.default_rng(args.seed + 2)

    def batch_images(indices: np.ndarray) -> tinysiam.Tensor:  # (B, 1, S, S) on the device
        chosen = images[indices]
        return tinysiam.tensor(
            distort(chosen, augment_rng, size) if args.augment else chosen, device=device
        )

    figures.add("pairs.png", training_pairs(train, args))

    # 3. The network: one branch for both images (shared weights), then the similarity head.
    rng = np.random.default_rng(args.seed)
    if args.network == "koch":
        branch, features = models.koch_net(rng), 4096
    else:
        branch, features = models.omniglot_cpu_net(rng), models.OMNIGLOT_CPU_FEATURES
    head = models.SimilarityHead(features, init=args.head_init, rng=rng)
    model = SiameseNet(branch, head).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))

    # 4. Loss: binary cross-entropy of the head's verdict on each pair.
    def batch_loss() -> tinysiam.Tensor:
        if args.pairs == "random":
            i1, i2, y = sampler.sample_indices(args.batch_pairs)
            logits = model(batch_images(i1), batch_images(i2))  # (N,)
            if args.loss == "bce":  # the paper: clamped probabilities
                return losses.binary_cross_entropy(F.sigmoid(logits), y)
            return losses.binary_cross_entropy_with_logits(logits, y)
        batch = sampler.sample_group_batch(args.batch_characters, CHARACTERS_PER_ALPHABET)
        f = model.twin.branch(batch_images(batch))  # (B, D), B = 2 x characters
        return every_pair_loss(
            model.head,
            f,
            train.labels[batch],
            train.alphabets[batch],
            args.similar_share,
            args.same_alphabet_share,
            device,
        )

    # 5. Training loop: fresh pairs, the loss, one Adam step per iteration.
    state = dict(model=model, optimizer=optimizer, sampler=sampler, augment_rng=augment_rng)
    run = TrainingRun.from_args(args, **state)
    for iteration in run:  # the run keeps the progress bar, checkpoints, resume, NaN stop
        loss = batch_loss()
        optimizer.lr = optim.scheduled_lr(args.lr, args.schedule, iteration, args.iterations)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.record(loss)
    curve = plot.loss_curve(run.losses["loss"], run.seconds, "Binary cross-entropy")
    figures.add("loss.png", curve)

    # 6. Evaluation on the unseen alphabets: pair verification, then 20-way one-shot.
    model.eval()
    batch = 500 if args.network == "koch" else 2000  # images per forward pass
    pair_metrics, test_pairs = verify_pairs(model, test, args.eval_pairs, args.seed + 10, batch)
    runs, view_rng = load_omniglot_runs(size=size), np.random.default_rng(args.seed + 20)
    one_shot_metrics, trial = one_shot(model, runs, batch, args.one_shot_views, view_rng)

    # 7. Figures: test pairs with the verdicts, one one-shot trial.
    figures.add("test_pairs.png", test_pairs)
    figures.add("one_shot_trial.png", trial)
    settings = describe(args, train, test, features)
    results = {**pair_metrics, **one_shot_metrics, "reference": REFERENCE}
    metrics = write_metrics(args.out, {**settings, **run.summary(), **results})
    print(report(metrics))
    figures.show_or_close()
    return metrics


# ----- the settings ---------------------------------------------------------------------------
FLAGS = {  # flag: (type or choices, help[, default]); None: the preset's value
    "--iterations": (int, "training iterations (paper 10000, cpu 12000)"),
    "--pairs": (["random", "all-in-batch"], "separate random pairs, or every pair of a batch"),
    "--batch-pairs": (int, "random pairs per iteration (paper 180)"),
    "--batch-characters": (int, "characters (x 2 drawings) per all-in-batch batch (cpu 64)"),
    "--similar-share": (
        float,
        "all-in-batch: the share of the loss on similar pairs, the rest on dissimilar ones "
        "(paper 0.5, cpu 2/3)",
    ),
    "--same-alphabet-share": (
        float,
        "all-in-batch: give pairs from one alphabet this share of the dissimilar pairs' weight "
        "(default: every dissimilar pair alike)",
    ),
    "--lr": (float, "Adam learning rate (paper 6e-5, cpu 3e-3)"),
    "--schedule": (optim.SCHEDULES, "learning rate: constant (paper) or cosine decay to 0 (cpu)"),
    "--classes": (int, "train on the first N background characters only (smoke tests)"),
    "--eval-pairs": (int, "test pairs of the stable accuracy estimate", 10_000),
    "--one-shot-views": (
        int,
        "views of each one-shot image, itself and distorted copies (paper 1, cpu 16)",
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, each left out set by the preset (default: paper on a GPU, else cpu)."""
    args = parse_example_args(
        argv,
        __doc__,
        FLAGS,
        default_out=Path("runs/omniglot_bce"),
        presets=PRESETS,
        default_preset=lambda device: "paper" if device == "cuda" else "cpu",
        at_least={
            "batch_characters": 2,
            "classes": 6,  # the figure of training pairs shows 6 characters
            "eval_pairs": 100,  # similar and dissimilar pairs both, for the ROC AUC
        },
    )
    if args.similar_share >= 1:
        raise FlagError(
            "--similar-share",
            args.similar_share,
            "leaves no weight for the dissimilar pairs",
            "give a number in (0, 1), e.g. 0.5",
        )
    if args.same_alphabet_share is not None and args.same_alphabet_share > 1:
        raise FlagError(
            "--same-alphabet-share",
            args.same_alphabet_share,
            "is a share of the loss, so at most 1",
            "give a number in (0, 1], e.g. 0.5",
        )
    return args


def departures(args: argparse.Namespace) -> list[str]:
    """How this run differs from MATLAB's recipe, one line each.

    The first line, the images' polarity, holds for every run; the others are the settings that
    differ from PRESETS["paper"].
    """
    paper = PRESETS["paper"]
    notes = ["images inverted (ink 1, paper 0), where the reference reads them as they are (ink 0)"]
    if args.size != paper["size"]:
        notes.append(
            f"images {args.size}x{args.size} (area-averaged from 105x105) instead of 105x105"
        )
    if args.network != paper["network"]:
        notes.append(
            "branch models.omniglot_cpu_net (three 3x3 conv 32/64/128 + maxpool + ReLU blocks, "
            "Dense 1152 -> 256, He init) instead of koch_net; the head on 256 features"
        )
    if args.head_init != paper["head_init"]:
        notes.append(f"head initialised {args.head_init!r} instead of narrow normal")
    if args.pairs != paper["pairs"]:
        notes.append(
            f"every pair of a batch of (up to) {args.batch_characters} characters x 2 drawings "
            f"({CHARACTERS_PER_ALPHABET} characters per alphabet) scored, similar and dissimilar "
            f"pairs weighted {args.similar_share:.3g} and {1 - args.similar_share:.3g}"
            f"{share_note(args.same_alphabet_share)}, instead of 180 random pairs"
        )
    elif args.batch_pairs != paper["batch_pairs"]:
        notes.append(f"{args.batch_pairs} pairs per iteration instead of 180")
    if args.loss != paper["loss"]:
        notes.append(
            "loss from logits (binary_cross_entropy_with_logits) instead of clamped probabilities"
        )
    if args.augment:
        notes.append(
            "random affine distortions of every training image (Koch et al.'s ranges, shift "
            "scaled to the image)"
        )
    if args.lr != paper["lr"] or args.schedule != paper["schedule"]:
        notes.append(f"Adam lr {args.lr:g}, {args.schedule} schedule, instead of a constant 6e-5")
    if args.iterations != paper["iterations"]:
        notes.append(f"{args.iterations} iterations instead of 10,000")
    if args.one_shot_views != paper["one_shot_views"]:
        notes.append(
            f"one-shot similarity averaged over {args.one_shot_views} views of each image (itself "
            "and distorted copies), instead of the images alone"
        )
    if args.classes is not None:
        notes.append(f"trained on the first {args.classes} background characters only")
    return notes


def share_note(same_alphabet_share: float | None) -> str:
    """How the dissimilar pairs' weight of the all-in-batch loss is split, for departures()."""
    if same_alphabet_share is None:
        return ""
    return f" ({same_alphabet_share:g} of the dissimilar weight on pairs from one alphabet)"


def describe(
    args: argparse.Namespace, train: OmniglotSplit, test: OmniglotSplit, features: int
) -> dict:
    """The data and settings of this run, for metrics.json."""
    size, characters = args.size, len(np.unique(train.labels))
    return {
        "data": f"Omniglot {size}x{size}: background set for training, evaluation set for testing",
        "train_characters": characters,
        "train_images": len(train.images),
        "test_characters": len(test.class_names),
        "preset": args.preset,
        "departures": departures(args),
        "hyperparameters": hyperparameters(args, features, characters),
    }


def hyperparameters(args: argparse.Namespace, features: int, characters: int) -> dict:
    """This run's settings for metrics.json (None: the pair setting that it does not use)."""
    random = args.pairs == "random"
    return {
        "image_size": args.size,
        "network": args.network,
        "features": features,
        "loss": args.loss,
        "augment": args.augment,
        "pairs": args.pairs,
        "batch_pairs": args.batch_pairs if random else None,
        "batch_characters": None if random else min(args.batch_characters, characters),
        "similar_share": None if random else args.similar_share,
        "same_alphabet_share": None if random else args.same_alphabet_share,
        "iterations": args.iterations,
        "optimizer": "adam",
        "lr": args.lr,
        "betas": [0.9, 0.99],
        "schedule": args.schedule,
        "one_shot_views": args.one_shot_views,
    }


# ----- data and pairs -------------------------------------------------------------------------
def training_split(split: OmniglotSplit, classes: int | None) -> OmniglotSplit:
    """The background split, or only its first ``classes`` characters."""
    if classes is None:
        return split
    keep = split.labels < classes
    return split._replace(
        images=split.images[keep], labels=split.labels[keep], alphabets=split.alphabets[keep]
    )


def distort(images: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Koch et al.'s distortions; their shift of up to 2 pixels of 105 scaled to ``size``."""
    return random_affine(
        images, rng, rotation=10.0, shear=0.3, scale=(0.8, 1.2), translation=2.0 * size / 105
    )


def training_images(train: OmniglotSplit, seed: int) -> plot.Figure:
    """Eight training images, titled with their alphabet and character."""
    shown = np.random.default_rng(seed).choice(len(train.images), 8, replace=False)
    names = [train.class_names[c].replace("_", " ").replace("-", "\n") for c in train.labels[shown]]
    return plot.image_grid(train.images[shown], names, cols=4, title="training images")


def training_pairs(train: OmniglotSplit, args: argparse.Namespace) -> plot.Figure:
    """Ten pairs drawn as training draws them (from generators of their own), distorted alike."""
    if args.pairs == "random":
        sampler = PairSampler(train.images, train.labels, seed=args.seed + 3)
        x1, x2, y = sampler.sample(10)
        titles = ["similar" if s else "dissimilar" for s in y]
    else:  # 5 similar pairs and 5 dissimilar ones from one batch
        sampler = PairSampler(
            train.images, train.labels, seed=args.seed + 3, groups=train.alphabets
        )
        batch = sampler.sample_group_batch(6, CHARACTERS_PER_ALPHABET)
        first = [2 * k for k in range(5)] * 2  # images 2k and 2k + 1 show one character
        second = [2 * k + 1 for k in range(5)] + [2 * k + 2 for k in range(5)]
        x1, x2 = train.images[batch[first]], train.images[batch[second]]
        same = train.alphabets[batch[first]] == train.alphabets[batch[second]]
        titles = ["similar"] * 5 + [
            "dissimilar\n(same alphabet)" if a else "dissimilar" for a in same[5:]
        ]
    if args.augment:
        rng = np.random.default_rng(args.seed + 4)
        x1, x2 = distort(x1, rng, args.size), distort(x2, rng, args.size)
    return plot.pairs(x1, x2, titles, title="training pairs")


def every_pair_loss(
    head: models.SimilarityHead,
    f: tinysiam.Tensor,
    labels: np.ndarray,
    alphabets: np.ndarray,
    similar_share: float,
    same_alphabet_share: float | None,
    device: str,
) -> tinysiam.Tensor:
    """Binary cross-entropy over every pair of a batch of features f (B, D), with the character
    (B,) and alphabet (B,) of each image, each pair weighted by :func:`pair_weights`."""
    logits = head(f[:, None], f[None, :])  # (B, B): every pair, twice, and the diagonal
    weight, y = pair_weights(labels, alphabets, similar_share, same_alphabet_share)  # on the host
    per_pair = losses.binary_cross_entropy_with_logits(
        logits.reshape(-1), y.reshape(-1), reduction="none"
    )
    return (per_pair * tinysiam.tensor(weight.reshape(-1).astype(np.float32), device=device)).sum()


def pair_weights(
    labels: np.ndarray,
    alphabets: np.ndarray,
    similar_share: float = 0.5,
    same_alphabet_share: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The loss weight (B, B) of each pair of a batch (upper triangle only, summing to 1) and its
    target y (B, B): 1 for two images of one character, else 0.

    Similar pairs carry ``similar_share`` of the loss and dissimilar pairs the rest, every pair
    of a kind alike. With ``same_alphabet_share`` given, the dissimilar part is split: that share
    to the pairs from one alphabet (the hard case of the one-shot benchmark), the rest to the
    pairs from two alphabets. Weighting similar pairs more moves the logit the loss is least at
    by log(similar_share / (1 - similar_share)) towards "similar".
    """
    y = (labels[:, None] == labels[None, :]).astype(np.float32)
    upper = np.triu(np.ones_like(y), k=1)  # each pair once, no image with itself
    similar, dissimilar = upper * y, upper * (1 - y)
    weight = similar_share * similar / similar.sum()
    same_alphabet = dissimilar * (alphabets[:, None] == alphabets[None, :])
    two_alphabets = dissimilar - same_alphabet
    if same_alphabet_share is None or not same_alphabet.any() or not two_alphabets.any():
        return weight + (1 - similar_share) * dissimilar / dissimilar.sum(), y
    share, rest = same_alphabet_share, 1 - similar_share
    weight += rest * share * same_alphabet / same_alphabet.sum()
    weight += rest * (1 - share) * two_alphabets / two_alphabets.sum()
    return weight, y


# ----- evaluation -----------------------------------------------------------------------------
def features_of(model: SiameseNet, images: np.ndarray, batch: int) -> tinysiam.Tensor:
    """The branch's features (N, D) of images (N, 1, S, S), on the model's device."""
    device = model.head.fc.weight.device
    return tinysiam.tensor(embed(model.twin.branch, images, device, batch), device=device)


def verify_pairs(
    model: SiameseNet, test: OmniglotSplit, n: int, seed: int, batch: int
) -> tuple[dict, plot.Figure]:
    """Pair verification on the evaluation alphabets, as the reference (5 x 150 pairs) and on
    ``n`` pairs with a 95% interval and the ROC AUC; a figure of the first 10 pairs."""
    pairs = PairSampler(test.images, test.labels, seed=seed)
    reference = [pairs.sample_indices(REFERENCE_BATCH_PAIRS) for _ in range(REFERENCE_BATCHES)]
    i1, i2, targets = pairs.sample_indices(n)
    needed = np.unique(np.concatenate([i1, i2] + [np.concatenate(r[:2]) for r in reference]))
    position = np.zeros(len(test.images), np.intp)  # image index -> row of features
    position[needed] = np.arange(len(needed))
    features = features_of(model, test.images[needed], batch)

    def probabilities(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # p(similar) of each pair
        with tinysiam.no_grad():
            logits = model.head(features[position[a]], features[position[b]])
        return F.sigmoid(logits).numpy().astype(np.float64)

    by_batch = [float(np.mean((probabilities(a, b) >= 0.5) == (t == 1))) for a, b, t in reference]
    scores = probabilities(i1, i2)
    correct = int(np.sum((scores >= 0.5) == (targets == 1)))
    titles = [
        f"target {'same' if t else 'diff'}\npred {'same' if s >= 0.5 else 'diff'}\np = {s:.2f}"
        for t, s in zip(targets[:10], scores[:10], strict=True)
    ]
    title = "test pairs (unseen alphabets)"
    figure = plot.pairs(test.images[i1[:10]], test.images[i2[:10]], titles, title=title)
    metrics = {
        "pair_accuracy_reference": float(np.mean(by_batch)),
        "pair_accuracy_reference_batches": by_batch,
        "pair_accuracy": correct / n,
        "pair_accuracy_ci95": list(accuracy_interval(correct, n)),
        "eval_pairs": n,
        "roc_auc": roc_auc(scores, targets),
    }
    return metrics, figure


def one_shot(
    model: SiameseNet, runs: list, batch: int, views: int, rng: np.random.Generator
) -> tuple[dict, plot.Figure]:
    """Lake's 20-way within-alphabet one-shot benchmark: each query given the candidate with the
    highest similarity; a figure of the first trial.

    With ``views`` above 1, every query and candidate is also seen in ``views - 1`` distorted
    copies (the training distortions, drawn from ``rng``), and the similarity of a query and a
    candidate is the mean logit over all views x views pairings of their copies. The benchmark
    allows it: each trial still uses only its own query and the 20 candidates. The metrics give
    the accuracy both ways, one view (``one_shot_accuracy_single_view``) and ``views``.
    """
    chosen, hits, single_view_hits = [], [], []
    for run in runs:
        candidates = view_features(model, run.candidates, batch, views, rng)  # (V, 20, D)
        queries = view_features(model, run.queries, batch, views, rng)  # (V, 20, D)
        with tinysiam.no_grad():  # (V, V, 20, 20): every view of each query x candidate pair
            logits = np.stack(  # one query view at a time: (V, 20, 20, D) distances at most
                [model.head(queries[v][:, None], candidates[:, None]).numpy() for v in range(views)]
            )
        similarity = logits.mean(axis=(0, 1))  # (20, 20), ordered as p
        chosen.append(similarity.argmax(axis=1))
        hits.append(chosen[-1] == run.answers)
        single_view_hits.append(logits[0, 0].argmax(axis=1) == run.answers)  # undistorted only
    first = runs[0]
    figure = plot.one_shot_trial(
        first.queries[0], first.candidates, int(chosen[0][0]), int(first.answers[0])
    )
    trials = len(runs) * 20
    metrics = {
        "one_shot_accuracy": float(np.mean(hits)),
        "one_shot_ci95": list(accuracy_interval(int(np.sum(hits)), trials)),
        "one_shot_trials": trials,
        "one_shot_views": views,
        "one_shot_accuracy_single_view": float(np.mean(single_view_hits)),
        "one_shot_single_view_ci95": list(accuracy_interval(int(np.sum(single_view_hits)), trials)),
    }
    return metrics, figure


def view_features(
    model: SiameseNet, images: np.ndarray, batch: int, views: int, rng: np.random.Generator
) -> tinysiam.Tensor:
    """Features (views, N, D) of images (N, 1, S, S): the images themselves, then views - 1
    distorted copies of them."""
    size = images.shape[-1]
    copies = [images] + [distort(images, rng, size) for _ in range(views - 1)]
    features = features_of(model, np.concatenate(copies), batch)  # (views * N, D)
    return features.reshape(views, len(images), -1)


def report(m: dict) -> str:
    """The two lines printed at the end of a run."""
    (low, high), (one_low, one_high) = m["pair_accuracy_ci95"], m["one_shot_ci95"]
    return (
        f"pair accuracy: reference protocol {m['pair_accuracy_reference']:.4f} (5 x 150 pairs; "
        f"reference 0.8907), {m['eval_pairs']} pairs {m['pair_accuracy']:.4f} "
        f"(95% CI {low:.4f}-{high:.4f}), ROC AUC {m['roc_auc']:.4f}\n"
        f"20-way one-shot accuracy {m['one_shot_accuracy']:.4f} (95% CI {one_low:.4f}-"
        f"{one_high:.4f}, {m['one_shot_trials']} trials); {m['training_seconds']:.0f} s of training"
    )


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
