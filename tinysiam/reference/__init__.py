"""Reference implementations: the textbook version of each op that :mod:`tinysiam.ops` optimises.

Read these first. Each computes the same numbers as its fast counterpart (the tests check it
to rounding, values and gradients), in the fewest and plainest lines, and imports nothing of the
fast code: reading them never sends you into it.

* :mod:`.conv` - :func:`im2col`, :func:`col2im` and :class:`ReferenceConv2dOp` (conv2d as one
  whole-batch im2col and one matrix product) beside :class:`tinysiam.ops.Conv2dOp`;
* :mod:`.pool` - :class:`ReferenceMaxPool2dOp` (windows as columns, argmax, scatter) beside
  :class:`tinysiam.ops.MaxPool2dOp`;
* :mod:`.optim` - :class:`ReferenceSGD` and :class:`ReferenceAdam`, one line per formula,
  beside :class:`tinysiam.optim.SGD` and :class:`tinysiam.optim.Adam`.

The window geometry (output sizes, the checks of the arguments) is shared with the fast ops
from :mod:`tinysiam.geometry`.

They are real ops: a network trains on them, only more slowly. The layers choose them, per call,
per layer or for a whole network:

    F.conv2d(x, w, b, impl="reference")              # one call
    nn.Conv2d(1, 32, 5, impl="reference")             # one layer (the default is impl="fast")
    net = nn.use_reference_ops(models.koch_net())     # every Conv2d and MaxPool2d of a network
    opt = ReferenceAdam(net.parameters(), lr=1e-3)
"""

from __future__ import annotations

import warnings
from typing import Any

from .conv import ReferenceConv2dOp, col2im, im2col
from .optim import ReferenceAdam, ReferenceSGD
from .pool import ReferenceMaxPool2dOp

MOVED_TO_NN = ("use_reference_ops", "use_fast_ops")  # deprecated here: tinysiam.nn has them


def __getattr__(name: str) -> Any:
    """``reference.use_reference_ops`` and ``reference.use_fast_ops``: the functions of
    :mod:`tinysiam.nn`, with a DeprecationWarning (they choose layers' ops, which is nn's job)."""
    if name not in MOVED_TO_NN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"tinysiam.reference.{name} is deprecated; call tinysiam.nn.{name} (the same function)",
        DeprecationWarning,
        stacklevel=2,
    )
    from .. import nn  # only for the deprecated names: the reference ops never import nn

    return getattr(nn, name)


__all__ = [
    "ReferenceAdam",
    "ReferenceConv2dOp",
    "ReferenceMaxPool2dOp",
    "ReferenceSGD",
    "col2im",
    "im2col",
]
