"""The starter modules a workspace gets next to its engine: experiment 1's recipe.

A workspace holds ``experiment1.py`` inside its package, where ``from . import losses, tensor``
reads the workspace's own engine (``tensor`` is the package's constructor, as in
``tinysiam.tensor``). Here the same line reads the installed library's engine, which this
package re-exports for it.
"""

from ... import losses, tensor

__all__ = ["losses", "tensor"]
