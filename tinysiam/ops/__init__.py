"""Every differentiable op of tinysiam, each a :class:`tinysiam.Function` on raw arrays.

Rules every op follows:

* Ops never import numpy: they ask ``backend.get_array_module(x)`` for the array module of their
  inputs, so one body serves numpy ("cpu") and cupy ("cuda").
* An op's tensor inputs share one device and one dtype (a bool mask mixes with any); anything
  else is an error naming both (``Function.apply`` checks it). There is no silent promotion:
  convert with ``Tensor.astype``. A Python number mixed with a tensor takes the tensor's dtype.
* Ties of a max: the first winner takes the whole gradient. :class:`Max` gives it to the first
  maximum in row-major order over the reduced axes, :class:`MaxPool2dOp` to the first maximum of
  each window in row-major order (what ``argmax`` picks), :class:`Maximum` to ``a`` when
  ``a == b``. Any share of the gradient among tied elements is a valid subgradient; one rule
  makes the three agree, and the fast and reference implementations match exactly.
"""

from .conv import Conv2dOp
from .elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    Log,
    Log1p,
    Maximum,
    Mul,
    Neg,
    Pow,
    ReLUOp,
    SigmoidOp,
    Sqrt,
    Sub,
)
from .linalg import DenseOp, MatMul
from .pool import MaxPool2dOp
from .reduce import Max, Mean, Sum
from .shape import (
    Concatenate,
    GetItem,
    Reshape,
    Stack,
    Transpose,
    concatenate,
    flatten,
    normalise_index,
    stack,
)

__all__ = [
    "Abs",
    "Add",
    "Cast",
    "Clip",
    "Concatenate",
    "Conv2dOp",
    "Div",
    "Exp",
    "GetItem",
    "DenseOp",
    "Log",
    "Log1p",
    "MatMul",
    "Max",
    "MaxPool2dOp",
    "Maximum",
    "Mean",
    "Mul",
    "Neg",
    "Pow",
    "ReLUOp",
    "Reshape",
    "SigmoidOp",
    "Sqrt",
    "Stack",
    "Sub",
    "Sum",
    "Transpose",
    "concatenate",
    "flatten",
    "normalise_index",
    "stack",
]
