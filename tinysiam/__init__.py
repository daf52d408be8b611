"""tinysiam: a minimal tensor and reverse-mode autodiff engine for Siamese networks.

Arrays live on NumPy ("cpu") or CuPy ("cuda"); the same op code serves both.
"""

from . import losses, nn, optim, reference, viz
from .anomaly import AnomalyError, detect_anomaly
from .autograd import Context, Function, is_grad_enabled, no_grad
from .backend import cuda_available
from .checkpoint import CheckpointError, load, save
from .gradcheck import GradcheckError, gradcheck
from .memory import keep_freed_memory
from .ops import concatenate, stack
from .random import default_generator, manual_seed
from .tensor import Tensor, tensor

__all__ = [
    "AnomalyError",
    "detect_anomaly",
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "concatenate",
    "cuda_available",
    "gradcheck",
    "is_grad_enabled",
    "keep_freed_memory",
    "no_grad",
    "stack",
    "tensor",
    "CheckpointError",
    "default_generator",
    "load",
    "losses",
    "manual_seed",
    "nn",
    "optim",
    "reference",
    "save",
    "viz",
]
