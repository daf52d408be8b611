"""What every example needs besides the math, so that the examples can show only the math.

* :func:`add_run_arguments` and :func:`parse_example_args` - the flags every example shares,
  presets filled in, bad values turned into argparse errors;
* :class:`FlagError`, :func:`exit_for_flag` and :func:`resume_command` - a flag found unusable
  after parsing ends the program as argparse would (one line, exit status 2), and the command
  line that continues an interrupted run;
* :class:`TrainingRun` - the bookkeeping of a training loop: a progress bar, the loss history,
  a stop on a non-finite loss, checkpoints, resuming, and Ctrl-C saving a checkpoint;
* :func:`embed` - a model applied to a whole data set in batches, without a graph;
* :func:`write_metrics` - the run's numbers as ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from tqdm.auto import tqdm

from tinysiam.autograd import no_grad
from tinysiam.backend import (
    DEVICES,
    GPU_INSTALL,
    check_device,
    cuda_available,
    get_array_module,
    to_numpy,
)
from tinysiam.checkpoint import load, save
from tinysiam.tensor import Tensor, tensor


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class FlagError(ValueError):
    """A command-line flag whose value the program cannot use, found after parsing.

    Its message is one line: the flag, the value that came, what is wrong with it, what to do.
    :func:`exit_for_flag` prints it as argparse prints its own errors.

    Example:
        >>> raise FlagError("--per-class", 500, "no digit has 500 training images",
        ...                 "give a smaller --per-class or a larger --train-size")
    """

    def __init__(self, flag: str, value: Any, problem: str, advice: str) -> None:
        self.flag = flag
        text = f"{flag} {value}: {problem.rstrip('.')}; {advice}"
        super().__init__(" ".join(line.strip() for line in text.splitlines()))


class ResumeError(ValueError):
    """A checkpoint that a run cannot continue from: not a training checkpoint, or one saved by
    a different run (other objects or shapes, other loss names, more iterations)."""


class TrainingInterrupted(SystemExit):
    """Ctrl-C stopped a run after it saved a checkpoint; uncaught, it exits with status 130.

    Attributes:
        iteration: the iterations done.
        checkpoint: the file that continues the run (``--resume``).
    """

    def __init__(self, iteration: int, checkpoint: Path) -> None:
        super().__init__(130)  # 128 + SIGINT, the shell's status for a process stopped by Ctrl-C
        self.iteration, self.checkpoint = iteration, checkpoint


def exit_for_flag(error: FlagError) -> NoReturn:
    """End the program as argparse ends it for a bad flag: ``prog: error: <message>``, status 2."""
    print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
    raise SystemExit(2)


def resume_command(checkpoint: str | Path, argv: Sequence[str] | None = None) -> str:
    """The command line that continues a run: the same flags, and ``--resume checkpoint``.

    Args:
        checkpoint: the checkpoint to continue from.
        argv: the program's command line, script first (None: ``sys.argv``); a ``--resume`` in
            it is replaced.

    Example:
        >>> resume_command("runs/x/checkpoint.npz", ["examples/x.py", "--seed", "3"])
        'python examples/x.py --seed 3 --resume runs/x/checkpoint.npz'
    """
    script, *flags = sys.argv if argv is None else argv
    kept: list[str] = []
    skip_value = False
    for flag in flags:
        if not skip_value and flag == "--resume":
            skip_value = True
        elif skip_value or flag.startswith("--resume="):
            skip_value = False
        else:
            kept.append(flag)
    return shlex.join(["python", script, *kept, "--resume", str(checkpoint)])


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
        parser.error(
            f"--resume {args.resume}: no such file; give the checkpoint.npz that a run saved "
            "in its --out folder"
        )
    if args.device == "cuda" and not cuda_available():
        if find_spec("cupy") is None:
            found = "CuPy is not installed"
        else:
            found = "CuPy finds no GPU that runs its work (or lacks its CUDA libraries)"
        parser.error(
            f"--device cuda: {found}; install CuPy with {GPU_INSTALL}, or use --device cpu"
        )


def make_out_folder(parser: argparse.ArgumentParser, out: Path) -> None:
    """Create the ``--out`` folder now, so that one that cannot be made is an argparse error
    before any work, not a traceback when the first figure is saved."""
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out}: a file, not a folder; give a folder (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(
            f"--out {out}: cannot create this folder ({error.strerror}); give a folder in a "
            "place you can write to"
        )


def parse_example_args(
    argv: list[str] | None,
    description: str,
    flags: Mapping[str, tuple[Any, ...]],
    *,
    default_out: Path,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    default_preset: str | Callable[[str], str] | None = None,
    at_least: Mapping[str, int] | None = None,
) -> argparse.Namespace:
    """Parse an example's command line: its own flags, the shared ones, a preset, checks.

    Builds the parser from ``flags``, adds ``--preset`` (with ``presets``) and the shared flags
    (:func:`add_run_arguments`), parses, resolves ``--device`` ("auto" becomes "cpu" or "cuda";
    "cuda" must find CuPy and a GPU), picks the preset (``default_preset``, which may be a
    function of the device; else the first preset) and sets every flag left at None to the
    preset's value. Every number given to the example's own flags must be positive, or at least
    its ``at_least`` value. Last, it creates the ``--out`` folder.

    Args:
        argv: the arguments (None: ``sys.argv[1:]``).
        description: the help's description (the example's docstring).
        flags: ``"--flag": (kind, help)`` or ``(kind, help, default)``; kind is a type (int,
            float, str) or a list of choices; the default is None (a preset's value, or unused).
        default_out: the default of ``--out``.
        presets: preset name -> {flag destination: value}.
        default_preset: the preset when ``--preset`` is not given.
        at_least: destination -> smallest allowed value, instead of "positive".

    Returns:
        The parsed arguments; bad values have already ended the program with an argparse error
        (usage, then ``prog: error: <message>``, exit status 2).

    Example:
        >>> FLAGS = {"--iterations": (int, "training iterations"), "--lr": (float, "step size")}
        >>> args = parse_example_args(argv, __doc__, FLAGS, default_out=Path("runs/x"),
        ...                           presets={"a": {"iterations": 100, "lr": 0.1}},
        ...                           default_preset="a")
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, (kind, help, *default) in flags.items():
        options: dict[str, Any] = {"default": default[0] if default else None, "help": help}
        if isinstance(kind, (list, tuple)):
            options["choices"] = kind
        else:
            options["type"] = kind
        parser.add_argument(flag, **options)
    if presets is not None:
        parser.add_argument(
            "--preset", choices=sorted(presets), default=None, help="a set of defaults (see above)"
        )
    add_run_arguments(parser, default_out)
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    args.device = resolve_device(args.device)
    if presets is not None:
        if callable(default_preset):
            default_preset = default_preset(args.device)
        if args.preset is None:
            args.preset = default_preset or next(iter(presets))
        for name, value in presets[args.preset].items():
            if getattr(args, name, None) is None:
                setattr(args, name, value)
    at_least = at_least or {}
    for flag, (kind, *_) in flags.items():
        name = flag.lstrip("-").replace("-", "_")
        value = getattr(args, name)
        if kind not in (int, float) or value is None:
            continue
        if name in at_least and value < at_least[name]:
            parser.error(f"{flag} must be at least {at_least[name]}, got {value}")
        if name not in at_least and value <= 0:
            parser.error(f"{flag} must be positive, got {value}")
    make_out_folder(parser, args.out)
    return args


def embed(
    model: Any, images: np.ndarray, device: str, batch: int = 1000, branch: int | None = None
) -> np.ndarray:
    """The outputs (N, D) of ``model`` for a whole data set ``images`` (N, ...), as a host array.

    In inference mode (``model.eval()``, restored afterwards), without a graph, ``batch`` images
    at a time (one forward over tens of thousands of images would hold all their activations).

    Args:
        model: a Module; with ``branch`` given, a :class:`~tinysiam.nn.Twin` whose branch 0 or 1
            embeds the images.
        images: (N, ...) host array.
        device: where the model lives.
        batch: images per forward pass.
        branch: for a Twin, which branch (None: call the model itself).

    Example:
        >>> features = embed(branch, test_images, "cpu")   # (N, 2)
    """
    training = model.training
    model.eval()
    try:
        if branch is None:
            return outputs_in_batches(model, images, device, batch)
        return outputs_in_batches(lambda x: model.embed(x, branch=branch), images, device, batch)
    finally:
        model.train(training)


def write_metrics(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """Write ``metrics`` to ``out/metrics.json`` (indented JSON) and return them."""
    (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


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
        "Likely causes: a learning rate too high (try 10x lower), an unguarded loss (sqrt at "
        "distance 0, log of a probability of exactly 0 or 1), or NaN/inf in the input images."
    )


def save_training_state(
    path: Path,
    iteration: int,
    losses: dict[str, list[float]] | list[float],
    model: Any = None,
    optimizer: Any = None,
    sampler: Any = None,
    seconds: float = 0.0,
    **more: Any,
) -> Path:
    """Write a training run's checkpoint to ``path`` atomically (see :mod:`tinysiam.checkpoint`).

    Saves the iteration, the loss history (a dict of lists by loss name, or one list), the
    training seconds so far, and the state of each object given by name: a Module, optimiser or
    sampler (anything with ``state_dict``) or a ``numpy.random.Generator``.
    :class:`TrainingRun` writes its checkpoints with it.

    Example:
        >>> save_training_state("ckpt.npz", 100, history, twin, optimizer, sampler)
    """
    objects = {"model": model, "optimizer": optimizer, "sampler": sampler, **more}
    states = {
        name: item if isinstance(item, np.random.Generator) else item.state_dict()
        for name, item in objects.items()
        if item is not None
    }
    save(path, iteration=iteration, seconds=seconds, losses=losses, **states)
    return path


def load_training_state(
    path: Path, model: Any = None, optimizer: Any = None, sampler: Any = None, **more: Any
) -> tuple[int, Any, float]:
    """Restore what :func:`save_training_state` wrote into the objects given by the same names.

    Returns:
        (iteration, losses, seconds): losses as saved, a dict of lists of floats or one list.

    Raises:
        CheckpointError: the file is not a readable tinysiam checkpoint.
        ValueError: it is not a training checkpoint, holds no entry for an object given, or
            the entry does not fit the object (the object's ``load_state_dict`` says why).
    """
    state = load(path)
    missing = [key for key in ("iteration", "losses", "seconds") if key not in state]
    if missing:
        raise ValueError(
            f"{path}: not a training checkpoint (no {missing}; it holds {sorted(state)})"
        )
    objects = {"model": model, "optimizer": optimizer, "sampler": sampler, **more}
    for name, item in objects.items():
        if item is None:
            continue
        if name not in state:
            raise ValueError(f"{path}: the checkpoint holds no {name!r} (it has {sorted(state)})")
        if isinstance(item, np.random.Generator):
            item.bit_generator.state = state[name].bit_generator.state
        else:
            item.load_state_dict(state[name])
    saved = state["losses"]
    if isinstance(saved, dict):
        losses: Any = {key: [float(v) for v in values] for key, values in saved.items()}
    else:
        losses = [float(v) for v in saved]
    return int(state["iteration"]), losses, float(state["seconds"])


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


class TrainingRun:
    """The bookkeeping of a training loop, so that the loop itself shows only the math.

    ``for iteration in run:`` yields the iterations still to do (all of them, or those after the
    checkpoint given as ``resume``); the loop body computes the loss, steps the optimiser and
    hands the loss to :meth:`record`. Between iterations the run

    * updates a progress bar (iteration, rate, the latest loss),
    * keeps the loss history and stops at the first NaN or infinite loss
      (:class:`NonFiniteLossError`, naming the iteration),
    * saves a checkpoint every ``checkpoint_every`` iterations, and on the first Ctrl-C saves
      one and raises :class:`TrainingInterrupted` (exit status 130 unless caught), which names
      the checkpoint.

    The loss history ``run.losses`` is one shape for every run: a dict from each loss name to
    its list of floats, one per iteration done (resumed sessions included). A run records one
    loss, named "loss" (``run.losses["loss"]``), unless ``names`` names several (several models
    trained side by side, each loss recorded by name).

    A checkpoint (``out/checkpoint.npz``, see :mod:`tinysiam.checkpoint`) holds the iteration,
    the training seconds so far, the loss history and the state of every object named in
    ``state``: each a Module, optimiser or sampler (anything with ``state_dict`` and
    ``load_state_dict``) or a ``numpy.random.Generator``. Resuming restores all of them, so a
    resumed run continues exactly as the uninterrupted one would have.

    On a GPU, reading a loss back makes the host wait for the device, so losses are read back
    ``readback_every`` iterations at a time there (at every iteration on the CPU, where it costs
    nothing); a non-finite loss is still reported at the iteration where it appeared.

    Args:
        iterations: the run's total number of iterations (resumed ones included), >= 0.
        out: the folder of ``checkpoint.npz`` (created when the first checkpoint is saved).
        device: "cpu" or "cuda", where the losses are computed.
        seed: the run's seed, reported by :meth:`summary` (None: not reported).
        checkpoint_every: save a checkpoint every this many iterations (0: only on Ctrl-C).
        resume: a checkpoint to continue from (None: start at iteration 0); one that does not
            fit this run is a :class:`ResumeError`.
        names: the names of the losses recorded each iteration.
        readback_every: on a GPU, iterations between reads of the losses.
        state: the objects a checkpoint saves, by name.

    Example:
        >>> run = TrainingRun(3000, "runs/demo", model=twin, optimizer=optimizer, sampler=sampler)
        >>> for iteration in run:
        ...     loss = batch_loss()
        ...     optimizer.zero_grad()
        ...     loss.backward()
        ...     optimizer.step()
        ...     run.record(loss)
        >>> run.losses["loss"][-1], run.seconds
    """

    def __init__(
        self,
        iterations: int,
        out: str | Path,
        *,
        device: str = "cpu",
        seed: int | None = None,
        checkpoint_every: int = 0,
        resume: str | Path | None = None,
        names: tuple[str, ...] = ("loss",),
        readback_every: int = 10,
        **state: Any,
    ) -> None:
        if isinstance(iterations, argparse.Namespace):
            raise TypeError(
                "TrainingRun takes explicit arguments; from parsed flags use "
                "TrainingRun.from_args(args, **state)"
            )
        if iterations < 0 or checkpoint_every < 0 or readback_every < 1:
            raise ValueError(
                "TrainingRun: iterations and checkpoint_every must be >= 0 and readback_every "
                f">= 1, got {iterations}, {checkpoint_every} and {readback_every}"
            )
        if not names or len(set(names)) != len(names):
            raise ValueError(f"TrainingRun: names must be distinct loss names, got {names!r}")
        self.iterations, self.device, self.seed = int(iterations), check_device(device), seed
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoint = Path(out) / "checkpoint.npz"
        self.names, self.state = tuple(names), state
        self.readback_every = 1 if self.device == "cpu" else readback_every
        self.losses: dict[str, list[float]] = {name: [] for name in self.names}
        self.start, self.previous_seconds, self.session_seconds = 0, 0.0, 0.0
        self._pending: list[dict[str, Any]] = []  # device losses not yet read back, oldest first
        self._recorded = 0
        if resume is not None:
            self._restore(Path(resume))
            print(f"resumed from {resume} at iteration {self.start}")

    @classmethod
    def from_args(
        cls,
        args: argparse.Namespace,
        *,
        names: tuple[str, ...] = ("loss",),
        readback_every: int = 10,
        **state: Any,
    ) -> TrainingRun:
        """A run set by an example's flags: ``--iterations`` and the shared ones
        (:func:`add_run_arguments`: ``--out``, ``--device``, ``--seed``, ``--checkpoint-every``,
        ``--resume``); a ``--resume`` checkpoint that does not fit is a :class:`FlagError`.

        Example:
            >>> run = TrainingRun.from_args(args, model=twin, optimizer=optimizer)
        """
        try:
            return cls(
                args.iterations,
                args.out,
                device=args.device,
                seed=args.seed,
                checkpoint_every=args.checkpoint_every,
                resume=args.resume,
                names=names,
                readback_every=readback_every,
                **state,
            )
        except ResumeError as error:
            raise FlagError(
                "--resume",
                args.resume,
                str(error),
                "give a checkpoint.npz that this program saved and the flags of the run that "
                "saved it (--iterations may grow)",
            ) from error

    @property
    def seconds(self) -> float:
        """Training time over every session of this run (resumed ones included)."""
        return self.previous_seconds + self.session_seconds

    @property
    def trained(self) -> int:
        """Iterations done in this session."""
        return self._recorded - self.start

    def summary(self) -> dict[str, Any]:
        """The run's numbers for metrics.json: seed, device, final loss, time, speed.

        ``final_loss`` is the last loss, a number for a run of the one loss "loss", else a dict
        by name (None for a loss with no history yet).
        """
        last = {name: history[-1] if history else None for name, history in self.losses.items()}
        rate = self.trained / self.session_seconds if self.trained else None
        return {
            "seed": self.seed,
            "device": self.device,
            "final_loss": last["loss"] if self.names == ("loss",) else last,
            "training_seconds": round(self.seconds, 2),
            "iterations_per_second": round(rate, 2) if rate else None,
            "ms_per_iteration": round(1000 / rate, 1) if rate else None,
        }

    def __iter__(self) -> Iterator[int]:
        bar = progress_bar(self.iterations, initial=self.start)
        started = time.perf_counter()
        self._recorded = self.start
        try:
            with InterruptFlag() as interrupt:
                for iteration in range(self.start, self.iterations):
                    yield iteration
                    if self._recorded != iteration + 1:
                        raise RuntimeError("call run.record(loss) once in every iteration")
                    done = iteration + 1
                    due = self.checkpoint_every and done % self.checkpoint_every == 0
                    last = done == self.iterations or interrupt.requested
                    if due or last or done % self.readback_every == 0:
                        self._read_back(bar)
                    bar.update()
                    self.session_seconds = time.perf_counter() - started
                    if due or interrupt.requested:
                        self.save(done)
                    if interrupt.requested:
                        bar.close()
                        print(f"\ninterrupted after iteration {done}; saved {self.checkpoint}.")
                        raise TrainingInterrupted(done, self.checkpoint)
        finally:
            bar.close()
        self.session_seconds = time.perf_counter() - started

    def record(self, loss: Tensor | None = None, **named: Tensor) -> None:
        """Note this iteration's loss: ``record(loss)`` for the one loss "loss", else each loss
        by its name, ``record(separate=a, shared=b)``."""
        given = named if loss is None else {"loss": loss, **named}
        if set(given) != set(self.names):
            raise TypeError(f"record: expected the losses {list(self.names)}, got {sorted(given)}")
        self._pending.append({name: value.data for name, value in given.items()})
        self._recorded += 1

    def save(self, iteration: int) -> Path:
        """Write a checkpoint after ``iteration`` iterations (:func:`save_training_state`)."""
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        return save_training_state(
            self.checkpoint, iteration, self.losses, seconds=self.seconds, **self.state
        )

    def _restore(self, path: Path) -> None:
        """Continue from the checkpoint at ``path``: a :class:`ResumeError` if it does not fit."""
        try:
            start, losses, seconds = load_training_state(path, **self.state)
        except (FileNotFoundError, ValueError, TypeError) as error:  # CheckpointError included
            raise ResumeError(str(error)) from error
        if isinstance(losses, list):  # one list: the history of the one loss "loss"
            losses = {"loss": losses}
        if set(losses) != set(self.names):
            raise ResumeError(
                f"the checkpoint has the losses {sorted(losses)}, this run records "
                f"{sorted(self.names)}"
            )
        if start > self.iterations:
            raise ResumeError(
                f"the checkpoint is at iteration {start}, past this run's {self.iterations} "
                "iterations"
            )
        self.start, self.losses, self.previous_seconds = start, losses, seconds
        self._recorded = self.start

    def _read_back(self, bar: tqdm) -> None:
        """Move the pending losses to the host (one transfer per name), check and keep them."""
        if not self._pending:
            return
        first = self._recorded - len(self._pending) + 1  # the iteration of the oldest pending
        for name, history in self.losses.items():
            arrays = [pending[name] for pending in self._pending]
            values = to_numpy(get_array_module(arrays[0]).stack(arrays))
            for k, value in enumerate(values.tolist()):
                check_finite(value, first + k, history[-1] if history else None)
                history.append(value)
        self._pending = []
        bar.set_postfix(
            {name: f"{history[-1]:.4f}" for name, history in self.losses.items()}, refresh=False
        )
