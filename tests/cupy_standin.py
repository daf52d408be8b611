"""A stand-in for CuPy on machines without a GPU: NumPy arrays behind CuPy's rules, and counters.

tinysiam's cuda path must run on CuPy, whose arrays refuse what NumPy lets slip: a CuPy array
never turns into a NumPy array behind the program's back. Code that mixes the two by accident
runs fine on NumPy and fails only on a GPU. This module is a NumPy-backed ``cupy`` that keeps
CuPy's rules where tinysiam can get them wrong, so the cuda tests run on every CI machine:

* its ``ndarray`` is a type of its own (its ``__module__`` is "cupy", as CuPy's is);
  ``__array__`` raises TypeError, as CuPy's does, so ``np.asarray(x)`` fails;
* NumPy arrays are refused as ufunc operands, as ``out=`` and as assignment values
  (``x[i] = host_array``); NumPy arrays *are* accepted as indices (an index is copied to the
  device, counted as a transfer), and by ``asarray``/``array`` (an explicit copy to the device);
* ``asnumpy(x)``, ``x.get()``, ``x.item()``, ``float(x)``, ``bool(x)``... copy to the host;
* reductions and integer indexing return 0-d arrays, never NumPy scalars;
* operators follow CuPy's priority rule: ``__array_priority__ = 100``, and ``x + other`` is
  handed to ``other`` only when ``other.__array_priority__`` is strictly higher;
* NumPy functions and ufuncs called on its arrays dispatch to it (``__array_function__``,
  ``__array_ufunc__``), as they do for CuPy's.

It counts, in :data:`counts`, what costs time on a GPU:

* ``launches``: each elementwise op (``out=`` and in-place ones too), reduction, copy (``astype``,
  ``copy``, a reshape that cannot be a view, ``ascontiguousarray`` of a non-contiguous array,
  ``fill``, ``zeros``/``ones``), matrix product, concatenation, and indexing op (gather with an
  integer or boolean index, an assignment ``x[i] = ...`` unless it writes a view onto itself,
  as ``x[i] += y`` does after adding in place, ``add.at``) is one kernel launch.
  Views (basic slicing, ``reshape`` of a contiguous array, ``transpose``, ``broadcast_to``,
  ``split``) and ``empty`` launch nothing.
* ``h2d``/``h2d_bytes`` and ``d2h``/``d2h_bytes``: copies between host and device, and bytes.
* ``syncs``: waits of the host for the device: every copy to the host (CuPy's ``get`` waits for
  the stream), boolean-mask indexing and ``nonzero`` (the result's size must be read back), and
  an explicit ``synchronize``. A copy to the device is not a wait: CuPy stages the host data and
  copies it asynchronously.

What it does not model: CUDA kernels themselves (every op runs in NumPy, on the CPU), so
neither the precision of GPU math (cuBLAS may sum in another order, TF32) nor its speed: no
timing figure made on it means anything. Device memory is not modelled either: arrays live in
host RAM, and ``cuda.Device().mem_info`` reports :data:`DEVICE_MEMORY_BYTES` (settable), an
80 GB GPU unless a test says otherwise. Streams, events, custom kernels (``ElementwiseKernel``,
``RawKernel``) and random numbers are absent. Where CuPy accepts more than this module, the
stand-in is stricter: CuPy copies a NumPy array assigned to a whole array (``x[:] = host``) from
the host, a hidden transfer in a training loop, and raises (ValueError) for any other slice.
"""

from __future__ import annotations

import builtins
import operator
import sys
import types
from dataclasses import dataclass, fields
from typing import Any

import numpy

__version__ = "0.0-standin"
IS_STANDIN = True
DEVICE_MEMORY_BYTES = 80 * 10**9


@dataclass
class Counts:
    """What a real GPU would have done, counted since the last :meth:`reset`."""

    launches: int = 0
    syncs: int = 0
    h2d: int = 0
    h2d_bytes: int = 0
    d2h: int = 0
    d2h_bytes: int = 0

    def reset(self) -> None:
        for field in fields(self):
            setattr(self, field.name, 0)

    def snapshot(self) -> dict[str, int]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


counts = Counts()


def _launch(n: int = 1) -> None:
    counts.launches += n


def _to_device_count(host: numpy.ndarray) -> None:
    counts.h2d += 1
    counts.h2d_bytes += int(host.nbytes)


def _to_host_count(device: numpy.ndarray) -> None:
    counts.syncs += 1
    counts.d2h += 1
    counts.d2h_bytes += int(device.nbytes)


# ----- the array type ------------------------------------------------------------------------
SCALARS = (builtins.bool, builtins.int, builtins.float, builtins.complex, numpy.generic)


class ndarray:  # noqa: N801  (CuPy's name)
    """A device array: a NumPy array that only this module's functions may touch."""

    __array_priority__ = 100

    def __init__(self, shape: Any, dtype: Any = float, *, _data: Any = None) -> None:
        self._a = numpy.empty(shape, dtype) if _data is None else _data

    # what it is
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))

    @property
    def device(self) -> Any:
        return cuda.Device()

    def __len__(self) -> int:
        return len(self._a)

    def __repr__(self) -> str:
        return repr(self.get())

    __str__ = __repr__

    # what CuPy refuses
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly."
        )

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    # copies to the host
    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> numpy.ndarray:
        _to_host_count(self._a)
        return numpy.array(self._a, order=order)

    def item(self) -> Any:
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.get().item()

    def tolist(self) -> Any:
        return self.get().tolist()

    def __bool__(self) -> builtins.bool:
        return builtins.bool(self.get())

    def __float__(self) -> float:
        return float(self.get())

    def __int__(self) -> int:
        return int(self.get())

    def __index__(self) -> int:
        return operator.index(self.get()[()])

    def set(self, host: Any, stream: Any = None) -> None:
        if not isinstance(host, numpy.ndarray) or host.shape != self.shape:
            raise ValueError(f"set: needs a numpy array of shape {self.shape}")
        _to_device_count(host)
        self._a[...] = host

    # views and copies
    def reshape(self, *shape: Any, order: str = "C") -> ndarray:
        result = self._a.reshape(*shape, order=order)
        if result.size and not numpy.may_share_memory(result, self._a):
            _launch()
        return _wrap(result)

    def ravel(self) -> ndarray:
        return self.reshape(-1)

    def flatten(self) -> ndarray:
        return self.copy().reshape(-1)

    def transpose(self, *axes: Any) -> ndarray:
        return _wrap(self._a.transpose(*axes))

    def swapaxes(self, a: int, b: int) -> ndarray:
        return _wrap(self._a.swapaxes(a, b))

    def squeeze(self, axis: Any = None) -> ndarray:
        return _wrap(self._a.squeeze(axis))

    def view(self, dtype: Any = None) -> ndarray:
        return _wrap(self._a.view() if dtype is None else self._a.view(dtype))

    def copy(self, order: str = "C") -> ndarray:
        _launch()
        return _wrap(self._a.copy(order=order))

    def astype(self, dtype: Any, copy: builtins.bool = True, **kwargs: Any) -> ndarray:
        if not copy and numpy.dtype(dtype) == self.dtype:
            return self
        _launch()
        return _wrap(self._a.astype(dtype, copy=True, **kwargs))

    def fill(self, value: Any) -> None:
        _check_scalar(value, "fill")
        _launch()
        self._a.fill(value)

    # reductions: one launch each, 0-d arrays for full reductions
    def _reduce(self, name: str, *args: Any, **kwargs: Any) -> ndarray:
        _check_out(kwargs)
        _launch()
        return _wrap(numpy.asarray(getattr(self._a, name)(*args, **kwargs)))

    def sum(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("sum", *args, **kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("mean", *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("max", *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("min", *args, **kwargs)

    def argmax(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("argmax", *args, **kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("argmin", *args, **kwargs)

    def any(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("any", *args, **kwargs)

    def all(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("all", *args, **kwargs)

    def prod(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("prod", *args, **kwargs)

    def var(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("var", *args, **kwargs)

    def std(self, *args: Any, **kwargs: Any) -> ndarray:
        return self._reduce("std", *args, **kwargs)

    def take(self, indices: Any, axis: Any = None) -> ndarray:
        _launch()
        return _wrap(numpy.take(self._a, _device_index(indices), axis=axis))

    def clip(self, low: Any = None, high: Any = None) -> ndarray:
        return clip(self, low, high)

    def dot(self, other: Any) -> ndarray:
        return matmul(self, other)

    # indexing
    def __getitem__(self, index: Any) -> ndarray:
        index = _device_index(index)
        if _is_advanced(index):
            _launch()
            return _wrap(self._a[index])
        return _wrap(self._a[_keep_view(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _device_index(index)
        if isinstance(value, ndarray):
            value = value._a
            if not _is_advanced(index) and _same_view(self._a[_keep_view(index)], value):
                return  # x[i] += y wrote in place already; CuPy skips the copy onto itself
        else:
            _check_scalar(value, "assignment value")
        _launch()
        self._a[index] = value

    # NumPy interoperation: NumPy's functions and ufuncs on these arrays run here
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if builtins.any(not isinstance(x, (ndarray, *SCALARS)) for x in inputs):
            if builtins.any(isinstance(x, numpy.ndarray) for x in inputs):
                raise TypeError(f"Unsupported type {numpy.ndarray}")
            return NotImplemented
        function = getattr(_MODULE, ufunc.__name__, None)
        if function is None or method not in ("__call__", "at"):
            return NotImplemented
        return function(*inputs, **kwargs) if method == "__call__" else function.at(*inputs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        function = getattr(_MODULE, func.__name__, None)
        if function is None or function is func:
            raise TypeError(f"numpy.{func.__name__} has no counterpart in the CuPy stand-in")
        return function(*args, **kwargs)

    # operators: CuPy's rule, a strictly higher priority takes over
    def _defers_to(self, other: Any) -> builtins.bool:
        return not isinstance(other, ndarray) and (
            getattr(other, "__array_priority__", -1.0) > self.__array_priority__
        )

    def __matmul__(self, other: Any) -> Any:
        return NotImplemented if self._defers_to(other) else matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return NotImplemented if self._defers_to(other) else matmul(other, self)

    def __neg__(self) -> ndarray:
        return _MODULE.negative(self)

    def __pos__(self) -> ndarray:
        return self.copy()

    def __abs__(self) -> ndarray:
        return _MODULE.absolute(self)

    def __invert__(self) -> ndarray:
        return _MODULE.invert(self)


def _binary_operator(name: str) -> tuple[Any, Any, Any]:
    def forward(self: ndarray, other: Any) -> Any:
        if self._defers_to(other):
            return NotImplemented
        return getattr(_MODULE, name)(self, other)

    def reflected(self: ndarray, other: Any) -> Any:
        if self._defers_to(other):
            return NotImplemented
        return getattr(_MODULE, name)(other, self)

    def in_place(self: ndarray, other: Any) -> Any:
        if self._defers_to(other):
            return NotImplemented
        return getattr(_MODULE, name)(self, other, out=self)

    return forward, reflected, in_place


for _dunder, _ufunc_name in [
    ("add", "add"),
    ("sub", "subtract"),
    ("mul", "multiply"),
    ("truediv", "true_divide"),
    ("floordiv", "floor_divide"),
    ("mod", "remainder"),
    ("pow", "power"),
    ("and", "bitwise_and"),
    ("or", "bitwise_or"),
    ("xor", "bitwise_xor"),
]:
    _f, _r, _i = _binary_operator(_ufunc_name)
    setattr(ndarray, f"__{_dunder}__", _f)
    setattr(ndarray, f"__r{_dunder}__", _r)
    setattr(ndarray, f"__i{_dunder}__", _i)
for _dunder, _ufunc_name in [
    ("eq", "equal"),
    ("ne", "not_equal"),
    ("lt", "less"),
    ("le", "less_equal"),
    ("gt", "greater"),
    ("ge", "greater_equal"),
]:
    setattr(ndarray, f"__{_dunder}__", _binary_operator(_ufunc_name)[0])
ndarray.__hash__ = None  # type: ignore[assignment]  # arrays with __eq__ are unhashable
ndarray.__module__ = "cupy"


# ----- checks of what crosses the boundary --------------------------------------------------
def _wrap(a: Any) -> ndarray:
    return ndarray((), _data=a if isinstance(a, numpy.ndarray) else numpy.asarray(a))


def _check_scalar(value: Any, what: str) -> None:
    if isinstance(value, numpy.ndarray):
        raise TypeError(
            f"the CuPy stand-in refuses a numpy.ndarray as {what} (a hidden host-to-device copy); "
            "move it with cupy.asarray first"
        )
    if not isinstance(value, SCALARS):
        raise TypeError(f"Unsupported type {type(value)} as {what}")


def _operand(x: Any, name: str) -> Any:
    """The NumPy data behind a ufunc operand: a device array or a scalar, nothing else."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, SCALARS):
        return x
    raise TypeError(f"Unsupported type {type(x)}" + (f" in {name}" if name else ""))


def _check_out(kwargs: dict[str, Any]) -> None:
    out = kwargs.get("out")
    if out is None:
        return
    if isinstance(out, tuple):
        (out,) = out
    if not isinstance(out, ndarray):
        raise TypeError(f"out must be a cupy.ndarray, got {type(out)}")
    kwargs["out"] = out._a


def _device_index(index: Any) -> Any:
    """An index with device arrays unwrapped; NumPy arrays in it are copied to the device."""
    if isinstance(index, tuple):
        return tuple(_device_index(i) for i in index)
    if isinstance(index, ndarray):
        return index._a
    if isinstance(index, numpy.ndarray):
        _to_device_count(index)
        return index
    if isinstance(index, list):
        return _device_index(numpy.asarray(index))
    return index


def _is_advanced(index: Any) -> builtins.bool:
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [p for p in parts if isinstance(p, numpy.ndarray)]
    if builtins.any(a.dtype == builtins.bool for a in arrays):
        counts.syncs += 1  # the result's size is read back from the device
    return builtins.bool(arrays)


def _same_view(a: numpy.ndarray, b: numpy.ndarray) -> builtins.bool:
    """The same elements in the same layout (as CuPy compares them: pointer, shape, strides)."""
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _keep_view(index: Any) -> Any:
    """Basic indexing that gives a 0-d view where NumPy would give a scalar."""
    parts = index if isinstance(index, tuple) else (index,)
    return parts if Ellipsis in parts else (*parts, Ellipsis)


# ----- creating arrays and moving them ------------------------------------------------------
def asarray(a: Any, dtype: Any = None, order: Any = None) -> ndarray:
    if isinstance(a, ndarray):
        return a if dtype is None else a.astype(dtype, copy=False)
    if hasattr(a, "__cuda_array_interface__"):
        raise TypeError("the CuPy stand-in cannot read another library's GPU array")
    host = numpy.asarray(a, dtype=dtype, order=order)  # raises for objects that refuse it
    _to_device_count(host)
    return _wrap(host.copy())


def array(a: Any, dtype: Any = None, copy: builtins.bool = True, order: Any = None) -> ndarray:
    if isinstance(a, ndarray):
        return a.astype(a.dtype if dtype is None else dtype, copy=copy)
    return asarray(a, dtype=dtype, order=order)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> numpy.ndarray:
    return a.get(order=order) if isinstance(a, ndarray) else numpy.asarray(a, order=order)


def get_array_module(*args: Any) -> types.ModuleType:
    return _MODULE if builtins.any(isinstance(a, ndarray) for a in args) else numpy


def empty(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    return _wrap(numpy.empty(shape, dtype, order))


def empty_like(a: ndarray, dtype: Any = None, shape: Any = None) -> ndarray:
    return _wrap(numpy.empty_like(_operand(a, "empty_like"), dtype=dtype, shape=shape))


def _filled(maker: Any, *args: Any, **kwargs: Any) -> ndarray:
    _launch()
    return _wrap(maker(*args, **kwargs))


def zeros(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    return _filled(numpy.zeros, shape, dtype, order)


def ones(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    return _filled(numpy.ones, shape, dtype, order)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> ndarray:
    _check_scalar(fill_value, "fill_value")
    return _filled(numpy.full, shape, fill_value, dtype)


def zeros_like(a: ndarray, dtype: Any = None) -> ndarray:
    return _filled(numpy.zeros_like, _operand(a, "zeros_like"), dtype=dtype)


def ones_like(a: ndarray, dtype: Any = None) -> ndarray:
    return _filled(numpy.ones_like, _operand(a, "ones_like"), dtype=dtype)


def full_like(a: ndarray, fill_value: Any, dtype: Any = None) -> ndarray:
    _check_scalar(fill_value, "fill_value")
    return _filled(numpy.full_like, _operand(a, "full_like"), fill_value, dtype=dtype)


def arange(*args: Any, dtype: Any = None) -> ndarray:
    return _filled(numpy.arange, *args, dtype=dtype)


def ascontiguousarray(a: ndarray, dtype: Any = None) -> ndarray:
    a = asarray(a)
    if a.flags.c_contiguous and (dtype is None or numpy.dtype(dtype) == a.dtype):
        return a
    _launch()
    return _wrap(numpy.ascontiguousarray(a._a, dtype=dtype))


# ----- elementwise ufuncs -------------------------------------------------------------------
class ufunc:  # noqa: N801  (CuPy's name)
    """One of NumPy's ufuncs on device arrays: one launch per call, device arrays only."""

    def __init__(self, name: str) -> None:
        self.__name__ = name
        self._numpy = getattr(numpy, name)
        self.nin, self.nout = self._numpy.nin, self._numpy.nout

    def __repr__(self) -> str:
        return f"<ufunc '{self.__name__}' (CuPy stand-in)>"

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        operands = [_operand(x, self.__name__) for x in inputs]
        out = kwargs.get("out")
        _check_out(kwargs)
        _launch()
        result = self._numpy(*operands, **kwargs)
        if out is not None:
            return out[0] if isinstance(out, tuple) else out
        return _wrap(numpy.asarray(result))

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        if not isinstance(a, ndarray):
            raise TypeError(f"{self.__name__}.at: needs a cupy.ndarray, got {type(a)}")
        operands = () if b is None else (_operand(b, f"{self.__name__}.at"),)
        _launch()
        self._numpy.at(a._a, _device_index(indices), *operands)


add = ufunc("add")
subtract = ufunc("subtract")
multiply = ufunc("multiply")
divide = ufunc("divide")
true_divide = ufunc("true_divide")
floor_divide = ufunc("floor_divide")
remainder = ufunc("remainder")
power = ufunc("power")
negative = ufunc("negative")
absolute = ufunc("absolute")
sign = ufunc("sign")
exp = ufunc("exp")
log = ufunc("log")
log1p = ufunc("log1p")
expm1 = ufunc("expm1")
sqrt = ufunc("sqrt")
square = ufunc("square")
tanh = ufunc("tanh")
sin = ufunc("sin")
cos = ufunc("cos")
maximum = ufunc("maximum")
minimum = ufunc("minimum")
fmax = ufunc("fmax")
fmin = ufunc("fmin")
greater = ufunc("greater")
greater_equal = ufunc("greater_equal")
less = ufunc("less")
less_equal = ufunc("less_equal")
equal = ufunc("equal")
not_equal = ufunc("not_equal")
logical_and = ufunc("logical_and")
logical_or = ufunc("logical_or")
logical_not = ufunc("logical_not")
logical_xor = ufunc("logical_xor")
bitwise_and = ufunc("bitwise_and")
bitwise_or = ufunc("bitwise_or")
bitwise_xor = ufunc("bitwise_xor")
invert = ufunc("invert")
isfinite = ufunc("isfinite")
isnan = ufunc("isnan")
isinf = ufunc("isinf")
abs = absolute  # CuPy's alias


def isposinf(x: ndarray) -> ndarray:
    _launch()
    return _wrap(numpy.isposinf(_operand(x, "isposinf")))


def isneginf(x: ndarray) -> ndarray:
    _launch()
    return _wrap(numpy.isneginf(_operand(x, "isneginf")))


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:
        return nonzero(condition)
    _launch()
    parts = [_operand(v, "where") for v in (condition, x, y)]
    return _wrap(numpy.where(*parts))


def nonzero(a: ndarray) -> tuple[ndarray, ...]:
    counts.syncs += 1  # the number of results is read back
    _launch()
    return tuple(_wrap(i) for i in numpy.nonzero(_operand(a, "nonzero")))


def clip(a: ndarray, a_min: Any = None, a_max: Any = None, out: Any = None) -> ndarray:
    kwargs = {"out": out}
    _check_out(kwargs)
    _launch()
    result = numpy.clip(_operand(a, "clip"), a_min, a_max, out=kwargs["out"])
    return out if out is not None else _wrap(result)


def matmul(a: Any, b: Any, out: Any = None) -> ndarray:
    kwargs = {"out": out}
    _check_out(kwargs)
    _launch()
    result = numpy.matmul(_operand(a, "matmul"), _operand(b, "matmul"), out=kwargs["out"])
    return out if out is not None else _wrap(result)


dot = matmul


# ----- reductions ---------------------------------------------------------------------------
def _reduction(name: str) -> Any:
    def reduce(a: ndarray, *args: Any, **kwargs: Any) -> ndarray:
        _check_out(kwargs)
        _launch()
        return _wrap(numpy.asarray(getattr(numpy, name)(_operand(a, name), *args, **kwargs)))

    reduce.__name__ = name
    return reduce


sum = _reduction("sum")
mean = _reduction("mean")
max = _reduction("max")
min = _reduction("min")
amax = _reduction("amax")
amin = _reduction("amin")
argmax = _reduction("argmax")
argmin = _reduction("argmin")
any = _reduction("any")
all = _reduction("all")
prod = _reduction("prod")
nanmin = _reduction("nanmin")
nanmax = _reduction("nanmax")


# ----- shapes -------------------------------------------------------------------------------
def reshape(a: ndarray, shape: Any) -> ndarray:
    return a.reshape(shape)


def transpose(a: ndarray, axes: Any = None) -> ndarray:
    return a.transpose(axes)


def broadcast_to(a: ndarray, shape: Any) -> ndarray:
    return _wrap(numpy.broadcast_to(_operand(a, "broadcast_to"), shape))


def concatenate(arrays: Any, axis: int = 0) -> ndarray:
    _launch()
    return _wrap(numpy.concatenate([_operand(a, "concatenate") for a in arrays], axis=axis))


def stack(arrays: Any, axis: int = 0) -> ndarray:
    _launch()
    return _wrap(numpy.stack([_operand(a, "stack") for a in arrays], axis=axis))


def split(a: ndarray, indices: Any, axis: int = 0) -> list[ndarray]:
    return [_wrap(part) for part in numpy.split(_operand(a, "split"), indices, axis=axis)]


def take(a: ndarray, indices: Any, axis: Any = None) -> ndarray:
    return a.take(indices, axis=axis)


def take_along_axis(a: ndarray, indices: ndarray, axis: int) -> ndarray:
    _launch()
    return _wrap(
        numpy.take_along_axis(_operand(a, "take_along_axis"), _device_index(indices), axis)
    )


def pad(a: ndarray, pad_width: Any, mode: str = "constant", **kwargs: Any) -> ndarray:
    _launch(2)  # CuPy fills the border, then copies the array in
    return _wrap(numpy.pad(_operand(a, "pad"), pad_width, mode=mode, **kwargs))


def unique(a: ndarray, **kwargs: Any) -> Any:
    counts.syncs += 1
    _launch(3)
    return _wrap(numpy.unique(_operand(a, "unique"), **kwargs))


class _StrideTricks:
    @staticmethod
    def as_strided(x: ndarray, shape: Any = None, strides: Any = None) -> ndarray:
        return _wrap(numpy.lib.stride_tricks.as_strided(x._a, shape=shape, strides=strides))


class _Lib:
    stride_tricks = _StrideTricks()


lib = _Lib()

# ----- dtypes and constants: NumPy's own, as in CuPy -----------------------------------------
bool_ = numpy.bool_
int8 = numpy.int8
int16 = numpy.int16
int32 = numpy.int32
int64 = numpy.int64
uint8 = numpy.uint8
uint16 = numpy.uint16
uint32 = numpy.uint32
uint64 = numpy.uint64
float16 = numpy.float16
float32 = numpy.float32
float64 = numpy.float64
intp = numpy.intp
uintp = numpy.uintp
generic = numpy.generic
number = numpy.number
integer = numpy.integer
signedinteger = numpy.signedinteger
unsignedinteger = numpy.unsignedinteger
floating = numpy.floating
inexact = numpy.inexact
dtype = numpy.dtype
finfo = numpy.finfo
iinfo = numpy.iinfo
issubdtype = numpy.issubdtype
result_type = numpy.result_type
can_cast = numpy.can_cast
newaxis = numpy.newaxis
pi = numpy.pi
inf = numpy.inf
nan = numpy.nan
e = numpy.e


# ----- cuda: one device that always answers --------------------------------------------------
class _Device:
    def __init__(self, device: int = 0) -> None:
        self.id = device

    @property
    def mem_info(self) -> tuple[int, int]:
        return DEVICE_MEMORY_BYTES, DEVICE_MEMORY_BYTES

    def synchronize(self) -> None:
        counts.syncs += 1

    def __enter__(self) -> _Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class _Stream:
    def synchronize(self) -> None:
        counts.syncs += 1


class _Runtime:
    @staticmethod
    def getDeviceCount() -> int:  # noqa: N802  (CUDA's name)
        return 1

    @staticmethod
    def deviceSynchronize() -> None:  # noqa: N802  (CUDA's name)
        counts.syncs += 1


cuda = types.SimpleNamespace(
    Device=_Device,
    runtime=_Runtime(),
    is_available=lambda: True,
    get_current_stream=lambda: _Stream(),
    Stream=_Stream,
)

_MODULE = sys.modules[__name__]


def install_as_cupy() -> types.ModuleType:
    """This module, ready to be put in ``sys.modules["cupy"]`` (its counters reset)."""
    counts.reset()
    return _MODULE
