"""Experiment 2: a Siamese network that tells whether two handwritten characters match (BCE).

Rebuilds MATLAB's "Train a Siamese network to compare images", after Koch, Zemel and
Salakhutdinov, "Siamese Neural Networks for One-shot Image Recognition" (ICML 2015 workshop), on
Omniglot (Lake, Salakhutdinov and Tenenbaum, Science 2015). The recipe, ``--preset paper``
(../shared/spec/experiments.md in the project, every value in PRESETS below):

    data        Omniglot background set (30 alphabets, 964 characters, 20 drawings each) for
                training, 105x105 pixels in [0, 1]; the 20 evaluation alphabets (659 characters
                never seen in training) for testing
    pairs       180 fresh random pairs per iteration, similar (same character) with probability 0.5
    branch      conv 10x10, 64 -> ReLU -> maxpool 2 -> conv 7x7, 128 -> ReLU -> maxpool 2 ->
                conv 4x4, 128 -> ReLU -> maxpool 2 -> conv 5x5, 256 -> ReLU -> Dense 6400 -> 4096,
                weights and biases N(0, 0.01^2)  (models.koch_net)
    head        p = sigmoid(w . |sigmoid(f1) - sigmoid(f2)| + b), w and b N(0, 0.01^2)
    loss        binary cross-entropy, mean over the batch, p clamped into [eps, 1 - eps]
    optimiser   Adam, lr 6e-5, decays 0.9 / 0.99, 10,000 iterations
    device      about 1.9 TFLOP per iteration: a GPU run (the default preset when CuPy sees one)

``--preset cpu`` (the default without a GPU) gets a real result on a 2-core laptop in under half
an hour. It departs from the paper as follows (metrics.json lists the departures of each run):

    * images shrunk to 28x28 with area averaging (antialiased), not 105x105
    * a smaller branch, models.omniglot_cpu_net: three 3x3 conv (32, 64, 128 channels, zero
      padding 1) / maxpool 2 / ReLU blocks and a Dense 1152 -> 256, He init; the head (same form)
      on 256 features, He init
    * every pair of a batch scored, not 180 separate random pairs: a batch is 64 characters
      (8 from each of 8 random alphabets) x 2 drawings = 128 images, embedded once; the head
      scores all 8128 pairs among them (64 similar, 8064 dissimilar, 896 of those from one
      alphabet, the hard case of the one-shot benchmark), similar and dissimilar pairs weighted
      half and half. Each forward pass thus teaches from 8128 pairs instead of 64
    * the loss computed from the logit (binary_cross_entropy_with_logits), not from a clamped p
    * Koch et al.'s random affine distortions (rotation, shear, scale, shift, each part used with
      probability 0.5) applied to every training image, shift scaled to the 28-pixel image
    * Adam lr 1e-3 with cosine decay to 0 (``--schedule``) instead of a constant 6e-5; 6000 iterations

Evaluation (both presets): pair verification on the evaluation alphabets, as in the reference
(5 random batches of 150 pairs, similar when p rounds to 1, mean accuracy; the reference reports
89.07%) and on ``--eval-pairs`` pairs with a 95% interval and the ROC AUC; then Lake's 20-way
within-alphabet one-shot benchmark (20 runs x 20 queries, each query given the candidate with the
highest similarity; Koch et al. report 92.0% with the paper network).

Run:
    python examples/omniglot_bce.py                        # cpu preset without a GPU, paper with one
    python examples/omniglot_bce.py --preset paper --device cuda
    python examples/omniglot_bce.py --classes 20 --iterations 5 --eval-pairs 200   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import tinysiam
import tinysiam.functional as F
from tinysiam import losses, models, nn, optim, plot
from tinysiam.data import PairSampler, load_omniglot, load_omniglot_runs, random_affine
from tinysiam.metrics import accuracy_interval, roc_auc
from tinysiam.training import (
    InterruptFlag,
    add_run_arguments,
    check_finite,
    check_run_arguments,
    outputs_in_batches,
    progress_bar,
    resolve_device,
)

PRESETS = {
    "paper": dict(
        size=105,
        network="koch",
        head_init="narrow-normal",
        loss="bce",
        augment=False,
        pairs="random",
        batch_pairs=180,
        batch_characters=64,
        lr=6e-5,
        schedule="constant",
        iterations=10_000,
    ),
    "cpu": dict(
        size=models.OMNIGLOT_CPU_IMAGE_SIZE,
        network="cpu",
        head_init="he",
        loss="bce-logits",
        augment=True,
        pairs="all-in-batch",
        batch_pairs=180,
        batch_characters=64,
        lr=1e-3,
        schedule="cosine",
        iterations=6000,
    ),
}  # batch_pairs is used with pairs="random", batch_characters with pairs="all-in-batch"
CHARACTERS_PER_ALPHABET = 8  # of a cpu-preset batch
REFERENCE_BATCHES, REFERENCE_BATCH_PAIRS = 5, 150  # the reference's evaluation


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="paper: the published setting (GPU); cpu: sized for 2 CPU cores. Default: paper on a GPU, else cpu",
    )
    parser.add_argument(
        "--iterations", type=int, default=None, help="training iterations (paper 10000, cpu 6000)"
    )
    parser.add_argument(
        "--pairs",
        choices=["random", "all-in-batch"],
        default=None,
        help="random: --batch-pairs random pairs (paper); all-in-batch: every pair of --batch-characters "
        "characters x 2 drawings (cpu)",
    )
    parser.add_argument(
        "--batch-pairs", type=int, default=None, help="random pairs per iteration (paper 180)"
    )
    parser.add_argument(
        "--batch-characters",
        type=int,
        default=None,
        help="characters per all-in-batch batch (cpu 64)",
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="Adam learning rate (paper 6e-5, cpu 1e-3)"
    )
    parser.add_argument(
        "--schedule",
        choices=optim.SCHEDULES,
        default=None,
        help="learning rate: constant (paper) or cosine decay to 0 (cpu)",
    )
    parser.add_argument(
        "--classes",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N background characters only (smoke tests)",
    )
    parser.add_argument(
        "--eval-pairs", type=int, default=10_000, help="test pairs of the stable accuracy estimate"
    )
    add_run_arguments(parser, default_out=Path("runs/omniglot_bce"))
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    args.device = resolve_device(args.device)
    if args.preset is None:
        args.preset = "paper" if args.device == "cuda" else "cpu"
    for name, value in PRESETS[args.preset].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    for name in ("iterations", "batch_pairs", "batch_characters", "eval_pairs"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.batch_characters < 2:
        parser.error(f"--batch-characters must be at least 2, got {args.batch_characters}")
    if args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.classes is not None and args.classes < 2:
        parser.error(f"--classes must be at least 2, got {args.classes}")
    return args


class SiameseNet(nn.Module):
    """The twin branch and the similarity head: (x1, x2) -> the logit that the pair matches."""

    def __init__(self, branch: nn.Module, head: models.SimilarityHead) -> None:
        self.twin = nn.Twin(branch)
        self.head = head

    def forward(self, x1: tinysiam.Tensor, x2: tinysiam.Tensor) -> tinysiam.Tensor:
        f1, f2 = self.twin(x1, x2)  # x1, x2: (N, 1, S, S) -> (N, features) each
        return self.head(f1, f2)  # (N,) logits; sigmoid gives the probability


class CharacterBatches:
    """Batches of characters, two drawings each, for scoring every pair of a batch at once.

    A batch takes up to CHARACTERS_PER_ALPHABET characters from each of randomly ordered
    alphabets until it holds ``characters`` of them, so many of its dissimilar pairs come from
    one alphabet (the hard case of the one-shot benchmark). ``sample`` returns image indices
    (2K,), ordered character by character: images 2k and 2k + 1 show the same character.
    """

    def __init__(
        self, labels: np.ndarray, alphabets: np.ndarray, characters: int, seed: int
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.order = np.argsort(labels, kind="stable")  # images sorted by character
        self.count = np.bincount(labels)
        self.first = np.cumsum(self.count) - self.count
        usable = np.flatnonzero(self.count >= 2)
        alphabet_of = np.zeros(len(self.count), np.int64)
        alphabet_of[labels] = alphabets
        self.by_alphabet = [
            usable[alphabet_of[usable] == a] for a in np.unique(alphabet_of[usable])
        ]
        self.characters = min(characters, len(usable))

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """Image indices (2K,) and their characters (2K,)."""
        rng, chosen, total = self.rng, [], 0
        for a in rng.permutation(len(self.by_alphabet)):
            pool = self.by_alphabet[a]
            chosen.append(rng.choice(pool, min(CHARACTERS_PER_ALPHABET, len(pool)), replace=False))
            total += len(chosen[-1])
            if total >= self.characters:
                break
        c = np.concatenate(chosen)[: self.characters]
        one = rng.integers(0, self.count[c])  # two different drawings of each character
        two = rng.integers(0, self.count[c] - 1)
        two += two >= one
        images = self.order[self.first[c][:, None] + np.stack([one, two], axis=1)].reshape(-1)
        return images, np.repeat(c, 2)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def departures(args: argparse.Namespace) -> list[str]:
    """How this run differs from the published setting (PRESETS["paper"]), one line each."""
    paper, notes = PRESETS["paper"], []
    if args.size != paper["size"]:
        notes.append(
            f"images {args.size}x{args.size} (area-averaged from 105x105) instead of 105x105"
        )
    if args.network != paper["network"]:
        notes.append(
            "branch models.omniglot_cpu_net (three 3x3 conv 32/64/128 + maxpool + ReLU blocks, Dense 1152 -> 256, "
            "He init) instead of koch_net; the head on 256 features"
        )
    if args.head_init != paper["head_init"]:
        notes.append(f"head initialised {args.head_init!r} instead of narrow normal")
    if args.pairs != paper["pairs"]:
        notes.append(
            f"every pair of a batch of (up to) {args.batch_characters} characters x 2 drawings "
            f"({CHARACTERS_PER_ALPHABET} characters per alphabet) scored, similar and dissimilar pairs "
            "weighted half and half, instead of 180 random pairs"
        )
    elif args.batch_pairs != paper["batch_pairs"]:
        notes.append(f"{args.batch_pairs} pairs per iteration instead of 180")
    if args.loss != paper["loss"]:
        notes.append(
            "loss from logits (binary_cross_entropy_with_logits) instead of clamped probabilities"
        )
    if args.augment:
        notes.append(
            "random affine distortions of every training image (Koch et al.'s ranges, shift scaled to the image)"
        )
    if args.lr != paper["lr"] or args.schedule != paper["schedule"]:
        notes.append(f"Adam lr {args.lr:g}, {args.schedule} schedule, instead of a constant 6e-5")
    if args.iterations != paper["iterations"]:
        notes.append(f"{args.iterations} iterations instead of 10,000")
    if args.classes is not None:
        notes.append(f"trained on the first {args.classes} background characters only")
    return notes


def distort(images: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Koch et al.'s distortions; their shift of up to 2 pixels of 105 scaled to ``size``."""
    return random_affine(
        images, rng, rotation=10.0, shear=0.3, scale=(0.8, 1.2), translation=2.0 * size / 105
    )


def embed(branch: nn.Module, images: np.ndarray, device: str, batch: int) -> tinysiam.Tensor:
    """Features (N, D) of images (N, 1, S, S); call in inference mode under no_grad."""
    return tinysiam.tensor(outputs_in_batches(branch, images, device, batch), device=device)


def pair_probabilities(
    model: SiameseNet, features: tinysiam.Tensor, i1: np.ndarray, i2: np.ndarray
) -> np.ndarray:
    """p(similar) of the pairs (features[i1[k]], features[i2[k]]), from precomputed features."""
    return F.sigmoid(model.head(features[i1], features[i2])).numpy().astype(np.float64)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device, size = args.device, args.size
    tinysiam.keep_freed_memory()  # reuse big freed arrays instead of fresh pages every iteration (tinysiam/memory.py)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = []

    # 1. Data: the 30 background alphabets to train on, the 20 evaluation alphabets to test on.
    train = load_omniglot("background", size=size)
    test = load_omniglot("evaluation", size=size)
    train_x, train_y, train_alphabet = train.images, train.labels, train.alphabets
    if args.classes is not None:
        keep = train_y < args.classes
        train_x, train_y, train_alphabet = train_x[keep], train_y[keep], train_alphabet[keep]
    print(
        f"data: Omniglot at {size}x{size}; training on {len(np.unique(train_y))} characters ({len(train_x)} images), "
        f"testing on {len(test.class_names)} unseen characters; preset {args.preset}; device {device}"
    )
    shown = np.random.default_rng(args.seed).choice(len(train_x), 8, replace=False)
    titles = [train.class_names[c].replace("_", " ").replace("-", "\n") for c in train_y[shown]]
    figures.append(plot.image_grid(train_x[shown], titles, cols=4, title="training images"))
    plot.save(figures[-1], args.out / "training_images.png")

    # 2. Pairs. paper: --batch-pairs random pairs, similar (y = 1) with probability 0.5.
    #    cpu: 64 characters x 2 drawings, every pair among them scored (similar: the 2 drawings of
    #    one character; dissimilar: all the rest, many from one alphabet); images distorted.
    sampler = PairSampler(train_x, train_y, seed=args.seed)
    batches = CharacterBatches(train_y, train_alphabet, args.batch_characters, seed=args.seed + 1)
    augment_rng = np.random.default_rng(args.seed + 2)

    def maybe_distort(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return distort(images, rng, size) if args.augment else images

    if (
        args.pairs == "random"
    ):  # 10 pairs drawn the way training draws them (from generators of their own)
        x1, x2, y = PairSampler(train_x, train_y, seed=args.seed + 3).sample(10)
        titles = ["similar" if s else "dissimilar" for s in y]
    else:  # 5 similar pairs and 5 dissimilar ones from one batch
        shown_batch, _ = CharacterBatches(train_y, train_alphabet, 6, seed=args.seed + 3).sample()
        first = [2 * k for k in range(5)] * 2  # images 2k and 2k + 1 show one character
        second = [2 * k + 1 for k in range(5)] + [2 * k + 2 for k in range(5)]
        x1, x2 = train_x[shown_batch[first]], train_x[shown_batch[second]]
        same_alphabet = train_alphabet[shown_batch[first]] == train_alphabet[shown_batch[second]]
        titles = ["similar"] * 5 + [
            "dissimilar\n(same alphabet)" if a else "dissimilar" for a in same_alphabet[5:]
        ]
    shown_rng = np.random.default_rng(args.seed + 4)
    x1, x2 = maybe_distort(x1, shown_rng), maybe_distort(x2, shown_rng)
    figures.append(plot.pairs(x1, x2, titles, title="training pairs"))
    plot.save(figures[-1], args.out / "pairs.png")

    # 3. The network: one branch for both images (shared weights), then the similarity head.
    rng = np.random.default_rng(args.seed)
    if args.network == "koch":
        branch, features = models.koch_net(rng), 4096
    else:
        branch, features = models.omniglot_cpu_net(rng), models.OMNIGLOT_CPU_FEATURES
    model = SiameseNet(branch, models.SimilarityHead(features, init=args.head_init, rng=rng)).to(
        device
    )
    optimizer = optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))

    def batch_loss() -> tinysiam.Tensor:
        """One batch of pairs through the twin and the head, and its binary cross-entropy."""
        if args.pairs == "random":
            x1, x2, y = sampler.sample(args.batch_pairs)
            x1, x2 = maybe_distort(x1, augment_rng), maybe_distort(x2, augment_rng)
            logits = model(
                tinysiam.tensor(x1, device=device), tinysiam.tensor(x2, device=device)
            )  # (N,)
            if args.loss == "bce":
                return losses.binary_cross_entropy(
                    F.sigmoid(logits), y
                )  # the paper: clamped probabilities
            return losses.binary_cross_entropy_with_logits(logits, y)
        images, characters = batches.sample()  # (B,) indices, B = 2K
        f = model.twin.branch(
            tinysiam.tensor(maybe_distort(train_x[images], augment_rng), device=device)
        )  # (B, D)
        logits = model.head(
            f[:, None], f[None, :]
        )  # (B, B): every pair, each twice, and the diagonal
        y = (characters[:, None] == characters[None, :]).astype(np.float32)
        upper = np.triu(np.ones_like(y), k=1)  # each pair once
        weight = upper * np.where(y == 1, 0.5 / (upper * y).sum(), 0.5 / (upper * (1 - y)).sum())
        per_pair = losses.binary_cross_entropy_with_logits(
            logits.reshape(-1), y.reshape(-1), reduction="none"
        )
        return (
            per_pair * tinysiam.tensor(weight.reshape(-1).astype(np.float32), device=device)
        ).sum()

    # 4. Training: fresh pairs, binary cross-entropy, one Adam step per iteration.
    start_iteration, loss_history, previous_seconds = 0, [], 0.0
    if args.resume is not None:
        state = tinysiam.load(args.resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        batches.load_state_dict(state["batches"])
        augment_rng.bit_generator.state = state["augment_rng"]
        start_iteration, previous_seconds = int(state["iteration"]), float(state["seconds"])
        loss_history = [float(v) for v in state["losses"]]
        print(f"resumed from {args.resume} at iteration {start_iteration}")
    checkpoint_path = args.out / "checkpoint.npz"

    def save_checkpoint(iteration: int, seconds: float) -> None:
        tinysiam.save(
            checkpoint_path,
            iteration=iteration,
            seconds=seconds,
            losses=loss_history,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            sampler=sampler.state_dict(),
            batches=batches.state_dict(),
            augment_rng=augment_rng.bit_generator.state,
        )

    model.train()
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
            seconds = previous_seconds + time.perf_counter() - started
            if args.checkpoint_every and (iteration + 1) % args.checkpoint_every == 0:
                save_checkpoint(iteration + 1, seconds)
            if interrupt.requested:
                bar.close()
                save_checkpoint(iteration + 1, seconds)
                print(
                    f"\ninterrupted after iteration {iteration + 1}; saved {checkpoint_path}. Continue with:\n"
                    f"  python examples/omniglot_bce.py --resume {checkpoint_path} (and the same flags)"
                )
                raise SystemExit(130)
    bar.close()
    session_seconds = time.perf_counter() - started
    seconds = previous_seconds + session_seconds
    trained = args.iterations - start_iteration
    figures.append(plot.loss_curve(loss_history, seconds, title="Binary cross-entropy"))
    plot.save(figures[-1], args.out / "loss.png")
    # 5. Pair verification on the 20 evaluation alphabets, in inference mode without a graph.
    model.eval()
    test_pairs = PairSampler(test.images, test.labels, seed=args.seed + 10)
    reference = [test_pairs.sample_indices(REFERENCE_BATCH_PAIRS) for _ in range(REFERENCE_BATCHES)]
    i1, i2, targets = test_pairs.sample_indices(args.eval_pairs)
    needed = np.unique(np.concatenate([i1, i2] + [np.concatenate(r[:2]) for r in reference]))
    position = np.zeros(len(test.images), np.intp)
    position[needed] = np.arange(len(needed))
    batch = 500 if args.network == "koch" else 2000
    with tinysiam.no_grad():
        test_features = embed(model.twin.branch, test.images[needed], device, batch)
        reference_accuracy = [
            float(
                np.mean(
                    (pair_probabilities(model, test_features, position[a], position[b]) >= 0.5)
                    == (t == 1)
                )
            )
            for a, b, t in reference
        ]
        scores = pair_probabilities(model, test_features, position[i1], position[i2])
    correct = int(np.sum((scores >= 0.5) == (targets == 1)))
    low, high = accuracy_interval(correct, args.eval_pairs)
    auc = roc_auc(scores, targets)

    shown = slice(0, 10)
    predicted = scores[shown] >= 0.5
    titles = [
        f"target {'same' if t else 'diff'}\npred {'same' if p else 'diff'}\np = {s:.2f}"
        for t, p, s in zip(targets[shown], predicted, scores[shown])
    ]
    figures.append(
        plot.pairs(
            test.images[i1[shown]],
            test.images[i2[shown]],
            titles,
            title="test pairs (unseen alphabets)",
        )
    )
    plot.save(figures[-1], args.out / "test_pairs.png")

    # 6. 20-way within-alphabet one-shot classification (Lake et al.): 20 runs x 20 queries.
    runs = load_omniglot_runs(size=size)
    chosen_all, hits = [], []
    with tinysiam.no_grad():
        for run in runs:
            candidates = embed(model.twin.branch, run.candidates, device, batch)  # (20, D)
            queries = embed(model.twin.branch, run.queries, device, batch)  # (20, D)
            similarity = model.head(
                queries[:, None], candidates[None, :]
            ).numpy()  # (20, 20) logits, ordered as p
            chosen = similarity.argmax(axis=1)
            chosen_all.append(chosen)
            hits.append(chosen == run.answers)
    one_shot = float(np.mean(hits))
    one_shot_low, one_shot_high = accuracy_interval(int(np.sum(hits)), len(runs) * 20)
    figures.append(
        plot.one_shot_trial(
            runs[0].queries[0], runs[0].candidates, int(chosen_all[0][0]), int(runs[0].answers[0])
        )
    )
    plot.save(figures[-1], args.out / "one_shot_trial.png")

    metrics = {
        "data": f"Omniglot {size}x{size}: background set for training, evaluation set for testing",
        "train_characters": int(len(np.unique(train_y))),
        "train_images": int(len(train_x)),
        "test_characters": len(test.class_names),
        "preset": args.preset,
        "departures": departures(args),
        "hyperparameters": {
            "image_size": size,
            "network": args.network,
            "features": features,
            "loss": args.loss,
            "augment": args.augment,
            "pairs": args.pairs,
            "batch_pairs": args.batch_pairs if args.pairs == "random" else None,
            "batch_characters": batches.characters if args.pairs == "all-in-batch" else None,
            "iterations": args.iterations,
            "optimizer": "adam",
            "lr": args.lr,
            "betas": [0.9, 0.99],
            "schedule": args.schedule,
        },
        "seed": args.seed,
        "device": device,
        "final_loss": loss_history[-1] if loss_history else None,
        "training_seconds": round(seconds, 2),
        "ms_per_iteration": round(1000 * session_seconds / trained, 1) if trained else None,
        "pair_accuracy_reference": float(np.mean(reference_accuracy)),
        "pair_accuracy_reference_batches": reference_accuracy,
        "pair_accuracy": correct / args.eval_pairs,
        "pair_accuracy_ci95": [low, high],
        "eval_pairs": args.eval_pairs,
        "roc_auc": auc,
        "one_shot_accuracy": one_shot,
        "one_shot_ci95": [one_shot_low, one_shot_high],
        "one_shot_trials": len(runs) * 20,
        "reference": {"pair_accuracy": 0.8907, "one_shot_accuracy_koch_et_al": 0.92},
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        f"pair accuracy: reference protocol {metrics['pair_accuracy_reference']:.4f} (5 x 150 pairs; reference 0.8907), "
        f"{args.eval_pairs} pairs {metrics['pair_accuracy']:.4f} (95% CI {low:.4f}-{high:.4f}), ROC AUC {auc:.4f}"
    )
    print(
        f"20-way one-shot accuracy {one_shot:.4f} (95% CI {one_shot_low:.4f}-{one_shot_high:.4f}, 400 trials); "
        f"{seconds:.0f} s of training; wrote {args.out}"
    )
    plot.show_or_close(figures, show=not args.no_show)
    return metrics


if __name__ == "__main__":
    main()
