"""Anomaly mode: find the op where a NaN or an infinity first appeared.

A NaN loss says that something went wrong, not where. Inside ``with detect_anomaly():`` every op
checks the array it computes, in the forward pass and in the backward pass, and the first one
that produces a NaN or an infinity raises an :class:`AnomalyError` naming the op (its Function
class, e.g. ``Log``), the pass, the shapes involved and, for a backward failure, the line of
code that ran the op's forward.

    with tinysiam.detect_anomaly():
        loss = losses.contrastive_loss(f1, f2, y, eps=0.0)
        loss.backward()
    # AnomalyError: Sqrt backward produced NaN in the gradient of input 0 ...

The checks cost a pass over every array (and, on the GPU, a synchronisation per op), so the mode
is off by default: then each op pays only for reading one flag. Turn it on to debug a run whose
loss became NaN or infinite, then turn it off again.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .backend import get_array_module

if TYPE_CHECKING:
    from .autograd import Node


class AnomalyError(FloatingPointError):
    """An op produced a NaN or an infinity while :func:`detect_anomaly` was on."""


class AnomalyMode:
    """Whether ops check their results. Changed only through :func:`detect_anomaly`."""

    enabled = False


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every op's forward and backward results for NaN and inf inside the block.

    Raises:
        AnomalyError: at the first op whose forward output, or whose gradient for one of its
            inputs, holds a NaN or an infinity.

    Example:
        >>> with tinysiam.detect_anomaly():
        ...     tinysiam.tensor([1.0, 0.0]).log()
        Traceback (most recent call last):
        AnomalyError: Log forward produced -inf in its output (2,) from finite inputs (2,) ...
    """
    previous = AnomalyMode.enabled
    AnomalyMode.enabled = True
    try:
        yield
    finally:
        AnomalyMode.enabled = previous


def is_anomaly_enabled() -> bool:
    """True inside a :func:`detect_anomaly` block."""
    return AnomalyMode.enabled


def after_forward(op_name: str, inputs: Sequence[Any], output: Any, node: Node | None) -> None:
    """What ``Function.apply`` does in anomaly mode once an op has run.

    Checks the op's output (:func:`check_forward`) and, when the op was recorded in the graph,
    notes on its node where it was run, so that a failure in the backward pass can name that line.
    """
    check_forward(op_name, inputs, output)
    if node is not None:
        node.created_at = call_site()


def check_forward(op_name: str, inputs: Sequence[Any], output: Any) -> None:
    """Raise an AnomalyError if ``output`` (the op's result) holds NaN or inf.

    Args:
        op_name: the Function class name, e.g. "Log".
        inputs: the op's input tensors (their shapes go into the message).
        output: the array the op's forward returned.
    """
    if _all_finite(output):
        return
    bad_inputs = [str(i) for i, t in enumerate(inputs) if not _all_finite(t.data)]
    if bad_inputs:
        cause = (
            f"but input {', '.join(bad_inputs)} already held NaN or inf, "
            "so it came from before this op: "
            "the input data, a parameter, or a tensor made outside detect_anomaly()"
        )
    else:
        cause = f"from finite inputs {_shapes(t.data for t in inputs)}"
    raise AnomalyError(
        f"{op_name} forward produced {_describe(output)} "
        f"in its output {tuple(output.shape)} {cause}"
    )


def check_backward(
    op_name: str,
    inputs: Sequence[Any],
    grad: Any,
    input_grads: Sequence[Any],
    created_at: str | None,
) -> None:
    """Raise an AnomalyError if one of the gradients an op's backward returned holds NaN or inf.

    Args:
        op_name: the Function class name, e.g. "Sqrt".
        inputs: the op's input tensors.
        grad: d(loss)/d(output), the gradient the backward received.
        input_grads: what the backward returned, one gradient (or None) per input.
        created_at: where the op's forward ran (see :func:`call_site`), or None.
    """
    for i, input_grad in enumerate(input_grads):
        if input_grad is None or _all_finite(input_grad):
            continue
        incoming = "finite" if _all_finite(grad) else "already non-finite (passed to backward())"
        where = f"; the op was run at {created_at}" if created_at else ""
        raise AnomalyError(
            f"{op_name} backward produced {_describe(input_grad)} in the gradient of input {i} "
            f"{tuple(input_grad.shape)}; inputs {_shapes(t.data for t in inputs)}, "
            f"gradient of the output {tuple(grad.shape)} was {incoming}{where}"
        )


def call_site() -> str:
    """Where an op was run: the innermost line outside the engine, and the caller outside tinysiam.

    E.g. "tinysiam/losses.py:75 in contrastive_loss (d = d_squared.sqrt()),
    called from train.py:40".
    """
    package = os.path.dirname(os.path.abspath(__file__))
    engine = {os.path.join(package, name) for name in ("autograd.py", "tensor.py", "anomaly.py")}
    stack = [
        f for f in reversed(traceback.extract_stack()) if os.path.abspath(f.filename) not in engine
    ]
    if not stack:
        return "an unknown place"
    inner = stack[0]
    where = f"{inner.filename}:{inner.lineno} in {inner.name} ({inner.line})"
    outside = next(
        (f for f in stack if not os.path.abspath(f.filename).startswith(package + os.sep)), None
    )
    if outside is not None and outside is not inner:
        where += f", called from {outside.filename}:{outside.lineno} ({outside.line})"
    return where


def _all_finite(array: Any) -> bool:
    """True unless a float ``array`` holds NaN or inf (integer and bool arrays always are)."""
    xp = get_array_module(array)
    return not xp.issubdtype(array.dtype, xp.inexact) or bool(xp.isfinite(array).all())


def _describe(array: Any) -> str:
    """ "NaN", "inf", "-inf" or a list of them: what non-finite values ``array`` holds."""
    xp = get_array_module(array)
    kinds = [
        name
        for name, present in (
            ("NaN", xp.isnan(array).any()),
            ("inf", xp.isposinf(array).any()),
            ("-inf", xp.isneginf(array).any()),
        )
        if bool(present)
    ]
    return " and ".join(kinds)


def _shapes(arrays: Any) -> str:
    return ", ".join(str(tuple(a.shape)) for a in arrays)
