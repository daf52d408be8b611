"""Reading IDX files, the format the MNIST digits ship in (http://yann.lecun.com/exdb/mnist/).

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values::

    0x00 0x00 <dtype> <ndim>  | dim_0 ... dim_{ndim-1} (uint32, big-endian) | data (row-major)

MNIST uses dtype 0x08 (unsigned byte): magic 0x00000803 for images (N, 28, 28) and 0x00000801
for labels (N,).
"""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """Return the content of ``path``, decompressed if it is gzip data (whatever its extension).

    Raises:
        DataError: if the file cannot be read or its gzip stream is truncated or corrupt.
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            is_gzip = file.read(2) == GZIP_MAGIC
        if not is_gzip:
            return path.read_bytes()
        with gzip.open(path, "rb") as file:
            return file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"cannot read {path}: {error}") from error


def parse_idx(data: bytes, name: str = "IDX data", ndim: int | None = None) -> np.ndarray:
    """Parse the bytes of an uncompressed unsigned-byte IDX file.

    Args:
        data: the whole file content.
        name: how to refer to the data in error messages (usually its path).
        ndim: the number of dimensions the caller expects (3 for images, 1 for labels), or None.

    Returns:
        A writable uint8 array with the shape stored in the header.

    Raises:
        DataError: on a wrong magic number, an unexpected number of dimensions, or a size that does
            not match the header (truncated or trailing bytes).

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])).tolist()
        [7, 9]
    """
    if len(data) < 4:
        raise DataError(f"{name}: {len(data)} bytes, too short for the 4-byte IDX magic number")
    zero, dtype, found_ndim = data[0:2], data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    expected = f"0x{(UBYTE << 8) | ndim:08x}" if ndim is not None else "0x000008nn"
    if zero != b"\x00\x00" or dtype != UBYTE or found_ndim == 0 or ndim not in (None, found_ndim):
        raise DataError(
            f"{name}: magic number 0x{magic:08x}, expected {expected} (unsigned-byte IDX)"
        )
    header = 4 + 4 * found_ndim
    if len(data) < header:
        raise DataError(f"{name}: {len(data)} bytes, too short for a {found_ndim}-d IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(found_ndim))
    expected_size = header + math.prod(shape)
    if len(data) != expected_size:
        raise DataError(
            f"{name}: {len(data)} bytes, expected {expected_size} for shape {shape} "
            "(truncated or not an IDX file)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file, raw or gzip-compressed.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.
        ndim: the number of dimensions expected (3 for images, 1 for labels), or None for any.

    Returns:
        A uint8 array, e.g. images (N, 28, 28) or labels (N,).

    Raises:
        DataError: naming the file and what was wrong (expected vs found).
    """
    return parse_idx(read_bytes(path), name=str(path), ndim=ndim)
