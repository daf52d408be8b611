"""SGD and Adam as their formulas: one line per formula, on whole arrays.

They take the same arguments, check the same settings, keep the same state and give the same
updates (to rounding) as :class:`tinysiam.optim.SGD` and :class:`tinysiam.optim.Adam`, whose
``step`` is written for speed instead (cache-sized blocks, ``out=`` ufuncs, Adam's bias
corrections folded into two scalars). The parameters, their state, ``state_dict`` and the checks
of the settings come from the base class, :class:`tinysiam.optim.base.Optimizer`; ``step`` is
all that is written here.

    opt = ReferenceAdam(net.parameters(), lr=1e-3)
"""

from __future__ import annotations

from collections.abc import Iterable

from ..optim.base import Optimizer, as_tuple
from ..tensor import Tensor


class ReferenceSGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (PyTorch's formulation).

        without momentum:  p <- p - lr g
        with momentum:     b <- momentum b + g   (b = 0 before the first step);   p <- p - lr b

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
        self._check_hyperparameters()  # the rules of the base module, as SGD checks them

    def step(self) -> None:
        """One update of every parameter that has a gradient.

        State: ``self.params[i]`` is parameter i (update ``p.data`` in place) and ``self.state[i]``
        its dict; ``self._buffers(i, names)`` returns that dict with a zero array (p's shape, device
        and dtype) under each of ``names`` made at first use. The step counter lives there too,
        ``state["step"]``: this method adds 1 for each parameter it updates, so t is counted per
        parameter and a parameter without a gradient neither moves nor counts. With momentum the
        buffer b is ``state["momentum_buffer"]``; without momentum there is no buffer.

        Course task 11.1 (docs/build-it-yourself.md).
        """
        for i, p in enumerate(self.params):
            if p.grad is None:  # unused in this iteration
                continue
            state = self._buffers(i, ("momentum_buffer",) if self.momentum else ())
            state["step"] = state.get("step", 0) + 1
            if self.momentum:
                state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + p.grad
                p.data -= self.lr * state["momentum_buffer"]
            else:
                p.data -= self.lr * p.grad


class ReferenceAdam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction, as ``torch.optim.Adam`` computes it.

    At step t (counted per parameter, from 1), for each parameter p with gradient g:

        m     <- b1 m + (1 - b1) g          first moment: a decaying mean of the gradients
        v     <- b2 v + (1 - b2) g^2        second moment: a decaying mean of their squares
        m_hat =  m / (1 - b1^t)             bias corrections: m and v start at 0, which pulls
        v_hat =  v / (1 - b2^t)             early averages towards 0; this undoes it
        p     <- p - lr m_hat / (sqrt(v_hat) + eps)

    Args:
        params: the tensors to train.
        lr: learning rate (> 0).
        betas: (b1, b2), each in [0, 1).
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
        self._check_hyperparameters()  # the rules of the base module, as Adam checks them

    def step(self) -> None:
        """One update of every parameter that has a gradient.

        State: ``self.params[i]`` is parameter i (update ``p.data`` in place) and ``self.state[i]``
        its dict; ``self._buffers(i, names)`` returns that dict with a zero array (p's shape, device
        and dtype) under each of ``names`` made at first use. The step counter lives there too,
        ``state["step"]``: this method adds 1 for each parameter it updates, so t is counted per
        parameter and a parameter without a gradient neither moves nor counts. The moments are
        ``state["m"]`` and ``state["v"]``.

        Course task 11.2 (docs/build-it-yourself.md).
        """
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            state = self._buffers(i, ("m", "v"))
            t = state["step"] = state.get("step", 0) + 1
            g = p.grad
            state["m"] = b1 * state["m"] + (1 - b1) * g
            state["v"] = b2 * state["v"] + (1 - b2) * g**2
            m_hat = state["m"] / (1 - b1**t)
            v_hat = state["v"] / (1 - b2**t)
            p.data -= self.lr * m_hat / (v_hat**0.5 + self.eps)
