"""A save killed by SIGKILL at any moment leaves the old checkpoint or the new one, nothing else.

Each test kills a child process in the middle of ``tinysiam.save`` and then checks that the path
holds a complete checkpoint, equal to the one saved before or the one being saved, and that the
next save or load removes the temporary file the killed save left.

The children come from a small fork server: this file run as a script (see :func:`serve`). It
imports numpy and tinysiam once; each child is a ``fork`` of it, so a kill costs milliseconds
instead of a fresh interpreter. The server is the children's parent and reaps each one only
after killing it, so a kill can never reach an unrelated process that reused the number.

Two kinds of kill:

* at a named point of the save (before the archive is written, half-way through it, before the
  fsync, before the rename, after the rename): the child stops there and is killed, so each
  outcome is known exactly;
* after a delay: 36 delays spread evenly from 0 to 1.25 times a measured save's duration. Where
  each kill lands depends on the machine's load, so the assertions hold wherever it lands, and
  the counts printed at the end (run with ``-s``) only describe where they landed.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinysiam
import tinysiam.checkpoint as checkpoint

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="needs fork, SIGKILL and flock (POSIX)"
)

SIZE = 500_000  # float64 weights: a 4 MB checkpoint, whose save takes some 10-50 ms
STOPS = {  # where a child stops to be killed -> what the path then holds
    "before-write": "old",
    "mid-write": "old",
    "before-fsync": "old",
    "before-rename": "old",
    "after-rename": "new",
}
TIMED_KILLS = 36
SPAN = 1.25  # the delays run from 0 to SPAN times a save's duration


def state_of(generation: int) -> dict:
    """What the save of number ``generation`` writes: each generation differs in every value."""
    return {
        "iteration": generation,
        "weights": np.arange(SIZE, dtype=np.float64) + generation,
        "optimizer": {"lr": 1e-3, "steps": [generation] * 3},
        "rng": np.random.default_rng(generation).bit_generator.state,
    }


# ----- the fork server (runs in its own process) ----------------------------------------------
def serve() -> None:
    """Answer each line ``<path> <generation> <stop> <delay>`` of stdin with one line.

    Forks a child that saves ``state_of(generation)`` to ``path``. The child writes a byte to a
    pipe when it starts saving (``stop`` "none") or when it reaches ``stop``; the server then
    waits ``delay`` seconds, kills it with SIGKILL, reaps it and prints how it ended.
    """
    for line in sys.stdin:
        path, generation, stop, delay = line.split()
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            _child(path, int(generation), stop, ready_write)
        os.close(ready_write)
        reached = os.read(ready_read, 1) == b"!"  # empty: the child exited on its own
        os.close(ready_read)
        time.sleep(float(delay))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        print("killed" if reached and killed else f"child failed (status {status})", flush=True)


def _child(path: str, generation: int, stop: str, ready: int) -> None:
    """Save ``state_of(generation)`` to ``path``, announcing the start or ``stop``; never return."""

    def announce_and_wait(*args: object, **kwargs: object) -> None:
        os.write(ready, b"!")
        time.sleep(60)  # the server kills the child long before this ends

    try:
        state = state_of(generation)
        if stop == "before-write":
            checkpoint.np.savez = announce_and_wait
        elif stop == "mid-write":
            write = checkpoint.np.savez
            checkpoint.np.savez = lambda file, **entries: _write_half(write, file, entries, ready)
        elif stop == "before-fsync":
            checkpoint.os.fsync = announce_and_wait
        elif stop == "before-rename":
            checkpoint.os.replace = announce_and_wait
        elif stop == "after-rename":
            checkpoint._fsync_directory = announce_and_wait
        else:
            os.write(ready, b"!")
        tinysiam.save(path, **state)
        time.sleep(60)  # saved: wait for the kill like the others
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(1)  # only reached on an error: never run the parent's code in the child


def _write_half(savez, file: io.BufferedWriter, entries: dict, ready: int) -> None:
    """Write the first half of the archive ``savez`` writes, then stop to be killed."""
    archive = io.BytesIO()
    savez(archive, **entries)
    file.write(archive.getvalue()[: len(archive.getvalue()) // 2])
    file.flush()
    os.write(ready, b"!")
    time.sleep(60)


# ----- the tests (run in pytest's process) ----------------------------------------------------
class ForkServer:
    """The test side of :func:`serve`: one kill per call, waiting until the child is gone."""

    def __init__(self, log: Path) -> None:
        self.log, self.errors = log, log.open("w")
        environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            env=environment,
        )

    def kill_saving(self, path: Path, generation: int, stop: str = "none", delay: float = 0.0):
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{path} {generation} {stop} {delay:.6f}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer == "killed", f"{answer!r}; the children's errors:\n{self.log.read_text()}"

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0, self.log.read_text()
        self.errors.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ForkServer(tmp_path_factory.mktemp("fork_server") / "children.log")
    yield server
    server.close()


def partials(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(checkpoint.PARTIAL_SUFFIX))


def generation_found(path: Path, old: int, new: int, inspect: Path) -> int:
    """Load a copy of ``path`` (so this load removes nothing) and check it is ``old`` or ``new``."""
    copy = inspect / path.name
    shutil.copyfile(path, copy)
    loaded = tinysiam.load(copy)
    generation = loaded["iteration"]
    assert generation in (old, new), f"found generation {generation}, expected {old} or {new}"
    expected = state_of(generation)
    np.testing.assert_array_equal(loaded["weights"], expected["weights"])
    assert loaded["optimizer"] == expected["optimizer"] and loaded["rng"] == expected["rng"]
    return generation


def folders(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "run").mkdir()
    (tmp_path / "inspect").mkdir()
    return tmp_path / "run", tmp_path / "inspect"


@pytest.mark.parametrize("stop", list(STOPS))
def test_a_save_killed_at_each_step_leaves_a_whole_checkpoint(tmp_path, server, stop):
    run, inspect = folders(tmp_path)
    path = run / "ckpt.npz"
    tinysiam.save(path, **state_of(1))

    server.kill_saving(path, 2, stop)

    found = generation_found(path, 1, 2, inspect)
    assert found == {"old": 1, "new": 2}[STOPS[stop]]
    assert len(partials(run)) == (1 if STOPS[stop] == "old" else 0)  # the killed save's debris
    tinysiam.load(path)
    assert os.listdir(run) == ["ckpt.npz"]  # loading to resume removed it


def test_a_first_save_killed_leaves_no_file_and_its_debris_goes(tmp_path, server):
    run, _ = folders(tmp_path)
    path = run / "ckpt.npz"
    server.kill_saving(path, 1, "before-rename")
    assert partials(run) and not path.exists()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        tinysiam.load(path)
    assert os.listdir(run) == []


def measure_save_seconds(path: Path, generation: int) -> float:
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        tinysiam.save(path, **state_of(generation))
        seconds.append(time.perf_counter() - start)
    return sorted(seconds)[1]


def test_saves_killed_after_many_delays_leave_old_or_new_and_no_debris(tmp_path, server):
    run, inspect = folders(tmp_path)
    path = run / "ckpt.npz"
    on_disk = 0
    duration = measure_save_seconds(path, on_disk)
    landed: Counter[str] = Counter()
    for kill, delay in enumerate(np.linspace(0.0, SPAN * duration, TIMED_KILLS)):
        new = on_disk + 1
        server.kill_saving(path, new, delay=delay)
        debris = partials(run)
        found = generation_found(path, on_disk, new, inspect)
        assert len(debris) <= 1 and not (debris and found == new)
        if found == new:
            landed["after the rename: new"] += 1
        elif debris:
            landed["mid-write (temporary file left): old"] += 1
        else:
            landed["before the temporary file: old"] += 1
        if kill % 2:  # the next save removes the debris...
            on_disk = new + 1
            tinysiam.save(path, **state_of(on_disk))
        else:  # ...and so does a load to resume
            on_disk = tinysiam.load(path)["iteration"]
        assert os.listdir(run) == ["ckpt.npz"], f"after kill {kill} at {delay * 1e3:.1f} ms"
    print(f"\n{TIMED_KILLS} kills over 0-{SPAN * duration * 1e3:.0f} ms: {dict(landed)}")
    assert sum(landed.values()) == TIMED_KILLS


if __name__ == "__main__":  # the fork server: ForkServer runs this file as a script
    serve()
