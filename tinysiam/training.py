"""What every example's training loop needs besides the math: device choice, a progress bar,
a stop on a non-finite loss, and checkpoints that let an interrupted run continue exactly.
"""

from __future__ import annotations

import argparse
import math
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .autograd import no_grad
from .backend import DEVICES, cuda_available
from .checkpoint import load, save
from .tensor import Tensor, tensor


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


def resolve_device(choice: str) -> str:
    """ "auto" -> "cuda" when CuPy sees a GPU, else "cpu"; "cpu"/"cuda" pass through."""
    if choice == "auto":
        return "cuda" if cuda_available() else "cpu"
    if choice not in DEVICES:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {choice!r}")
    return choice


def add_run_arguments(parser: argparse.ArgumentParser, default_out: Path) -> None:
    """Add the flags every example shares: --seed, --device, --out, checkpoints, --no-show."""
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds weights, pairs and any generated data (>= 0)"
    )
    parser.add_argument(
        "--device",
        choices=("auto", *DEVICES),
        default="auto",
        help="auto: cuda when CuPy sees a GPU, else cpu",
    )
    parser.add_argument(
        "--out", type=Path, default=default_out, help="folder for figures, metrics, checkpoints"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="save a checkpoint every N iterations (0: only on Ctrl-C)",
    )
    parser.add_argument(
        "--resume", type=Path, default=None, metavar="PATH", help="continue from a checkpoint"
    )
    parser.add_argument(
        "--no-show", action="store_true", help="save the figures without opening windows"
    )


def check_run_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn bad values of the shared flags into argparse errors instead of tracebacks later."""
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.checkpoint_every < 0:
        parser.error(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    if args.resume is not None and not args.resume.is_file():
        parser.error(f"--resume: no checkpoint file at {args.resume}")


def outputs_in_batches(
    fn: Callable[[Tensor], Tensor], images: np.ndarray, device: str, batch: int
) -> np.ndarray:
    """``fn`` applied to ``images`` (N, ...) ``batch`` at a time without a graph, as one host array.

    For embedding a whole data set: one forward over tens of thousands of images at once would
    hold all their activations. Put the model in ``eval()`` mode first.
    """
    with no_grad():
        parts = [
            fn(tensor(images[i : i + batch], device=device)).numpy()
            for i in range(0, len(images), batch)
        ]
    return np.concatenate(parts)


def progress_bar(total: int, initial: int = 0) -> tqdm:
    """A bar showing iteration, elapsed time and rate; set the loss with ``bar.set_postfix``."""
    return tqdm(total=total, initial=initial, unit="it", dynamic_ncols=True, mininterval=0.5)


def check_finite(loss: float, iteration: int, last_finite: float | None) -> None:
    """Stop training at the first NaN or infinite loss, saying when and why it may have happened."""
    if math.isfinite(loss):
        return
    last = (
        f"{last_finite:.6g}"
        if last_finite is not None
        else "none (the first loss was already non-finite)"
    )
    raise NonFiniteLossError(
        f"the loss became {loss} at iteration {iteration}; the last finite loss was {last}. "
        "Likely causes: a learning rate too high (try 10x lower), an unguarded loss (sqrt at distance 0, "
        "log of a probability of exactly 0 or 1), or NaN/inf in the input images."
    )


def save_training_state(
    path: Path,
    iteration: int,
    losses: list[float],
    model: Any,
    optimizer: Any,
    sampler: Any,
    seconds: float = 0.0,
) -> Path:
    """Write model, optimiser, pair-sampler RNG, iteration, loss history and the training seconds
    so far to ``path`` atomically."""
    save(
        path,
        iteration=iteration,
        seconds=seconds,
        losses=losses,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        sampler=sampler.state_dict(),
    )
    return path


def load_training_state(
    path: Path, model: Any, optimizer: Any, sampler: Any
) -> tuple[int, list[float], float]:
    """Restore what :func:`save_training_state` wrote; returns (iteration, losses, seconds)."""
    state = load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    sampler.load_state_dict(state["sampler"])
    return int(state["iteration"]), [float(v) for v in state["losses"]], float(state["seconds"])


class InterruptFlag:
    """Turn Ctrl-C (SIGINT) into a flag the loop checks between iterations.

    A KeyboardInterrupt can land anywhere, say between an optimiser step and the bookkeeping
    after it, leaving a state that no checkpoint describes. Inside ``with InterruptFlag() as stop:``
    the first Ctrl-C only sets ``stop.requested``; the loop finishes its iteration, saves and exits.
    A second Ctrl-C interrupts at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> InterruptFlag:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGINT, self._previous)
