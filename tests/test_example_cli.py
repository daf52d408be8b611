"""The examples fail like command-line tools: a flag whose value cannot be used ends the program
with one line naming the flag, what came and what to do, and exit status 2, never a traceback;
a missing data set or a diverging loss ends it with one line and status 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinysiam

EXAMPLES = Path(__file__).parents[1] / "examples"
MNIST = EXAMPLES / "mnist_contrastive.py"
NAMES = ["mnist_contrastive", "omniglot_bce", "two_source_digits"]
QUICK = ["--dataset", "digits", "--train-size", "100", "--no-show", "--device", "cpu"]
MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]

# Run an example with `import cupy` failing, as where CuPy is not installed (even where it is).
WITHOUT_CUPY = """
import runpy, sys
sys.modules["cupy"] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# A CuPy that imports but finds no GPU, as on a machine without one.
CUPY_WITHOUT_GPU = """
class runtime:
    @staticmethod
    def getDeviceCount():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
class cuda:
    runtime = runtime
"""


def run(
    script: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    environment = dict(os.environ, MPLBACKEND="Agg", **(env or {}))
    return subprocess.run(
        [sys.executable, *prefix, str(script), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def error_line(result: subprocess.CompletedProcess, status: int = 2) -> str:
    """The one error line that ended the program (checked: the status, no traceback)."""
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def example(name: str) -> Path:
    return EXAMPLES / f"{name}.py"


# ----- the shared flags, checked before any work ----------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_device_cuda_without_cupy_says_how_to_install_it(name: str, tmp_path: Path) -> None:
    result = run(
        example(name), "--device", "cuda", "--out", str(tmp_path), prefix=("-c", WITHOUT_CUPY)
    )
    assert error_line(result) == (
        f"{name}.py: error: --device cuda: CuPy is not installed; install CuPy with "
        "pip install -e '.[gpu]' in a clone of tinysiam, or use --device cpu"
    )
    assert not any(tmp_path.iterdir())  # nothing written


def test_device_cuda_without_a_gpu_says_so(tmp_path: Path) -> None:
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(CUPY_WITHOUT_GPU)
    result = run(MNIST, "--device", "cuda", env={"PYTHONPATH": str(tmp_path)})
    line = error_line(result)
    assert line.startswith("mnist_contrastive.py: error: --device cuda: CuPy finds no GPU")
    assert line.endswith("or use --device cpu")


@pytest.mark.parametrize("name", NAMES)
def test_out_naming_a_file_is_a_flag_error(name: str, tmp_path: Path) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    result = run(example(name), "--device", "cpu", "--out", str(a_file))
    assert error_line(result) == (
        f"{name}.py: error: --out {a_file}: a file, not a folder; give a folder (created if "
        "missing)"
    )


def test_out_that_cannot_be_created_is_a_flag_error(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("")
    inside_a_file = tmp_path / "a_file" / "run"
    result = run(MNIST, *QUICK, "--out", str(inside_a_file))
    assert error_line(result) == (
        f"mnist_contrastive.py: error: --out {inside_a_file}: cannot create this folder (Not a "
        "directory); give a folder in a place you can write to"
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_out_where_no_folder_can_be_made_is_a_flag_error() -> None:
    result = run(MNIST, *QUICK, "--out", "/proc/no-such-process/run")
    assert error_line(result).startswith(
        "mnist_contrastive.py: error: --out /proc/no-such-process/run: cannot create this folder"
    )


def test_resume_of_a_missing_file_is_a_flag_error(tmp_path: Path) -> None:
    missing = tmp_path / "checkpoint.npz"
    result = run(MNIST, *QUICK, "--out", str(tmp_path), "--resume", str(missing))
    assert error_line(result) == (
        f"mnist_contrastive.py: error: --resume {missing}: no such file; give the "
        "checkpoint.npz that a run saved in its --out folder"
    )


# ----- --resume: the checkpoint must be one that this run can continue ------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of experiment 1 after 2 iterations of its reference (MLP) network."""
    out = tmp_path_factory.mktemp("saved")
    result = run(MNIST, *QUICK, "--iterations", "2", "--checkpoint-every", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "checkpoint.npz"


def resume(checkpoint: Path, tmp_path: Path, *args: str) -> str:
    result = run(MNIST, *QUICK, "--out", str(tmp_path), "--resume", str(checkpoint), *args)
    return error_line(result)


def test_resume_of_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("not a checkpoint")
    line = resume(text, tmp_path, "--iterations", "3")
    assert line.startswith(f"mnist_contrastive.py: error: --resume {text}: ")
    assert "is not a readable tinysiam checkpoint" in line
    assert line.endswith("the flags of the run that saved it (--iterations may grow)")


def test_resume_of_a_checkpoint_without_training_state(tmp_path: Path) -> None:
    other = tmp_path / "weights.npz"
    tinysiam.save(other, weights=[1.0, 2.0])
    line = resume(other, tmp_path, "--iterations", "3")
    assert line.startswith(f"mnist_contrastive.py: error: --resume {other}: ")
    assert "not a training checkpoint" in line


def test_resume_with_another_network_names_the_mismatch(checkpoint: Path, tmp_path: Path) -> None:
    line = resume(checkpoint, tmp_path, "--preset", "best", "--per-class", "4", "--iterations", "3")
    assert line.startswith(f"mnist_contrastive.py: error: --resume {checkpoint}: ")
    assert "load_state_dict" in line  # the conv network's weights are not the MLP's


def test_resume_past_the_iterations_asked_for(checkpoint: Path, tmp_path: Path) -> None:
    line = resume(checkpoint, tmp_path, "--iterations", "1")
    assert "the checkpoint is at iteration 2, past this run's 1 iterations" in line
    assert line.endswith("(--iterations may grow)")


# ----- flags whose fault shows only with the data ---------------------------------------------
def test_dataset_mnist_without_mnist_is_a_flag_error(tmp_path: Path) -> None:
    (tmp_path / "mnist").mkdir()
    for name in MNIST_FILES:  # found, so nothing is downloaded, then rejected
        (tmp_path / "mnist" / name).write_bytes(b"not MNIST")
    args = ["--dataset", "mnist", "--no-show", "--device", "cpu", "--out", str(tmp_path / "out")]
    result = run(MNIST, *args, env={"TINYSIAM_DATA": str(tmp_path)})
    line = error_line(result)
    assert line.startswith("mnist_contrastive.py: error: --dataset mnist: ")
    assert line.endswith("; or use --dataset digits")


def test_per_class_beyond_the_data_is_a_flag_error(tmp_path: Path) -> None:
    args = ["--pairs", "all-in-batch", "--per-class", "500", "--out", str(tmp_path)]
    line = error_line(run(MNIST, *QUICK, *args))
    assert line.startswith(
        "mnist_contrastive.py: error: --per-class 500: a batch needs two digits with that many "
        "images each; the 100 training images hold "
    )
    assert line.endswith("give a smaller --per-class or a larger --train-size")


def test_a_same_alphabet_share_above_one_is_a_flag_error(tmp_path: Path) -> None:
    args = ["--device", "cpu", "--out", str(tmp_path), "--same-alphabet-share", "1.5"]
    line = error_line(run(example("omniglot_bce"), *args))
    assert line == (
        "omniglot_bce.py: error: --same-alphabet-share 1.5: is a share of the loss, so at most 1; "
        "give a number in (0, 1], e.g. 0.5"
    )


def test_a_similar_share_of_one_is_a_flag_error(tmp_path: Path) -> None:
    args = ["--device", "cpu", "--out", str(tmp_path), "--similar-share", "1"]
    line = error_line(run(example("omniglot_bce"), *args))
    assert line == (
        "omniglot_bce.py: error: --similar-share 1.0: leaves no weight for the dissimilar pairs; "
        "give a number in (0, 1), e.g. 0.5"
    )


@pytest.mark.parametrize(
    "name, args, message",
    [
        ("mnist_contrastive", ["--per-class", "1"], "--per-class must be at least 2, got 1"),
        ("two_source_digits", ["--dim", "1"], "--dim must be at least 2, got 1"),
        ("omniglot_bce", ["--classes", "5"], "--classes must be at least 6, got 5"),
        ("omniglot_bce", ["--eval-pairs", "10"], "--eval-pairs must be at least 100, got 10"),
    ],
)
def test_sizes_the_figures_and_metrics_cannot_use_are_argparse_errors(
    name: str, args: list[str], message: str, tmp_path: Path
) -> None:
    result = run(example(name), "--device", "cpu", "--out", str(tmp_path), *args)
    assert error_line(result) == f"{name}.py: error: {message}"
    assert result.stderr.startswith("usage:")


def test_omniglot_without_its_data_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "omniglot").mkdir()
    (tmp_path / "omniglot" / "images_background.zip").write_bytes(b"not a zip")
    args = ["--classes", "20", "--no-show", "--device", "cpu", "--out", str(tmp_path / "out")]
    result = run(example("omniglot_bce"), *args, env={"TINYSIAM_DATA": str(tmp_path)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "images_background.zip" in result.stderr


def test_a_diverging_loss_ends_with_its_explanation_not_a_traceback(tmp_path: Path) -> None:
    args = ["--optimizer", "sgd", "--lr", "1e9", "--iterations", "5", "--out", str(tmp_path)]
    result = run(MNIST, *QUICK, *args)
    line = error_line(result, status=1)
    assert line.startswith("error: the loss became nan at iteration ")
    assert "a learning rate too high" in line
