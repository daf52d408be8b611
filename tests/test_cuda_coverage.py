"""The cuda path end to end: every op, layer, loss and optimiser gives on "cuda" what it gives on
"cpu"; models, optimisers and checkpoints move between devices; the examples run with
``--device cuda``. On the CuPy stand-in (no GPU) the math is NumPy's, so results agree to
rounding; on a real GPU, to float64 rounding of a different summation order."""

from __future__ import annotations

from pathlib import Path

import example_scripts
import numpy as np
import pytest
from devices import cuda_only

import tinysiam
import tinysiam.functional as F
from tinysiam import backend, losses, nn, optim
from tinysiam.experiments import models, training
from tinysiam.reference import ReferenceAdam, ReferenceSGD

pytestmark = pytest.mark.cuda
RTOL = 1e-9


def rand(*shape: int, low: float = -1.0, high: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape)


def away_from_zero(*shape: int, seed: int = 0) -> np.ndarray:
    values = rand(*shape, seed=seed)
    return np.where(values < 0, values - 0.2, values + 0.2)


def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values with no ties (for max and max-pool)."""
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0


# (id, inputs as host arrays, function of tensors)
OPS = [
    ("add", [rand(3, 4), rand(4, seed=1)], lambda a, b: a + b),
    ("sub", [rand(3, 4), rand(3, 1, seed=1)], lambda a, b: a - b),
    ("mul", [rand(3, 4), rand(3, 4, seed=1)], lambda a, b: a * b),
    ("div", [rand(3, 4), away_from_zero(3, 4, seed=1)], lambda a, b: a / b),
    ("pow", [rand(3, 4, low=0.5, high=2.0), rand(3, 4, seed=1)], lambda a, b: a**b),
    ("scalar_ops", [rand(3, 4)], lambda a: (2.0 - a) * 3.0 / 2.0 + 1.0),
    ("neg", [rand(3, 4)], lambda a: -a),
    ("matmul", [rand(3, 4), rand(4, 5, seed=1)], lambda a, b: a @ b),
    ("getitem_slice", [rand(4, 5)], lambda a: a[1:3, ::2]),
    ("getitem_indices", [rand(6, 3)], lambda a: a[np.array([4, 0, 4, 2])]),
    ("exp", [rand(3, 4)], lambda a: a.exp()),
    ("log", [rand(3, 4, low=0.5, high=2.0)], lambda a: a.log()),
    ("log1p", [rand(3, 4, low=0.0, high=2.0)], lambda a: a.log1p()),
    ("sqrt", [rand(3, 4, low=0.5, high=2.0)], lambda a: a.sqrt()),
    ("abs", [away_from_zero(3, 4)], lambda a: a.abs()),
    ("relu", [away_from_zero(3, 4)], lambda a: F.relu(a)),
    ("sigmoid", [rand(3, 4, low=-30, high=30)], lambda a: F.sigmoid(a)),
    ("clip", [rand(3, 4)], lambda a: a.clip(-0.5, 0.5)),
    ("maximum", [distinct(3, 4), distinct(3, 4, seed=1)], lambda a, b: F.maximum(a, b)),
    ("sum", [rand(3, 4)], lambda a: a.sum(axis=1)),
    ("mean", [rand(3, 4)], lambda a: a.mean(axis=0, keepdims=True)),
    ("max", [distinct(3, 4)], lambda a: a.max(axis=1)),
    ("max_all", [distinct(3, 4)], lambda a: a.max()),
    ("reshape", [rand(3, 4)], lambda a: a.reshape(2, 6)),
    ("flatten", [rand(2, 3, 2)], lambda a: a.flatten()),
    ("transpose", [rand(2, 3, 4)], lambda a: a.transpose(2, 0, 1)),
    ("concatenate", [rand(2, 3), rand(1, 3, seed=1)], lambda a, b: F.concatenate([a, b])),
    ("stack", [rand(2, 3), rand(2, 3, seed=1)], lambda a, b: F.stack([a, b], axis=1)),
    ("dense", [rand(4, 3), rand(2, 3, seed=1), rand(2, seed=2)], F.dense),
    (
        "conv2d",
        [rand(2, 3, 7, 6), rand(4, 3, 3, 2, seed=1), rand(4, seed=2)],
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1),
    ),
    (
        "conv2d_reference",
        [rand(2, 3, 7, 6), rand(4, 3, 3, 2, seed=1), rand(4, seed=2)],
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, impl="reference"),
    ),
    ("max_pool2d", [distinct(2, 3, 7, 6)], lambda x: F.max_pool2d(x, 2)),
    ("max_pool2d_overlap", [distinct(2, 3, 7, 6)], lambda x: F.max_pool2d(x, 3, stride=2)),
    (
        "max_pool2d_reference",
        [distinct(2, 3, 7, 6)],
        lambda x: F.max_pool2d(x, 2, impl="reference"),
    ),
]


def run(device: str, inputs: list[np.ndarray], fn) -> tuple[np.ndarray, list[np.ndarray]]:
    """fn's output and each input's gradient of sum(output * weights), as host arrays."""
    tensors = [tinysiam.tensor(x, device=device, requires_grad=True) for x in inputs]
    out = fn(*tensors)
    assert out.device == device
    weights = tinysiam.tensor(rand(*out.shape, seed=9), device=device)
    (out * weights).sum().backward()
    assert any(t.grad is not None for t in tensors)
    for t in tensors:
        assert t.grad is None or backend.device_of(t.grad) == device
    return out.numpy(), [None if t.grad is None else backend.to_numpy(t.grad) for t in tensors]


def assert_same(cpu, cuda) -> None:
    np.testing.assert_allclose(cuda[0], cpu[0], rtol=RTOL, atol=1e-12)
    for g_cpu, g_cuda in zip(cpu[1], cuda[1], strict=True):
        assert (g_cpu is None) == (g_cuda is None)
        if g_cpu is not None:
            np.testing.assert_allclose(g_cuda, g_cpu, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("inputs, fn", [case[1:] for case in OPS], ids=[c[0] for c in OPS])
def test_every_op_gives_on_cuda_what_it_gives_on_cpu(inputs, fn) -> None:
    assert_same(run("cpu", inputs, fn), run("cuda", inputs, fn))


LAYERS = [
    ("dense", lambda rng: nn.Dense(3, 2, rng=rng), (4, 3)),
    ("conv2d", lambda rng: nn.Conv2d(2, 3, 3, padding=1, rng=rng), (2, 2, 5, 5)),
    ("conv2d_reference", lambda rng: nn.Conv2d(2, 3, 3, rng=rng, impl="reference"), (2, 2, 5, 5)),
    ("max_pool2d", lambda rng: nn.MaxPool2d(2), (2, 2, 4, 4)),
    ("relu", lambda rng: nn.ReLU(), (3, 4)),
    ("sigmoid", lambda rng: nn.Sigmoid(), (3, 4)),
    ("flatten", lambda rng: nn.Flatten(), (2, 3, 2)),
    ("omniglot_cpu_net", lambda rng: models.omniglot_cpu_net(rng), (2, 1, 28, 28)),
    ("mnist_mlp", lambda rng: models.mnist_mlp(rng), (2, 1, 28, 28)),
]


@pytest.mark.parametrize("make, shape", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_every_layer_moved_to_cuda_gives_what_it_gives_on_cpu(make, shape) -> None:
    x = distinct(*shape)
    results = []
    for device in ("cpu", "cuda"):
        layer = make(np.random.default_rng(0)).to(device)
        xt = tinysiam.tensor(x.astype(np.float32), device=device, requires_grad=True)
        out = layer(xt)
        out.sum().backward()
        grads = [backend.to_numpy(p.grad) for p in layer.parameters()]
        for p in layer.parameters():
            assert p.device == device
        results.append((out.numpy(), grads))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    for g_cpu, g_cuda in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-4, atol=1e-6)


def test_the_twin_and_the_similarity_head_on_cuda() -> None:
    outputs = []
    for device in ("cpu", "cuda"):
        rng = np.random.default_rng(0)
        twin = nn.Twin(nn.Dense(3, 4, rng=rng)).to(device)
        head = models.SimilarityHead(4, rng=rng).to(device)
        x1 = tinysiam.tensor(rand(5, 3).astype(np.float32), device=device)
        x2 = tinysiam.tensor(rand(5, 3, seed=1).astype(np.float32), device=device)
        outputs.append(head(*twin(x1, x2)).numpy())
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-6)


LOSSES = [
    ("contrastive", lambda a, b, y: losses.contrastive_loss(a, b, y, margin=0.3)),
    ("contrastive_mean", lambda a, b, y: losses.contrastive_loss(a, b, y, reduction="mean")),
    ("bce", lambda a, b, y: losses.binary_cross_entropy(F.sigmoid(a.sum(axis=1)), y)),
    (
        "bce_none",
        lambda a, b, y: losses.binary_cross_entropy(F.sigmoid(a[:, 0]), y, reduction="none"),
    ),
    ("bce_logits", lambda a, b, y: losses.binary_cross_entropy_with_logits(a[:, 0] * 10, y)),
    (
        "bce_logits_sum",
        lambda a, b, y: losses.binary_cross_entropy_with_logits(b[:, 1], y, reduction="sum"),
    ),
]


@pytest.mark.parametrize("fn", [c[1] for c in LOSSES], ids=[c[0] for c in LOSSES])
@pytest.mark.parametrize("labels_on", ["host", "device"])
def test_every_loss_gives_on_cuda_what_it_gives_on_cpu(fn, labels_on: str) -> None:
    y = np.array([1, 0, 0, 1, 1], dtype=np.float64)

    def loss(a, b):
        labels = y if labels_on == "host" else tinysiam.tensor(y, device=a.device)
        return fn(a, b, labels)

    inputs = [rand(5, 3), rand(5, 3, seed=1)]
    assert_same(run("cpu", inputs, loss), run("cuda", inputs, loss))


OPTIMISERS = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1)),
    ("sgd_momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.01, betas=(0.9, 0.99))),
    ("reference_sgd", lambda ps: ReferenceSGD(ps, lr=0.1, momentum=0.9)),
    ("reference_adam", lambda ps: ReferenceAdam(ps, lr=0.01)),
]


def trained(device: str, make_optimiser, steps: int = 3):
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.ReLU(), nn.Dense(4, 1, rng=rng)).to(device)
    opt = make_optimiser(net.parameters())
    x = tinysiam.tensor(rand(6, 3).astype(np.float32), device=device)
    for _ in range(steps):
        opt.zero_grad()
        (net(x) * net(x)).mean().backward()
        opt.step()
    return net, opt


@pytest.mark.parametrize("make", [c[1] for c in OPTIMISERS], ids=[c[0] for c in OPTIMISERS])
def test_every_optimiser_steps_on_cuda_as_on_cpu(make) -> None:
    (cpu, _), (cuda, opt) = trained("cpu", make), trained("cuda", make)
    for p_cpu, p_cuda in zip(cpu.parameters(), cuda.parameters(), strict=True):
        assert p_cuda.device == "cuda"
        np.testing.assert_allclose(p_cuda.numpy(), p_cpu.numpy(), rtol=1e-5, atol=1e-7)
    for state in opt.state:
        for value in state.values():
            assert not isinstance(value, np.ndarray)  # buffers live on the device


@pytest.mark.parametrize("make", [c[1] for c in OPTIMISERS], ids=[c[0] for c in OPTIMISERS])
def test_optimiser_state_moves_between_devices(make) -> None:
    _, cuda_opt = trained("cuda", make)
    saved = cuda_opt.state_dict()
    for entry in saved["state"]:
        for name in type(cuda_opt).STATE_ARRAYS:
            if name in entry:
                assert isinstance(entry[name], np.ndarray)
    cpu_net, cpu_opt = trained("cpu", make, steps=0)
    cpu_opt.load_state_dict(saved)
    back_net, back_opt = trained("cuda", make, steps=0)
    back_opt.load_state_dict(cpu_opt.state_dict())
    for state in back_opt.state:
        for name in type(back_opt).STATE_ARRAYS:
            if name in state:
                assert backend.device_of(state[name]) == "cuda"


def test_module_to_and_state_dicts_round_trip_through_the_device(tmp_path: Path) -> None:
    net = models.omniglot_cpu_net(np.random.default_rng(0))
    original = net.state_dict()
    net.to("cuda")
    assert all(p.device == "cuda" for p in net.parameters())
    state = net.state_dict()
    for name, value in state.items():
        assert isinstance(value, np.ndarray)
        np.testing.assert_array_equal(value, original[name])
    other = models.omniglot_cpu_net(np.random.default_rng(1)).to("cuda")
    other.load_state_dict(state)
    assert all(p.device == "cuda" for p in other.parameters())
    net.to("cpu")
    assert all(p.device == "cpu" for p in net.parameters())
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, original[name])


def test_a_checkpoint_saved_from_the_device_loads_on_either(tmp_path: Path) -> None:
    net, opt = trained("cuda", OPTIMISERS[2][1])
    path = tmp_path / "ckpt.npz"
    tinysiam.save(path, model=net.state_dict(), optimizer=opt.state_dict(), iteration=3)
    state = tinysiam.load(path)
    for device in ("cpu", "cuda"):
        again, again_opt = trained(device, OPTIMISERS[2][1], steps=0)
        again.load_state_dict(state["model"])
        again_opt.load_state_dict(state["optimizer"])
        for p, q in zip(again.parameters(), net.parameters(), strict=True):
            assert p.device == device
            np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_outputs_in_batches_on_cuda() -> None:
    net = models.mnist_mlp(np.random.default_rng(0)).eval()
    images = rand(7, 1, 28, 28).astype(np.float32)
    on_cpu = training.outputs_in_batches(net, images, "cpu", batch=3)
    on_cuda = training.outputs_in_batches(net.to("cuda"), images, "cuda", batch=3)
    assert isinstance(on_cuda, np.ndarray) and on_cuda.shape == (7, 2)
    np.testing.assert_allclose(on_cuda, on_cpu, rtol=1e-5, atol=1e-6)


def test_gradcheck_runs_on_cuda() -> None:
    x = tinysiam.tensor(rand(2, 3), device="cuda", requires_grad=True)
    assert tinysiam.gradcheck(lambda t: (t * t.exp()).sum(), x)


def test_device_auto_resolves_to_cuda_when_cuda_is_available() -> None:
    assert training.resolve_device("auto") == "cuda"
    assert training.resolve_device("cuda") == "cuda"


# ----- the examples, in process, with --device cuda ---------------------------------------------
def load_example(name: str):
    return example_scripts.load(name)


EXAMPLES = [
    (
        "mnist_contrastive",
        ["--dataset", "digits", "--iterations", "3", "--train-size", "300"],
    ),
    (
        "two_source_digits",
        ["--iterations", "3", "--train-size", "300", "--test-size", "300", "--print-size", "200"],
    ),
    (
        "omniglot_bce",
        ["--preset", "cpu", "--classes", "20", "--iterations", "3", "--eval-pairs", "200"],
    ),
]


@cuda_only
@pytest.mark.parametrize("name, args", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_example_runs_with_device_cuda(
    name: str, args: list[str], tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cupy

    monkeypatch.setenv("TINYSIAM_DATA", str(shared_data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    example = load_example(name)
    if getattr(cupy, "IS_STANDIN", False):
        cupy.counts.reset()
    result = example.main([*args, "--device", "cuda", "--no-show", "--out", str(tmp_path)])
    assert isinstance(result, dict)
    assert result.get("device", "cuda") == "cuda"
    if getattr(cupy, "IS_STANDIN", False):
        assert cupy.counts.launches > 100  # the training ran on the device
