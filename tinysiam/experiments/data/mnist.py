"""The MNIST handwritten digits (LeCun, Bottou, Bengio and Haffner, 1998), from the IDX files.

Files are looked for and downloaded as :mod:`tinysiam.experiments.data.sources` describes, under
``mnist/`` with their official names. Every load checks the sha256 of the decompressed content
(about 30 ms for the training images), so a modified or damaged copy is reported, never used.
"""

import hashlib
from pathlib import Path

import numpy as np

from .errors import DataError
from .idx import parse_idx, read_bytes
from .sources import RemoteFile, fetch

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
SHA256 = {  # of the decompressed files
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILES = {  # split -> (images, labels)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def mnist_file(name: str) -> RemoteFile:
    """Return the download description of an MNIST file, e.g. ``"t10k-images-idx3-ubyte.gz"``."""
    urls = tuple(mirror + name for mirror in MIRRORS)
    return RemoteFile("mnist", name, urls, "sha256", SHA256[name], gunzip=True)


def load_mnist(
    split: str = "train", root: str | Path | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST training (60,000) or test (10,000) digits.

    Args:
        split: ``"train"`` or ``"test"``.
        root: a folder holding ``mnist/<official file names>``; default ``TINYSIAM_DATA``, then the
            cache (see :mod:`tinysiam.experiments.data.sources`).
        download: download missing files into the first writable folder searched.

    Returns:
        images: (N, 1, 28, 28) float32 in [0, 1], ink high (pixel / 255).
        labels: (N,) int64 digits 0..9.

    Raises:
        ValueError: for an unknown split.
        DataError: for a missing, truncated or modified file; the message names it.

    Example:
        >>> images, labels = load_mnist("test")  # doctest: +SKIP
        >>> images.shape, labels[:3].tolist()  # doctest: +SKIP
        ((10000, 1, 28, 28), [7, 2, 1])
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    image_name, label_name = FILES[split]
    images = _read_verified(fetch(mnist_file(image_name), root, download), ndim=3)
    labels = _read_verified(fetch(mnist_file(label_name), root, download), ndim=1)
    pixels = images[:, None].astype(np.float32)
    pixels /= 255  # in place: a second 188 MB array costs more than the whole parse
    return pixels, labels.astype(np.int64)


def _read_verified(path: Path, ndim: int) -> np.ndarray:
    """Parse an MNIST IDX file after checking the sha256 of its decompressed content."""
    data = read_bytes(path)
    array = parse_idx(data, name=str(path), ndim=ndim)
    found = hashlib.sha256(data).hexdigest()
    if found != SHA256[path.name]:
        raise DataError(
            f"{path}: sha256 of the decompressed content is {found}, expected {SHA256[path.name]} "
            "(damaged or modified copy; delete it to download a fresh one)"
        )
    return array
