"""The grader's side of the pipe: the learner's process, and proxies of the objects it holds.

:class:`Learner` starts :mod:`.learner_process` for one task, on a workspace copy made by
:func:`tinysiam.course.workspace.assemble`, with limits on its memory, CPU time and output.
The graders never hold a learner object: ``learner.module("autograd")`` is a :class:`Proxy`,
whose attribute reads, calls, attribute writes, item access and operators become requests.
What comes back is a plain value (a number, a string, None, a NumPy array of numbers, tuples,
lists and dicts of them) or a new proxy. Nothing is unpickled, so nothing the learner wrote
runs in this process.

Every request must be answered before the task's deadline. A learner exception becomes a
:class:`LearnerError` (its type's name, message and workspace line); a process that runs past
the deadline, dies, or answers what the grader cannot read raises :class:`LearnerStopped`
and is gone for the rest of the task.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import learner_process
from .learner_process import HEADER, MAX_MESSAGE, decode, encode, output_limit_reached

SCRIPT = Path(learner_process.__file__).resolve()
PACKAGES = ("numpy",)  # what the learner's process may import besides the workspace


@dataclass(frozen=True)
class Limits:
    """What the learner's process may use, per task.

    Attributes:
        memory: bytes of address space (RLIMIT_AS): an allocation past it raises MemoryError.
        output: bytes of each file it writes, its prints included (RLIMIT_FSIZE).
        cpu_seconds: CPU time (RLIMIT_CPU), a backstop to the grader's wall-clock deadline.
    """

    memory: int = 2 * 2**30
    output: int = 2**20
    cpu_seconds: int = 600

    def memory_text(self) -> str:
        return _size(self.memory)

    def output_text(self) -> str:
        return _size(self.output)


def _size(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


class LearnerError(Exception):
    """An exception raised by the learner's code, as the learner's process described it."""

    def __init__(self, info: dict[str, Any], limits: Limits) -> None:
        self.type_name = str(info.get("type"))
        self.bases = [str(name) for name in info.get("bases") or []]
        self.message = str(info.get("message"))
        self.where = str(info.get("where") or "")
        if self.type_name == "MemoryError":
            self.message += (
                f" (your code ran out of memory: the limit is {limits.memory_text()} per task)"
            )
        if output_limit_reached(info.get("errno")):
            self.message += (
                f" (your code wrote more than the output limit, {limits.output_text()} per file, "
                "prints included)"
            )
        super().__init__(self.message)

    def is_a(self, name: str) -> bool:
        """Whether the learner's exception is of a class named ``name``, or a subclass of one."""
        return name in self.bases


class LearnerNotImplemented(LearnerError, NotImplementedError):
    """The learner's code raised NotImplementedError (a stub: "Task 5.1: ...")."""


class LearnerStopped(BaseException):
    """The learner's process is gone: past its deadline, dead, or unreadable; the message says."""


class Learner:
    """One learner process, serving one task of one workspace copy."""

    def __init__(
        self,
        root: Path,
        origins: dict[str, list[int]],
        limits: Limits,
        deadline: float,
        folder: Path,
    ) -> None:
        """Start the process on ``root/tinysiam`` and wait (until ``deadline``) for its import.

        Raises:
            LearnerError: the workspace raised on import.
            LearnerStopped: the import did not finish in time, or the process died.
        """
        self.limits, self.deadline, self.timeout = limits, deadline, deadline - time.monotonic()
        self.errstate: dict[str, str] = {}
        self.proxies: dict[int, Proxy] = {}
        self.output = folder / "output.txt"
        config = {
            "package": str(root / "tinysiam"),
            "path": [str(root), str(_packages(folder))],
            "origins": origins,
            "output": str(self.output),
            "memory": limits.memory,
            "cpu_seconds": limits.cpu_seconds,
            "output_limit": limits.output,
        }
        (folder / "config.json").write_text(json.dumps(config))
        environment = {key: value for key, value in os.environ.items() if key in ("PATH", "LANG")}
        environment |= {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(SCRIPT), str(folder / "config.json")],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,
        )
        self.stopped: str | None = None
        answer = self._receive("importing the workspace")
        if "error" in answer:
            raise self._error(answer["error"])

    # ----- requests ----------------------------------------------------------------------------
    def module(self, name: str) -> Proxy:
        """The workspace's module ``name`` ("ops.elementwise")."""
        return self.request({"do": "module", "name": name}, f"importing tinysiam.{name}")

    def kit(self, name: str, *args: Any) -> Any:
        """Build a test object of :data:`learner_process.KIT` in the learner's process."""
        return self.request({"do": "kit", "name": name, "args": self.encode(list(args))}, name)

    def request(self, message: dict[str, Any], what: str) -> Any:
        """Send ``message``; return the decoded answer or raise what the learner raised."""
        if self.stopped is not None:
            raise LearnerStopped(self.stopped)
        body = json.dumps({**message, "errstate": self.errstate}).encode()
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(len(body).to_bytes(HEADER, "big") + body)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died; _receive says how
        answer = self._receive(what)
        if "error" in answer:
            raise self._error(answer["error"])
        try:
            return decode(answer.get("value"), self._proxy)
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            reason = f"{what} returned something the grader cannot read ({error})"
            raise self._stop(reason) from None

    def encode(self, value: Any) -> Any:
        return encode(value, self._handle_of)

    # ----- the process -------------------------------------------------------------------------
    def close(self) -> None:
        """End the process (and anything it started)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _receive(self, what: str) -> dict[str, Any]:
        header = self._read(HEADER, what)
        size = int.from_bytes(header, "big")
        if size > MAX_MESSAGE:
            raise self._stop(
                f"{what} returned more than {MAX_MESSAGE // 2**20} MiB; the grader reads no more"
            )
        try:
            answer = json.loads(self._read(size, what))
        except (ValueError, RecursionError) as error:
            reason = f"{what} returned something the grader cannot read ({error})"
            raise self._stop(reason) from None
        if not isinstance(answer, dict):
            raise self._stop(f"{what} returned something the grader cannot read")
        return answer

    def _read(self, size: int, what: str) -> bytes:
        assert self.process.stdout is not None
        pipe = self.process.stdout.fileno()
        data = b""
        while len(data) < size:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                raise self._stop(
                    f"still running after {self.timeout:.3g} s ({what}): an endless loop? "
                    "(the limit is --timeout)"
                )
            chunk = os.read(pipe, min(size - len(data), 2**20))
            if not chunk:
                raise self._stop(self._death(what))
            data += chunk
        return data

    def _death(self, what: str) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if code == -signal.SIGXCPU:
            return f"while {what}, your code used more than {self.limits.cpu_seconds} s of CPU time"
        if code == -signal.SIGXFSZ:
            return (
                f"while {what}, your code wrote more than the output limit, "
                f"{self.limits.output_text()}"
            )
        return (
            f"the process running your code stopped during this task, while {what} "
            f"(exit code {code}): "
            f"os._exit, a crash inside NumPy, or out of memory (the limit is "
            f"{self.limits.memory_text()})"
        )

    def _stop(self, reason: str) -> LearnerStopped:
        self.stopped = reason
        self.close()
        return LearnerStopped(reason)

    def _error(self, info: Any) -> LearnerError:
        if not isinstance(info, dict):
            info = {"type": "Exception", "message": "an unreadable error"}
        kind = LearnerNotImplemented if info.get("type") == "NotImplementedError" else LearnerError
        return kind(info, self.limits)

    def _proxy(self, handle: int) -> Proxy:
        if handle not in self.proxies:  # one proxy per object: `is` and id() work on proxies
            self.proxies[handle] = Proxy(self, handle)
        return self.proxies[handle]

    def _handle_of(self, value: Any) -> int:
        if isinstance(value, Proxy) and object.__getattribute__(value, "_learner") is self:
            return int(object.__getattribute__(value, "_handle"))
        raise TypeError(f"{type(value).__name__} cannot be sent to the learner's process")


def _packages(folder: Path) -> Path:
    """A folder holding links to :data:`PACKAGES` only (not the rest of site-packages)."""
    linked = folder / "packages"
    linked.mkdir(exist_ok=True)
    for name in PACKAGES:
        module = __import__(name)
        assert module.__file__ is not None, name
        source = Path(module.__file__).resolve().parent
        for path in (source, source.with_name(f"{name}.libs")):
            if path.exists() and not (linked / path.name).exists():
                (linked / path.name).symlink_to(path)
    return linked


class Proxy:
    """An object of the learner's process, seen from the grader: every use is a request."""

    __slots__ = ("_learner", "_handle")

    def __init__(self, learner: Learner, handle: int) -> None:
        object.__setattr__(self, "_learner", learner)
        object.__setattr__(self, "_handle", handle)

    def _ask(self, message: dict[str, Any], what: str) -> Any:
        learner: Learner = object.__getattribute__(self, "_learner")
        return learner.request({**message, "of": object.__getattribute__(self, "_handle")}, what)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__array") or name.startswith("_repr_"):
            raise AttributeError(name)  # NumPy and IPython probing: a proxy is not an array
        try:
            return self._ask({"do": "getattr", "name": name}, f"reading .{name}")
        except LearnerError as error:
            if error.is_a("AttributeError"):
                raise AttributeError(error.message) from None
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        learner: Learner = object.__getattribute__(self, "_learner")
        message = {"do": "setattr", "name": name, "args": learner.encode([value])}
        self._ask(message, f"setting .{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        learner: Learner = object.__getattribute__(self, "_learner")
        message = {
            "do": "call",
            "args": learner.encode(list(args)),
            "kwargs": learner.encode(kwargs),
        }
        return self._ask(message, "calling your code")

    def _operator(self, name: str, *args: Any) -> Any:
        learner: Learner = object.__getattribute__(self, "_learner")
        message = {"do": "operator", "name": name, "args": learner.encode(list(args))}
        return learner.request(message, f"applying {name} to your objects")

    def __repr__(self) -> str:
        try:
            return str(self._operator("repr", self))
        except (LearnerError, LearnerStopped):
            return "<an object of the learner's>"

    def __len__(self) -> int:
        return int(self._operator("len", self))

    def __getitem__(self, key: Any) -> Any:
        return self._operator("getitem", self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._operator("setitem", self, key, value)

    def __neg__(self) -> Any:
        return self._operator("neg", self)

    def __add__(self, other: Any) -> Any:
        return self._operator("add", self, other)

    def __radd__(self, other: Any) -> Any:
        return self._operator("add", other, self)

    def __sub__(self, other: Any) -> Any:
        return self._operator("sub", self, other)

    def __rsub__(self, other: Any) -> Any:
        return self._operator("sub", other, self)

    def __mul__(self, other: Any) -> Any:
        return self._operator("mul", self, other)

    def __rmul__(self, other: Any) -> Any:
        return self._operator("mul", other, self)

    def __truediv__(self, other: Any) -> Any:
        return self._operator("truediv", self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return self._operator("truediv", other, self)

    def __pow__(self, other: Any) -> Any:
        return self._operator("pow", self, other)

    def __matmul__(self, other: Any) -> Any:
        return self._operator("matmul", self, other)

    def __array_ufunc__(self, *args: Any, **kwargs: Any) -> Any:
        return NotImplemented  # `array * proxy` asks the proxy (__rmul__), not NumPy
