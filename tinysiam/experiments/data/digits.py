"""Digit images for the examples: MNIST when it can be had, else the built-in synthetic digits.

train_x, train_y, test_x, test_y, source = load_digits("auto", seed=0)
"""

from __future__ import annotations

import numpy as np

from .errors import DataError
from .mnist import load_mnist
from .synthetic import synthetic_digits

DATASETS = ("auto", "mnist", "digits")


def load_digits(
    dataset: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Training and test digits (N, 1, 28, 28) in [0, 1] with labels, and a line saying which.

    Args:
        dataset: "mnist" (MNIST, or a DataError saying how to get it), "digits" (5000 + 5000
            built-in synthetic digits, seeds ``seed`` and ``seed + 1``), or "auto" (MNIST when it
            is on disk or can be downloaded, else the synthetic digits, saying why).
        seed: seed of the synthetic digits.

    Returns:
        train_x, train_y, test_x, test_y, and a description of the data for the run's log.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    reason = "--dataset digits"
    if dataset in ("auto", "mnist"):
        try:
            train_x, train_y = load_mnist("train")
            test_x, test_y = load_mnist("test")
            return train_x, train_y, test_x, test_y, "MNIST (60,000 training, 10,000 test images)"
        except DataError as error:
            if dataset == "mnist":
                raise
            reason = str(error).splitlines()[0]
    train_x, train_y, _ = synthetic_digits(5000, seed=seed)
    test_x, test_y, _ = synthetic_digits(5000, seed=seed + 1)
    source = f"built-in synthetic digits (5000 + 5000), because: {reason}"
    return train_x, train_y, test_x, test_y, source


def random_subset(
    images: np.ndarray, labels: np.ndarray, size: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` images drawn at random without replacement (all of them for None or more)."""
    if size is None or size >= len(images):
        return images, labels
    keep = np.random.default_rng(seed).choice(len(images), size, replace=False)
    return images[keep], labels[keep]
