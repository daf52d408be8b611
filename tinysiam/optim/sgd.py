"""SGD written for speed: in place, ``out=`` ufuncs, a cache-sized block at a time on the CPU.

:class:`tinysiam.reference.ReferenceSGD` is the same update as its formula, one line each.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .base import Optimizer
from .blocks import cache_blocks


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (PyTorch's formulation).

        without momentum:  p <- p - lr g
        with momentum:     b <- momentum b + g  (b = 0 before the first step);  p <- p - lr b

    Args:
        params: the tensors to train, e.g. ``net.parameters()``.
        lr: learning rate (> 0).
        momentum: in [0, 1); 0 for plain gradient descent.
    """

    STATE_ARRAYS = ("momentum_buffer",)
    HYPERPARAMETERS = ("lr", "momentum")

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params)
        self.lr, self.momentum = lr, momentum
        self._check_hyperparameters()

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            state = self._buffers(i, ("momentum_buffer",) if self.momentum else ())
            state["step"] = state.get("step", 0) + 1
            xp = get_array_module(p.data)
            if self.momentum:
                for weights, g, buf, s in cache_blocks(p.data, p.grad, state["momentum_buffer"]):
                    buf *= self.momentum
                    buf += g
                    xp.multiply(buf, self.lr, out=s)
                    weights -= s
            else:
                for weights, g, s in cache_blocks(p.data, p.grad):
                    xp.multiply(g, self.lr, out=s)
                    weights -= s
