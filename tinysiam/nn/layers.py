"""The layers of the two reference networks, each a thin Module around one function of F.

Dense      y = x W^T + b                 x: (N, in)          -> (N, out)
Conv2d     cross-correlation + bias      x: (N, C, H, W)     -> (N, O, OH, OW)
MaxPool2d  max over windows              x: (N, C, H, W)     -> (N, C, OH, OW)
ReLU, Sigmoid                            elementwise
Flatten                                  x: (N, C, H, W)     -> (N, C*H*W)
Sequential                               layers applied in order

Conv2d and MaxPool2d take ``impl="fast"`` (the default) or ``impl="reference"``, the op they
run (see :mod:`tinysiam.reference`); :func:`tinysiam.nn.use_reference_ops` switches every one
of a built network. ``impl`` is a setting, not a parameter: state dicts do not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import functional as F
from ..checks import check_float, check_int
from ..geometry import height_width
from ..random import resolve_rng
from ..tensor import Tensor
from .init import check_init, initial_parameters
from .module import Module, Parameter


class Dense(Module):
    """Fully connected layer: y = x W^T + b.

    Args:
        in_features, out_features: sizes of x's last axis and of y's.
        init: "he" (default), "narrow-normal" or "glorot"; see :mod:`tinysiam.nn.init`.
        rng: the generator to draw the weights from; the library default when None
            (seed it with :func:`tinysiam.manual_seed`).

    Attributes:
        weight: (out_features, in_features), float32.
        bias: (out_features,), float32.

    Raises (when called):
        TypeError: x is not a float32 or float64 Tensor (integer images, float16, a numpy array).
        ValueError: x is not (N, in_features), is empty (N = 0), or is on another device.

    Example:
        >>> layer = Dense(784, 1024)
        >>> layer(tinysiam.tensor(np.zeros((5, 784), np.float32))).shape
        (5, 1024)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str = "he",
        rng: np.random.Generator | None = None,
    ) -> None:
        """Draw the weight (out_features, in_features) and the bias (out_features,) with
        :func:`~tinysiam.nn.init.initial_parameters` (fan_in = in_features, fan_out =
        out_features) and register them as Parameters.

        Course task 7.3 (docs/build-it-yourself.md).
        """
        _check_positive("Dense", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features, self.init = in_features, out_features, check_init(init)
        weight, bias = initial_parameters(
            init, (out_features, in_features), in_features, out_features, resolve_rng(rng)
        )
        self.weight = Parameter(weight)
        self.bias = Parameter(bias)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_features) -> y = x W^T + b: (N, out_features).

        Course task 7.3 (docs/build-it-yourself.md).
        """
        _check_batch(self, x, ("N", self.in_features))
        return F.dense(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, init={self.init!r}"


class Conv2d(Module):
    """2-D convolution with a bias per output channel, NCHW layout.

    Args:
        in_channels, out_channels: C of the input, O of the output.
        kernel_size: k (a k x k kernel) or (kh, kw).
        stride, padding: an int or (height, width) pair; zero padding.
        init: "he" (default), "narrow-normal" or "glorot"; fan_in = in_channels * kh * kw.
        rng: as for :class:`Dense`.
        impl: "fast" (default, :class:`tinysiam.ops.Conv2dOp`) or "reference"
            (:class:`tinysiam.reference.ReferenceConv2dOp`); same values, same gradients.

    Attributes:
        weight: (out_channels, in_channels, kh, kw), float32.
        bias: (out_channels,), float32.
        impl: the op the layer runs; may be changed at any time.

    Raises (when called):
        TypeError: x is not a float32 or float64 Tensor.
        ValueError: x is not (N, in_channels, H, W), is empty, or is on another device.

    Example:
        >>> conv = Conv2d(1, 64, 10, init="narrow-normal")
        >>> conv(tinysiam.tensor(np.zeros((2, 1, 105, 105), np.float32))).shape
        (2, 64, 96, 96)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        init: str = "he",
        rng: np.random.Generator | None = None,
        *,
        impl: str = "fast",
    ) -> None:
        _check_positive("Conv2d", in_channels=in_channels, out_channels=out_channels)
        kh, kw = height_width(kernel_size, "Conv2d: kernel_size")
        height_width(stride, "Conv2d: stride")
        height_width(padding, "Conv2d: padding", minimum=0)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding, self.init = stride, padding, check_init(init)
        self.impl = F.check_impl("Conv2d", impl)
        shape = (out_channels, in_channels, kh, kw)
        weight, bias = initial_parameters(
            init, shape, in_channels * kh * kw, out_channels * kh * kw, resolve_rng(rng)
        )
        self.weight = Parameter(weight)
        self.bias = Parameter(bias)

    def forward(self, x: Tensor) -> Tensor:
        _check_batch(self, x, ("N", self.in_channels, "H", "W"))
        return F.conv2d(
            x, self.weight, self.bias, stride=self.stride, padding=self.padding, impl=self.impl
        )

    def extra_repr(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={k}, stride={self.stride}, "
            f"padding={self.padding}, init={self.init!r}" + _impl_repr(self.impl)
        )


class MaxPool2d(Module):
    """Max over kernel_size windows, stride defaulting to kernel_size (x: (N, C, H, W)).

    Args:
        kernel_size, stride: an int or a (height, width) pair.
        impl: "fast" (default, :class:`tinysiam.ops.MaxPool2dOp`) or "reference"
            (:class:`tinysiam.reference.ReferenceMaxPool2dOp`); same values, same gradients.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        *,
        impl: str = "fast",
    ) -> None:
        height_width(kernel_size, "MaxPool2d: kernel_size")
        if stride is not None:
            height_width(stride, "MaxPool2d: stride")
        self.kernel_size, self.stride = kernel_size, stride
        self.impl = F.check_impl("MaxPool2d", impl)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, impl=self.impl)

    def extra_repr(self) -> str:
        stride = self.stride if self.stride is not None else self.kernel_size
        return f"kernel_size={self.kernel_size}, stride={stride}" + _impl_repr(self.impl)


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): every axis from ``start_dim`` on merged into one."""

    def __init__(self, start_dim: int = 1) -> None:
        check_int("Flatten: start_dim", start_dim, minimum=0)
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim)

    def extra_repr(self) -> str:
        return "" if self.start_dim == 1 else f"start_dim={self.start_dim}"


class Sequential(Module):
    """Layers applied one after the other; its parameters are named "0.weight", "0.bias", ...

    Example, the digits network of experiment 1:
        >>> net = Sequential(
        ...     Flatten(), Dense(784, 1024), ReLU(), Dense(1024, 1024), ReLU(), Dense(1024, 2)
        ... )
        >>> net[1]
        Dense(784, 1024, init='he')
        >>> len(net)
        6
    """

    def __init__(self, *layers: Module) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)

    def _members(self) -> Iterator[tuple[str, Module]]:
        for i, layer in enumerate(self.layers):  # named by position, as in "0.weight"
            yield str(i), layer

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)


def _check_batch(layer: Dense | Conv2d, x: Any, shape: tuple[int | str, ...]) -> None:
    """Raise unless x is a non-empty float batch of ``shape`` on the layer's device.

    ``shape`` mixes sizes that must match (ints) with names of free sizes, e.g. ("N", 784).
    """
    name = type(layer).__name__
    check_float(name, "x", x)
    if x.ndim != len(shape) or any(
        isinstance(s, int) and s != n for s, n in zip(shape, x.shape, strict=True)
    ):
        raise ValueError(f"{name}: x must have shape ({', '.join(map(str, shape))}), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: x is an empty batch, shape {x.shape}; give at least one example")
    if x.device != layer.weight.device:
        raise ValueError(
            f"{name}: x is on {x.device!r} but the layer's parameters are on "
            f"{layer.weight.device!r}; move one of them with .to(device)"
        )


def _impl_repr(impl: str) -> str:
    """ ", impl='reference'" for a layer on the reference op; nothing for the default."""
    return "" if impl == "fast" else f", impl={impl!r}"


def _check_positive(layer: str, **sizes: int) -> None:
    for name, size in sizes.items():
        check_int(f"{layer}: {name}", size, minimum=1)
