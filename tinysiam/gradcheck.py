"""Check an op's backward rule against finite differences.

For a function f of inputs x_k, the engine's gradient of the scalar s = sum(f(x) * v) (v a fixed
random array of f's output shape) must match the central difference

    ds/dx[i] ~= (s(x + eps e_i) - s(x - eps e_i)) / (2 eps)

whose error is O(eps^2). It is computed in float64: in float32 the rounding error of s, about
1e-7 |s| / eps, would swamp the comparison. Inputs with many elements are checked along random
directions u instead of every e_i (the directional derivative <grad, u>), as PyTorch's fast mode
does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .autograd import no_grad
from .backend import to_device, to_numpy
from .tensor import Tensor

ELEMENTWISE_LIMIT = 2048  # inputs larger than this are checked along random directions
RANDOM_DIRECTIONS = 16


class GradcheckError(AssertionError):
    """The analytic gradient of an input disagrees with the numerical one."""


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare ``fn``'s backward with central differences for every input that requires grad.

    Args:
        fn: takes ``inputs`` and returns a Tensor of any shape.
        inputs: tensors; those that require grad are checked and must be float64. Their data and
            ``.grad`` are left as they were.
        eps: finite-difference step.
        atol, rtol: pass when |analytic - numeric| <= atol + rtol * |numeric| everywhere.
        seed: seeds the projection v and the random directions.

    Returns:
        True when every checked input passes.

    Raises:
        GradcheckError: naming the input, the worst index (or direction), and both values.

    Example:
        >>> x = tinysiam.tensor(np.random.rand(3, 4), requires_grad=True)
        >>> tinysiam.gradcheck(lambda t: (t * t).sum(), x)
        True
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 inputs"
            )
    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    projection = Tensor(_like(out, rng.standard_normal(out.shape)))

    tensors = [t for t in inputs if isinstance(t, Tensor)]
    callers_grads = [t.grad for t in tensors]  # put back below: checking leaves .grad as it was
    for t in tensors:
        t.grad = None
    (out * projection).sum().backward()
    analytic = {
        i: to_numpy(inputs[i].grad) if inputs[i].grad is not None else None for i in checked
    }
    for t, grad in zip(tensors, callers_grads, strict=True):
        t.grad = grad

    def scalar(replaced_index: int, values: np.ndarray) -> float:
        args = list(inputs)
        args[replaced_index] = Tensor(_like(inputs[replaced_index], values))
        with no_grad():
            return float((fn(*args) * projection).sum().item())

    for i in checked:
        x = to_numpy(inputs[i].data).astype(
            np.float64
        )  # a copy: the caller's array is never touched
        grad = analytic[i] if analytic[i] is not None else np.zeros_like(x)
        if x.size <= ELEMENTWISE_LIMIT:
            _check_elementwise(i, x, grad, scalar, eps, atol, rtol)
        else:
            _check_directions(i, x, grad, scalar, eps, atol, rtol, rng)
    return True


def _like(reference: Tensor, values: np.ndarray):
    """``values`` as an array on ``reference``'s device, with its shape (0-d stays 0-d)."""
    return to_device(np.asarray(values, order="C"), reference.device)


def _check_elementwise(i, x, analytic, scalar, eps, atol, rtol) -> None:
    """Check every element's derivative of ``scalar`` against ``analytic``.

    For each flat index k of ``x``, the central difference
    (scalar(i, x + eps e_k) - scalar(i, x - eps e_k)) / (2 eps), with x[k] put back after,
    then all of them compared with ``analytic`` at once by :func:`_compare`.

    Args:
        i: the position of the checked input among ``gradcheck``'s inputs (for ``scalar`` and
            the report, "input {i}").
        x: that input's values, a float64 NumPy copy that may be changed in place (put each
            element back after perturbing it).
        analytic: the engine's gradient of the scalar, x's shape (zeros if it got none).
        scalar: ``scalar(i, values)`` -> float, the projected output sum(fn(...) * v) with
            input i replaced by ``values`` (an array of x's shape), computed without a graph.
        eps: the finite-difference step.
        atol, rtol: the tolerances, passed on to :func:`_compare`.

    Raises:
        GradcheckError: from :func:`_compare`, naming the worst index, e.g. "index (1, 2)".

    Course task 4.1 (docs/build-it-yourself.md).
    """
    numeric = np.empty_like(x)
    flat = x.reshape(-1)
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        plus = scalar(i, x)
        flat[k] = original - eps
        minus = scalar(i, x)
        flat[k] = original
        numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
    _compare(
        f"input {i}",
        analytic,
        numeric,
        atol,
        rtol,
        lambda k: f"index {tuple(int(v) for v in np.unravel_index(k, x.shape))}",
    )


def _check_directions(i, x, analytic, scalar, eps, atol, rtol, rng) -> None:
    """Check ``analytic`` along random directions, for inputs too large to check per element.

    Draws ``RANDOM_DIRECTIONS`` directions u, each of x's shape with standard normal entries,
    from ``rng`` (one array ``rng.standard_normal((RANDOM_DIRECTIONS,) + x.shape)``, so that a
    seed gives the same directions). For each u, the central difference
    (scalar(i, x + eps u) - scalar(i, x - eps u)) / (2 eps) is the directional derivative, to
    be compared with the analytic one, <analytic, u> = sum(analytic * u), by :func:`_compare`.

    Args:
        i, x, analytic, scalar, eps, atol, rtol: as for :func:`_check_elementwise`.
        rng: a ``numpy.random.Generator``, seeded by ``gradcheck``'s ``seed``.

    Raises:
        GradcheckError: from :func:`_compare`, naming the worst direction, "random direction k".

    Course task 4.1 (docs/build-it-yourself.md).
    """
    directions = rng.standard_normal((RANDOM_DIRECTIONS,) + x.shape)
    numeric = np.array(
        [(scalar(i, x + eps * u) - scalar(i, x - eps * u)) / (2 * eps) for u in directions]
    )
    projected = np.array([np.sum(analytic * u) for u in directions])
    _compare(f"input {i}", projected, numeric, atol, rtol, lambda k: f"random direction {k}")


def _compare(name, analytic, numeric, atol, rtol, describe) -> None:
    """Raise unless |analytic - numeric| <= atol + rtol |numeric| holds everywhere.

    Args:
        name: what was checked, for the report, e.g. "input 0".
        analytic, numeric: arrays of one shape: derivatives per element, or per direction.
        atol, rtol: the absolute and relative tolerances.
        describe: maps the worst flat index k (an int) to the words of the report, e.g.
            ``lambda k: f"random direction {k}"``; called only on a failure.

    Raises:
        GradcheckError: at the worst entry (a NaN counts as the worst), with both values.
    """
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isfinite(excess), excess, np.inf)  # a NaN gradient is the worst error
    worst = int(np.argmax(excess))
    if excess.reshape(-1)[worst] > 0:
        raise GradcheckError(
            f"gradcheck failed for {name} at {describe(worst)}: "
            f"analytic {analytic.reshape(-1)[worst]:.8g}, numeric {numeric.reshape(-1)[worst]:.8g} "
            f"(atol={atol}, rtol={rtol})"
        )
