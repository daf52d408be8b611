"""Cache-sized blocks: the fast optimisers update a big parameter one block at a time on the CPU.

An update is a dozen passes over its arrays (m *= b1, m += ..., v *= b2, ...). Over a whole
layer each pass streams every array through main memory again: the dense layer of the paper's
network is 4096 x 6400, 105 MB per array. Block by block, the later passes find the block in the
cache (5 arrays of 1 MB), which made Adam's step on that layer markedly faster (measured in the
course's engineering notes, docs/17).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import get_array_module

CACHE_BLOCK = 2**18  # elements of each array updated at a time on the CPU (1 MB in float32)


def cache_blocks(*arrays: Any) -> Iterator[tuple[Any, ...]]:
    """The same flat block of each (same-shaped) array in turn, and a scratch array of that shape.

    Yields (block of arrays[0], block of arrays[1], ..., scratch), CACHE_BLOCK elements at a time;
    one scratch array serves every block.

    The arrays come whole on the GPU, and when one is not C-contiguous (its flat view would be
    a copy, and an update written into a copy would be lost).

    Example:
        >>> for weights, g, s in cache_blocks(p.data, p.grad):  # p: a Parameter with a gradient
        ...     np.multiply(g, lr, out=s)
        ...     weights -= s
    """
    xp = get_array_module(arrays[0])
    if xp is not np or not all(a.flags.c_contiguous for a in arrays):
        yield (*arrays, xp.empty_like(arrays[0]))
        return
    flat = [a.reshape(-1) for a in arrays]
    scratch = xp.empty(min(flat[0].size, CACHE_BLOCK), dtype=arrays[0].dtype)
    for start in range(0, flat[0].size, CACHE_BLOCK):
        blocks = tuple(a[start : start + CACHE_BLOCK] for a in flat)
        yield (*blocks, scratch[: blocks[0].size])
