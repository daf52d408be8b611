"""How fast could a training step be if everything but its matrix products were free?

For each training workload, this times exactly the matrix products that tinysiam's step hands to
BLAS (the same shapes, the same chunks of a convolution's batch, the same transposed views), one
after another with NumPy, and prints that time beside a whole tinysiam step measured in the same
process:

    python benchmarks/gemm_floor.py                          # W1, W2, W3
    python benchmarks/gemm_floor.py --workloads W3 --repeats 11

The products of one layer, for a batch of N inputs (a convolution: per chunk of its batch, with
K = C*kh*kw and L = images in the chunk * OH * OW, as in tinysiam/ops/conv.py):

    dense  forward          x W^T     (N, in)(in, out)
           weight gradient  g^T x     (out, N)(N, in)
           input gradient   g W       (N, out)(out, in)
    conv   forward          W cols    (O, K)(K, L)
           weight gradient  cols g^T  (K, L)(L, O)
           input gradient   W^T g     (K, O)(O, L)

The first layer needs no input gradient. The difference between the two columns is everything
else the step does: im2col and col2im, pooling, ReLU, the loss, Adam, the graph. The products
alone are a floor for tinysiam's step on this machine's BLAS: compare it with PyTorch's whole
step from ``bench.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import workloads

import tinysiam
from tinysiam import nn
from tinysiam.ops import conv

Product = tuple[
    tuple[int, int], tuple[int, int], bool, bool
]  # a's stored shape, b's, a transposed?, b transposed?
DTYPE = np.dtype(np.float32)  # the workloads train in float32


def dense_products(batch: int, layer: nn.Dense, first: bool) -> list[Product]:
    n, i, o = batch, layer.in_features, layer.out_features
    products = [((n, i), (o, i), False, True), ((n, o), (n, i), True, False)]  # x W^T, g^T x
    return products if first else products + [((n, o), (o, i), False, False)]  # g W


def conv_products(
    in_shape: tuple, out_shape: tuple, layer: nn.Conv2d, first: bool
) -> list[Product]:
    (n, c, _, _), (_, o, oh, ow) = in_shape, out_shape
    kh, kw = workloads.pair(layer.kernel_size)
    k = c * kh * kw
    products = []
    for chunk in conv.batch_chunks(n, k * oh * ow * DTYPE.itemsize):  # the chunks Conv2d makes
        length = (chunk.stop - chunk.start) * oh * ow
        products += [
            ((o, k), (k, length), False, False),
            ((k, length), (o, length), False, True),
        ]  # W cols, cols g^T
        if not first:
            products.append(((o, k), (o, length), True, False))  # W^T g
    return products


def step_products(workload: str, pairs: int) -> list[Product]:
    """Every matrix product of one training step of ``workload``, in the order of the layers."""
    branch, head = workloads.build_tinysiam(workload)
    products: list[Product] = []
    for layer, in_shape, out_shape in workloads.layer_shapes(
        branch, (2 * pairs, *workloads.image_shape(workload))
    ):
        first = not products
        if isinstance(layer, nn.Dense):
            products += dense_products(in_shape[0], layer, first)
        elif isinstance(layer, nn.Conv2d):
            products += conv_products(in_shape, out_shape, layer, first)
    if head is not None:
        products += dense_products(pairs, head.fc, first=False)
    return products


def timed(run: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one untimed call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def product_flops(products: list[Product]) -> int:
    """2 * M * K * N summed over the products.

    Each is (M, K) @ (K, N) once its operands are transposed.
    """
    total = 0
    for a_shape, b_shape, a_t, b_t in products:
        (m, k), n = (a_shape[::-1] if a_t else a_shape), (b_shape[0] if b_t else b_shape[1])
        total += 2 * m * k * n
    return total


def products_runner(products: list[Product]) -> Callable[[], None]:
    """A function that runs every product once.

    Operands are made once, and shared where shapes are equal.
    """
    rng = np.random.default_rng(0)
    stored: dict[tuple[int, int], np.ndarray] = {}
    operands = []
    for a_shape, b_shape, a_t, b_t in products:
        for shape in (a_shape, b_shape):
            if shape not in stored:
                stored[shape] = rng.random(shape, dtype=DTYPE)
        a, b = stored[a_shape], stored[b_shape]
        operands.append((a.T if a_t else a, b.T if b_t else b))

    def run() -> None:
        for a, b in operands:
            a @ b

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="W1,W2,W3", help="comma-separated, from W1, W2, W3")
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs of each (the median is printed)"
    )
    args = parser.parse_args(argv)
    names = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(names) - set(workloads.TRAINING_WORKLOADS))
    if unknown:
        parser.error(
            f"--workloads: unknown {', '.join(unknown)}; "
            f"valid ones are {', '.join(workloads.TRAINING_WORKLOADS)}"
        )

    tinysiam.keep_freed_memory()  # as bench.py's tinysiam worker and the examples do
    print(
        "| workload | GFLOP/iter | products alone ms | their GFLOP/s | tinysiam step ms "
        "| products' share of the step |"
    )
    print("|---|---|---|---|---|---|")
    for name in names:
        pairs = workloads.DEFAULT_PAIRS[name]
        products = step_products(name, pairs)
        flops = product_flops(products)
        alone = timed(products_runner(products), args.repeats)
        step = timed(workloads.tinysiam_training_step(name, pairs), args.repeats)
        print(
            f"| {name} ({pairs} pairs) | {flops / 1e9:.2f} | {alone * 1e3:.1f} "
            f"| {flops / alone / 1e9:.0f} "
            f"| {step * 1e3:.1f} | {alone / step:.0%} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
