"""The base of every optimiser: its parameters, their state, saving and loading, checked settings.

An optimiser subclasses :class:`Optimizer`, names its settings in ``HYPERPARAMETERS`` and the
arrays it keeps per parameter in ``STATE_ARRAYS``, and writes ``step``. The checks of the
settings live here, one function per setting (:data:`SETTING_CHECKS`), so that two optimisers of
the same algorithm (:class:`tinysiam.optim.Adam` and :class:`tinysiam.reference.ReferenceAdam`)
refuse the same settings with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..backend import device_of, get_array_module, to_device, to_numpy
from ..checks import check_numbers
from ..tensor import Tensor


def check_lr(owner: str, lr: Any) -> None:
    """Raise unless the learning rate is a number > 0 (``owner`` names the optimiser)."""
    check_numbers(owner, lr=lr)
    if not lr > 0:
        raise ValueError(f"{owner}: lr must be > 0, got {lr}")


def check_momentum(owner: str, momentum: Any) -> None:
    """Raise unless SGD's momentum is a number in [0, 1)."""
    check_numbers(owner, momentum=momentum)
    if not 0 <= momentum < 1:
        raise ValueError(f"{owner}: momentum must be in [0, 1), got {momentum}")


def check_betas(owner: str, betas: Any) -> None:
    """Raise unless Adam's betas are a pair (b1, b2) of numbers, each in [0, 1)."""
    if not isinstance(betas, tuple) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair (b1, b2), got {betas!r}")
    check_numbers(owner, b1=betas[0], b2=betas[1])
    if not all(0 <= b < 1 for b in betas):
        raise ValueError(f"{owner}: betas must be two numbers in [0, 1), got {betas}")


def check_eps(owner: str, eps: Any) -> None:
    """Raise unless Adam's eps is a number >= 0."""
    check_numbers(owner, eps=eps)
    if not eps >= 0:
        raise ValueError(f"{owner}: eps must be >= 0, got {eps}")


# The rule of each setting, by name; the learning rate, which every optimiser has, is always
# checked (check_lr).
SETTING_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "momentum": check_momentum,
    "betas": check_betas,
    "eps": check_eps,
}


class Optimizer:
    """Base class: holds the parameters and one state dict per parameter.

    Subclasses define ``step`` and name the arrays of their per-parameter state in
    ``STATE_ARRAYS`` (saved by :meth:`state_dict`) and their settings in ``HYPERPARAMETERS``
    (saved too, and checked by :meth:`_check_hyperparameters` with the rules of
    :data:`SETTING_CHECKS`; a subclass with a setting of its own checks it in an override).
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
            setattr(self, name, as_tuple(state_dict[name]))
        self._check_hyperparameters()
        for i, (p, entry) in enumerate(zip(self.params, entries, strict=True)):
            self.state[i] = {
                k: to_device(to_numpy(v).astype(p.dtype), p.device) if k in self.STATE_ARRAYS else v
                for k, v in entry.items()
            }

    def _check_hyperparameters(self) -> None:
        """Raise unless lr and each setting of ``HYPERPARAMETERS`` with a rule are valid."""
        owner = type(self).__name__
        check_lr(owner, self.lr)
        for name in self.HYPERPARAMETERS:
            if name in SETTING_CHECKS:
                SETTING_CHECKS[name](owner, getattr(self, name))


def as_tuple(value: Any) -> Any:
    """A list as a tuple (betas given as [0.9, 0.99], or back from JSON); anything else as is."""
    return tuple(value) if isinstance(value, list) else value


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a state dict survives a JSON round trip unchanged."""
    return list(value) if isinstance(value, tuple) else value
