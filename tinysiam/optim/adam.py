"""Adam written for speed: the bias corrections folded into two scalars, in place, in blocks.

:class:`tinysiam.reference.ReferenceAdam` is the same update as its formulas, one line each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .base import Optimizer, as_tuple
from .blocks import cache_blocks


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction: the update of ``torch.optim.Adam``.

    At step t, for each parameter p with gradient g:

        m <- b1 m + (1 - b1) g                     first moment (gradient decay)
        v <- b2 v + (1 - b2) g^2                   second moment (squared-gradient decay)
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    The bias corrections undo the zero start of m and v: at t = 1 the update is
    lr * g / (|g| + eps), a step of size lr whatever the gradient's scale.

    ``step`` computes the last line as Kingma and Ba suggest (end of their section 2), with the
    corrections folded into two scalars, one pass over the arrays fewer:

        p <- p - lr_t * m / (sqrt(v) + eps_t),
        lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),   eps_t = eps sqrt(1 - b2^t)

    Args:
        params: the tensors to train.
        lr: learning rate (> 0); the reference experiments use 1e-4 and 6e-5.
        betas: (b1, b2), each in [0, 1); the reference experiments use (0.9, 0.99).
        eps: added to the denominator (>= 0).
    """

    STATE_ARRAYS = ("m", "v")
    HYPERPARAMETERS = ("lr", "betas", "eps")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params)
        self.lr, self.betas, self.eps = lr, as_tuple(betas), eps
        self._check_hyperparameters()

    def step(self) -> None:
        """One update of every parameter that has a gradient (each keeps its own step count t)."""
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            state = self._buffers(i, ("m", "v"))
            t = state["step"] = state.get("step", 0) + 1
            root_correction2 = math.sqrt(1 - b2**t)
            step_size, eps_t = self.lr * root_correction2 / (1 - b1**t), self.eps * root_correction2
            xp = get_array_module(p.data)
            for weights, g, m, v, s in cache_blocks(p.data, p.grad, state["m"], state["v"]):
                m *= b1  # m = b1 m + (1 - b1) g
                xp.multiply(g, 1 - b1, out=s)
                m += s
                v *= b2  # v = b2 v + (1 - b2) g^2
                xp.multiply(g, g, out=s)
                s *= 1 - b2
                v += s
                xp.sqrt(v, out=s)  # s = sqrt(v) + eps_t
                s += eps_t
                xp.divide(m, s, out=s)  # p -= lr_t * m / s
                s *= step_size
                weights -= s
