"""Tensor: construction and dtype rules, leaving the graph, and devices."""

from __future__ import annotations

import numpy as np
import pytest
from devices import cuda_only, devices

import tinysiam as ts
import tinysiam.functional as F
from tinysiam.backend import to_numpy


# ----- tensor() and its dtype rules ------------------------------------------------------------
@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),  # Python floats become float32, the training precision
        ([[1.0, 2.0], [3.0, 4.0]], np.float32),
        ([1, 2.5], np.float32),  # mixed ints and floats: floats win
        (np.array([1.0, 2.0]), np.float64),  # NumPy arrays keep their dtype
        (np.float64(1.5), np.float64),
        (np.array([1.0], dtype=np.float32), np.float32),
        (3, np.asarray(3).dtype),  # ints stay ints
        ([1, 2, 3], np.asarray([1, 2, 3]).dtype),
        (np.array([1, 2], dtype=np.int32), np.int32),
        ([True, False], np.bool_),
    ],
)
def test_tensor_dtype_rules(data, dtype) -> None:
    t = ts.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_dtype_argument_wins() -> None:
    assert ts.tensor([1.0, 2.0], dtype=np.float64).dtype == np.float64
    assert ts.tensor(np.arange(3.0), dtype="float32").dtype == np.float32
    assert ts.tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_tensor_copies_its_input() -> None:
    source = np.array([1.0, 2.0])
    t = ts.tensor(source)
    source[0] = 100.0
    assert t.numpy()[0] == 1.0
    assert ts.tensor(t).data is not t.data  # from a Tensor: a copy as well


def test_only_floating_tensors_can_require_grad() -> None:
    with pytest.raises(TypeError, match="int"):
        ts.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        ts.Tensor(np.arange(3), requires_grad=True)
    assert ts.tensor([1, 2, 3], dtype=np.float32, requires_grad=True).requires_grad


def test_tensor_wraps_arrays_only() -> None:
    with pytest.raises(TypeError, match="tinysiam.tensor"):
        ts.Tensor([1.0, 2.0])


def test_shape_properties_and_repr() -> None:
    t = ts.tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert (t.shape, t.ndim, t.size, len(t), t.device) == ((2, 3, 4), 3, 24, 2, "cpu")
    assert t.is_leaf and t.grad is None
    assert "requires_grad=True" in repr(t) and "requires_grad" not in repr(ts.tensor([1.0]))


# ----- leaving the graph -------------------------------------------------------------------------
def test_numpy_returns_the_values_as_a_host_array() -> None:
    t = ts.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True) * 2.0
    values = t.numpy()
    assert isinstance(values, np.ndarray) and values.dtype == np.float64
    np.testing.assert_array_equal(values, np.arange(6.0).reshape(2, 3) * 2)


def test_item_gives_a_python_number() -> None:
    loss = (ts.tensor(np.array([1.0, 2.0]), requires_grad=True) ** 2).sum()
    value = loss.item()
    assert type(value) is float and value == 5.0
    count = ts.tensor([[7]]).item()
    assert type(count) is int and count == 7
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        ts.tensor([1.0, 2.0]).item()


# ----- devices -----------------------------------------------------------------------------------
@devices
def test_tensor_built_on_a_device(device: str) -> None:
    t = ts.tensor([[1.0, 2.0]], device=device)
    assert t.device == device and t.dtype == np.float32
    u = ts.tensor(np.arange(3.0), device=device)
    assert u.device == device and u.dtype == np.float64
    np.testing.assert_array_equal(u.numpy(), np.arange(3.0))


@devices
def test_to_moves_between_devices(device: str) -> None:
    x = ts.tensor(np.arange(4.0), requires_grad=True)
    y = x.to(device)
    assert y.device == device and y.requires_grad and y.dtype == np.float64
    assert y.to(device) is y  # already there: no copy
    back = y.to("cpu")
    assert back.device == "cpu" and isinstance(back.data, np.ndarray)
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    np.testing.assert_array_equal(y.numpy(), x.numpy())  # numpy() copies from the device


@devices
def test_ops_and_backward_run_on_the_device(device: str) -> None:
    rng = np.random.default_rng(0)
    a_values, b_values = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, (4,))

    def run(device: str) -> tuple[ts.Tensor, ts.Tensor, ts.Tensor]:
        a = ts.tensor(a_values, requires_grad=True, device=device)
        b = ts.tensor(b_values, requires_grad=True, device=device)
        h = F.sigmoid((a * b - 1.0) / b) + (a**b).log() + F.relu(a - 1.0) + F.maximum(a, b).sqrt()
        out = (h @ a.T).sum(axis=0).mean() + a[[0, 0, 2], 1:].sum() + h.max(axis=1).sum()
        out.backward()
        return out, a, b

    out, a, b = run(device)
    assert out.device == device and a.grad is not None
    assert type(a.grad) is type(a.data) and type(b.grad) is type(
        b.data
    )  # gradients stay on the device
    out_cpu, a_cpu, b_cpu = run("cpu")
    np.testing.assert_allclose(out.item(), out_cpu.item(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(a.grad), a_cpu.grad, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(b.grad), b_cpu.grad, rtol=1e-12)


@devices
def test_conv_and_pool_on_the_device_match_cpu(device: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)

    def run(device: str) -> list[np.ndarray]:
        tensors = [ts.tensor(v, requires_grad=True, device=device) for v in (x, w, b)]
        out = F.max_pool2d(F.relu(F.conv2d(*tensors, stride=(1, 2), padding=1)), 2)
        (out * out).sum().backward()
        assert all(t.grad.dtype == np.float32 for t in tensors)
        return [out.numpy()] + [to_numpy(t.grad) for t in tensors]

    for name, on_device, on_cpu in zip(
        ["out", "x.grad", "weight.grad", "bias.grad"], run(device), run("cpu"), strict=True
    ):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-4, atol=1e-5, err_msg=name)


@devices
def test_gradcheck_on_the_device(device: str) -> None:
    rng = np.random.default_rng(0)
    x = ts.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True, device=device)
    w = ts.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True, device=device)
    assert ts.gradcheck(lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=1), 2), x, w)


@devices
def test_unknown_device_is_rejected(device: str) -> None:
    with pytest.raises(ValueError, match="'tpu'"):
        ts.tensor([1.0], device=device).to("tpu")


@cuda_only
@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a @ b.T,
        lambda a, b: F.dense(a, b),
        lambda a, b: ts.stack([a, b]),
    ],
    ids=["add", "matmul", "dense", "stack"],
)
def test_mixing_devices_raises_naming_both(op) -> None:
    on_cpu = ts.tensor(np.ones((2, 3)))
    on_gpu = ts.tensor(np.ones((2, 3)), device="cuda")
    with pytest.raises(ValueError, match=r"(?s)'cpu'.*'cuda'"):
        op(on_cpu, on_gpu)
    with pytest.raises(ValueError, match=r"(?s)'cuda'.*'cpu'"):
        op(on_gpu, on_cpu)
