"""Optimisers: turn each parameter's gradient into an update of its values.

    opt = Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99))
    for batch in batches:
        opt.zero_grad()
        loss = loss_fn(net, batch)
        loss.backward()
        opt.step()

* :mod:`.base` - :class:`Optimizer`: the parameters, their state, ``state_dict``, and the checks
  of the settings that every optimiser of an algorithm shares;
* :mod:`.sgd`, :mod:`.adam` - :class:`SGD` and :class:`Adam`;
* :mod:`.blocks` - :func:`cache_blocks`, how they walk a big parameter on the CPU;
* :mod:`.schedule` - :func:`scheduled_lr`, a learning rate that changes over training.

The update runs once per parameter per iteration, so SGD and Adam are written for speed: they
work on the raw arrays (numpy or cupy, on the parameter's own device), in place, with ufuncs that
write into existing arrays (``out=``). On the CPU they go through each parameter a cache-sized
block at a time. Gradients are only read, never written: the engine may hand one gradient array
to several tensors. Parameters whose ``.grad`` is None (unused in this iteration) are skipped.
The same updates as their formulas, one line each, are :mod:`tinysiam.reference.optim`'s.
"""

from .adam import Adam
from .base import Optimizer
from .blocks import CACHE_BLOCK, cache_blocks
from .schedule import SCHEDULES, scheduled_lr
from .sgd import SGD

__all__ = ["CACHE_BLOCK", "SCHEDULES", "SGD", "Adam", "Optimizer", "cache_blocks", "scheduled_lr"]
