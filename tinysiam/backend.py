"""Devices: which array library holds a tensor's data.

tinysiam keeps every array on one of two devices:

* ``"cpu"``  -> a ``numpy.ndarray``
* ``"cuda"`` -> a ``cupy.ndarray`` on an NVIDIA GPU

Ops never import numpy or cupy themselves. They ask their inputs for the array module
(``xp = get_array_module(x)``) and write one body that runs on both, the idiom of Chainer's
``chainer.backend``. CuPy is imported here, and only when "cuda" is first used (or a CuPy array
is first met), so a machine without a GPU never needs it installed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda")

_cupy: ModuleType | None = None  # the cupy module, once imported and found working
_cuda_works: bool | None = None  # cuda_available()'s answer, once known
_device_memory: int | None = None  # device_memory_bytes()'s answer, once known
GPU_INSTALL = "pip install -e '.[gpu]' in a clone of tinysiam"  # CuPy for CUDA 12 and its libraries


def _import_cupy() -> ModuleType:
    """Import CuPy on first use and check that a GPU answers; explain how to fix it if not."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as error:
            raise RuntimeError(
                "device 'cuda' needs CuPy, which is not installed. Install it with "
                f"`{GPU_INSTALL}` (CuPy for CUDA 12 with its runtime libraries), or use "
                "device='cpu'."
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
    """True when CuPy imports, sees a GPU, and runs work on it.

    A driver alone is not enough: CuPy compiles its elementwise kernels with NVRTC and runs
    matrix products with cuBLAS, libraries of the CUDA runtime that the ``gpu`` extra
    installs (``cupy-cuda12x[ctk]``). So the first call runs a tiny kernel and a small matrix
    product and reads the result back; the answer is kept for later calls.
    """
    global _cuda_works
    if _cuda_works is None:
        try:
            cupy = _import_cupy()
            a = cupy.arange(4, dtype=cupy.float32).reshape(2, 2) * 2  # a kernel: needs NVRTC
            _cuda_works = float((a @ a).sum()) == 88.0  # a matrix product: needs cuBLAS
        except Exception:  # ImportError, no GPU, a missing runtime library: all mean "no"
            _cuda_works = False
    return _cuda_works


def check_device(device: str) -> str:
    """Return ``device`` if it names a known device, else raise a ValueError listing them."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def array_module(device: str) -> ModuleType:
    """The array library of a device: numpy for "cpu", cupy for "cuda"."""
    return np if check_device(device) == "cpu" else _import_cupy()


def is_cupy_array(array: Any) -> bool:
    """True for a ``cupy.ndarray``, even when the program imported CuPy before tinysiam did.

    CuPy's classes live in modules named ``cupy...``: that test needs no import of CuPy, so a
    NumPy array costs one string comparison. Only a CuPy array imports it here.
    """
    if not type(array).__module__.startswith("cupy"):
        return False
    try:
        return isinstance(array, _import_cupy().ndarray)
    except RuntimeError:
        return False


def get_array_module(array: Any) -> ModuleType:
    """The array library that owns ``array`` (numpy unless it is a CuPy array)."""
    return _import_cupy() if is_cupy_array(array) else np


def device_of(array: Any) -> str:
    """ "cuda" for a CuPy array, "cpu" for anything else."""
    return "cuda" if is_cupy_array(array) else "cpu"


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


def device_memory_bytes() -> int:
    """Total memory of the current GPU in bytes (asked once, then remembered)."""
    global _device_memory
    if _device_memory is None:
        _device_memory = int(_import_cupy().cuda.Device().mem_info[1])
    return _device_memory
