"""Tensor: an array on a device, plus what reverse-mode autodiff needs to know about it."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import autograd
from .backend import array_module, check_device, device_of, get_array_module, to_device, to_numpy
from .checks import check_broadcastable, check_op_inputs
from .checks import check_float as check_float  # re-exported: layers and losses import it here

_FLOAT_DEFAULT = np.float32  # Python floats become float32, the training precision


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    Attributes:
        data: the values, a numpy array ("cpu") or cupy array ("cuda").
        grad: d(loss)/d(self) after ``backward``, same shape and device as ``data``; None before.
        requires_grad: whether gradients flow to (and are kept for) this tensor.

    A tensor made by an op remembers the op in ``_node`` (see :mod:`tinysiam.autograd`); a tensor
    made by the user is a *leaf*, and leaves that require grad receive ``.grad``.

    Example:
        >>> x = tinysiam.tensor([[1.0, 2.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad            # dy/dx = 2x
        array([[2., 4.]], dtype=float32)
    """

    # Above CuPy's 100 (NumPy's is 0): `array * Tensor` then calls Tensor.__rmul__ for numpy and
    # cupy arrays alike, since CuPy hands an operator over only to a strictly higher priority.
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        xp = get_array_module(data)
        if not isinstance(data, xp.ndarray):
            raise TypeError(
                f"Tensor wraps a numpy or cupy array, got {type(data).__name__}; "
                "use tinysiam.tensor()"
            )
        if requires_grad and not xp.issubdtype(data.dtype, xp.floating):
            raise TypeError(f"only floating-point tensors can require grad, got dtype {data.dtype}")
        self.data = data
        self.grad: Any = None
        self.requires_grad = requires_grad
        self._node: autograd.Node | None = None

    @classmethod
    def _from_op(cls, data: Any, requires_grad: bool) -> Tensor:
        """Wrap an op's result; full reductions give numpy scalars, made 0-d arrays here."""
        return cls(get_array_module(data).asarray(data), requires_grad=requires_grad)

    # ----- what the tensor is -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def device(self) -> str:
        return device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self) -> int:
        return len(self.data)

    # ----- Python's number protocols: one-element tensors as numbers ----------------------------
    def __float__(self) -> float:
        return float(self._one_element("float()"))

    def __int__(self) -> int:
        return int(self._one_element("int()"))

    def __bool__(self) -> bool:
        """The truth of a one-element tensor; a mask of several elements is ambiguous."""
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "reduce the mask first, e.g. bool((a > b).numpy().all())"
            )
        return bool(self.data.item())

    def _one_element(self, what: str) -> float | int:
        if self.data.size != 1:
            raise ValueError(f"{what} needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        device = f", device={self.device!r}" if self.device != "cpu" else ""
        return f"tensor({to_numpy(self.data)!r}{device}{grad})"

    # ----- leaving the graph, changing device --------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a host numpy array (copied from the GPU when needed)."""
        return to_numpy(self.data)

    def item(self) -> float | int:
        """The value of a one-element tensor as a Python number."""
        return self._one_element("item()")

    def detach(self) -> Tensor:
        """The same values, cut from the graph (no grad flows back through it)."""
        return Tensor(self.data)

    def to(self, device: str) -> Tensor:
        """A copy on ``device`` ("cpu" or "cuda"); self if it is already there."""
        if self.device == check_device(device):
            return self
        return Tensor(to_device(self.data, device), requires_grad=self.requires_grad)

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate gradients of this tensor into the ``.grad`` of every leaf it depends on.

        Args:
            grad: d(loss)/d(self), an array or Tensor of self's shape; default 1 for a scalar.
            retain_graph: keep the graph so backward can be called through it again.
        """
        if isinstance(grad, Tensor):
            grad = grad.data
        autograd.backward(self, grad, retain_graph=retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    # ----- operators (the ops live in tinysiam.ops) ------------------------------------------
    def _lift(self, other: Any) -> Tensor:
        """A Python number or array as a constant tensor of self's dtype and device."""
        if isinstance(other, Tensor):
            return other
        xp = get_array_module(other)  # a cupy array stays on its device (the op names a mismatch)
        if xp is np:
            xp = get_array_module(self.data)
        return Tensor(xp.asarray(other, dtype=self.dtype))

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, self._lift(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(self._lift(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, self._lift(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self._lift(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, self._lift(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self._lift(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self._lift(other), self)

    def __pow__(self, exponent: Any) -> Tensor:
        return ops.Pow.apply(self, self._lift(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        return ops.Pow.apply(self._lift(base), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def __matmul__(self, other: Tensor) -> Tensor:
        return ops.MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self._lift(other), self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=ops.normalise_index(index))

    # ----- comparisons: masks, outside the graph ------------------------------------------------
    # ``a < b`` is a bool tensor of the broadcast shape that requires no grad (a comparison is
    # a step function: its derivative is 0 wherever it exists). Use it to select or weight:
    # ``x * (x > 0)``, ``x[x > 0]``. Like PyTorch and NumPy, ``==`` and ``!=`` compare
    # elementwise too; a tensor still hashes by identity, so it can key a dict or sit in a set.
    __hash__ = object.__hash__

    def _compare(self, other: Any, op_name: str) -> Any:
        xp = get_array_module(self.data)
        if not isinstance(other, Tensor | numbers.Real | xp.ndarray):
            return NotImplemented
        other = self._lift(other)
        check_op_inputs(op_name, (self, other))
        check_broadcastable(op_name, self.data, other.data)
        # asarray: NumPy returns a bare numpy.bool_ when both sides are 0-d.
        return Tensor(xp.asarray(getattr(xp, op_name)(self.data, other.data)))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, "less")

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, "less_equal")

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, "greater")

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, "greater_equal")

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, "equal")

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, "not_equal")

    # ----- elementwise and reductions as methods ----------------------------------------------
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def log1p(self) -> Tensor:
        return ops.Log1p.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLUOp.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.SigmoidOp.apply(self)

    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        return ops.Clip.apply(self, low=low, high=high)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in ``dtype``; between float dtypes the gradient flows back, cast to self's.

        Example: ``weight.astype("float32")`` before mixing it with float32 inputs.
        """
        dtype = _numeric_dtype(dtype, "dtype")
        if dtype.kind != "f":  # integer and bool tensors cannot carry a gradient
            return Tensor(self.data.astype(dtype))
        return ops.Cast.apply(self, dtype=dtype)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    # ----- shape ---------------------------------------------------------------------------
    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim: int = 1) -> Tensor:
        """Merge all axes from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W) by default."""
        return ops.flatten(self, start_dim)

    def transpose(self, *axes: int) -> Tensor:
        return ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self) -> Tensor:
        return self.transpose()


def tensor(
    data: Any, requires_grad: bool = False, dtype: Any = None, device: str = "cpu"
) -> Tensor:
    """Build a tensor from a number, nested list, numpy or cupy array.

    Python floats become float32 (the training precision); numpy arrays keep their dtype
    unless ``dtype`` is given (gradient checks pass float64 arrays).

    Args:
        data: the values.
        requires_grad: whether this leaf should receive ``.grad``.
        dtype: e.g. ``"float32"`` or ``np.float64``; default keeps ``data``'s dtype.
        device: "cpu" or "cuda".

    Example:
        >>> tinysiam.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True).shape
        (2, 2)
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = _numeric_dtype(dtype, "dtype")
    if dtype is None and not hasattr(data, "dtype"):
        probe = _from_python(data)
        dtype = _FLOAT_DEFAULT if probe.dtype.kind == "f" else _numeric_dtype(probe.dtype, "data")
    if hasattr(data, "dtype"):  # an array (or numpy scalar): move it first, then copy
        _numeric_dtype(data.dtype, "data")
        data = to_device(data, device)
    array = array_module(device).array(data, dtype=dtype)
    return Tensor(array, requires_grad=requires_grad)


def _from_python(data: Any) -> np.ndarray:
    """A number or nested list as a numpy array, with a clear error for ragged lists."""
    try:
        return np.asarray(data)
    except ValueError:
        raise ValueError(
            "tensor: data must be a number or a rectangular nested list (rows of equal length), "
            f"got ragged {_short(data)}"
        ) from None


def _numeric_dtype(dtype: Any, what: str) -> np.dtype:
    """``dtype`` as a numpy dtype, if it is one of numbers (bool, int, float)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"tensor: dtype must be a numpy dtype such as 'float32', got {dtype!r}"
        ) from None
    if dtype.kind not in "biuf":
        raise TypeError(f"tensor: {what} must hold numbers (bool, int or float), got dtype {dtype}")
    return dtype


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


from . import ops  # noqa: E402  (ops import Tensor; imported last to close the cycle)
