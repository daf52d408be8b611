"""tinysiam.save / tinysiam.load: round trips, atomic writes, leftovers removed, clear errors,
exact resumption. Saves killed mid-write: tests/test_checkpoint_kill.py."""

import os
import sys

import numpy as np
import pytest

import tinysiam
import tinysiam.checkpoint as checkpoint
from tinysiam import nn
from tinysiam.losses import binary_cross_entropy_with_logits
from tinysiam.optim import Adam

if sys.platform != "win32":
    import fcntl


def test_round_trip_arrays_nested_dicts_and_rng_state(tmp_path):
    rng = np.random.default_rng(5)
    rng.standard_normal(3)  # a state that is not the seed's
    state = {
        "model": {
            "0.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
            "0.bias": np.zeros(2, np.float64),
        },
        "optimizer": {
            "type": "Adam",
            "lr": 1e-4,
            "betas": [0.9, 0.99],
            "state": [{"step": 3, "m": np.ones(2)}, {}],
        },
        "iteration": 1500,
        "rng": rng.bit_generator.state,
        "flags": {
            "done": False,
            "note": "ok",
            "nothing": None,
            "labels": np.array([1, 0], np.int8),
        },
        "scalar": np.float32(2.5),
    }
    path = tmp_path / "ckpt.npz"
    tinysiam.save(path, **state)
    loaded = tinysiam.load(path)
    assert set(loaded) == set(state)
    for name, array in state["model"].items():
        assert loaded["model"][name].dtype == array.dtype
        np.testing.assert_array_equal(loaded["model"][name], array)
    assert loaded["iteration"] == 1500 and isinstance(loaded["iteration"], int)
    assert loaded["optimizer"]["state"][0]["step"] == 3 and loaded["optimizer"]["state"][1] == {}
    np.testing.assert_array_equal(loaded["optimizer"]["state"][0]["m"], np.ones(2))
    assert loaded["optimizer"]["betas"] == [0.9, 0.99] and loaded["optimizer"]["lr"] == 1e-4
    assert (
        loaded["flags"]["done"] is False
        and loaded["flags"]["nothing"] is None
        and loaded["flags"]["note"] == "ok"
    )
    assert loaded["flags"]["labels"].dtype == np.int8
    assert loaded["scalar"] == np.float32(2.5) and loaded["scalar"].dtype == np.float32
    assert loaded["rng"] == rng.bit_generator.state  # 128-bit integers survive exactly
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["rng"]
    np.testing.assert_array_equal(restored.random(4), rng.random(4))


def test_numpy_scalars_keep_their_dtype_without_an_array_each(tmp_path):
    losses = [
        np.float32(0.1) * i for i in range(500)
    ]  # a loss history as the training loop keeps it
    tinysiam.save(
        tmp_path / "l.npz",
        losses=losses,
        best=np.int64(2**40),
        done=np.bool_(True),
        nan=float("nan"),
    )
    loaded = tinysiam.load(tmp_path / "l.npz")
    assert [type(v) for v in loaded["losses"]] == [np.float32] * 500 and loaded["losses"] == losses
    assert (
        loaded["best"] == 2**40
        and isinstance(loaded["best"], np.int64)
        and loaded["done"] is np.True_
    )
    assert np.isnan(loaded["nan"])
    with np.load(tmp_path / "l.npz") as archive:
        assert archive.files == [checkpoint.META_KEY]
    with pytest.raises(TypeError, match="reserves"):
        tinysiam.save(tmp_path / "x.npz", state={"__array__": 1, "other": 2})


def test_a_generator_comes_back_as_an_equal_generator(tmp_path):
    rng = np.random.default_rng(11)
    tinysiam.save(tmp_path / "g.npz", rng=rng)
    copy = tinysiam.load(tmp_path / "g.npz")["rng"]
    assert isinstance(copy, np.random.Generator) and copy is not rng
    np.testing.assert_array_equal(copy.integers(0, 1000, 5), rng.integers(0, 1000, 5))


def test_unsupported_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="Tensor"):
        tinysiam.save(tmp_path / "x.npz", weights=tinysiam.tensor([1.0]))
    with pytest.raises(TypeError, match="keys must be strings"):
        tinysiam.save(tmp_path / "x.npz", state={0: np.zeros(1)})
    assert not os.listdir(tmp_path)


def _fail_mid_write(file, *args, **kwargs):
    file.write(b"PK\x03\x04 half a zip")
    raise OSError("disk full")


@pytest.mark.parametrize("failure", ["savez", "fsync"])
def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch, failure):
    path = tmp_path / "ckpt.npz"
    tinysiam.save(path, iteration=1, weights=np.ones(3))
    if failure == "savez":
        monkeypatch.setattr(checkpoint.np, "savez", _fail_mid_write)
    else:
        monkeypatch.setattr(
            checkpoint.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error"))
        )
    with pytest.raises(OSError):
        tinysiam.save(path, iteration=2, weights=np.zeros(3))
    monkeypatch.undo()
    loaded = tinysiam.load(path)
    assert loaded["iteration"] == 1
    np.testing.assert_array_equal(loaded["weights"], np.ones(3))
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind


def test_missing_file_error_names_the_path(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        tinysiam.load(path)


def test_truncated_file_error_names_the_path(tmp_path):
    path = tmp_path / "ckpt.npz"
    tinysiam.save(path, weights=np.arange(1000.0), iteration=3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(tinysiam.CheckpointError, match=r"ckpt\.npz.*truncated or corrupt"):
        tinysiam.load(path)


@pytest.mark.parametrize("kind", ["text", "npz", "npy"])
def test_foreign_file_error_names_the_path(tmp_path, kind):
    path = tmp_path / f"foreign.{kind}"
    if kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "npz":
        np.savez(path, weights=np.ones(2))
    else:
        np.save(path, np.ones(2))
    with pytest.raises(tinysiam.CheckpointError, match=f"foreign.{kind}.*not a"):
        tinysiam.load(path)


# ----- resuming training ----------------------------------------------------------------------
X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
Y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)  # a fixed synthetic problem


def make_model(seed):
    tinysiam.manual_seed(seed)
    return nn.Sequential(nn.Dense(4, 16), nn.ReLU(), nn.Dense(16, 1))


def train(model, opt, data_rng, steps):
    for _ in range(steps):
        batch = data_rng.choice(len(X), size=16, replace=False)
        opt.zero_grad()
        binary_cross_entropy_with_logits(model(tinysiam.tensor(X[batch])), Y[batch]).backward()
        opt.step()


def test_resuming_from_a_checkpoint_equals_training_without_stopping(tmp_path):
    k = 6
    straight = make_model(0)
    straight_opt = Adam(straight.parameters(), lr=1e-2, betas=(0.9, 0.99))
    train(straight, straight_opt, np.random.default_rng(1), 2 * k)

    first = make_model(0)
    first_opt = Adam(first.parameters(), lr=1e-2, betas=(0.9, 0.99))
    data_rng = np.random.default_rng(1)
    train(first, first_opt, data_rng, k)
    path = tmp_path / "ckpt.npz"
    tinysiam.save(
        path,
        model=first.state_dict(),
        optimizer=first_opt.state_dict(),
        iteration=k,
        rng=data_rng.bit_generator.state,
    )

    state = tinysiam.load(path)
    resumed = make_model(99)  # different starting weights, all overwritten
    resumed_opt = Adam(resumed.parameters())  # default settings, restored from the checkpoint
    resumed.load_state_dict(state["model"])
    resumed_opt.load_state_dict(state["optimizer"])
    resumed_rng = np.random.default_rng()
    resumed_rng.bit_generator.state = state["rng"]
    assert state["iteration"] == k and resumed_opt.betas == (0.9, 0.99)
    train(resumed, resumed_opt, resumed_rng, k)

    for (name, p), (_, q) in zip(
        straight.named_parameters(), resumed.named_parameters(), strict=True
    ):
        assert np.array_equal(p.numpy(), q.numpy()), name
    for a, b in zip(straight_opt.state, resumed_opt.state, strict=True):
        assert a["step"] == b["step"] == 2 * k
        assert np.array_equal(a["m"], b["m"]) and np.array_equal(a["v"], b["v"])
    assert not np.array_equal(
        straight[0].weight.numpy(), make_model(0)[0].weight.numpy()
    )  # it did train


def test_checkpoint_gets_the_permissions_of_an_ordinary_file(tmp_path):
    ordinary = tmp_path / "ordinary.bin"
    ordinary.write_bytes(b"")
    tinysiam.save(tmp_path / "state.npz", step=1)
    assert (tmp_path / "state.npz").stat().st_mode & 0o777 == ordinary.stat().st_mode & 0o777


# ----- temporary files: what a save leaves and what removes it ----------------------------------
needs_flock = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")


def partial_name(name, hex_digits):
    return f".{name}.{hex_digits}{checkpoint.PARTIAL_SUFFIX}"


@needs_flock
def test_save_and_load_remove_only_the_unlocked_partials_of_their_own_path(tmp_path):
    path = tmp_path / "ckpt.npz"
    abandoned = tmp_path / partial_name("ckpt.npz", "0123abcd")
    in_progress = tmp_path / partial_name("ckpt.npz", "89abcdef")
    unrelated = [
        "ckpt.npz.tmp",
        "ckpt.npz.abcd1234.tmp",
        partial_name("other.npz", "0123abcd"),
        partial_name("ckpt.npz", "0123ABCD"),
        partial_name("ckpt.npz", "0123abcd") + ".bak",
        "notes.txt",
    ]
    for name in [abandoned.name, in_progress.name, *unrelated]:
        (tmp_path / name).write_bytes(b"PK\x03\x04 half a zip")
    with open(in_progress, "r+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a save in another process holds its file
        tinysiam.save(path, iteration=1)
        assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", in_progress.name, *unrelated])
        tinysiam.load(path)
        assert in_progress.exists()
    assert tinysiam.load(path)["iteration"] == 1  # the lock is gone: so is the file
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", *unrelated])


@needs_flock
def test_a_partial_swept_before_it_is_locked_is_replaced_by_a_new_one(tmp_path, monkeypatch):
    def lock_after_a_sweep(fd, *, wait):
        for name in os.listdir(tmp_path):  # another process's sweep got there first
            os.remove(tmp_path / name)
        monkeypatch.setattr(checkpoint, "_lock", lock)
        return lock(fd, wait=wait)

    lock = checkpoint._lock
    monkeypatch.setattr(checkpoint, "_lock", lock_after_a_sweep)
    tinysiam.save(tmp_path / "ckpt.npz", iteration=2)
    assert tinysiam.load(tmp_path / "ckpt.npz")["iteration"] == 2
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_without_flock_saves_stay_atomic_and_leftovers_stay(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "_LOCKS", False)  # as on Windows
    leftover = tmp_path / partial_name("ckpt.npz", "0123abcd")
    leftover.write_bytes(b"")
    path = tmp_path / "ckpt.npz"
    tinysiam.save(path, iteration=1, weights=np.ones(3))
    tinysiam.save(path, iteration=2, weights=np.zeros(3))
    loaded = tinysiam.load(path)
    assert loaded["iteration"] == 2
    np.testing.assert_array_equal(loaded["weights"], np.zeros(3))
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", leftover.name])
