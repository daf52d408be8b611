"""The places where tinysiam met CuPy's rules wrongly, each with its test: operator priority,
CuPy arrays made before tinysiam imported CuPy, a GPU that must run work before it counts,
the convolution's column budget per device, and losses that never wait for the GPU."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path

import cupy_standin
import numpy as np
import pytest
from devices import cuda_only

import tinysiam
from tinysiam import backend, losses, optim
from tinysiam.ops import conv

ROOT = Path(__file__).parents[1]


# ----- 1. operator priority --------------------------------------------------------------------
@cuda_only
@pytest.mark.parametrize("op", ["mul", "add", "sub", "matmul"])
def test_a_cupy_array_on_the_left_of_a_tensor_gives_a_tensor(op) -> None:
    import cupy

    left = cupy.asarray(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    right = tinysiam.tensor([[1.0, 0.5], [2.0, 1.0]], device="cuda", requires_grad=True)
    calls = {
        "mul": lambda a, b: a * b,
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "matmul": lambda a, b: a @ b,
    }
    out = calls[op](left, right)
    assert isinstance(out, tinysiam.Tensor) and out.device == "cuda"
    expected = calls[op](left.get(), right.numpy())
    np.testing.assert_allclose(out.numpy(), expected)
    out.sum().backward()
    assert right.grad is not None


def test_tensor_priority_is_above_cupys() -> None:
    assert tinysiam.Tensor.__array_priority__ > cupy_standin.ndarray.__array_priority__ == 100


# ----- 2. CuPy arrays made before tinysiam imported CuPy ------------------------------------------
@cuda_only
def test_cupy_arrays_are_recognised_when_the_program_imported_cupy_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cupy

    monkeypatch.setattr(backend, "_cupy", None)  # tinysiam has not imported CuPy yet
    values = np.array([[1.0, 2.0]], dtype=np.float32)
    array = cupy.asarray(values)
    assert backend.get_array_module(array) is cupy
    assert backend.device_of(array) == "cuda"
    monkeypatch.setattr(backend, "_cupy", None)
    wrapped = tinysiam.Tensor(array)
    assert wrapped.device == "cuda" and wrapped.data is array
    monkeypatch.setattr(backend, "_cupy", None)
    assert tinysiam.tensor(array, device="cuda").device == "cuda"
    np.testing.assert_array_equal(tinysiam.tensor(array).numpy(), values)  # default: to the CPU
    monkeypatch.setattr(backend, "_cupy", None)
    tinysiam.save(tmp_path / "x.npz", x=array)
    np.testing.assert_array_equal(tinysiam.load(tmp_path / "x.npz")["x"], values)


def test_numpy_arrays_do_not_import_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setitem(sys.modules, "cupy", None)  # importing it would fail
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.device_of(np.ones(2)) == "cpu"


# ----- 3. a GPU counts only when it runs a kernel and a matrix product ---------------------------
def fake_cupy(monkeypatch: pytest.MonkeyPatch, broken: str | None) -> types.ModuleType:
    """The stand-in as ``cupy``, its elementwise kernels or its matrix product failing as they
    do without NVRTC or cuBLAS (``broken``: "nvrtc", "cublas" or None)."""

    def fail(library: str):
        def call(*args):
            raise RuntimeError(f"{library}.so.12: cannot open shared object file")

        return call

    if broken == "nvrtc":
        monkeypatch.setattr(cupy_standin.ndarray, "__mul__", fail("libnvrtc"))
    if broken == "cublas":
        monkeypatch.setattr(cupy_standin.ndarray, "__matmul__", fail("libcublas"))
    monkeypatch.setitem(sys.modules, "cupy", cupy_standin)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cuda_works", None)
    return cupy_standin


@pytest.mark.parametrize("broken", ["nvrtc", "cublas"])
def test_cuda_is_not_available_when_a_runtime_library_is_missing(
    monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    fake_cupy(monkeypatch, broken)
    assert backend.cuda_available() is False


def test_cuda_available_runs_work_once_and_remembers(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cupy(monkeypatch, None)
    cupy_standin.counts.reset()
    assert backend.cuda_available() is True
    assert cupy_standin.counts.launches >= 2 and cupy_standin.counts.syncs == 1
    assert backend.cuda_available() is True
    assert cupy_standin.counts.syncs == 1  # remembered, not run again


def test_cuda_is_not_available_without_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cuda_works", None)
    assert backend.cuda_available() is False
    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[gpu\]'"):
        backend.array_module("cuda")


def test_the_gpu_extra_brings_cupys_cuda_runtime_libraries() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (requirement,) = project["optional-dependencies"]["gpu"]
    assert requirement.replace(" ", "").startswith("cupy-cuda12x[ctk]")


# ----- 4. the column budget suits the device -----------------------------------------------------
@cuda_only
def test_the_column_budget_is_an_eighth_of_the_gpu_and_128_mib_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cupy

    assert conv.column_budget(np.empty(1)) == conv.COLUMN_BUDGET_BYTES == 128 * 2**20
    memory = backend.device_memory_bytes()
    assert conv.column_budget(cupy.empty(1)) == max(conv.COLUMN_BUDGET_BYTES, memory // 8)
    if getattr(cupy, "IS_STANDIN", False):
        monkeypatch.setattr(backend, "_device_memory", None)
        monkeypatch.setattr(cupy, "DEVICE_MEMORY_BYTES", 16 * 10**9)
        assert conv.column_budget(cupy.empty(1)) == 2 * 10**9


@cuda_only
def test_conv2d_in_chunks_on_the_gpu_matches_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 7, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    per_image = 2 * 9 * 25 * 8
    monkeypatch.setattr(conv, "GPU_MEMORY_SHARE", backend.device_memory_bytes() // per_image)
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 1)  # one image per chunk on both devices
    results = []
    for device in ("cpu", "cuda"):
        xt = tinysiam.tensor(x, device=device, requires_grad=True)
        wt = tinysiam.tensor(w, device=device, requires_grad=True)
        out = tinysiam.functional.conv2d(xt, wt, padding=1)
        (out * out).sum().backward()
        results.append([out.numpy(), xt.grad, wt.grad])
    for cpu, cuda in zip(*results, strict=True):
        np.testing.assert_allclose(cpu, backend.to_numpy(cuda), rtol=1e-10)


# ----- 5. losses never wait for the GPU ----------------------------------------------------------
def counts():
    import cupy

    return cupy.counts if getattr(cupy, "IS_STANDIN", False) else None


@cuda_only
@pytest.mark.parametrize("loss", ["bce", "bce_logits", "contrastive"])
def test_a_loss_and_its_backward_do_not_synchronise(loss: str) -> None:
    rng = np.random.default_rng(0)
    scores = tinysiam.tensor(rng.random(8), device="cuda", requires_grad=True)
    f = tinysiam.tensor(rng.standard_normal((8, 3)), device="cuda", requires_grad=True)
    y = rng.integers(0, 2, 8).astype(np.float64)  # host labels
    if counts() is None:
        pytest.skip("the counters exist on the stand-in only")
    counts().reset()
    if loss == "bce":
        value = losses.binary_cross_entropy(scores, y)
    elif loss == "bce_logits":
        value = losses.binary_cross_entropy_with_logits(scores, y)
    else:
        value = losses.contrastive_loss(f, f * 0.5, y)
    value.backward()
    assert counts().syncs == 0
    assert counts().h2d_bytes < 1_000  # the labels and a few scalars


@cuda_only
def test_bce_checks_gpu_probabilities_in_anomaly_mode_only() -> None:
    p = tinysiam.tensor([0.5, 1.5], device="cuda")
    losses.binary_cross_entropy(p, [1, 0])  # no wait for the GPU: not checked
    with tinysiam.detect_anomaly(), pytest.raises(ValueError, match=r"\[0, 1\].*1\.5"):
        losses.binary_cross_entropy(p, [1, 0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.binary_cross_entropy(p.to("cpu"), [1, 0])  # on the CPU it is free: checked


@cuda_only
@pytest.mark.parametrize("loss", ["bce", "bce_logits", "contrastive"])
def test_host_labels_are_checked_on_the_host_before_they_are_sent(loss: str) -> None:
    p = tinysiam.tensor([0.5, 0.5], device="cuda")
    call = {
        "bce": lambda y: losses.binary_cross_entropy(p, y),
        "bce_logits": lambda y: losses.binary_cross_entropy_with_logits(p, y),
        "contrastive": lambda y: losses.contrastive_loss(p.reshape(2, 1), p.reshape(2, 1), y),
    }[loss]
    if counts() is not None:
        counts().reset()
    with pytest.raises(ValueError, match=r"pair labels 0 .* or 1 .*got also \[2\]"):
        call(np.array([1, 2]))
    if counts() is not None:
        assert counts().h2d == 0 and counts().syncs == 0
    device_labels = tinysiam.tensor([1.0, 2.0], device="cuda")
    call(device_labels)  # on the device: checked only in anomaly mode
    with tinysiam.detect_anomaly(), pytest.raises(ValueError, match="got also"):
        call(device_labels)


# ----- optimisers update whole arrays on the GPU -----------------------------------------------
@cuda_only
@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps), lambda ps: optim.SGD(ps, 0.1, 0.9)])
def test_an_optimiser_step_launches_as_many_kernels_for_a_big_parameter_as_a_small_one(
    make,
) -> None:
    if counts() is None:
        pytest.skip("the counters exist on the stand-in only")
    launches = []
    for size in (10, 3 * optim.CACHE_BLOCK + 5):  # in blocks on the CPU this would be 4 blocks
        p = tinysiam.tensor(np.ones(size, np.float32), device="cuda", requires_grad=True)
        p.grad = p.data * 0.5
        opt = make([p])
        opt.step()  # the first step makes the buffers
        counts().reset()
        opt.step()
        launches.append(counts().launches)
    assert launches[0] == launches[1] and launches[0] <= 12
