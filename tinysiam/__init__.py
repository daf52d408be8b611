"""tinysiam: a minimal tensor and reverse-mode autodiff engine for Siamese networks.

Arrays live on NumPy ("cpu") or CuPy ("cuda"); the same op code serves both.
"""

from .autograd import Context, Function, is_grad_enabled, no_grad
from .backend import cuda_available
from .gradcheck import GradcheckError, gradcheck
from .ops import concatenate, stack
from .tensor import Tensor, tensor

__all__ = [
    "Context", "Function", "GradcheckError", "Tensor", "concatenate", "cuda_available", "gradcheck",
    "is_grad_enabled", "no_grad", "stack", "tensor",
]
