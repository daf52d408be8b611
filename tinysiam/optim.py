"""Optimisers: turn each parameter's gradient into an update of its values.

    opt = Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99))
    for batch in batches:
        opt.zero_grad()
        loss = loss_fn(net, batch)
        loss.backward()
        opt.step()

The update runs once per parameter per iteration, so it is written for speed: it works on the
raw arrays (numpy or cupy, on the parameter's own device), in place, with ufuncs that write
into existing arrays (``out=``). On the CPU it goes through each parameter a cache-sized block
at a time (:func:`cache_blocks`). Gradients are only read, never written: the engine may hand
one gradient array to several tensors. Parameters whose ``.grad`` is None (unused in this
iteration) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .backend import device_of, get_array_module, to_device, to_numpy
from .checks import check_numbers
from .tensor import Tensor

CACHE_BLOCK = 2**18  # elements of each array updated at a time on the CPU (1 MB in float32)


def cache_blocks(*arrays: Any) -> Iterator[tuple[Any, ...]]:
    """The same flat block of each (same-shaped) array in turn, and a scratch array of that shape.

    Yields (block of arrays[0], block of arrays[1], ..., scratch), CACHE_BLOCK elements at a time;
    one scratch array serves every block. An update is a dozen passes over its arrays (m *= b1,
    m += ..., v *= b2, ...). Over a whole layer each pass streams every array through main memory
    again: W2's 4096x6400 dense layer is 105 MB per array. Block by block, the later passes find
    the block in cache (5 arrays of 1 MB): Adam on that layer took 88 ms whole and 56 ms in blocks.

    The arrays come whole on the GPU, and when one is not C-contiguous (its flat view would be
    a copy, and an update written into a copy would be lost).
    """
    xp = get_array_module(arrays[0])
    if xp is not np or not all(a.flags.c_contiguous for a in arrays):
        yield (*arrays, xp.empty_like(arrays[0]))
        return
    flat = [a.reshape(-1) for a in arrays]
    scratch = xp.empty(min(flat[0].size, CACHE_BLOCK), dtype=arrays[0].dtype)
    for start in range(0, flat[0].size, CACHE_BLOCK):
        blocks = tuple(a[start : start + CACHE_BLOCK] for a in flat)
        yield (*blocks, scratch[: blocks[0].size])


class Optimizer:
    """Base class: holds the parameters and one state dict per parameter.

    Subclasses define ``step`` and name the arrays of their per-parameter state in
    ``STATE_ARRAYS`` (saved by :meth:`state_dict`) and their settings in ``HYPERPARAMETERS``.
    """

    STATE_ARRAYS: tuple[str, ...] = ()
    HYPERPARAMETERS: tuple[str, ...] = ()
    lr: float  # every optimiser has a learning rate (set by the subclass)

    def __init__(self, params: Iterable[Tensor]) -> None:
        if isinstance(params, Tensor) or not hasattr(params, "__iter__"):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors "
                "such as net.parameters(), "
                f"got {type(params).__name__}"
            )
        unique: dict[int, Tensor] = {}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                got = (
                    type(p).__name__
                    if not isinstance(p, Tensor)
                    else "a tensor with requires_grad=False"
                )
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} must be a tensor that requires grad "
                    f"(pass net.parameters()), got {got}"
                )
            unique.setdefault(id(p), p)
        if not unique:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self.params: list[Tensor] = list(unique.values())
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients (set each ``.grad`` to None; the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def _buffers(self, i: int, names: tuple[str, ...]) -> dict[str, Any]:
        """Parameter i's state; zero buffers ``names`` are made (its device, dtype) at first use.

        Buffers are also moved or recast here if the parameter was (``Module.to``) since.
        """
        p, state = self.params[i].data, self.state[i]
        for name in names:
            buffer = state.get(name)
            if buffer is None:
                state[name] = get_array_module(p).zeros_like(p)
            elif buffer.dtype != p.dtype or device_of(buffer) != device_of(p):
                state[name] = to_device(buffer, device_of(p)).astype(p.dtype, copy=False)
        return state

    # ----- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Settings and per-parameter state, arrays as numpy copies (loadable on either device).

        Returns:
            {"type": class name, <each hyperparameter>, "state": [one dict per parameter,
            in parameter order: "step" and the named buffers, or {} before its first step]}.
        """
        state = []
        for s in self.state:
            entry = {k: v for k, v in s.items() if k not in self.STATE_ARRAYS}
            entry.update({k: to_numpy(s[k]).copy() for k in self.STATE_ARRAYS if k in s})
            state.append(entry)
        settings = {name: _plain(getattr(self, name)) for name in self.HYPERPARAMETERS}
        return {"type": type(self).__name__, **settings, "state": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; buffers land on each parameter's device.

        Raises:
            ValueError: when the optimiser type, the number of parameters or a buffer's shape
                differs.
        """
        kind = state_dict.get("type")
        if kind != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state is for {kind!r}")
        entries = state_dict["state"]
        if len(entries) != len(self.params):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state has {len(entries)} "
                f"parameters, this optimiser {len(self.params)}"
            )
        for i, (p, entry) in enumerate(zip(self.params, entries, strict=True)):
            for name in self.STATE_ARRAYS:
                if name in entry and tuple(np.shape(entry[name])) != p.shape:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: parameter {i} {name!r} has shape "
                        f"{tuple(np.shape(entry[name]))}, expected {p.shape}"
                    )
        for name in self.HYPERPARAMETERS:
            setattr(
                self,
                name,
                tuple(state_dict[name]) if isinstance(state_dict[name], list) else state_dict[name],
            )
        self._check_hyperparameters()
        for i, (p, entry) in enumerate(zip(self.params, entries, strict=True)):
            self.state[i] = {
                k: to_device(to_numpy(v).astype(p.dtype), p.device) if k in self.STATE_ARRAYS else v
                for k, v in entry.items()
            }

    def _check_hyperparameters(self) -> None:
        check_numbers(type(self).__name__, lr=self.lr)
        if not self.lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be > 0, got {self.lr}")


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

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        check_numbers("SGD", momentum=self.momentum)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {self.momentum}")

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
        self.lr, self.betas, self.eps = (
            lr,
            tuple(betas) if isinstance(betas, (tuple, list)) else betas,
            eps,
        )
        self._check_hyperparameters()

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        if not isinstance(self.betas, tuple) or len(self.betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (b1, b2), got {self.betas!r}")
        check_numbers("Adam", b1=self.betas[0], b2=self.betas[1], eps=self.eps)
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {self.betas}")
        if not self.eps >= 0:
            raise ValueError(f"Adam: eps must be >= 0, got {self.eps}")

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


SCHEDULES = ("constant", "cosine")


def scheduled_lr(base: float, schedule: str, iteration: int, total: int) -> float:
    """The learning rate for 0-based ``iteration`` of ``total``.

    "constant": ``base`` throughout. "cosine": base * (1 + cos(pi * iteration / total)) / 2, which
    falls smoothly from ``base`` at the first iteration towards 0 at the last. Set it before each
    step: ``optimizer.lr = scheduled_lr(1e-3, "cosine", iteration, iterations)``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"scheduled_lr: schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}"
        )
    if not 0 <= iteration < total:
        raise ValueError(
            f"scheduled_lr: iteration must be in 0..{total - 1} (total {total}), got {iteration}"
        )
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * iteration / total))
    return base


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a state dict survives a JSON round trip unchanged."""
    return list(value) if isinstance(value, tuple) else value
