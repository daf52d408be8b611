"""The library's default random generator, used by layers built without an explicit ``rng``.

Every random draw in tinysiam comes from a ``numpy.random.Generator``. A layer given ``rng=``
uses that generator; a layer given none uses the default one kept here. Seeding it makes
model construction reproducible:

    >>> tinysiam.manual_seed(0)
    >>> a = tinysiam.nn.Dense(784, 1024)
    >>> tinysiam.manual_seed(0)
    >>> b = tinysiam.nn.Dense(784, 1024)      # the same weights as a

The default generator is created on first use (seeded from the operating system's entropy),
not at import time.
"""

from __future__ import annotations

import numpy as np

from .checks import check_int

_default: np.random.Generator | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Replace the default generator with a fresh one seeded with ``seed``, and return it.

    Args:
        seed: a non-negative int.

    Returns:
        The new default generator (also what :func:`default_generator` now returns).
    """
    global _default
    check_int("manual_seed: seed", seed, minimum=0)
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator() -> np.random.Generator:
    """The generator layers draw from when no ``rng`` is passed."""
    global _default
    if _default is None:
        _default = np.random.default_rng()
    return _default


def resolve_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """``rng`` itself when given (an explicit generator always wins), else the default one."""
    if rng is None:
        return default_generator()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)) or None, "
            f"got {type(rng).__name__}"
        )
    return rng
