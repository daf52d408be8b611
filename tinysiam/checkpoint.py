"""Checkpoints: everything needed to resume training, in one .npz file, written atomically.

    tinysiam.save("run/ckpt.npz", model=net.state_dict(), optimizer=opt.state_dict(),
                  iteration=it, rng=rng.bit_generator.state)
    state = tinysiam.load("run/ckpt.npz")
    net.load_state_dict(state["model"]); opt.load_state_dict(state["optimizer"])

Format: a NumPy .npz archive. Every array of the saved state is one entry ("arr_0", "arr_1",
...); everything else (the nesting of dicts and lists, ints, floats, strings, numpy scalars, an
RNG state with its 128-bit integers) is one JSON string in the entry ``__tinysiam__``, where each
array appears as {"__array__": "arr_k"}. Nothing is pickled, so loading a file runs no code from it.

Writing goes to a temporary file in the same directory, is flushed to disk (fsync), and only
then renamed over ``path`` (``os.replace`` is atomic): a crash or an error mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from .backend import device_of, to_numpy

FORMAT = 1
META_KEY = "__tinysiam__"
_MARKERS = ("__array__", "__scalar__", "__generator__")  # how the JSON tree marks non-JSON values


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt or not a tinysiam checkpoint (the message says)."""


def save(path: str | os.PathLike, **state: Any) -> None:
    """Write ``state`` to ``path`` as one .npz file, atomically.

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
    meta = json.dumps({"format": FORMAT, "state": tree})
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(
        dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            entries: dict[str, Any] = {META_KEY: np.array(meta), **arrays}
            np.savez(file, **entries)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); give it the mode open() would have
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`: a dict mirroring what was saved, arrays as numpy.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated, corrupt, or not a tinysiam checkpoint.
    """
    path = os.fspath(path)
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


def _umask() -> int:
    """The process's file-creation mask (os.umask can only be read by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
