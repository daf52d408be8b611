"""What one training iteration of experiment 2's paper preset costs a GPU, counted on the stand-in.

The preset (examples/omniglot_bce.py, ``--preset paper``): models.koch_net twins on 105x105
images, the similarity head, binary cross-entropy of clamped probabilities, Adam, 180 pairs per
iteration. With the training images already on the device and only the pairs' indices sent, one
iteration must stay within

* 1,000 kernel launches (each costs 5 to 15 us of Python and driver time),
* 2 host-device synchronisations (each stalls the CPU until the GPU catches up),
* 1 MB copied from host to device.

The counts of launches, syncs and transfers do not depend on the images' side or the number of
channels, only on the layers, the batch and how many chunks each convolution's columns come in
(tinysiam.ops.conv.column_budget). So the default test runs the same layers on 73x73 images
(the smallest that fit them) with fewer channels, and checks that every convolution of the
full-size network comes in the same single chunk; the slow test runs the full-size network.

Measured on the stand-in at full size, one iteration with the loss read back: before the GPU
changes (128 MiB column budget on every device, BCE's range check and the label check on the
device, both images of each pair sent from the host) 12,386 launches, 3 syncs, 15.9 MB sent;
now 628 launches (80 GB GPU; 838 on a 40 GB one), 1 sync (the loss), 3.6 KB sent.
"""

from __future__ import annotations

import numpy as np
import pytest
from devices import cuda_only

import tinysiam
import tinysiam.functional as F
from tinysiam import losses, nn, optim
from tinysiam.experiments import models
from tinysiam.ops import conv

PAIRS = 180  # PRESETS["paper"]["batch_pairs"] in examples/omniglot_bce.py, as published
PAPER_SIZE = 105
SMALL_SIZE = (
    73  # 73 -conv10-> 64 -pool-> 32 -conv7-> 26 -pool-> 13 -conv4-> 10 -pool-> 5 -conv5-> 1
)
LAUNCH_BUDGET, SYNC_BUDGET, H2D_BUDGET_BYTES = 1_000, 2, 10**6


def koch_like(size: int, widths: tuple[int, int, int, int], features: int) -> nn.Sequential:
    """models.koch_net's layers with other channel widths, for (N, 1, size, size) images."""
    rng = np.random.default_rng(0)
    w1, w2, w3, w4 = widths
    side = size
    for kernel in (10, 7, 4):
        side = (side - kernel + 1) // 2
    side -= 4
    return nn.Sequential(
        nn.Conv2d(1, w1, 10, init="narrow-normal", rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(w1, w2, 7, init="narrow-normal", rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(w2, w3, 4, init="narrow-normal", rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(w3, w4, 5, init="narrow-normal", rng=rng),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dense(side * side * w4, features, init="narrow-normal", rng=rng),
    )


def layer_kinds(net: nn.Sequential) -> list[tuple]:
    """The layers in order, by kind and geometry (not widths)."""
    kinds = []
    for layer in net.layers:
        geometry = tuple(
            getattr(layer, name, None) for name in ("kernel_size", "stride", "padding")
        )
        kinds.append((type(layer).__name__, geometry))
    return kinds


class PaperStep:
    """One training iteration of the paper preset, with the training images on the device."""

    def __init__(self, branch: nn.Module, features: int, images: np.ndarray) -> None:
        rng = np.random.default_rng(1)
        self.twin = nn.Twin(branch)
        self.head = models.SimilarityHead(features, init="narrow-normal", rng=rng)
        params = [*self.twin.parameters(), *self.head.parameters()]
        self.twin.to("cuda")
        self.head.to("cuda")
        self.optimizer = optim.Adam(params, lr=6e-5, betas=(0.9, 0.99))
        self.images = tinysiam.tensor(images, device="cuda")  # once, before training
        self.rng = np.random.default_rng(2)

    def __call__(self) -> tinysiam.Tensor:
        count = self.images.shape[0]
        i1, i2 = self.rng.integers(0, count, PAIRS), self.rng.integers(0, count, PAIRS)
        y = self.rng.integers(0, 2, PAIRS).astype(np.float32)  # host labels, as a sampler makes
        f1, f2 = self.twin(self.images[i1], self.images[i2])  # only the indices are sent
        loss = losses.binary_cross_entropy(F.sigmoid(self.head(f1, f2)), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss


def measure_iteration(cupy, step: PaperStep) -> dict[str, int]:
    """Counts of the second iteration (the first creates Adam's buffers), loss read back once."""
    step()
    cupy.counts.reset()
    loss = step()
    float(loss.item())  # the progress bar's read, here every iteration
    return cupy.counts.snapshot()


def check_budgets(counts: dict[str, int]) -> None:
    assert counts["launches"] <= LAUNCH_BUDGET, counts
    assert counts["syncs"] <= SYNC_BUDGET, counts
    assert counts["h2d_bytes"] <= H2D_BUDGET_BYTES, counts


def test_the_small_network_has_koch_nets_layers() -> None:
    assert layer_kinds(koch_like(SMALL_SIZE, (4, 8, 8, 16), 32)) == layer_kinds(
        models.koch_net(np.random.default_rng(0))
    )


@cuda_only
def test_every_convolution_of_the_paper_preset_is_one_chunk_on_an_80_gb_gpu() -> None:
    import cupy

    if not getattr(cupy, "IS_STANDIN", False):
        pytest.skip("the stand-in's 80 GB device; a real GPU has its own memory")
    x = cupy.empty((1,), dtype=np.float32)
    n, side = 2 * PAIRS, PAPER_SIZE
    for c, kernel in [(1, 10), (64, 7), (128, 4), (128, 5)]:
        out = side - kernel + 1
        per_image = c * kernel * kernel * out * out * 4
        assert len(conv.batch_chunks(n, per_image, conv.column_budget(x))) == 1
        assert len(conv.batch_chunks(n, per_image)) >= 1  # the CPU's budget: many for layer 2
        side = out // 2 if kernel != 5 else out
    assert len(conv.batch_chunks(n, 64 * 49 * 42 * 42 * 4)) == 60  # the CPU's 128 MiB


@cuda_only
def test_one_paper_iteration_stays_within_the_gpu_budgets() -> None:
    import cupy

    if not getattr(cupy, "IS_STANDIN", False):
        pytest.skip("the counters exist on the stand-in only")
    images = np.random.default_rng(3).random((50, 1, SMALL_SIZE, SMALL_SIZE), dtype=np.float32)
    counts = measure_iteration(
        cupy, PaperStep(koch_like(SMALL_SIZE, (4, 8, 8, 16), 32), 32, images)
    )
    check_budgets(counts)
    assert counts["h2d_bytes"] < 2 * PAIRS * 8 + 10_000  # the indices, labels and a few scalars


@pytest.mark.slow
@cuda_only
def test_one_full_size_paper_iteration_stays_within_the_gpu_budgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The full network once (minutes on a CPU), modelling a 40 GB GPU: the second convolution
    then comes in 2 chunks of 4 GB of columns (host RAM holds them: about 12 GB at the peak)."""
    import cupy

    if not getattr(cupy, "IS_STANDIN", False):
        pytest.skip("the counters exist on the stand-in only")
    monkeypatch.setattr(cupy, "DEVICE_MEMORY_BYTES", 40 * 10**9)
    images = np.random.default_rng(3).random((50, 1, PAPER_SIZE, PAPER_SIZE), dtype=np.float32)
    step = PaperStep(models.koch_net(np.random.default_rng(0)), 4096, images)
    check_budgets(measure_iteration(cupy, step))
