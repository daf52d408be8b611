"""The benchmark workloads, built the same way in tinysiam and in PyTorch.

Training workloads (one iteration = a pair batch through the shared branch, the loss, backward,
one optimiser step):

    W1  experiment 1: models.mnist_mlp twin (784-1024-1024-2), contrastive loss (margin 0.3, sum),
        Adam(1e-4, betas (0.9, 0.99)), 180 pairs of 28x28 images
    W2  experiment 2 as published: models.koch_net + SimilarityHead(4096), BCE on the sigmoid
        probability (clamped at float32 eps), Adam(6e-5, betas (0.9, 0.99)), a few pairs of 105x105
    W3  experiment 2's CPU preset (examples/omniglot_bce.py --preset cpu): models.omniglot_cpu_net +
        SimilarityHead (He init) over its feature width, BCE from the logits, Adam(3e-3, betas
        (0.9, 0.99)), 128 pairs of OMNIGLOT_CPU_IMAGE_SIZE images

Single ops: conv2d and max_pool2d forward + backward at every layer shape of W2.

"The same way": both sides use the same shapes, the same initial weights (the PyTorch worker
builds the tinysiam model from the same seed and copies its weights), the same data, the same
loss formula and the same optimiser settings. The twin runs its two inputs as ONE batch of
2 x pairs images on both sides (tinysiam's nn.Twin does that; the PyTorch step concatenates).

PyTorch is optional: it is imported only inside the ``torch_*`` functions, which run in the
PyTorch worker process.

FLOPs are counted analytically from the layer shapes (:func:`layer_shapes`): 2 * M * N * K per
matrix product (a dense layer, or a convolution as its im2col product); forward + backward is
3x the forward (the input gradient and the weight gradient each cost one more forward), minus
the first layer's input gradient, which no one needs. Elementwise work, pooling, the loss and
the optimiser are not counted (a few % of the total).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinysiam
import tinysiam.functional as F
from tinysiam import losses, nn, optim
from tinysiam.backend import array_module, to_device
from tinysiam.experiments import models
from tinysiam.ops.conv import output_size

SEED = 0
BETAS = (0.9, 0.99)
LEARNING_RATES = {"W1": 1e-4, "W2": 6e-5, "W3": 3e-3}  # W3: examples/omniglot_bce.py --preset cpu
DEFAULT_PAIRS = {"W1": 180, "W2": 8, "W3": 128}
TRAINING_WORKLOADS = tuple(LEARNING_RATES)
CONTRASTIVE_MARGIN = 0.3


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """An int or an (height, width) pair, as a pair (the layers accept both)."""
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


# ----- the networks --------------------------------------------------------------------------
def image_shape(workload: str) -> tuple[int, int, int]:
    """(C, H, W) of one input image of a training workload."""
    if workload == "W1":
        return (1, 28, 28)
    if workload == "W2":
        return (1, 105, 105)
    if workload == "W3":
        h, w = pair(models.OMNIGLOT_CPU_IMAGE_SIZE)
        return (1, h, w)
    raise ValueError(
        f"unknown workload {workload!r}; valid ones are {', '.join(TRAINING_WORKLOADS)}"
    )


def build_tinysiam(workload: str, seed: int = SEED) -> tuple[nn.Module, nn.Module | None]:
    """The branch and the head (None for W1) of a workload, with weights drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    if workload == "W1":
        return models.mnist_mlp(rng), None
    if workload == "W2":
        return models.koch_net(rng), models.SimilarityHead(4096, rng=rng)
    if workload == "W3":
        branch = models.omniglot_cpu_net(rng)
        features = list(layer_shapes(branch, (1, *image_shape("W3"))))[-1][2][-1]
        return branch, models.SimilarityHead(features, init="he", rng=rng)
    raise ValueError(
        f"unknown workload {workload!r}; valid ones are {', '.join(TRAINING_WORKLOADS)}"
    )


def pair_batch(
    workload: str, pairs: int, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x1, x2: (pairs, C, H, W) float32 in [0, 1); y: (pairs,) float32, half similar (1)."""
    rng = np.random.default_rng(seed + 1)
    shape = (pairs, *image_shape(workload))
    x1 = rng.random(shape, dtype=np.float32)
    x2 = rng.random(shape, dtype=np.float32)
    y = (np.arange(pairs) % 2 == 0).astype(np.float32)
    return x1, x2, y


# ----- shapes and FLOPs ----------------------------------------------------------------------
def leaf_layers(module: nn.Module) -> Iterator[nn.Module]:
    """The layers of a (possibly nested) Sequential, in order."""
    if isinstance(module, nn.Sequential):
        for layer in module:
            yield from leaf_layers(layer)
    else:
        yield module


def layer_shapes(
    net: nn.Module, input_shape: tuple[int, ...]
) -> Iterator[tuple[nn.Module, tuple, tuple]]:
    """(layer, input shape, output shape) of each layer of a Sequential, without running it.

    Dense, Conv2d, MaxPool2d and Flatten change the shape; every other layer (ReLU, Sigmoid)
    is taken to be elementwise.
    """
    shape = tuple(input_shape)
    for layer in leaf_layers(net):
        if isinstance(layer, nn.Dense):
            out = (*shape[:-1], layer.out_features)
        elif isinstance(layer, nn.Conv2d):
            (kh, kw), (sh, sw), (ph, pw) = (
                pair(layer.kernel_size),
                pair(layer.stride),
                pair(layer.padding),
            )
            out = (
                shape[0],
                layer.out_channels,
                output_size(shape[2], kh, sh, ph),
                output_size(shape[3], kw, sw, pw),
            )
        elif isinstance(layer, nn.MaxPool2d):
            kh, kw = pair(layer.kernel_size)
            sh, sw = pair(layer.stride if layer.stride is not None else layer.kernel_size)
            out = (*shape[:2], output_size(shape[2], kh, sh, 0), output_size(shape[3], kw, sw, 0))
        elif isinstance(layer, nn.Flatten):
            out = (*shape[: layer.start_dim], math.prod(shape[layer.start_dim :]))
        else:
            out = shape
        yield layer, shape, out
        shape = out


def forward_flops(layer: nn.Module, in_shape: tuple, out_shape: tuple) -> int:
    """2 * M * N * K of a dense layer or a convolution's im2col product; 0 for any other layer."""
    if isinstance(layer, nn.Dense):
        return 2 * math.prod(in_shape[:-1]) * layer.in_features * layer.out_features
    if isinstance(layer, nn.Conv2d):
        kh, kw = pair(layer.kernel_size)
        return 2 * math.prod(out_shape) * layer.in_channels * kh * kw
    return 0


def training_flops(workload: str, pairs: int) -> int:
    """FLOPs of one training iteration: 3 x forward, minus the first layer's input gradient."""
    branch, head = build_tinysiam(workload)
    shapes = list(layer_shapes(branch, (2 * pairs, *image_shape(workload))))
    forward = [forward_flops(*s) for s in shapes]
    if head is not None:
        forward.append(2 * pairs * head.fc.in_features * head.fc.out_features)
    first = next(f for f in forward if f)
    return 3 * sum(forward) - first


# ----- the tinysiam side ---------------------------------------------------------------------
def tinysiam_loss(
    workload: str,
    head: nn.Module | None,
    f1: tinysiam.Tensor,
    f2: tinysiam.Tensor,
    y: tinysiam.Tensor,
) -> tinysiam.Tensor:
    if workload == "W1":
        return losses.contrastive_loss(f1, f2, y, margin=CONTRASTIVE_MARGIN, reduction="sum")
    if workload == "W2":
        return losses.binary_cross_entropy(F.sigmoid(head(f1, f2)), y)
    return losses.binary_cross_entropy_with_logits(head(f1, f2), y)


def tinysiam_synchronize(device: str) -> Callable[[], None]:
    """A function that waits for the device to finish its queued work (nothing to do on CPU)."""
    if device == "cpu":
        return lambda: None
    return array_module("cuda").cuda.Device().synchronize


def tinysiam_training_step(
    workload: str, pairs: int, device: str = "cpu", seed: int = SEED
) -> Callable[[], float]:
    """Build the twin, head, optimiser and one pair batch on ``device``; return one training step.

    The step returns the loss of its batch (before the update).
    """
    branch, head = build_tinysiam(workload, seed)
    twin = nn.Twin(branch).to(device)
    parameters = twin.parameters() + (head.to(device).parameters() if head is not None else [])
    optimizer = optim.Adam(parameters, lr=LEARNING_RATES[workload], betas=BETAS)
    x1, x2, y = (tinysiam.tensor(a, device=device) for a in pair_batch(workload, pairs, seed))
    synchronize = tinysiam_synchronize(device)

    def step() -> float:
        optimizer.zero_grad()
        f1, f2 = twin(x1, x2)
        loss = tinysiam_loss(workload, head, f1, f2, y)
        loss.backward()
        optimizer.step()
        synchronize()
        return loss.item()

    return step


# A small conv net's shapes, big enough for the frameworks to use their thread pools (PyTorch's
# first parallel backward costs ~30 MB of memory once; it is the library's, not the workload's).
PRIME_SHAPES = {"x": (2, 16, 34, 34), "conv": (16, 16, 3, 3), "dense": (8, 16 * 16 * 16)}


def tinysiam_prime(device: str = "cpu") -> None:
    """First-use costs: a small conv / relu / pool / dense / sigmoid forward + backward, Adam."""
    x = tinysiam.tensor(np.ones(PRIME_SHAPES["x"], np.float32), requires_grad=True, device=device)
    w = tinysiam.tensor(
        np.ones(PRIME_SHAPES["conv"], np.float32), requires_grad=True, device=device
    )
    h = F.max_pool2d(F.relu(F.conv2d(x, w)), 2).flatten(1)
    F.sigmoid(
        F.dense(h, tinysiam.tensor(np.ones(PRIME_SHAPES["dense"], np.float32), device=device))
    ).sum().backward()
    optim.Adam([x, w], lr=1e-3).step()
    tinysiam_synchronize(device)()
    if device == "cuda":  # count the workload's device memory from zero
        del x, w, h
        array_module("cuda").get_default_memory_pool().free_all_blocks()


def keep_freed_memory_then(prime: Callable[[str], None], device: str) -> None:
    """Call tinysiam.keep_freed_memory() in this worker process, as the examples do, then ``prime``.

    It sets glibc malloc's thresholds for the whole process (tinysiam/memory.py), so it applies
    to whichever framework the worker runs.
    """
    tinysiam.keep_freed_memory()
    prime(device)


def cupy_peak_bytes() -> int:
    """Bytes held by CuPy's memory pool; it keeps freed blocks, so this is its peak."""
    return int(array_module("cuda").get_default_memory_pool().total_bytes())


# ----- the PyTorch side (torch is imported only in here) -------------------------------------
def torch_layer(layer: nn.Module) -> Any:
    """The torch.nn twin of one tinysiam layer, parameters named alike (weights copied later)."""
    import torch

    if isinstance(layer, nn.Sequential):
        return torch.nn.Sequential(*(torch_layer(child) for child in layer))
    if isinstance(layer, nn.Dense):
        return torch.nn.Linear(layer.in_features, layer.out_features)
    if isinstance(layer, nn.Conv2d):
        return torch.nn.Conv2d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
        )
    if isinstance(layer, nn.MaxPool2d):
        return torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
    if isinstance(layer, nn.ReLU):
        return torch.nn.ReLU()
    if isinstance(layer, nn.Sigmoid):
        return torch.nn.Sigmoid()
    if isinstance(layer, nn.Flatten):
        return torch.nn.Flatten(layer.start_dim)
    raise NotImplementedError(
        f"no PyTorch twin for tinysiam layer {type(layer).__name__}; add one to torch_layer"
    )


def torch_copy(module: nn.Module, torch_module: Any) -> Any:
    """Load the tinysiam module's weights into its torch twin (strict: every name, every shape)."""
    import torch

    torch_module.load_state_dict(
        {name: torch.from_numpy(value) for name, value in module.state_dict().items()}
    )
    return torch_module


def torch_loss(workload: str, head: Any, f1: Any, f2: Any, y: Any) -> Any:
    """The formulas of tinysiam.losses, written out in torch (same guards, same reductions)."""
    import torch

    if (
        workload == "W1"
    ):  # 0.5 * sum[ y d^2 + (1 - y) max(margin - d, 0)^2 ],  d = sqrt(|f1 - f2|^2 + 1e-6)
        diff = f1 - f2
        d_squared = (diff * diff).sum(dim=1) + 1e-6
        hinge = torch.relu(CONTRASTIVE_MARGIN - d_squared.sqrt())
        return 0.5 * (y * d_squared + (1 - y) * hinge * hinge).sum()
    z = head((torch.sigmoid(f1) - torch.sigmoid(f2)).abs()).reshape(-1)  # SimilarityHead
    if workload == "W2":  # BCE of the probability clamped into [eps, 1 - eps]
        eps = float(np.finfo(np.float32).eps)
        p = torch.sigmoid(z).clamp(eps, 1 - eps)
        return -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


def torch_synchronize(device: str) -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def torch_float32_on_gpu(device: str) -> None:
    """Plain float32 GPU math, as CuPy does: no TF32 in matrix products or cuDNN convolutions."""
    import torch

    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def torch_training_step(
    workload: str, pairs: int, device: str = "cpu", seed: int = SEED
) -> Callable[[], float]:
    """:func:`tinysiam_training_step` in PyTorch: same network, weights, data, loss and Adam."""
    import torch

    torch_float32_on_gpu(device)
    branch, head = build_tinysiam(workload, seed)
    net = torch_copy(branch, torch_layer(branch)).to(device)
    modules = [net]
    fc = None
    if head is not None:
        fc = torch_copy(head.fc, torch_layer(head.fc)).to(device)
        modules.append(fc)
    del branch, head  # the tinysiam copy was only needed for its initial weights
    parameters = [p for module in modules for p in module.parameters()]
    optimizer = torch.optim.Adam(
        parameters, lr=LEARNING_RATES[workload], betas=BETAS
    )  # eps 1e-8 on both sides
    x1, x2, y = (torch.from_numpy(a).to(device) for a in pair_batch(workload, pairs, seed))
    synchronize = torch_synchronize(device)

    def step() -> float:
        optimizer.zero_grad()
        both = net(torch.cat([x1, x2]))  # one batch of 2 x pairs, as tinysiam's nn.Twin
        loss = torch_loss(workload, fc, both[:pairs], both[pairs:], y)
        loss.backward()
        optimizer.step()
        synchronize()
        return loss.item()

    return step


def torch_prime(device: str = "cpu") -> None:
    """A small conv / relu / pool / dense / sigmoid forward + backward and an Adam step.

    It starts what PyTorch starts once per process: the OpenMP pool, the autograd engine, the
    optimiser's lazily imported modules, the CUDA context.
    """
    import torch

    x = torch.ones(PRIME_SHAPES["x"], requires_grad=True, device=device)
    w = torch.ones(PRIME_SHAPES["conv"], requires_grad=True, device=device)
    h = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(x, w)), 2).flatten(1)
    torch.sigmoid(
        torch.nn.functional.linear(h, torch.ones(PRIME_SHAPES["dense"], device=device))
    ).sum().backward()
    torch.optim.Adam(
        [x, w], lr=1e-3
    ).step()  # building the first optimiser imports ~60 MB of torch modules
    torch_synchronize(device)()
    if device == "cuda":  # count the workload's device memory from zero
        del x, w, h
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def torch_peak_bytes() -> int:
    """Peak bytes PyTorch's CUDA caching allocator has reserved (comparable to CuPy's pool)."""
    import torch

    return int(torch.cuda.max_memory_reserved())


# ----- single ops at W2's layer shapes -------------------------------------------------------
@dataclass(frozen=True)
class OpCase:
    """One conv2d or max_pool2d call of W2, timed forward + backward.

    Attributes:
        kind: "conv2d" or "max_pool2d".
        x_shape: (N, C, H, W) of the input.
        weight_shape: (O, C, kh, kw) for conv2d, None for max_pool2d.
        kernel, stride, padding: pooling window / conv stride and padding.
        input_grad: whether the input needs a gradient (not for the first layer: its input is
            data).
        layer: the layer's index in the branch.
    """

    kind: str
    x_shape: tuple[int, ...]
    weight_shape: tuple[int, ...] | None
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    input_grad: bool
    layer: int

    @property
    def label(self) -> str:
        x = "x".join(map(str, self.x_shape))
        if self.kind == "conv2d":
            return f"conv2d #{self.layer} {x} * {'x'.join(map(str, self.weight_shape))}"
        return f"max_pool2d #{self.layer} {x} k{self.kernel[0]}"

    def out_shape(self) -> tuple[int, ...]:
        n, c, h, w = self.x_shape
        channels = self.weight_shape[0] if self.kind == "conv2d" else c
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return (n, channels, output_size(h, kh, sh, ph), output_size(w, kw, sw, pw))

    def flops(self) -> int:
        """Forward + backward: 3 x forward (2 x without the input gradient); 0 for pooling."""
        if self.kind != "conv2d":
            return 0
        forward = 2 * math.prod(self.out_shape()) * math.prod(self.weight_shape[1:])
        return (3 if self.input_grad else 2) * forward


def w2_op_cases(pairs: int) -> list[OpCase]:
    """Every conv2d and max_pool2d of W2's branch, at the batch of 2 x pairs images."""
    branch, _ = build_tinysiam("W2")
    cases = []
    for index, (layer, in_shape, _) in enumerate(
        layer_shapes(branch, (2 * pairs, *image_shape("W2")))
    ):
        if isinstance(layer, nn.Conv2d):
            cases.append(
                OpCase(
                    "conv2d",
                    in_shape,
                    layer.weight.shape,
                    pair(layer.kernel_size),
                    pair(layer.stride),
                    pair(layer.padding),
                    input_grad=index > 0,
                    layer=index,
                )
            )
        elif isinstance(layer, nn.MaxPool2d):
            kernel = pair(layer.kernel_size)
            stride = pair(layer.stride) if layer.stride is not None else kernel
            cases.append(
                OpCase(
                    "max_pool2d",
                    in_shape,
                    None,
                    kernel,
                    stride,
                    (0, 0),
                    input_grad=True,
                    layer=index,
                )
            )
    return cases


def op_arrays(case: OpCase, seed: int = SEED) -> dict[str, np.ndarray]:
    """Input, upstream gradient and (for conv2d) weight and bias of an op case, float32."""
    rng = np.random.default_rng(seed + 2)
    arrays = {
        "x": rng.random(case.x_shape, dtype=np.float32),
        "grad": rng.standard_normal(case.out_shape(), dtype=np.float32),
    }
    if case.kind == "conv2d":
        arrays["weight"] = 0.01 * rng.standard_normal(case.weight_shape, dtype=np.float32)
        arrays["bias"] = 0.01 * rng.standard_normal(case.weight_shape[0], dtype=np.float32)
    return arrays


def forward_backward_step(
    leaves: list[Any], forward: Callable[[], Any], grad: Any, synchronize: Callable[[], None]
) -> Callable[[], None]:
    """One op's timed step, the same for both frameworks: clear the leaves' gradients, run
    ``forward()`` and its backward with ``grad``, wait for the device."""

    def step() -> None:
        for leaf in leaves:
            leaf.grad = None
        forward().backward(grad)
        synchronize()

    return step


def tinysiam_op_step(case: OpCase, device: str = "cpu", seed: int = SEED) -> Callable[[], None]:
    """One forward + backward of the op case in tinysiam."""
    arrays = op_arrays(case, seed)
    x = tinysiam.tensor(arrays["x"], requires_grad=case.input_grad, device=device)
    grad = to_device(arrays["grad"], device)
    leaves = [x]
    if case.kind == "conv2d":
        weight = tinysiam.tensor(arrays["weight"], requires_grad=True, device=device)
        bias = tinysiam.tensor(arrays["bias"], requires_grad=True, device=device)
        leaves += [weight, bias]
        forward = lambda: F.conv2d(x, weight, bias, stride=case.stride, padding=case.padding)  # noqa: E731
    else:
        forward = lambda: F.max_pool2d(x, case.kernel, case.stride)  # noqa: E731
    return forward_backward_step(leaves, forward, grad, tinysiam_synchronize(device))


def torch_op_step(case: OpCase, device: str = "cpu", seed: int = SEED) -> Callable[[], None]:
    """One forward + backward of the op case in PyTorch."""
    import torch

    torch_float32_on_gpu(device)
    arrays = {name: torch.from_numpy(a).to(device) for name, a in op_arrays(case, seed).items()}
    x = arrays["x"].requires_grad_(case.input_grad)
    grad = arrays["grad"]
    leaves = [x]
    if case.kind == "conv2d":
        weight, bias = arrays["weight"].requires_grad_(), arrays["bias"].requires_grad_()
        leaves += [weight, bias]

        def forward():
            return torch.nn.functional.conv2d(
                x, weight, bias, stride=case.stride, padding=case.padding
            )
    else:

        def forward():
            return torch.nn.functional.max_pool2d(x, case.kernel, case.stride)

    return forward_backward_step(leaves, forward, grad, torch_synchronize(device))
