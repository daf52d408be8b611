"""Choosing the ops of a built network: every Conv2d and MaxPool2d on the reference or fast ops.

Each :class:`~tinysiam.nn.Conv2d` and :class:`~tinysiam.nn.MaxPool2d` runs the op its ``impl``
names: "fast" (:mod:`tinysiam.ops`, the default) or "reference" (:mod:`tinysiam.reference`, the
textbook version). These two functions set it for a whole network at once:

    net = use_reference_ops(koch_net())    # train on the ops you read first
    use_fast_ops(net)                      # and back
"""

from __future__ import annotations

from typing import TypeVar

from .layers import Conv2d, MaxPool2d
from .module import Module

ModuleT = TypeVar("ModuleT", bound=Module)


def use_reference_ops(module: ModuleT) -> ModuleT:
    """Switch every :class:`~tinysiam.nn.Conv2d` and :class:`~tinysiam.nn.MaxPool2d` in
    ``module`` (itself included, submodules at any depth) to the reference ops, in place.

    Parameters are untouched, so the state dict, an optimiser built before and the outputs (to
    rounding) all stay the same. Layers that call ``F.conv2d`` or ``F.max_pool2d`` themselves
    are not switched: pass ``impl="reference"`` there.

    Returns:
        ``module``, so that ``net = use_reference_ops(build_net())`` reads naturally.

    Raises:
        TypeError: ``module`` is not a :class:`~tinysiam.nn.Module`.
    """
    return _set_impl(module, "reference")


def use_fast_ops(module: ModuleT) -> ModuleT:
    """The inverse of :func:`use_reference_ops`: every Conv2d and MaxPool2d back to the fast ops."""
    return _set_impl(module, "fast")


def _set_impl(module: ModuleT, impl: str) -> ModuleT:
    if not isinstance(module, Module):
        raise TypeError(f"expected a tinysiam.nn.Module, got {type(module).__name__}")
    for layer in module.modules():
        if isinstance(layer, (Conv2d, MaxPool2d)):
            layer.impl = impl
    return module
