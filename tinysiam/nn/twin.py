"""Twin (Siamese) networks: two inputs, one embedding network (or two).

With one branch the two inputs go through the SAME network, so the two embeddings are
comparable and every weight is trained by both inputs: backward adds the gradients of the two
branches into the one set of parameters. This is the network of both reference experiments.

With two branches each input has its own network (and its own parameters), the "two data
sources" case: a camera photo on one side, a map tile on the other.
"""

from __future__ import annotations

from ..ops import concatenate
from ..tensor import Tensor
from .module import Module


class Twin(Module):
    """Embed a pair of inputs: ``Twin(net)(x1, x2) == (net(x1), net(x2))``.

    Args:
        branch: the embedding network for the first input, and for the second when
            ``other`` is None (shared weights).
        other: a separate network for the second input, or None.

    With shared weights the pair is run as ONE batch: x1 and x2 are concatenated along the
    batch axis, embedded together and split again. It is the same math as two calls (each row
    goes through the network on its own) and runs faster; backward through the concatenation
    gives each shared weight the sum of the two branches' gradients. (This relies on the
    network treating each example independently, true of every layer in tinysiam.nn.)

    Example:
        >>> twin = Twin(Sequential(Flatten(), Dense(784, 2)))
        >>> f1, f2 = twin(x1, x2)          # x1, x2: (N, 1, 28, 28) -> f1, f2: (N, 2)
    """

    def __init__(self, branch: Module, other: Module | None = None) -> None:
        for name, net in (("branch", branch), ("other", other)):
            if net is not None and not isinstance(net, Module):
                raise TypeError(f"Twin: {name} must be a Module, got {type(net).__name__}")
        self.branch = branch
        self.other = None if other is branch else other

    @property
    def shared(self) -> bool:
        """True when both inputs go through the same network."""
        return self.other is None

    def embed(self, x: Tensor, branch: int = 0) -> Tensor:
        """Embed one batch with branch 0 (the first input's network) or 1 (the second's)."""
        if branch not in (0, 1):
            raise ValueError(f"Twin.embed: branch must be 0 or 1, got {branch!r}")
        if branch == 1 and self.other is not None:
            return self.other(x)
        return self.branch(x)

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        """x1: (N1, ...), x2: (N2, ...) -> (embedding of x1, embedding of x2).

        With shared weights both go through ``branch`` (one batch when their example shapes
        agree), so backward adds both inputs' gradients into its one set of parameters.

        Course task 13.1 (docs/build-it-yourself.md).
        """
        if self.other is not None:  # separate weights
            return self.branch(x1), self.other(x2)
        if x1.shape[1:] != x2.shape[1:]:  # cannot share a batch: embed them one at a time
            return self.branch(x1), self.branch(x2)
        n1 = x1.shape[0]
        both = self.branch(concatenate([x1, x2], axis=0))
        return both[:n1], both[n1:]

    def extra_repr(self) -> str:
        return "shared weights" if self.shared else "separate weights"
