"""The learner's process: runs a workspace's code on the grader's requests, and decides nothing.

The grader (:mod:`.remote`) starts this file as a script, ``python -I -S learner_process.py
CONFIG``, once per task. In this process the workspace is the only ``tinysiam`` there is: the
package folder on ``sys.path`` is the workspace's (its other tasks already put back to the
library's code, at source level, by :func:`tinysiam.course.workspace.assemble`), and neither
the installed library nor the course can be imported. It

1. limits itself (address space, CPU time, the size of every file it writes) and sends its
   prints to a file of its folder;
2. imports the workspace and says "ready", or sends the error;
3. answers requests until the grader closes the pipe: read an attribute, call, set an
   attribute, apply an operator, or build one of the kit's test objects (:data:`KIT`).

Values cross the pipe by value when they are plain (numbers, strings, None, NumPy arrays of
numbers, tuples, lists and dicts of them) and as a *handle*, the id of an object kept here,
otherwise (see :func:`encode`). An exception goes back as its type's names, message and the
workspace line it came from. Each message is a 4-byte length and UTF-8 JSON: nothing the
grader reads is ever unpickled.

This file imports the standard library and NumPy only: the grader imports it too, for
:func:`encode`, :func:`decode` and the kit's forward and backward rules.
"""

from __future__ import annotations

import base64
import errno
import importlib
import json
import operator
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

HEADER = 4  # bytes of a message's length, big-endian
MAX_MESSAGE = 64 * 2**20  # bytes; a longer answer fails the task
MAX_DEPTH = 16  # containers nested deeper travel as a handle
MAX_TEXT = 2000  # characters of an exception's message or a repr sent back
NUMBER_KINDS = "biufc"  # NumPy dtype kinds that travel by value


# ----- the codec: plain values by value, anything else by handle -----------------------------
def encode(value: Any, handle: Callable[[Any], int], depth: int = 0) -> Any:
    """``value`` as JSON-able data; ``handle(obj)`` names an object that stays in its process."""
    import numpy as np

    kind = type(value)
    if value is None or kind in (bool, int, str, float):
        return value
    if depth < MAX_DEPTH and kind in (tuple, list):
        return {"tuple" if kind is tuple else "list": [encode(v, handle, depth + 1) for v in value]}
    if depth < MAX_DEPTH and kind is dict:
        return {"dict": [[encode(k, handle, depth + 1), encode(v, handle, depth + 1)]
                         for k, v in value.items()]}  # fmt: skip
    if kind is complex:
        return {"complex": [value.real, value.imag]}
    if kind is slice:
        return {
            "slice": [encode(v, handle, depth + 1) for v in (value.start, value.stop, value.step)]
        }
    if (kind is np.ndarray or kind in _numpy_scalars()) and value.dtype.kind in NUMBER_KINDS:
        return {
            "array" if kind is np.ndarray else "scalar": {
                "dtype": value.dtype.str,
                "shape": list(np.shape(value)),
                "bytes": base64.b64encode(value.tobytes()).decode("ascii"),
            }
        }
    return {"handle": handle(value)}


def decode(data: Any, resolve: Callable[[int], Any], depth: int = 0) -> Any:
    """The value ``data`` encodes; ``resolve(id)`` gives the object (or proxy) of a handle.

    Raises:
        ValueError: ``data`` is not something :func:`encode` writes.
    """
    import numpy as np

    if data is None or type(data) in (bool, int, str, float):
        return data
    if depth > MAX_DEPTH + 1 or type(data) is not dict or len(data) != 1:
        raise ValueError("not an encoded value")
    ((tag, body),) = data.items()
    if tag in ("tuple", "list"):
        items = [decode(v, resolve, depth + 1) for v in _list(body)]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        pairs = [_list(pair) for pair in _list(body)]
        return {decode(k, resolve, depth + 1): decode(v, resolve, depth + 1) for k, v in pairs}
    if tag == "complex":
        real, imag = _list(body)
        return complex(float(real), float(imag))
    if tag == "slice":
        return slice(*(decode(v, resolve, depth + 1) for v in _list(body)))
    if tag in ("array", "scalar"):
        dtype = np.dtype(str(body["dtype"]))
        if dtype.kind not in NUMBER_KINDS or dtype.hasobject or dtype.fields or dtype.subdtype:
            raise ValueError(f"arrays of {dtype} do not travel")
        shape = tuple(int(side) for side in _list(body["shape"]))
        raw = base64.b64decode(str(body["bytes"]), validate=True)
        if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("an array whose size is not its shape's")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return array if tag == "array" else array[()]
    if tag == "handle":
        return resolve(int(body))
    raise ValueError(f"unknown tag {tag!r}")


def _list(value: Any) -> list:
    if type(value) is not list:
        raise ValueError("not an encoded value")
    return value


def _numpy_scalars() -> set[type]:
    import numpy as np

    return {np.dtype(code).type for code in "?bhilqBHILQefdgFDG"}


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write ``message`` as its length and its JSON."""
    body = json.dumps(message).encode()
    stream.write(len(body).to_bytes(HEADER, "big") + body)
    stream.flush()


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes of ``stream``, or None at its end."""
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# ----- the kit: test objects the graders build in this process ------------------------------
def combine_forward(ctx: Any, *arrays: Any) -> Any:
    ctx.count = len(arrays)
    return sum(arrays[1:], arrays[0].copy())


def combine_backward(ctx: Any, grad: Any) -> tuple[Any, ...]:
    return (grad,) * ctx.count


def mul_forward(ctx: Any, a: Any, b: Any) -> Any:
    ctx.save_for_backward(a, b)
    return a * b


def mul_backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
    a, b = ctx.saved_tensors
    return grad * b, grad * a


def add_forward(ctx: Any, a: Any, b: Any) -> Any:
    return a + b


def add_backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
    return grad, grad


def sum_forward(ctx: Any, a: Any) -> Any:
    import numpy as np

    ctx.shape = a.shape
    return np.asarray(a.sum())


def sum_backward(ctx: Any, grad: Any) -> tuple[Any]:
    import numpy as np

    return (np.broadcast_to(grad, ctx.shape),)  # read-only, as the library's Sum gives


RULES: dict[str, tuple[Callable, Callable]] = {  # the ops of the graders' test graphs
    "combine": (combine_forward, combine_backward),
    "*": (mul_forward, mul_backward),
    "+": (add_forward, add_backward),
    "sum": (sum_forward, sum_backward),
}


def function(base: type, rule: str) -> type:
    """A subclass of ``base`` (a Function) with the forward and backward of ``RULES[rule]``."""
    forward, backward = RULES[rule]
    return type(
        rule, (base,), {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    )


def cube(base: type, wrong_at: int | None = None, factor: float = 2.0) -> type:
    """f(x) = x^3 as a subclass of ``base``; its gradient is ``factor`` times too large at the
    flat index ``wrong_at`` (everywhere when it is negative, nowhere when it is None)."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x**3

    def backward(ctx: Any, grad: Any) -> tuple[Any]:
        (x,) = ctx.saved_tensors
        g = 3 * x**2 * grad
        if wrong_at is not None:
            g = g.copy()
            g.reshape(-1)[wrong_at if wrong_at >= 0 else slice(None)] *= factor
        return (g,)

    return type(
        "Cube", (base,), {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    )


def applier(op: Any) -> Callable[[Any], Any]:
    """``lambda t: op.apply(t)``: the function of one tensor a gradient checker is given."""
    return lambda tensor: op.apply(tensor)


KIT: dict[str, Callable[..., Any]] = {"function": function, "cube": cube, "applier": applier}
OPERATORS: dict[str, Callable[..., Any]] = {
    name: getattr(operator, name)
    for name in ("add", "sub", "mul", "truediv", "pow", "matmul", "neg", "getitem", "setitem")
} | {"len": len, "repr": lambda value: repr(value)[:MAX_TEXT]}


# ----- the server ------------------------------------------------------------------------------
class Server:
    """The objects handed out so far, and the answer to each request."""

    def __init__(self, package: Path, origins: dict[str, list[int]]) -> None:
        self.package = package
        self.origins = origins
        self.objects: dict[int, Any] = {}

    def handle(self, value: Any) -> int:
        self.objects[id(value)] = value
        return id(value)

    def resolve(self, key: int) -> Any:
        if key not in self.objects:
            raise ValueError(f"no object with handle {key}")
        return self.objects[key]

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        try:
            with np.errstate(**(request.get("errstate") or {})):
                value = self.run(request)
            return {"value": encode(value, self.handle)}
        except BaseException as error:  # noqa: BLE001 - SystemExit, RecursionError, ...: all go back
            return {"error": self.describe(error)}

    def run(self, request: dict[str, Any]) -> Any:
        what = request["do"]
        args = decode(request.get("args", {"list": []}), self.resolve)
        if what == "module":
            return importlib.import_module(f"tinysiam.{request['name']}".rstrip("."))
        if what == "kit":
            return KIT[request["name"]](*args)
        if what == "operator":
            return OPERATORS[request["name"]](*args)
        target = self.resolve(int(request["of"]))
        if what == "getattr":
            return getattr(target, request["name"])
        if what == "setattr":
            setattr(target, request["name"], *args)
            return None
        if what == "call":
            return target(*args, **decode(request["kwargs"], self.resolve))
        raise ValueError(f"unknown request {what!r}")

    def describe(self, error: BaseException) -> dict[str, Any]:
        """What the grader learns of an exception: names, message, errno, workspace line."""
        try:
            message = str(error)[:MAX_TEXT]
        except BaseException:  # noqa: BLE001 - a __str__ of the learner's that raises
            message = "(its message could not be read)"
        return {
            "type": type(error).__name__,
            "bases": [cls.__name__ for cls in type(error).__mro__],
            "message": message,
            "errno": error.errno if isinstance(error, OSError) else None,
            "where": self.where(error),
        }

    def where(self, error: BaseException) -> str:
        """' (tinysiam/autograd.py, line 12)': the last line of the learner's own in the trace."""
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            try:
                inside = Path(frame.filename).resolve().relative_to(self.package)
            except ValueError:
                continue
            origins = self.origins.get(inside.as_posix())
            line = frame.lineno or 0
            if origins is not None:  # a file with the library's code put in for other tasks
                line = origins[line - 1] if 0 < line <= len(origins) else 0
            if line:
                return f" (tinysiam/{inside.as_posix()}, line {line})"
        return ""


def limit(memory: int, cpu_seconds: int, output: int) -> None:
    """Cap this process: address space, CPU time, the size of each file it writes."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises OSError


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    output = os.open(config["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)  # the learner's prints go to a file, never into the pipe
    os.dup2(output, 2)
    limit(config["memory"], config["cpu_seconds"], config["output_limit"])
    sys.path[:0] = config["path"]
    server = Server(Path(config["package"]).resolve(), config["origins"])
    try:
        importlib.import_module("tinysiam")
        write_message(answers, {"value": None})
    except BaseException as error:  # noqa: BLE001
        write_message(answers, {"error": server.describe(error)})
        return
    while True:
        header = read_exactly(requests, HEADER)
        if header is None:
            return
        body = read_exactly(requests, int.from_bytes(header, "big"))
        if body is None:
            return
        answer = server.answer(json.loads(body))
        try:
            write_message(answers, answer)
        except ValueError:  # a value JSON cannot write
            write_message(answers, {"error": server.describe(ValueError("an unreadable value"))})


def output_limit_reached(number: int | None) -> bool:
    """Whether an OSError's errno says a file grew past the output limit."""
    return number == errno.EFBIG


if __name__ == "__main__":
    main(sys.argv[1])
