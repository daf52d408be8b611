"""Every differentiable op of tinysiam, each a :class:`tinysiam.Function` on raw arrays."""

from .conv import Conv2d
from .elementwise import Abs, Add, Clip, Div, Exp, Log, Log1p, Maximum, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt, Sub
from .linalg import Linear, MatMul
from .pool import MaxPool2d
from .reduce import Max, Mean, Sum
from .shape import Concatenate, GetItem, Reshape, Stack, Transpose, concatenate, flatten, normalise_index, stack

__all__ = [
    "Abs", "Add", "Clip", "Concatenate", "Conv2d", "Div", "Exp", "GetItem", "Linear", "Log", "Log1p",
    "MatMul", "Max", "MaxPool2d", "Maximum", "Mean", "Mul", "Neg", "Pow", "ReLU", "Reshape", "Sigmoid",
    "Sqrt", "Stack", "Sub", "Sum", "Transpose", "concatenate", "flatten", "normalise_index", "stack",
]
