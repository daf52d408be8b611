"""Keep freed memory for the next array instead of handing it back to the operating system.

Training allocates and frees the same big arrays every iteration: each layer's output and
gradient, im2col's columns, tens of MB each. glibc's malloc serves a block above its mmap
threshold (at most 32 MB by default) with a fresh ``mmap`` and gives it back with ``munmap``
when it is freed. The next iteration's array of the same size then costs a page fault per page,
and the kernel zeroes every byte of it before NumPy writes its own values: a full extra pass
over memory that does no work.

Raising malloc's mmap and trim thresholds makes it keep freed blocks in its heap and hand them
out again. The convolutional workloads, which free and reallocate big arrays every iteration,
run markedly faster; the dense one, whose arrays are small, does not change (docs page 17 has
the measurements). The cost: memory freed by the program stays with the process (up to the
limit) instead of returning to the system, which suits a process that trains.

This changes the allocator of the whole process, so tinysiam never does it by itself: not on
import, not when a training loop starts. A program that trains decides: each example calls
:func:`keep_freed_memory` at the start of its ``main``, and so can you.
"""

from __future__ import annotations

import ctypes
import numbers
import sys

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>: free memory kept at the top of the heap before trimming
M_MMAP_THRESHOLD = -3  # blocks at least this big get their own mmap
DEFAULT_LIMIT_BYTES = 2**30
MAX_LIMIT_BYTES = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory(limit_bytes: int = DEFAULT_LIMIT_BYTES) -> bool:
    """Make glibc's malloc reuse freed blocks of up to ``limit_bytes`` instead of unmapping them.

    Returns True when the setting was applied (Linux with glibc), False where there is no glibc
    ``mallopt`` to call (macOS, Windows, musl): there it does nothing, and nothing breaks.
    """
    if not isinstance(limit_bytes, numbers.Integral) or isinstance(limit_bytes, bool):
        raise TypeError(
            f"keep_freed_memory: limit_bytes must be an int, got {type(limit_bytes).__name__}"
        )
    if not 0 < limit_bytes <= MAX_LIMIT_BYTES:
        raise ValueError(
            f"keep_freed_memory: limit_bytes must be in 1..{MAX_LIMIT_BYTES}, got {limit_bytes}"
        )
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # both calls return 1 on success; musl's stub returns 0
    return bool(mallopt(M_MMAP_THRESHOLD, int(limit_bytes))) and bool(
        mallopt(M_TRIM_THRESHOLD, int(limit_bytes))
    )
