"""Devices: which array library holds a tensor's data.

tinysiam keeps every array on one of two devices:

* ``"cpu"``  -> a ``numpy.ndarray``
* ``"cuda"`` -> a ``cupy.ndarray`` on an NVIDIA GPU

Ops never import numpy or cupy themselves. They ask their inputs for the array module
(``xp = get_array_module(x)``) and write one body that runs on both, the idiom of Chainer's
``chainer.backend``. CuPy is imported here, and only when "cuda" is first used, so a machine
without a GPU never needs it installed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda")

_cupy: ModuleType | None = None


def _import_cupy() -> ModuleType:
    """Import CuPy on first use and check that a GPU answers; explain how to fix it if not."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as error:
            raise RuntimeError(
                "device 'cuda' needs CuPy, which is not installed. "
                "Install it with `pip install tinysiam[gpu]` (CuPy for CUDA 12), "
                "or use device='cpu'."
            ) from error
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CuPy raises its own CUDARuntimeError subclasses
            raise RuntimeError(
                f"device 'cuda' needs an NVIDIA GPU, but CuPy found none ({error}). "
                "Use device='cpu'."
            ) from error
        if count == 0:
            raise RuntimeError(
                "device 'cuda' needs an NVIDIA GPU, but CuPy found none. Use device='cpu'."
            )
        _cupy = cupy
    return _cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        _import_cupy()
    except RuntimeError:
        return False
    return True


def check_device(device: str) -> str:
    """Return ``device`` if it names a known device, else raise a ValueError listing them."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def array_module(device: str) -> ModuleType:
    """The array library of a device: numpy for "cpu", cupy for "cuda"."""
    return np if check_device(device) == "cpu" else _import_cupy()


def get_array_module(array: Any) -> ModuleType:
    """The array library that owns ``array`` (numpy unless it is a CuPy array)."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array: Any) -> str:
    """ "cuda" for a CuPy array, "cpu" for anything else."""
    return "cuda" if get_array_module(array) is not np else "cpu"


def to_device(array: Any, device: str) -> Any:
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    if device_of(array) == check_device(device):
        return array
    if device == "cuda":
        return _import_cupy().asarray(array)
    return array.get()


def to_numpy(array: Any) -> np.ndarray:
    """A host ``numpy.ndarray`` holding the values of ``array``, wherever it lives."""
    return array.get() if device_of(array) == "cuda" else np.asarray(array)
