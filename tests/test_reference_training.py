"""Experiment 1's conv branch (``--preset best``) trains alike on the reference and fast ops.

Both runs start from the same weights and see the same batches; one runs ops.Conv2dOp,
ops.MaxPool2dOp and optim.Adam, the other ReferenceConv2dOp, ReferenceMaxPool2dOp and
ReferenceAdam. In exact arithmetic the loss curves are identical. In floating point the two sum
their products in different orders (one whole-batch product against chunked and transposed
ones; Adam's bias corrections applied to the arrays or folded into two scalars), so each loss
differs by rounding, and Adam lets that grow: a gradient coordinate that is almost zero carries
float32 rounding of about 1e-9, not small beside eps = 1e-8, and Adam turns it into a step of
up to lr, of either sign. Over 50 iterations the float32 curves drift apart by up to 1.9e-4 of
the loss (measured), while the same runs in float64 agree to 5e-15: the drift is rounding, not a
difference in the math. Hence rtol 1e-3 in float32 and 1e-10 in float64. A wrong gradient (a
pixel dropped, a missing bias correction) moves the curve by far more within a few iterations.
"""

from __future__ import annotations

import functools

import example_scripts
import numpy as np
import pytest

import tinysiam
from tinysiam import losses, nn, optim
from tinysiam.experiments import models
from tinysiam.experiments.data import PairSampler, all_pairs, synthetic_digits
from tinysiam.reference import ReferenceAdam

TRAIN_SIZE = 400  # synthetic digits, 40 of each: enough for batches of 18 per digit
CURVE_RTOL = {np.float32: 1e-3, np.float64: 1e-10}  # rounding grown by Adam (see the top)


def load_example():
    return example_scripts.load("mnist_contrastive")


@functools.cache
def training_digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = synthetic_digits(TRAIN_SIZE, seed=0)
    images.flags.writeable = False  # shared by every run
    return images, labels


def best_preset_loss_curve(impl: str, iterations: int, dtype=np.float32) -> np.ndarray:
    """The losses of ``iterations`` steps of the ``--preset best`` recipe (seed 0), ``impl`` ops."""
    preset = load_example().PRESETS["best"]
    assert preset["network"] == "conv" and preset["pairs"] == "all-in-batch"
    train_x, train_y = training_digits()
    train_x = train_x.astype(dtype)
    branch = models.mnist_conv_net(np.random.default_rng(0)).to(dtype=dtype)
    adam = optim.Adam
    if impl == "reference":
        branch, adam = nn.use_reference_ops(branch), ReferenceAdam
    optimizer = adam(branch.parameters(), lr=preset["lr"], betas=(0.9, 0.99))
    sampler = PairSampler(train_x, train_y, seed=0)
    curve = []
    for iteration in range(iterations):
        batch = sampler.sample_class_batch(preset["per_class"])  # (B,) images, per_class a digit
        f = branch(tinysiam.tensor(train_x[batch]))  # (B, 2)
        i, j, y, weight = all_pairs(train_y[batch])
        per_pair = losses.contrastive_loss(
            f[i], f[j], tinysiam.tensor(y), margin=preset["margin"], reduction="none"
        )
        loss = (per_pair * tinysiam.tensor(weight.astype(dtype))).sum()
        optimizer.lr = optim.scheduled_lr(preset["lr"], preset["schedule"], iteration, iterations)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.append(loss.item())
    return np.array(curve)


def assert_same_curve(iterations: int, dtype=np.float32) -> None:
    fast = best_preset_loss_curve("fast", iterations, dtype)
    reference = best_preset_loss_curve("reference", iterations, dtype)
    assert np.all(np.isfinite(fast)) and fast[-1] < 0.8 * fast[0]  # it really trained
    np.testing.assert_allclose(reference, fast, rtol=CURVE_RTOL[dtype], atol=0)


def test_best_preset_5_iterations_same_loss_curve_on_reference_ops() -> None:
    assert_same_curve(5)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_best_preset_50_iterations_same_loss_curve_on_reference_ops(dtype) -> None:
    assert_same_curve(50, dtype)
