"""Reference implementations: the textbook version of each op that :mod:`tinysiam.ops` optimises.

Read these first. Each computes the same numbers as its fast counterpart (the tests check it
to rounding, values and gradients), in the fewest and plainest lines:

* :mod:`.conv` - :func:`im2col`, :func:`col2im` and :class:`ReferenceConv2dOp` (conv2d as one
  whole-batch im2col and one matrix product) beside :class:`tinysiam.ops.Conv2dOp`;
* :mod:`.pool` - :class:`ReferenceMaxPool2dOp` (windows as columns, argmax, scatter) beside
  :class:`tinysiam.ops.MaxPool2dOp`;
* :mod:`.optim` - :class:`ReferenceSGD` and :class:`ReferenceAdam`, one line per formula,
  beside :class:`tinysiam.optim.SGD` and :class:`tinysiam.optim.Adam`.

They are real ops: a network trains on them, only more slowly. Choose per call, per layer or
for a whole network:

    F.conv2d(x, w, b, impl="reference")          # one call
    nn.Conv2d(1, 32, 5, impl="reference")         # one layer (the default is impl="fast")
    net = use_reference_ops(models.koch_net())    # every Conv2d and MaxPool2d of a network
    opt = ReferenceAdam(net.parameters(), lr=1e-3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from .conv import ReferenceConv2dOp, col2im, im2col
from .optim import ReferenceAdam, ReferenceSGD
from .pool import ReferenceMaxPool2dOp

if TYPE_CHECKING:
    from ..nn import Module

ModuleT = TypeVar("ModuleT", bound="Module")


def use_reference_ops(module: ModuleT) -> ModuleT:
    """Switch every :class:`~tinysiam.nn.Conv2d` and :class:`~tinysiam.nn.MaxPool2d` in
    ``module`` (itself included, submodules at any depth) to the reference ops, in place.

    Parameters are untouched, so the state dict, an optimiser built before and the outputs (to
    rounding) all stay the same. Layers that call ``F.conv2d`` or ``F.max_pool2d`` themselves
    are not switched: pass ``impl="reference"`` there.

    Returns:
        ``module``, so that ``net = use_reference_ops(build_net())`` reads naturally.
    """
    return _set_impl(module, "reference")


def use_fast_ops(module: ModuleT) -> ModuleT:
    """The inverse of :func:`use_reference_ops`: every Conv2d and MaxPool2d back to the fast ops."""
    return _set_impl(module, "fast")


def _set_impl(module: ModuleT, impl: str) -> ModuleT:
    from ..nn import Conv2d, MaxPool2d, Module  # here: nn itself imports this package's ops

    if not isinstance(module, Module):
        raise TypeError(f"expected a tinysiam.nn.Module, got {type(module).__name__}")
    for layer in module.modules():
        if isinstance(layer, (Conv2d, MaxPool2d)):
            layer.impl = impl
    return module


__all__ = [
    "ReferenceAdam",
    "ReferenceConv2dOp",
    "ReferenceMaxPool2dOp",
    "ReferenceSGD",
    "col2im",
    "im2col",
    "use_fast_ops",
    "use_reference_ops",
]
