"""tinysiam.keep_freed_memory: glibc's malloc keeps freed big blocks for reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tinysiam

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)"
)

# Touch 256 MB, free it, and print how much anonymous memory the process still holds (MB).
RESIDENT_AFTER_FREE = """
import sys, tempfile, numpy as np, tinysiam
if sys.argv[1] == "keep":
    assert tinysiam.keep_freed_memory()
if sys.argv[1] == "training run":  # a whole TrainingRun, which must leave malloc alone
    from tinysiam.experiments.training import TrainingRun
    run = TrainingRun(2, tempfile.mkdtemp(), checkpoint_every=1)
    for _ in run:
        run.record(tinysiam.tensor(np.float32(1.0)))
block = np.ones(64 * 2**20, dtype=np.float32)
del block
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["RssAnon"].split()[0]) // 1024)
"""


def resident_mb_after_free(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", RESIDENT_AFTER_FREE, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@linux_only
def test_keep_freed_memory_applies_on_linux() -> None:
    assert tinysiam.keep_freed_memory() is True


@linux_only
def test_freed_block_stays_with_the_process_only_when_asked() -> None:
    kept, returned = resident_mb_after_free("keep"), resident_mb_after_free("default")
    assert kept >= returned + 200, (
        f"RssAnon after freeing 256 MB: {kept} MB kept vs {returned} MB by default"
    )
    after_a_run = resident_mb_after_free("training run")
    assert after_a_run < returned + 100, (
        f"RssAnon after a TrainingRun and freeing 256 MB: {after_a_run} MB, as if kept "
        f"({kept} MB kept, {returned} MB by default)"
    )
