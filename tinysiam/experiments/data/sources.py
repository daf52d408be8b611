"""Where the data files live, and how a missing one is downloaded, verified and stored.

A file ``<dataset>/<name>`` (e.g. ``mnist/train-images-idx3-ubyte.gz``) is looked for in:

1. the ``root`` argument of the loader, or else the folder named by the ``TINYSIAM_DATA``
   environment variable;
2. the per-user cache, ``$XDG_CACHE_HOME/tinysiam`` (``~/.cache/tinysiam`` by default).

A missing file is downloaded into the first of these folders that is writable; a read-only shared
folder (one without write permission bits, even for root) is skipped, so the copy lands in the
cache. Each address is tried in turn with a short timeout; the bytes are checked against the
published checksum in memory and only then written, through a temporary file renamed into
place, so a partial or corrupt download is never kept.
"""

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import DataError

TIMEOUT_S = 5.0  # per connection attempt and per read; an offline machine gives up within seconds
_DOWNLOAD_ERRORS = (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException)


@dataclass(frozen=True)
class RemoteFile:
    """A data file: where it goes, where to download it from, and the checksum it must have.

    Attributes:
        dataset: the sub-folder of a data root, e.g. ``"mnist"``.
        name: the file name, e.g. ``"t10k-labels-idx1-ubyte.gz"``.
        urls: download addresses, tried in order.
        algorithm: a ``hashlib`` name, e.g. ``"sha256"`` or ``"md5"``.
        digest: the expected hex digest.
        gunzip: if True the digest is of the gzip-decompressed content, not of the file itself.
    """

    dataset: str
    name: str
    urls: tuple[str, ...]
    algorithm: str
    digest: str
    gunzip: bool = False

    def checksum(self, data: bytes) -> str:
        """Return the hex digest of ``data`` the way ``digest`` was computed."""
        content = gzip.decompress(data) if self.gunzip else data
        return hashlib.new(self.algorithm, content).hexdigest()


def cache_dir() -> Path:
    """Return the per-user cache folder: ``$XDG_CACHE_HOME/tinysiam`` or ``~/.cache/tinysiam``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinysiam"


def search_dirs(dataset: str, root: str | Path | None = None) -> list[Path]:
    """Return the folders searched for a file of ``dataset``, in order (see the module doc)."""
    first = root if root is not None else os.environ.get("TINYSIAM_DATA")
    dirs = [Path(first).expanduser() / dataset] if first else []
    return dirs + [cache_dir() / dataset]


def find(dataset: str, name: str, root: str | Path | None = None) -> Path | None:
    """Return the first existing ``<folder>/<name>`` among :func:`search_dirs`, or None."""
    for folder in search_dirs(dataset, root):
        if (folder / name).exists():
            return folder / name
    return None


def fetch(remote: RemoteFile, root: str | Path | None = None, download: bool = True) -> Path:
    """Return the path of a local copy of ``remote``, downloading it if there is none.

    Local copies are returned as they are; callers validate their content.

    Args:
        remote: the file wanted.
        root: a data root searched before the cache (default: ``TINYSIAM_DATA``, if set).
        download: if False, fail at once when no local copy exists.

    Raises:
        DataError: if no local copy exists and it could not be downloaded; the message names the
            folders searched, the addresses tried and the exact path where a copy can be put.
    """
    found = find(remote.dataset, remote.name, root)
    if found is not None:
        return found
    dirs = search_dirs(remote.dataset, root)
    hint = (
        f"Put a copy at {dirs[0] / remote.name}, or set TINYSIAM_DATA to a folder holding "
        f"{remote.dataset}/{remote.name}."
    )
    missing = f"{remote.name} not found in {', '.join(map(str, dirs))}"
    if not download:
        raise DataError(f"{missing} and download=False. {hint}")
    folder = next((folder for folder in dirs if _writable(folder)), None)
    if folder is None:
        raise DataError(f"{missing}, and none of those folders is writable. {hint}")
    dest = folder / remote.name
    failures = []
    for url in remote.urls:
        try:
            _download(url, dest, remote)
            return dest
        except _DOWNLOAD_ERRORS as error:
            failures.append(f"{url}: {error}")
    tried = "\n  ".join(failures)
    raise DataError(f"{missing}; could not download it to {dest}. Tried:\n  {tried}\n{hint}")


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for writing through a temporary file renamed into place only on success.

    Readers never see a half-written file, and an interrupted write leaves nothing behind.

    Example:
        >>> with atomic_write(Path(folder) / "x.bin") as file:  # doctest: +SKIP
        ...     file.write(b"data")
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _writable(folder: Path) -> bool:
    """Say whether files can be written in ``folder``, creating it (and its parents) if need be.

    A folder without any write permission bit counts as read-only even for root, so a shared
    read-only data folder is never written to.
    """
    existing = folder
    while not existing.exists():
        existing = existing.parent
    mode = existing.stat().st_mode
    return existing.is_dir() and os.access(existing, os.W_OK) and bool(mode & 0o222)


def _download(url: str, dest: Path, remote: RemoteFile) -> None:
    """Download ``url``, check its checksum in memory, then write it atomically to ``dest``."""
    request = urllib.request.Request(url, headers={"User-Agent": "tinysiam"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        data = response.read()
    found = remote.checksum(data)
    if found != remote.digest:
        raise DataError(f"{remote.algorithm} {found}, expected {remote.digest} (corrupt download)")
    with atomic_write(dest) as file:
        file.write(data)
