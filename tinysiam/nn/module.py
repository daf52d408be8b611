"""Module and Parameter: the containers that networks are built from.

A :class:`Module` finds its parameters and submodules by looking at its own attributes, so a
layer only has to assign them:

    class TwoLayer(Module):
        def __init__(self):
            self.hidden = Dense(784, 128)      # a submodule
            self.out = Dense(128, 2)

        def forward(self, x):                  # x: (N, 784) -> (N, 2)
            return self.out(F.relu(self.hidden(x)))

Parameters and modules held inside lists or tuples are found too (``self.blocks = [...]`` gives
names such as ``"blocks.0.weight"``). A module reached twice (the shared branch of a twin
network) is visited once, so each parameter is listed once and gets one entry in the state dict.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..backend import check_device, to_device, to_numpy
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a module learns: always a leaf that requires grad.

    Args:
        data: a float numpy or cupy array (or a Tensor, whose array is used).

    Example:
        >>> w = Parameter(np.zeros((2, 3), np.float32))
        >>> w.requires_grad
        True
    """

    def __init__(self, data: Any) -> None:
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=True)

    def __repr__(self) -> str:
        device = f", device={self.device!r}" if self.device != "cpu" else ""
        return f"Parameter(shape={self.shape}, dtype={self.dtype}{device})"


class Module:
    """Base class of layers and networks. Subclasses define ``forward``; calling a module runs it.

    Attributes:
        training: True in training mode, False in inference mode (see :meth:`train`, :meth:`eval`).
    """

    training: bool = True  # a class default, so subclasses need not call super().__init__()

    def forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs: Any) -> Any:
        for i, x in enumerate(inputs):
            if hasattr(x, "__array__") and not isinstance(x, Tensor):  # a numpy or cupy array
                raise TypeError(
                    f"{type(self).__name__}: input {i} must be a Tensor, got {type(x).__name__}; "
                    "wrap arrays with tinysiam.tensor(x, device=...)"
                )
        return self.forward(*inputs)

    # ----- what the module holds -----------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Parameter | Module]]:
        """(name, value) of each Parameter or Module held directly, lists and tuples opened."""
        for name, value in vars(self).items():
            yield from _flatten(name, value)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module (named ``prefix``) and every submodule, each once.

        Depth first, in attribute order: for ``Sequential(Dense(2, 3), ReLU())`` the names are
        "", "0", "1". A module reached twice (a shared branch) comes the first time only.

        Course task 7.1 (docs/build-it-yourself.md).
        """
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(_join(name, n), m) for n, m in module._members() if isinstance(m, Module)]
            stack.extend(reversed(children))  # depth first, in attribute order

    def modules(self) -> Iterator[Module]:
        """This module and every submodule, each once."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs such as ("0.weight", ...), each parameter once.

        The order of :meth:`named_modules`, and within one module the order its parameters were
        assigned in: ``Sequential(Dense(2, 3), Dense(3, 1))`` gives "0.weight", "0.bias",
        "1.weight", "1.bias".

        Course task 7.1 (docs/build-it-yourself.md).
        """
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, value in module._members():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield _join(prefix, name), value

    def parameters(self) -> list[Parameter]:
        """Every parameter, each once (a shared module's parameters are not repeated)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set ``.grad`` to None)."""
        for p in self.parameters():
            p.grad = None

    # ----- modes and devices ---------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or inference mode on this module and all submodules."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Inference mode: the same as ``train(False)``."""
        return self.train(False)

    def to(self, device: str | None = None, dtype: Any = None) -> Module:
        """Move the parameters to ``device`` and/or cast them to ``dtype``, in place.

        The Parameter objects stay the same (only their arrays change), so an optimiser built
        before the move keeps working. Gradients move too; a cast drops them.

        Args:
            device: "cpu" or "cuda", or None to stay.
            dtype: a floating dtype such as ``np.float64`` (gradient checks), or None to keep.

        Returns:
            self, so that ``net = Net().to("cuda")`` reads naturally.
        """
        if device is not None:
            check_device(device)
        if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(
                f"to(): parameters must stay floating point, got dtype {np.dtype(dtype)}"
            )
        for p in self.parameters():
            if dtype is not None and p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                p.grad = None
            if device is not None:
                p.data = to_device(p.data, device)
                if p.grad is not None:
                    p.grad = to_device(p.grad, device)
        return self

    # ----- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """name -> a numpy copy of that parameter's values (host memory, whatever the device).

        In the order of :meth:`named_parameters`: ``{"0.weight": (3, 2), "0.bias": (3,), ...}``.

        Course task 7.2 (docs/build-it-yourself.md).
        """
        return OrderedDict((name, to_numpy(p.data).copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy values from ``state`` (as made by :meth:`state_dict`) into the parameters, in place.

        Strict: every parameter needs an entry of its shape, and every entry a parameter.
        The values are cast to each parameter's dtype and copied to its device.

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: listing the missing, unexpected and mis-shaped entries (expected vs
                found shape).

        Course task 7.2 (docs/build-it-yourself.md).
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict into {type(self).__name__}: state must be a dict of arrays, "
                f"got {type(state).__name__}"
            )
        params = OrderedDict(self.named_parameters())
        problems = [
            f"missing entry {name!r} (expected shape {p.shape})"
            for name, p in params.items()
            if name not in state
        ]
        problems += [f"unexpected entry {name!r}" for name in state if name not in params]
        problems += [
            f"entry {name!r} has shape {tuple(np.shape(state[name]))}, expected {p.shape}"
            for name, p in params.items()
            if name in state and tuple(np.shape(state[name])) != p.shape
        ]
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for name, p in params.items():
            values = to_numpy(state[name]).astype(
                p.dtype, copy=False
            )  # numpy or cupy in, numpy here
            p.data[...] = to_device(values, p.device)

    # ----- printing ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of the repr, e.g. "784, 1024, init='he'"."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [(name, value) for name, value in self._members() if isinstance(value, Module)]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [f"  {extra}"] if extra else []
        lines += [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return "\n".join([f"{type(self).__name__}("] + lines + [")"])


def _flatten(name: str, value: Any) -> Iterator[tuple[str, Parameter | Module]]:
    """(name, value) if ``value`` is a Parameter or Module; inside lists and tuples, each one
    with its index: ``_flatten("blocks", [Dense(2, 3), ReLU()])`` gives ("blocks.0", ...) and
    ("blocks.1", ...). Anything else (numbers, strings, plain tensors) gives nothing.

    Course task 7.1 (docs/build-it-yourself.md).
    """
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _flatten(f"{name}.{i}", item)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
