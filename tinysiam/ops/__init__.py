"""Every differentiable op of tinysiam, each a :class:`tinysiam.Function` on raw arrays."""

from .conv import Conv2dOp
from .elementwise import (
    Abs,
    Add,
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
