"""The last step: train experiment 1's reference recipe on the learner's own engine.

The recipe of ``examples/mnist_contrastive.py`` (docs page 15), every piece of the network side
taken from the workspace, so the learner's own: its tensors and engine (autograd, ops), the
branch built here from its ``nn`` (its Module and Parameter, its Dense layer with its He
initialisation, tasks 7.1 to 7.3; Flatten, ReLU, Sequential), its ``nn.Twin`` (task 13.1),
``losses.contrastive_loss`` and ``reference.optim.ReferenceAdam``, and the recipe's pieces of
its ``experiment1`` (tasks 15.1 to 15.3): the pair sampler, the training step and the 5-NN
score. Only the data (NumPy arrays) come from the installed ``tinysiam.experiments``.

    data        MNIST, or the built-in synthetic digits (5000 + 5000)
    pairs       180 fresh random pairs per iteration, similar with probability 0.5
    branch      flatten 784 -> Dense 1024 -> ReLU -> Dense 1024 -> ReLU -> Dense 2, He init
    loss        0.5 * SUM_batch [ y d^2 + (1 - y) max(0.3 - d, 0)^2 ],  d = sqrt(|f1 - f2|^2 + 1e-6)
    optimiser   Adam, lr 1e-4, betas (0.9, 0.99), 3000 iterations
"""

from __future__ import annotations

import importlib
import math
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..experiments.data import DataError, load_mnist, synthetic_digits
from . import workspace
from .starter import experiment1 as library_recipe

ITERATIONS, BATCH_PAIRS, MARGIN, LR, BETAS = 3000, 180, 0.3, 1e-4, (0.9, 0.99)
TARGET = 0.91  # the 5-NN accuracy to reach on MNIST (the library's own code here: 91.38%)
DIGITS_REFERENCE = 0.8906  # the library's own code on the synthetic digits, this recipe, seed 0


def load_data(
    dataset: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Training and test digits (N, 1, 28, 28) with labels, and which data they are."""
    if dataset in ("auto", "mnist"):
        try:
            train_x, train_y = load_mnist("train")
            test_x, test_y = load_mnist("test")
            return train_x, train_y, test_x, test_y, "MNIST (60,000 training, 10,000 test images)"
        except DataError:
            if dataset == "mnist":
                raise
    train_x, train_y, _ = synthetic_digits(5000, seed=seed)
    test_x, test_y, _ = synthetic_digits(5000, seed=seed + 1)
    return train_x, train_y, test_x, test_y, "the built-in synthetic digits (5000 + 5000)"


def mnist_mlp_from(nn: types.ModuleType, rng: np.random.Generator) -> Any:
    """Experiment 1's branch built from ``nn`` (a workspace's, or ``tinysiam.nn``).

    (N, 1, 28, 28) -> flatten 784 -> Dense 1024 -> ReLU -> Dense 1024 -> ReLU -> Dense 2, He
    init: the network of ``tinysiam.experiments.models.mnist_mlp``, drawn from ``rng`` in the
    same order, so the same seed gives the same weights.
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Dense(784, 1024, init="he", rng=rng),
        nn.ReLU(),
        nn.Dense(1024, 1024, init="he", rng=rng),
        nn.ReLU(),
        nn.Dense(1024, 2, init="he", rng=rng),
    )


def run(
    directory: Path,
    dataset: str = "auto",
    iterations: int = ITERATIONS,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train on the workspace's engine; return the 5-NN accuracy and the time it took.

    Raises:
        TrainingError: the learner's code raised, or the loss stopped being a finite number.
    """
    package = workspace.load(directory, "tinysiam_workspace")
    try:
        return train(package, dataset, iterations, seed, log)
    finally:
        workspace.unload("tinysiam_workspace")


class TrainingError(RuntimeError):
    """Training on the workspace's engine stopped; the message says where."""


def train(
    package: types.ModuleType,
    dataset: str = "auto",
    iterations: int = ITERATIONS,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the recipe on the engine of ``package``: a loaded workspace, or ``tinysiam`` itself.

    The pairs, the steps and the score come from the package's ``experiment1`` (the library's
    own, ``tinysiam.course.starter.experiment1``, for ``tinysiam``).

    Returns the data's name, the iterations, the final loss, the training time in seconds and
    the 5-NN accuracy of the test images in the learned plane ("knn5_accuracy").
    """
    mine = {
        name: importlib.import_module(f"{package.__name__}.{name}")
        for name in ("nn", "losses", "reference.optim", "tensor", "autograd")
    }
    recipe = (
        library_recipe
        if package.__name__ == "tinysiam"
        else importlib.import_module(f"{package.__name__}.experiment1")
    )
    train_x, train_y, test_x, test_y, source = load_data(dataset, seed)
    log(f"data: {source}; {iterations} iterations of {BATCH_PAIRS} pairs on your engine")
    log(
        "yours: the engine, the network, the pair sampler, the training step and the 5-NN "
        "score; the library's: the data only"
    )
    pair_rng = np.random.default_rng(seed)
    branch = mnist_mlp_from(mine["nn"], np.random.default_rng(seed))
    twin = mine["nn"].Twin(branch)
    optimizer = mine["reference.optim"].ReferenceAdam(twin.parameters(), lr=LR, betas=BETAS)
    started = time.perf_counter()
    loss_value = math.nan
    for iteration in range(1, iterations + 1):
        try:
            i, j, y = recipe.sample_pairs(train_y, BATCH_PAIRS, pair_rng)
            loss_value = float(
                recipe.training_step(twin, optimizer, train_x[i], train_x[j], y, MARGIN)
            )
        except Exception as error:
            raise TrainingError(
                f"iteration {iteration}: your engine raised {type(error).__name__}: {error}"
            ) from error
        if not math.isfinite(loss_value):
            raise TrainingError(f"iteration {iteration}: the loss is {loss_value}")
        if iteration % 500 == 0 or iteration == iterations:
            elapsed = time.perf_counter() - started
            log(f"  iteration {iteration}: loss {loss_value:.4f}, {elapsed:.0f} s")
    seconds = time.perf_counter() - started
    train_features = _embed(mine, branch, train_x)
    test_features = _embed(mine, branch, test_x)
    try:
        accuracy = float(recipe.knn_accuracy(train_features, train_y, test_features, test_y, k=5))
    except Exception as error:
        raise TrainingError(
            f"the 5-NN score: your knn_accuracy raised {type(error).__name__}: {error}"
        ) from error
    return {
        "data": source,
        "iterations": iterations,
        "final_loss": loss_value,
        "training_seconds": round(seconds, 1),
        "knn5_accuracy": accuracy,
    }


def _embed(mine: dict[str, Any], branch: Any, images: np.ndarray, batch: int = 2000) -> np.ndarray:
    """2-D features (N, 2) of ``images`` through the learner's branch, without a graph."""
    branch.eval()
    with mine["autograd"].no_grad():
        parts = [
            np.asarray(branch(mine["tensor"].tensor(images[i : i + batch])).data)
            for i in range(0, len(images), batch)
        ]
    branch.train()
    return np.concatenate(parts)
