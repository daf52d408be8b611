"""The reference networks, built once here so that examples, tests and benchmarks share them.

* :func:`mnist_mlp` - experiment 1's subnetwork (784-1024-1024-2, He init).
* :func:`mnist_conv_net` - a small conv branch for experiment 1's ``--preset best``.
* :func:`koch_net` and :class:`SimilarityHead` - experiment 2's conv twin and its head
  (Koch, Zemel and Salakhutdinov 2015, as in MATLAB's "Train a Siamese network to compare images").
* :func:`omniglot_cpu_net` - a CPU-sized branch for experiment 2 on 28x28 images
  (``examples/omniglot_bce.py --preset cpu``), used with ``SimilarityHead(OMNIGLOT_CPU_FEATURES)``.
"""

from __future__ import annotations

import numpy as np

import tinysiam.functional as F
from tinysiam.nn import Conv2d, Dense, Flatten, MaxPool2d, Module, ReLU, Sequential
from tinysiam.tensor import Tensor


def mnist_mlp(
    rng: np.random.Generator | None = None, dim: int = 2, hidden: tuple[int, int] = (1024, 1024)
) -> Sequential:
    """Experiment 1's branch: (N, 1, 28, 28) -> flatten 784 -> 1024 -> ReLU -> 1024 -> ReLU -> 2.

    ``dim`` and ``hidden`` change the widths (the defaults are experiment 1's); He init.
    """
    return Sequential(
        Flatten(),
        Dense(784, hidden[0], init="he", rng=rng),
        ReLU(),
        Dense(hidden[0], hidden[1], init="he", rng=rng),
        ReLU(),
        Dense(hidden[1], dim, init="he", rng=rng),
    )


def mnist_conv_net(
    rng: np.random.Generator | None = None,
    dim: int = 2,
    channels: tuple[int, int] = (32, 64),
    hidden: int = 256,
) -> Sequential:
    """A small conv branch for 28x28 digits: (N, 1, 28, 28) -> (N, dim), He init.

    conv 5x5, 32 -> ReLU -> maxpool 2 -> conv 5x5, 64 -> ReLU -> maxpool 2 -> Dense 1024 -> 256
    -> ReLU -> Dense 256 -> dim (``channels`` and ``hidden`` change the widths). Spatial sizes:
    28 -conv-> 24 -pool-> 12 -conv-> 8 -pool-> 4.
    """
    return Sequential(
        Conv2d(1, channels[0], 5, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(channels[0], channels[1], 5, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dense(channels[1] * 4 * 4, hidden, rng=rng),
        ReLU(),
        Dense(hidden, dim, rng=rng),
    )


def koch_net(rng: np.random.Generator | None = None) -> Sequential:
    """Experiment 2's published branch, (N, 1, 105, 105) -> (N, 4096), narrow-normal init.

    Spatial sizes: 105 -conv10-> 96 -pool-> 48 -conv7-> 42 -pool-> 21 -conv4-> 18 -pool-> 9
    -conv5-> 5, so the dense layer sees 5 * 5 * 256 = 6400 inputs.
    """
    init = "narrow-normal"
    return Sequential(
        Conv2d(1, 64, 10, init=init, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(64, 128, 7, init=init, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(128, 128, 4, init=init, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(128, 256, 5, init=init, rng=rng),
        ReLU(),
        Flatten(),
        Dense(6400, 4096, init=init, rng=rng),
    )


OMNIGLOT_CPU_IMAGE_SIZE = 28  # side of the images omniglot_cpu_net expects
OMNIGLOT_CPU_FEATURES = 256  # width of its output


def omniglot_cpu_net(rng: np.random.Generator | None = None) -> Sequential:
    """A CPU-sized branch for experiment 2: (N, 1, 28, 28) -> (N, 256), He init.

    Three blocks of 3x3 convolution (zero padding 1, so the size is kept), 2x2 max-pooling and
    ReLU, then a dense layer, in the spirit of :func:`koch_net` at a quarter of the side:

        28 -conv-> 28 -pool-> 14 -conv-> 14 -pool-> 7 -conv-> 7 -pool-> 3,
        channels 1 -> 32 -> 64 -> 128, so the dense layer sees 3 * 3 * 128 = 1152 inputs.

    Each block pools before its ReLU, where koch_net (as published) has ReLU first. The network
    is the same function with the same gradients, because relu(max(a, b)) = max(relu(a), relu(b))
    (tested in tests/test_conv_pool.py), but ReLU then runs on a quarter of the values:
    0.93x the time of a training step (benchmark W3, paired runs).

    Forward cost: about 15.5 MFLOP per image, against about 1.8 GFLOP for koch_net at 105x105.
    Spatial sizes are checked by ``tests/test_example_omniglot.py``.
    """
    return Sequential(
        Conv2d(1, 32, 3, padding=1, rng=rng),
        MaxPool2d(2),
        ReLU(),
        Conv2d(32, 64, 3, padding=1, rng=rng),
        MaxPool2d(2),
        ReLU(),
        Conv2d(64, 128, 3, padding=1, rng=rng),
        MaxPool2d(2),
        ReLU(),
        Flatten(),
        Dense(3 * 3 * 128, OMNIGLOT_CPU_FEATURES, rng=rng),
    )


class SimilarityHead(Module):
    """Koch et al.'s head: z = w . |sigmoid(f1) - sigmoid(f2)| + b, the logit that a pair matches.

    Args:
        features: width of the branch output (4096 in the paper).
        init: initialiser of the final dense layer ("narrow-normal" in the reference).

    Shapes: f1, f2 (N, features) -> logits (N,). ``sigmoid(logits)`` is the probability.
    Leading axes broadcast, so every pair of a batch of features f (B, features) is scored at once:
    ``head(f[:, None], f[None, :])`` -> (B, B) logits.
    """

    def __init__(
        self, features: int, init: str = "narrow-normal", rng: np.random.Generator | None = None
    ) -> None:
        self.features = features
        self.fc = Dense(features, 1, init=init, rng=rng)

    def forward(self, f1: Tensor, f2: Tensor) -> Tensor:
        distance = (F.sigmoid(f1) - F.sigmoid(f2)).abs()  # (..., features)
        return self.fc(distance.reshape(-1, self.features)).reshape(distance.shape[:-1])
