"""The reference networks, built once here so that examples, tests and benchmarks share them.

* :func:`mnist_mlp` - experiment 1's subnetwork (784-1024-1024-2, He init).
* :func:`koch_net` and :class:`SimilarityHead` - experiment 2's conv twin and its head
  (Koch, Zemel and Salakhutdinov 2015, as in MATLAB's "Train a Siamese network to compare images").
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .nn import Conv2d, Dense, Flatten, MaxPool2d, Module, ReLU, Sequential
from .tensor import Tensor


def mnist_mlp(rng: np.random.Generator | None = None) -> Sequential:
    """Experiment 1's branch: (N, 1, 28, 28) -> flatten 784 -> 1024 -> ReLU -> 1024 -> ReLU -> 2."""
    return Sequential(
        Flatten(),
        Dense(784, 1024, init="he", rng=rng),
        ReLU(),
        Dense(1024, 1024, init="he", rng=rng),
        ReLU(),
        Dense(1024, 2, init="he", rng=rng),
    )


def koch_net(rng: np.random.Generator | None = None) -> Sequential:
    """Experiment 2's published branch, (N, 1, 105, 105) -> (N, 4096), narrow-normal init.

    Spatial sizes: 105 -conv10-> 96 -pool-> 48 -conv7-> 42 -pool-> 21 -conv4-> 18 -pool-> 9
    -conv5-> 5, so the dense layer sees 5 * 5 * 256 = 6400 inputs.
    """
    init = "narrow-normal"
    return Sequential(
        Conv2d(1, 64, 10, init=init, rng=rng), ReLU(), MaxPool2d(2),
        Conv2d(64, 128, 7, init=init, rng=rng), ReLU(), MaxPool2d(2),
        Conv2d(128, 128, 4, init=init, rng=rng), ReLU(), MaxPool2d(2),
        Conv2d(128, 256, 5, init=init, rng=rng), ReLU(),
        Flatten(),
        Dense(6400, 4096, init=init, rng=rng),
    )


class SimilarityHead(Module):
    """Koch et al.'s head: z = w . |sigmoid(f1) - sigmoid(f2)| + b, the logit that a pair matches.

    Args:
        features: width of the branch output (4096 in the paper).
        init: initialiser of the final dense layer ("narrow-normal" in the reference).

    Shapes: f1, f2 (N, features) -> logits (N,). ``sigmoid(logits)`` is the probability.
    """

    def __init__(self, features: int, init: str = "narrow-normal", rng: np.random.Generator | None = None) -> None:
        self.fc = Dense(features, 1, init=init, rng=rng)

    def forward(self, f1: Tensor, f2: Tensor) -> Tensor:
        distance = (F.sigmoid(f1) - F.sigmoid(f2)).abs()
        return self.fc(distance).reshape(-1)
