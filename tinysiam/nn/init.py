"""Weight initialisers: how a layer's first weights and biases are drawn.

A layer calls :func:`initial_parameters` with the name of a scheme, its weight shape and its
fan-in / fan-out (inputs and outputs per unit: ``in_features`` for a dense layer,
``in_channels * k * k`` for a convolution's fan-in and ``out_channels * k * k`` for its fan-out).

========================  ================================================  =============
name                      weight                                            bias
========================  ================================================  =============
``"he"``                  normal, std sqrt(2 / fan_in)                      zeros
``"narrow-normal"``       normal, std 0.01                                  normal, std 0.01
``"glorot"``              uniform on [-a, a], a = sqrt(6 / (fan_in+fan_out))  zeros
========================  ================================================  =============

* He (He et al., "Delving Deep into Rectifiers", 2015) keeps the variance of activations
  constant through ReLU layers; the digits network of experiment 1 uses it.
* Narrow normal, N(0, 0.01^2) for weights and biases, is the Omniglot network of experiment 2.
* Glorot (Glorot and Bengio, 2010) is the *uniform* variant of the paper, std a / sqrt(3)
  = sqrt(2 / (fan_in + fan_out)).

All parameters are float32 and drawn weight first, then bias, so one seed gives one network.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_choice

INITS = ("he", "narrow-normal", "glorot")
NARROW_STD = 0.01


def he_normal(shape: tuple[int, ...], fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2 / fan_in) samples of ``shape``, float32: std = sqrt(2 / fan_in).

    Drawn as float64 standard normals from ``rng`` (so one seed gives the same weights on every
    machine), scaled, then cast.

    Example:
        >>> w = he_normal((1024, 784), 784, np.random.default_rng(0))
        >>> w.dtype, round(float(w.std()), 3)            # sqrt(2 / 784) = 0.0505
        (dtype('float32'), 0.051)

    Course task 7.3 (docs/build-it-yourself.md).
    """
    weight = rng.standard_normal(shape)
    weight *= np.sqrt(2.0 / fan_in)
    return weight.astype(np.float32)


def narrow_normal(
    shape: tuple[int, ...], rng: np.random.Generator, std: float = NARROW_STD
) -> np.ndarray:
    """N(0, std^2) samples of ``shape``, float32 (std 0.01 by default)."""
    values = rng.standard_normal(shape)
    values *= std
    return values.astype(np.float32)


def glorot_uniform(
    shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
) -> np.ndarray:
    """U(-a, a) samples of ``shape``, a = sqrt(6 / (fan_in + fan_out)), float32."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def check_init(name: str) -> str:
    """Return ``name`` if it is a known scheme, else raise a ValueError listing them."""
    return check_choice("init", name, INITS)


def initial_parameters(
    name: str,
    weight_shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A fresh (weight, bias) pair for a layer; the bias has shape (weight_shape[0],).

    Args:
        name: one of :data:`INITS`.
        weight_shape: (out, in) for a dense layer, (out, in, kh, kw) for a convolution.
        fan_in, fan_out: inputs and outputs per unit.
        rng: the generator to draw from.

    Example:
        >>> w, b = initial_parameters("he", (1024, 784), 784, 1024, np.random.default_rng(0))
        >>> round(float(w.std()), 3)      # sqrt(2 / 784)
        0.051
    """
    check_init(name)
    bias_shape = (weight_shape[0],)
    if name == "he":
        return he_normal(weight_shape, fan_in, rng), np.zeros(bias_shape, np.float32)
    if name == "narrow-normal":
        weight = narrow_normal(weight_shape, rng)
        return weight, narrow_normal(bias_shape, rng)
    return glorot_uniform(weight_shape, fan_in, fan_out, rng), np.zeros(bias_shape, np.float32)
