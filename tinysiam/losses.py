"""The losses of the two reference experiments, each guarding its own numerics.

* :func:`contrastive_loss` (experiment 1) pulls similar pairs together and pushes dissimilar
  pairs at least ``margin`` apart (Hadsell, Chopra and LeCun, "Dimensionality Reduction by
  Learning an Invariant Mapping", CVPR 2006).
* :func:`binary_cross_entropy` (experiment 2) scores the probability that a pair is similar,
  the loss of Koch, Zemel and Salakhutdinov ("Siamese Neural Networks for One-shot Image
  Recognition", ICML 2015 deep learning workshop); its clamp of the probability is that of the
  reference experiment 2 follows, MathWorks' example "Train a Siamese Network to Compare Images".
* :func:`binary_cross_entropy_with_logits` is the same loss computed from the logit, the
  numerically safest form.

Pair labels follow the reference: y = 1 for a similar pair, 0 for a dissimilar one.

What is checked: shapes, dtypes (float32 or float64), empty batches, labels outside {0, 1} and
probabilities outside [0, 1] raise a ValueError or TypeError naming the argument. Values are
checked where that costs no wait for the GPU: labels given as host data (a list, a numpy array)
are checked on the host before they are copied to the device, and probabilities and labels that
live on the CPU are checked there. Values already on the GPU are checked only inside
:func:`tinysiam.detect_anomaly`, since reading a check's answer back would make the CPU wait for
the whole forward pass every iteration. NaN or inf in the embeddings, probabilities or logits
is NOT checked here: it propagates into the loss, which a training loop checks once per
iteration, and :func:`tinysiam.detect_anomaly` names the op that first produced it. (A NaN
there is a symptom of trouble upstream, such as a diverging network, that the loss cannot name;
checking it would also cost a GPU synchronisation per call.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import functional as F
from .anomaly import is_anomaly_enabled
from .autograd import Context, Function
from .backend import device_of, get_array_module, to_numpy
from .checks import check_numbers
from .tensor import Tensor, check_float, tensor

REDUCTIONS = ("sum", "mean", "none")


def contrastive_loss(
    f1: Tensor,
    f2: Tensor,
    y: Tensor | Any,
    margin: float = 1.0,
    eps: float = 1e-6,
    reduction: str = "sum",
) -> Tensor:
    """Contrastive loss of Hadsell, Chopra and LeCun (2006), as in the reference experiment.

    For each pair n, with the guarded distance
        d_n = sqrt(sum_k (f1[n, k] - f2[n, k])^2 + eps),
    the loss is
        L = 0.5 * reduce_n( y_n d_n^2 + (1 - y_n) max(margin - d_n, 0)^2 ).

    Similar pairs (y = 1) are pulled together; dissimilar ones (y = 0) are pushed apart until
    they are ``margin`` away, then left alone. The guard eps keeps the gradient of the square
    root finite when f1 == f2 (d = sqrt(eps) instead of 0); the similar term uses
    d^2 = sum (f1 - f2)^2 + eps directly, never squaring a square root.

    Args:
        f1, f2: (N, D) embeddings of the two sides of N pairs.
        y: (N,) pair labels in {0, 1}, a Tensor or array.
        margin: how far apart dissimilar pairs are pushed (> 0); the reference uses 0.3.
        eps: the guard delta (>= 0); the reference uses 1e-6.
        reduction: "sum" over pairs (the reference), "mean", or "none" for the (N,) losses.

    Returns:
        A scalar tensor (or (N,) for reduction="none").

    Example:
        >>> f1, f2 = twin(x1, x2)
        >>> loss = contrastive_loss(f1, f2, y, margin=0.3)

    Course task 10.1 (docs/build-it-yourself.md).
    """
    _check_reduction("contrastive_loss", reduction)
    check_float("contrastive_loss", "f1", f1)
    check_float("contrastive_loss", "f2", f2)
    if f1.ndim != 2 or f1.shape != f2.shape:
        raise ValueError(
            "contrastive_loss: f1 and f2 must both be (N, D) with one shape, "
            f"got f1 {f1.shape} and f2 {f2.shape}"
        )
    _check_not_empty("contrastive_loss", "f1", f1)
    check_numbers("contrastive_loss", margin=margin, eps=eps)
    if not margin > 0:
        raise ValueError(f"contrastive_loss: margin must be > 0, got {margin}")
    if not eps >= 0:
        raise ValueError(f"contrastive_loss: eps must be >= 0, got {eps}")
    y = _labels("contrastive_loss", y, f1.shape[0], f1)
    diff = f1 - f2
    d_squared = (diff * diff).sum(axis=1) + eps  # (N,)
    d = d_squared.sqrt()
    hinge = F.relu(margin - d)  # max(margin - d, 0)
    per_pair = y * d_squared + (1 - y) * (hinge * hinge)
    return 0.5 * _reduce(per_pair, reduction)


def binary_cross_entropy(
    p: Tensor, y: Tensor | Any, eps: float | None = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities, clamped as in MathWorks' Siamese example.

    The loss is Koch et al.'s (2015); the clamp is that of the reference experiment 2 follows,
    MathWorks' example "Train a Siamese Network to Compare Images":

        p' = clamp(p, eps, 1 - eps)
        L = reduce_n( -[ y_n log p'_n + (1 - y_n) log(1 - p'_n) ] )

    The clamp keeps log away from 0, so the loss is finite even at p = 0 or 1 (and the gradient
    there is 0: a clamped probability does not move). Prefer
    :func:`binary_cross_entropy_with_logits` when the logit is at hand.

    Args:
        p: (N,) or (N, 1) probabilities in [0, 1].
        y: (N,) labels in {0, 1}.
        eps: the clamp; default the machine epsilon of p's dtype (``np.finfo(p.dtype).eps``).
        reduction: "mean" (the reference), "sum" or "none".

    Returns:
        A scalar tensor (or (N,) for reduction="none").

    Raises:
        ValueError: p outside [0, 1] (logits belong in :func:`binary_cross_entropy_with_logits`),
            labels other than 0 and 1, an empty batch; NaN in p is not checked (see the top). On
            the GPU, p is checked only inside :func:`tinysiam.detect_anomaly` (see the top).

    Course task 10.2 (docs/build-it-yourself.md).
    """
    _check_reduction("binary_cross_entropy", reduction)
    p = _pair_scores("binary_cross_entropy", p, "p")
    y = _labels("binary_cross_entropy", y, p.shape[0], p)
    if p.device == "cpu" or is_anomaly_enabled():
        _check_probabilities(p.data)
    eps = float(np.finfo(p.dtype).eps) if eps is None else eps
    check_numbers("binary_cross_entropy", eps=eps)
    if not 0 <= eps < 0.5:
        raise ValueError(f"binary_cross_entropy: eps must be in [0, 0.5), got {eps}")
    p = p.clip(eps, 1 - eps)
    per_pair = -(y * p.log() + (1 - y) * (1 - p).log())
    return _reduce(per_pair, reduction)


def binary_cross_entropy_with_logits(z: Tensor, y: Tensor | Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of p = sigmoid(z), computed from the logit z without overflow.

        L = reduce_n( max(z_n, 0) - z_n y_n + log(1 + exp(-|z_n|)) )

    which equals -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] but never exponentiates a
    positive number, so it is exact for |z| in the hundreds; its gradient is sigmoid(z) - y.
    (This is the guard of Chainer's sigmoid_cross_entropy and PyTorch's BCEWithLogitsLoss.)

    Args:
        z: (N,) or (N, 1) logits.
        y: (N,) labels in {0, 1}.
        reduction: "mean" (default), "sum" or "none".
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    z = _pair_scores("binary_cross_entropy_with_logits", z, "z")
    y = _labels("binary_cross_entropy_with_logits", y, z.shape[0], z)
    return _reduce(SigmoidCrossEntropy.apply(z, y), reduction)


class SigmoidCrossEntropy(Function):
    """Per-element max(z, 0) - z y + log1p(exp(-|z|)), fused into one op.

    Backward: dL/dz = sigmoid(z) - y, dL/dy = -z. Fused because the composed form would
    differentiate max(z, 0) and |z| separately, and their kinks at z = 0 would add up to -y
    instead of the true 0.5 - y.
    """

    @staticmethod
    def forward(ctx: Context, z: Any, y: Any) -> Any:
        """The per-element loss of logits z and targets y (same shape), saving (z, y).

        Course task 10.3 (docs/build-it-yourself.md).
        """
        xp = get_array_module(z)
        ctx.save_for_backward(z, y)
        return xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        """(dL/dz, dL/dy) from g; the sigmoid computed as in ``ops.SigmoidOp``, without overflow.
        ``ctx.saved_tensors`` holds what forward saved; an input whose ``ctx.needs_input_grad``
        entry is False gets None instead of an array.

        Course task 10.3 (docs/build-it-yourself.md).
        """
        z, y = ctx.saved_tensors
        xp = get_array_module(z)
        grad_z = grad_y = None
        if ctx.needs_input_grad[0]:
            e = xp.exp(-xp.abs(z))  # sigmoid(z) without overflow, as in ops.SigmoidOp
            sigmoid = xp.where(z >= 0, 1, e) / (1 + e)
            grad_z = grad * (sigmoid - y)
        if ctx.needs_input_grad[1]:
            grad_y = -grad * z
        return grad_z, grad_y


# ----- shared checks -----------------------------------------------------------------------
def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{name}: unknown reduction {reduction!r}; "
            f"valid ones are {', '.join(repr(r) for r in REDUCTIONS)}"
        )


def _reduce(per_pair: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return per_pair.sum()
    if reduction == "mean":
        return per_pair.mean()
    return per_pair


def _pair_scores(name: str, scores: Tensor, what: str) -> Tensor:
    """(N,) or (N, 1) float scores as (N,), N >= 1."""
    check_float(name, what, scores)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores.reshape(scores.shape[0])
    if scores.ndim != 1:
        raise ValueError(f"{name}: {what} must have shape (N,) or (N, 1), got {scores.shape}")
    _check_not_empty(name, what, scores)
    return scores


def _check_not_empty(name: str, what: str, scores: Tensor) -> None:
    if scores.shape[0] == 0:
        raise ValueError(
            f"{name}: {what} is an empty batch, shape {scores.shape}; "
            "a loss needs at least one pair"
        )


def _check_probabilities(p: Any) -> None:
    """Raise if the array ``p`` holds values outside [0, 1] (NaN passes: see the top)."""
    xp = get_array_module(p)
    if bool(xp.any((p < 0) | (p > 1))):
        raise ValueError(
            f"binary_cross_entropy: p must hold probabilities in [0, 1], got values from "
            f"{float(xp.nanmin(p)):.4g} to {float(xp.nanmax(p)):.4g}; "
            "for logits use binary_cross_entropy_with_logits"
        )


def _labels(name: str, y: Tensor | Any, n: int, like: Tensor) -> Tensor:
    """Pair labels as an (N,) constant tensor of ``like``'s dtype and device, checked to be 0 or 1.

    Host labels are checked on the host, before the copy; labels on the GPU only in anomaly mode.
    """
    data = y.data if isinstance(y, Tensor) else y
    if not hasattr(data, "dtype"):
        data = np.asarray(data)
    shape = tuple(data.shape)
    if shape not in ((n,), (n, 1)):
        raise ValueError(f"{name}: y must have one entry per pair, shape ({n},), got shape {shape}")
    if device_of(data) == "cpu" or is_anomaly_enabled():
        xp = get_array_module(data)
        other = ~((data == 0) | (data == 1))
        if bool(xp.any(other)):
            found = np.unique(to_numpy(data[other]))
            raise ValueError(
                f"{name}: y must hold pair labels 0 (dissimilar) or 1 (similar), "
                f"got also {found[:5].tolist()}"
            )
    return tensor(data.reshape(n), dtype=like.dtype, device=like.device)
