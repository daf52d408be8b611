"""Reverse-mode automatic differentiation: Function, Context and the backward pass.

Every differentiable op is a subclass of :class:`Function` with two static methods that work
on raw arrays (numpy or cupy):

* ``forward(ctx, *arrays, **params) -> array`` computes the result and saves, on ``ctx``,
  what the backward rule will need;
* ``backward(ctx, grad) -> tuple`` returns one gradient per array input (``None`` where an
  input needs none).

``MyOp.apply(*tensors, **params)`` runs the forward on the tensors' arrays and, when a gradient
is wanted, records a :class:`Node` on the output: the op, its context and its input tensors.
The graph is built as ops run (define-by-run). :func:`backward` walks it from the output in
reverse topological order, asks each node for its input gradients, sums each gradient back to
its input's shape (broadcasting is undone here, in one place) and accumulates gradients of
tensors used more than once, so the shared weights of a twin network receive the sum of both
branches.

Inside ``with tinysiam.detect_anomaly():`` both passes also check each op's result for NaN and
inf (see :mod:`tinysiam.anomaly`); outside it, that costs one flag check per op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import anomaly
from .backend import get_array_module
from .checks import check_op_inputs

if TYPE_CHECKING:
    from .tensor import Tensor


class _GradMode:
    """Whether ops record the graph. Changed only through :func:`no_grad`."""

    enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Run the enclosed code without recording the graph (inference, optimiser steps).

    Example:
        >>> with tinysiam.no_grad():
        ...     embedding = net(x)        # embedding.requires_grad is False
    """
    previous = _GradMode.enabled
    _GradMode.enabled = False
    try:
        yield
    finally:
        _GradMode.enabled = previous


def is_grad_enabled() -> bool:
    """True unless inside a :func:`no_grad` block."""
    return _GradMode.enabled


class Context:
    """What a forward pass leaves for its backward pass.

    Attributes:
        needs_input_grad: one bool per array input; backward may skip work where it is False.
        saved_tensors: the arrays given to :meth:`save_for_backward`, in order.
    Any other attribute (a stride, a shape) may be set freely by ``forward``.
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple[Any, ...] = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` for the backward pass (and nothing else by accident)."""
        self.saved_tensors = arrays

    if TYPE_CHECKING:  # tell the type checker that forward may set any attribute on ctx

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


@dataclass(eq=False)
class Node:
    """One recorded op application: the op, its context and the tensors it read."""

    function: type[Function]
    ctx: Context
    inputs: tuple[Tensor, ...]
    released: bool = False
    created_at: str | None = None  # the line that ran the op, kept in anomaly mode only


class Function:
    """Base class of differentiable ops. Subclass it and define the two static methods.

    Example, f(x) = x^3 (the docs' page 4 builds ops like this):
        >>> class Cube(tinysiam.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x ** 3
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return (3 * x ** 2 * grad,)
        >>> y = Cube.apply(tinysiam.tensor([2.0], requires_grad=True))
    """

    @staticmethod
    def forward(ctx: Context, *arrays: Any, **params: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the op on tensors; record it in the graph when a gradient is wanted."""
        from .tensor import Tensor

        check_op_inputs(cls.__name__, inputs)  # one device, one dtype (bool masks aside)
        needs_grad = tuple(t.requires_grad for t in inputs)
        record = _GradMode.enabled and any(needs_grad)
        ctx = Context(needs_grad)
        data = cls.forward(ctx, *(t.data for t in inputs), **params)
        out = Tensor._from_op(data, requires_grad=record)
        if record:
            out._node = Node(cls, ctx, inputs)
        if anomaly.AnomalyMode.enabled:  # opt-in NaN/inf checks, see tinysiam.anomaly
            anomaly.after_forward(cls.__name__, inputs, data, out._node)
        return out


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` back to ``shape``, undoing NumPy broadcasting.

    If x of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, each of its elements
    was used 2*4 times, so its gradient is the sum over the broadcast axes:
    the leading axis that was added and the axis of size 1 that was stretched.

    Course task 5.1 (docs/build-it-yourself.md).
    """
    if grad.shape == shape:
        return grad
    added = grad.ndim - len(shape)
    stretched = tuple(
        added + i for i, size in enumerate(shape) if size == 1 and grad.shape[added + i] != 1
    )
    summed = grad.sum(axis=tuple(range(added)) + stretched, keepdims=True)
    return summed.reshape(shape)


def backward(output: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(output)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    Args:
        output: the tensor to differentiate; a scalar unless ``grad`` is given.
        grad: d(something)/d(output), same shape as output (cast to its dtype and device);
            defaults to 1 for a scalar.
        retain_graph: keep the saved arrays so backward can run through the graph again.
            By default they are released as soon as they are used, to free memory.

    Course task 3.2 (docs/build-it-yourself.md).
    """
    if not output.requires_grad:
        raise RuntimeError("backward() called on a tensor that does not require grad")
    xp = get_array_module(output.data)
    if grad is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"backward() without a grad needs a scalar output, got shape {output.shape}; "
                "pass grad= with the output's shape"
            )
        grad = xp.ones_like(output.data)
    grad = xp.asarray(grad, dtype=output.dtype)  # the output's device and dtype (no float64 creep)
    if grad.shape != output.shape:
        raise ValueError(
            f"backward(): grad has shape {grad.shape}, expected the output's shape {output.shape}"
        )

    grads = {id(output): grad}  # d(output)/d(tensor), keyed by id(tensor)
    for tensor in reversed(_topological_order(output)):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        node = tensor._node
        if node is None:  # a leaf: accumulate into an array of its own (never a shared view)
            tensor.grad = g.copy() if tensor.grad is None else tensor.grad + g
            continue
        for parent, parent_grad in zip(node.inputs, _input_grads(node, g), strict=True):
            if parent_grad is None or not parent.requires_grad:
                continue
            parent_grad = unbroadcast(parent_grad, parent.shape)
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
        if not retain_graph:  # free the saved arrays as soon as they are used
            node.ctx.saved_tensors = ()
            node.released = True


def _input_grads(node: Node, grad: Any) -> tuple[Any, ...]:
    """Run ``node``'s backward rule on ``grad``: one gradient (or None) per input of the op."""
    if node.released:
        raise RuntimeError(
            "backward() through a graph that was already used and released; "
            "call backward(retain_graph=True) the first time to go through it twice"
        )
    input_grads = node.function.backward(node.ctx, grad)
    if len(input_grads) != len(node.inputs):
        raise RuntimeError(
            f"{node.function.__name__}.backward returned {len(input_grads)} gradients "
            f"for {len(node.inputs)} inputs"
        )
    if anomaly.AnomalyMode.enabled:
        anomaly.check_backward(
            node.function.__name__, node.inputs, grad, input_grads, node.created_at
        )
    return input_grads


def _topological_order(output: Tensor) -> list[Tensor]:
    """Tensors of the graph ending at ``output``, each after all of its inputs.

    Iterative depth-first search with an explicit stack: deep graphs (thousands of ops)
    never hit Python's recursion limit.

    Course task 3.1 (docs/build-it-yourself.md).
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(output, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._node is not None:
            stack.extend((parent, False) for parent in tensor._node.inputs if parent.requires_grad)
    return order
