"""Images for tinysiam: built-in synthetic digits, MNIST, Omniglot, and the pair sampler.

Everything here returns host NumPy arrays: images float32 (N, 1, H, W) in [0, 1], ink high.
"""

from .augment import random_affine
from .digits import load_digits, random_subset
from .errors import DataError
from .idx import read_idx
from .mnist import load_mnist
from .omniglot import OmniglotSplit, OneShotRun, load_omniglot, load_omniglot_runs
from .pairs import CrossPairSampler, PairSampler, all_pairs
from .synthetic import synthetic_digits

__all__ = [
    "CrossPairSampler",
    "DataError",
    "OmniglotSplit",
    "all_pairs",
    "OneShotRun",
    "PairSampler",
    "load_digits",
    "load_mnist",
    "load_omniglot",
    "load_omniglot_runs",
    "random_affine",
    "random_subset",
    "read_idx",
    "synthetic_digits",
]
