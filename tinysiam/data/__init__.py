"""Images for tinysiam: built-in synthetic digits, MNIST, Omniglot, and the pair sampler.

Everything here returns host NumPy arrays: images float32 (N, 1, H, W) in [0, 1], ink high.
"""

from .augment import random_affine
from .errors import DataError
from .idx import read_idx
from .mnist import load_mnist
from .omniglot import OmniglotSplit, OneShotRun, load_omniglot, load_omniglot_runs
from .pairs import PairSampler, all_pairs
from .synthetic import synthetic_digits

__all__ = [
    "DataError",
    "OmniglotSplit",
    "all_pairs",
    "OneShotRun",
    "PairSampler",
    "load_mnist",
    "load_omniglot",
    "load_omniglot_runs",
    "random_affine",
    "read_idx",
    "synthetic_digits",
]
