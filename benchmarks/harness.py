"""Timing harness: each framework in its own worker process, timed turn by turn.

Why separate processes: PyTorch's OpenMP threads keep spinning for a while after each of its
ops, and in a shared process they steal the cores from NumPy's BLAS (we measured tinysiam's
conv2d backward running 2x slower after a single PyTorch op in the same process). One worker per
framework, both alive for the whole workload and asked in turn for one timed iteration,
keeps the comparison interleaved (both see the same machine state) and fair:

* the order of the turns alternates (A B, B A, A B, ...), so neither side always runs first;
* a short pause between turns lets the other worker's BLAS / OpenMP threads stop spinning
  (we measured OpenBLAS threads busy for ~20 ms of CPU after a GEMM);
* the reported time is the median of the timed turns, after ``warmup`` untimed iterations.

Memory: each worker reports the growth of its resident memory: its peak during the iterations
minus its level just after importing its framework and running a tiny op in it
(``Contender.prime``: thread pools, autograd engine, kernel caches), before building anything.
Only anonymous memory counts (arrays, heap, stacks; not the pages of the libraries' code, see
``_peak_anonymous_bytes``). So the number is what the workload costs (weights, optimiser state,
data, activations, gradients), not the size of the library. Linux only (elsewhere it falls back
to the process's peak RSS). The peak is reset after the model is built, so a build-time
transient (PyTorch's worker builds the tinysiam model once to copy its weights) is not counted.
On a GPU the framework also reports its allocator's peak device memory
(``Contender.device_memory``).

Usage:
    results = time_interleaved({"tinysiam": Contender(factory_a), "pytorch": Contender(factory_b)},
                               repeats=7, warmup=2)
    results["tinysiam"]["seconds"]      # median seconds per iteration

A factory runs inside the worker: it builds the model, the data and the optimiser and returns
``step``, a function running one training iteration (it may return the loss, reported back as
``first_output`` from its first call: a check that both sides computed the same thing). The
factory and everything in a Contender must be picklable (module-level functions, or
``functools.partial`` of them), because workers are started with "spawn".
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import importlib
import multiprocessing as mp
import resource
import statistics
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

Step = Callable[[], Any]  # one training iteration; may return the loss
StepFactory = Callable[
    [], Step
]  # builds the model and data (in the worker), returns one training step

PAUSE_SECONDS = 0.5  # between turns: lets the previous worker's threads go to sleep


@dataclass(frozen=True)
class Contender:
    """One framework's side of a workload.

    Attributes:
        factory: builds everything in the worker and returns the step to time.
        preload: modules imported before the memory baseline (the framework itself).
        prime: run before the memory baseline too: a tiny op or two that starts the framework's
            thread pools and kernel caches, whose one-time memory is not the workload's.
        device_memory: None on the CPU; on a GPU, a function returning the peak bytes its
            allocator has held, read after the timed iterations.
    """

    factory: StepFactory
    preload: tuple[str, ...] = ()
    prime: Callable[[], Any] | None = None
    device_memory: Callable[[], int] | None = None


class WorkerError(RuntimeError):
    """A worker failed to build or run its step.

    ``name`` says whose; the message holds its traceback.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


# ----- memory, read from /proc on Linux ---------------------------------------------------------
def _memory_status() -> dict[str, int]:
    """VmHWM (peak resident), RssAnon (arrays, heap, stacks), RssFile and RssShmem, in bytes."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0]) * 1024  # reported in kB
    return fields


def _anonymous_bytes() -> int:
    """Anonymous resident memory now: what arrays, tensors and the heap occupy."""
    try:
        return _memory_status()["RssAnon"]
    except (OSError, KeyError):  # not Linux: the peak so far is the best we have (bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_anonymous_bytes() -> int:
    """Peak anonymous resident memory since the last :func:`_reset_peak`.

    The kernel keeps only the peak of ALL resident memory (VmHWM), which also counts the pages
    of shared libraries read in as their code first runs (tens of MB for libtorch). File-backed
    pages only accumulate, so VmHWM minus the file-backed pages resident now is the anonymous
    memory at the peak, give or take the library pages read in after it.
    """
    try:
        status = _memory_status()
        return status["VmHWM"] - status["RssFile"] - status["RssShmem"]
    except (OSError, KeyError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _release_free_heap() -> None:
    """Collect garbage and hand the C heap's free pages back to the system (glibc's malloc_trim).

    After a build, memory freed by its temporaries would otherwise stay resident and be counted.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def _reset_peak() -> None:
    """Start a new high-water mark of resident memory (Linux >= 4.0; silently kept elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# ----- the worker -----------------------------------------------------------------------------
def _worker(connection, contender: Contender, warmup: int) -> None:
    """Build, warm up, then answer "step" with one timed iteration until told "stop"."""
    try:
        for name in contender.preload:
            importlib.import_module(name)
        if contender.prime is not None:
            contender.prime()
        baseline = _anonymous_bytes()
        step = contender.factory()
        _release_free_heap()
        _reset_peak()  # the model, data and optimiser stay in RSS; build-time transients don't
        outputs = [step() for _ in range(warmup)]
        connection.send(("ready", None))
        while connection.recv() == "step":
            start = time.perf_counter()
            output = step()
            connection.send(("time", time.perf_counter() - start))
            outputs = outputs or [output]
        report = {
            "peak_bytes": max(0, _peak_anonymous_bytes() - baseline),
            "device_peak_bytes": contender.device_memory() if contender.device_memory else None,
            "first_output": outputs[0] if outputs else None,
        }
        connection.send(("done", report))
    except BaseException:  # reported to the parent, which raises WorkerError
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def _receive(name: str, connection, expected: str) -> Any:
    try:
        kind, payload = connection.recv()
    except EOFError:
        raise WorkerError(name, "the worker died without a word (killed for memory?)") from None
    if kind == "error":
        raise WorkerError(name, f"the worker failed:\n{payload}")
    if kind != expected:
        raise WorkerError(name, f"expected {expected!r} from the worker, got {kind!r}")
    return payload


def time_interleaved(
    contenders: dict[str, Contender],
    repeats: int,
    warmup: int,
    pause: float = PAUSE_SECONDS,
) -> dict[str, dict[str, Any]]:
    """Time each contender's step in its own process, turn by turn.

    Args:
        contenders: name -> Contender; all are started before any is timed.
        repeats: timed iterations per contender (the median is reported).
        warmup: untimed iterations each worker runs first (allocations, caches, autotuning).
        pause: seconds of rest between two turns.

    Returns:
        name -> {"seconds": median seconds per step, "times": every timed step, "peak_bytes": RSS
        growth, "device_peak_bytes": int or None, "first_output": the first step's return value}.

    Raises:
        WorkerError: when a worker fails; the other workers are stopped.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    context = mp.get_context("spawn")
    workers = {}
    try:
        for name, contender in contenders.items():
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker, args=(child, contender, warmup), daemon=True, name=f"bench-{name}"
            )
            process.start()
            child.close()  # so that a dead worker reads as EOF here instead of a hang
            workers[name] = (parent, process)
        for name, (parent, _) in workers.items():
            _receive(name, parent, "ready")
        times: dict[str, list[float]] = {name: [] for name in workers}
        order = list(workers)
        for turn in range(repeats):
            for name in order if turn % 2 == 0 else reversed(order):
                time.sleep(pause)
                parent = workers[name][0]
                parent.send("step")
                times[name].append(_receive(name, parent, "time"))
        results = {}
        for name, (parent, process) in workers.items():
            parent.send("stop")
            report = _receive(name, parent, "done")
            process.join()
            results[name] = {
                "seconds": statistics.median(times[name]),
                "times": times[name],
                **report,
            }
        return results
    finally:
        for parent, process in workers.values():
            if process.is_alive():
                process.terminate()
                process.join()
            parent.close()


# ----- the machine's matrix-multiply throughput -------------------------------------------------
def gemm_gflops(device: str = "cpu", size: int | None = None, repeats: int = 10) -> float:
    """Measured float32 matrix-multiply throughput (GFLOP/s, best of ``repeats``) in this process.

    On "cpu" it is NumPy's BLAS (n = 2048); on "cuda" CuPy's cuBLAS (n = 8192, float32 without
    TF32, as CuPy multiplies by default). An n x n product is 2 n^3 floating-point operations.
    """
    import numpy as np

    from tinysiam.backend import array_module

    xp = array_module(device)
    size = size or (2048 if device == "cpu" else 8192)
    synchronize = (lambda: None) if device == "cpu" else xp.cuda.Device().synchronize
    a = xp.asarray(np.random.default_rng(0).standard_normal((size, size), dtype=np.float32))
    a @ a
    synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def measure_gemm_gflops(device: str = "cpu") -> float:
    """:func:`gemm_gflops` in a fresh worker process, so this one keeps no BLAS threads warm."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(gemm_gflops, device).result()
