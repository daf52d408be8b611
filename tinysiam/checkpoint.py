"""Checkpoints: everything needed to resume training, in one .npz file, written atomically.

    tinysiam.save("run/ckpt.npz", model=net.state_dict(), optimizer=opt.state_dict(),
                  iteration=it, rng=rng.bit_generator.state)
    state = tinysiam.load("run/ckpt.npz")
    net.load_state_dict(state["model"]); opt.load_state_dict(state["optimizer"])

Format: a NumPy .npz archive. Every array of the saved state is one entry ("arr_0", "arr_1",
...); everything else (the nesting of dicts and lists, ints, floats, strings, numpy scalars, an
RNG state with its 128-bit integers) is one JSON string in the entry ``__tinysiam__``, where each
array appears as {"__array__": "arr_k"}. Nothing is pickled, so loading a file runs no code from it.

Why a save is atomic: it never writes into ``path``. It writes a temporary file in the same
directory, flushes it to disk (fsync), renames it over ``path`` with ``os.replace`` (one step:
other processes see the old file or the new one, never a mix) and fsyncs the directory so the
rename survives a power cut. A crash, an error or ``kill -9`` at any moment leaves ``path``
holding the previous checkpoint or the new one, both complete.

What a crash can leave is the temporary file, named ``.<name>.<8 hex digits>.tinysiam-partial``
beside ``path``. The next :func:`save` or :func:`load` of the same path removes such files, and
only those a save no longer holds: a save keeps its temporary file locked (``flock``) until the
rename, and the operating system drops the lock when the process dies, so a file whose lock can
be taken is debris, while one still locked belongs to a save in progress in another process.
Other files in the directory are never touched. (Where there is no ``flock``, as on Windows,
saves are just as atomic but leftovers are kept: nothing there tells debris from work.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import zipfile
from typing import IO, Any

import numpy as np

from .backend import device_of, to_numpy

if sys.platform != "win32":
    import fcntl

FORMAT = 1
META_KEY = "__tinysiam__"
PARTIAL_SUFFIX = ".tinysiam-partial"  # ends the name of a save's temporary file
_LOCKS = sys.platform != "win32"  # flock exists: abandoned temporary files can be recognised
_MARKERS = ("__array__", "__scalar__", "__generator__")  # how the JSON tree marks non-JSON values


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt or not a tinysiam checkpoint (the message says)."""


def save(path: str | os.PathLike, **state: Any) -> None:
    """Write ``state`` to ``path`` as one .npz file, atomically.

    Atomic because ``path`` is never written into: the archive goes to a temporary file beside
    it, is fsynced, and is renamed over ``path`` in one step, so ``path`` holds the previous
    checkpoint or the new one, complete, whenever the process dies. Temporary files that
    interrupted saves of ``path`` left are removed first (see the module's docstring).

    Args:
        path: the file to write (the name is used as given; ".npz" is not appended).
        state: named values. Each may be an array (numpy or cupy, saved as numpy), a numpy
            scalar, an int, float, bool, str or None, a ``numpy.random.Generator`` (restored as
            an equal generator), or a dict (string keys) or list/tuple of these, nested freely.
            Tuples come back as lists.

    Example:
        >>> tinysiam.save("ckpt.npz", model=net.state_dict(), iteration=100)
        >>> tinysiam.load("ckpt.npz")["iteration"]
        100
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(state, arrays, "state")
    entries: dict[str, Any] = {META_KEY: np.array(json.dumps({"format": FORMAT, "state": tree}))}
    entries.update(arrays)
    _remove_abandoned_partials(path)
    temporary, file = _create_partial(path)
    try:
        with file:  # locked while open, so no other process's sweep removes it
            np.savez(file, **entries)
            file.flush()
            os.fsync(file.fileno())
            if _LOCKS:
                os.replace(temporary, path)  # renamed before the lock goes
        if not _LOCKS:
            os.replace(temporary, path)  # Windows renames closed files only
    except BaseException:
        with contextlib.suppress(FileNotFoundError):  # once unlocked, a sweep may take it first
            os.remove(temporary)
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`: a dict mirroring what was saved, arrays as numpy.

    Like :func:`save`, it first removes the temporary files that interrupted saves of ``path``
    left, so resuming after a crash leaves none behind.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated, corrupt, or not a tinysiam checkpoint.
    """
    path = os.fspath(path)
    _remove_abandoned_partials(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(
                f"{path!r} is not a tinysiam checkpoint (a .npy array, not a .npz archive)"
            )
        with archive:
            if META_KEY not in archive.files:
                raise CheckpointError(
                    f"{path!r} is not a tinysiam checkpoint (no {META_KEY!r} entry)"
                )
            meta = json.loads(str(archive[META_KEY]))
            arrays = {name: archive[name] for name in archive.files if name != META_KEY}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise CheckpointError(
            f"{path!r} is not a readable tinysiam checkpoint (truncated or corrupt?): "
            f"{type(error).__name__}: {error}"
        ) from error
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path!r} has checkpoint format {meta.get('format')!r}; "
            f"this tinysiam reads format {FORMAT}"
        )
    return _decode(meta["state"], arrays, path)


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """``value`` as JSON-ready data; its arrays are moved into ``arrays`` and referenced by name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"save: keys must be strings, got {key!r} in {where}")
        reserved = [key for key in value if key in _MARKERS]
        if reserved:
            raise TypeError(
                f"save: {where} uses the key {reserved[0]!r}, which the checkpoint format reserves"
            )
        return {key: _encode(item, arrays, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.random.Generator):
        return {"__generator__": value.bit_generator.state}
    if (
        isinstance(value, np.generic) and value.dtype.kind in "biuf" and value.dtype.itemsize <= 8
    ):  # into the JSON
        return {"__scalar__": value.item(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return {"__array__": _add_array(np.asarray(value), arrays), "scalar": True}
    if isinstance(value, np.ndarray) or device_of(value) == "cuda":
        if value.dtype == object:
            raise TypeError(
                f"save: {where} is an object array, which cannot be saved without pickle"
            )
        return {"__array__": _add_array(to_numpy(value), arrays)}
    raise TypeError(
        f"save: cannot save {where} of type {type(value).__name__}; "
        "use arrays, numbers, strings, None, generators, and dicts or lists of them "
        "(a Tensor: save t.numpy())"
    )


def _add_array(array: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    name = f"arr_{len(arrays)}"
    arrays[name] = array
    return name


def _decode(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(value, list):
        return [_decode(item, arrays, path) for item in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        if value["__array__"] not in arrays:
            raise CheckpointError(
                f"{path!r} is damaged: array entry {value['__array__']!r} is missing"
            )
        array = arrays[value["__array__"]]
        return array[()] if value.get("scalar") else array
    if "__scalar__" in value:
        return np.dtype(value["dtype"]).type(value["__scalar__"])
    if "__generator__" in value:
        state = value["__generator__"]
        generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
        generator.bit_generator.state = state
        return generator
    return {key: _decode(item, arrays, path) for key, item in value.items()}


def _create_partial(path: str) -> tuple[str, IO[bytes]]:
    """Create and lock a new temporary file beside ``path``: (its name, the file open for writing).

    The mode 0o666 minus the umask gives it the permissions of a file made by ``open``.
    """
    directory, name = os.path.split(os.path.abspath(path))
    while True:
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        _lock(fd, wait=True)
        if os.fstat(fd).st_nlink > 0:  # a sweep may remove it between creation and locking
            return temporary, os.fdopen(fd, "wb")
        os.close(fd)


def _remove_abandoned_partials(path: str) -> None:
    """Remove the temporary files that interrupted saves of ``path`` left.

    A candidate must be named exactly as :func:`_create_partial` names them for this ``path``
    and must be unlocked: a live save holds its lock until the rename, and a killed save's lock
    went with its process. Best effort: a directory that cannot be read or written is left as is.
    """
    if not _LOCKS:
        return
    directory, name = os.path.split(os.path.abspath(path))
    pattern = re.compile(re.escape(f".{name}.") + "[0-9a-f]{8}" + re.escape(PARTIAL_SUFFIX))
    try:
        candidates = [entry for entry in os.listdir(directory) if pattern.fullmatch(entry)]
    except OSError:
        return
    for candidate in candidates:
        temporary = os.path.join(directory, candidate)
        try:
            fd = os.open(temporary, os.O_RDWR)  # NFS grants exclusive locks to writers only
        except OSError:
            continue
        try:
            if _lock(fd, wait=False):
                os.remove(temporary)
        except OSError:
            pass
        finally:
            os.close(fd)  # releases the lock


def _lock(fd: int, *, wait: bool) -> bool:
    """Take an exclusive ``flock`` on ``fd`` (waiting for it, or not); True when it is taken.

    False when another process holds it, where the file system refuses locks and where there is
    no ``flock``: a sweep then removes nothing.
    """
    if not _LOCKS:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
