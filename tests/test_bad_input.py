"""Bad input at the public API: every case raises a ValueError or TypeError that names the
argument, what was expected and what came.

One row of CASES is one case (``pytest tests/test_bad_input.py --collect-only -q`` counts them).
Shape errors inside the ops (broadcasting, matmul, reshape, ...) are in test_engine_errors.py.

NaN policy (the tests at the end): labels must be 0 or 1 (a NaN label is bad input), but NaN or
inf in embeddings, probabilities or logits propagates into the loss, where
``training.check_finite`` stops the loop and ``tinysiam.detect_anomaly`` names the op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from devices import CUDA_MARKS

import tinysiam as ts
from tinysiam import losses, nn, optim
from tinysiam.experiments.data import PairSampler
from tinysiam.experiments.training import NonFiniteLossError, check_finite, resolve_device


def x(*shape: int, dtype=np.float32, device: str = "cpu") -> ts.Tensor:
    return ts.tensor(np.zeros(shape, dtype), device=device)


def dense() -> nn.Dense:
    return nn.Dense(4, 3, rng=np.random.default_rng(0))


def conv() -> nn.Conv2d:
    return nn.Conv2d(1, 2, 3, rng=np.random.default_rng(0))


def params() -> list[nn.Parameter]:
    return dense().parameters()


F1 = x(4, 2)
LABELS = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
P = ts.tensor(np.full(4, 0.5, np.float32))
IMAGES, CLASSES = np.zeros((6, 1, 2, 2), np.float32), np.array([0, 0, 1, 1, 2, 2])


def contrastive(f1=F1, f2=F1, y=LABELS, **kwargs):
    return losses.contrastive_loss(f1, f2, y, **kwargs)


def bce(p=P, y=LABELS, **kwargs):
    return losses.binary_cross_entropy(p, y, **kwargs)


def bce_logits(z=P, y=LABELS, **kwargs):
    return losses.binary_cross_entropy_with_logits(z, y, **kwargs)


def cuda(case: tuple) -> tuple:
    """A case that needs the GPU: skipped cleanly without one."""
    return case + tuple(CUDA_MARKS)


# (id, call, exception, regex the message must match: the argument, what was expected, what came)
CASES = [
    # ----- tinysiam.tensor -----
    (
        "tensor_ragged_list",
        lambda: ts.tensor([[1.0, 2.0], [3.0]]),
        ValueError,
        r"rectangular nested list.*ragged \[\[1\.0, 2\.0\], \[3\.0\]\]",
    ),
    ("tensor_ragged_ints", lambda: ts.tensor([[1], [2, 3]]), ValueError, r"rectangular.*ragged"),
    (
        "tensor_strings",
        lambda: ts.tensor(["a", "b"]),
        TypeError,
        r"data must hold numbers \(bool, int or float\), got dtype <U1",
    ),
    (
        "tensor_none",
        lambda: ts.tensor(None),
        TypeError,
        r"data must hold numbers.*got dtype object",
    ),
    (
        "tensor_object_array",
        lambda: ts.tensor(np.array([object()])),
        TypeError,
        r"data must hold numbers.*object",
    ),
    (
        "tensor_unknown_dtype",
        lambda: ts.tensor([1.0], dtype="floaty"),
        TypeError,
        r"dtype must be a numpy dtype.*'float32'.*'floaty'",
    ),
    (
        "tensor_string_dtype",
        lambda: ts.tensor([1.0], dtype=str),
        TypeError,
        r"dtype must hold numbers.*<U",
    ),
    (
        "tensor_unknown_device",
        lambda: ts.tensor([1.0], device="gpu"),
        ValueError,
        r"device must be one of \('cpu', 'cuda'\), got 'gpu'",
    ),
    (
        "tensor_to_unknown_device",
        lambda: x(2).to("cuda:0"),
        ValueError,
        r"device must be one of.*'cuda:0'",
    ),
    (
        "tensor_int_requires_grad",
        lambda: ts.tensor([1, 2], requires_grad=True),
        TypeError,
        r"floating-point.*got dtype int64",
    ),
    (
        "Tensor_wraps_arrays_only",
        lambda: ts.Tensor([1.0]),
        TypeError,
        r"numpy or cupy array, got list.*tinysiam\.tensor",
    ),
    ("tensor_item_of_many", lambda: x(2).item(), ValueError, r"item\(\).*one element.*\(2,\)"),
    # ----- building layers -----
    (
        "Dense_in_features_0",
        lambda: nn.Dense(0, 5),
        ValueError,
        r"Dense: in_features must be a positive int, got 0",
    ),
    (
        "Dense_out_features_negative",
        lambda: nn.Dense(4, -1),
        ValueError,
        r"Dense: out_features must be a positive int, got -1",
    ),
    (
        "Dense_in_features_float",
        lambda: nn.Dense(2.5, 3),
        TypeError,
        r"Dense: in_features must be a positive int, got float 2\.5",
    ),
    (
        "Dense_unknown_init",
        lambda: nn.Dense(4, 3, init="xavier"),
        ValueError,
        r"unknown init 'xavier'; valid ones are 'he', 'narrow-normal', 'glorot'",
    ),
    (
        "Dense_rng_not_a_generator",
        lambda: nn.Dense(4, 3, rng=0),
        TypeError,
        r"rng must be a numpy\.random\.Generator.*got int",
    ),
    (
        "Conv2d_kernel_0",
        lambda: nn.Conv2d(1, 2, 0),
        ValueError,
        r"Conv2d: kernel_size must be >= 1, got 0",
    ),
    (
        "Conv2d_kernel_triple",
        lambda: nn.Conv2d(1, 2, (3, 3, 3)),
        TypeError,
        r"Conv2d: kernel_size must be an int or a pair of ints, got \(3, 3, 3\)",
    ),
    (
        "Conv2d_stride_0",
        lambda: nn.Conv2d(1, 2, 3, stride=0),
        ValueError,
        r"Conv2d: stride must be >= 1, got 0",
    ),
    (
        "Conv2d_padding_negative",
        lambda: nn.Conv2d(1, 2, 3, padding=-1),
        ValueError,
        r"Conv2d: padding must be >= 0, got -1",
    ),
    (
        "Conv2d_in_channels_0",
        lambda: nn.Conv2d(0, 2, 3),
        ValueError,
        r"Conv2d: in_channels must be a positive int, got 0",
    ),
    (
        "Conv2d_unknown_init",
        lambda: nn.Conv2d(1, 2, 3, init="normal"),
        ValueError,
        r"unknown init 'normal'; valid ones are",
    ),
    (
        "MaxPool2d_kernel_0",
        lambda: nn.MaxPool2d(0),
        ValueError,
        r"MaxPool2d: kernel_size must be >= 1, got 0",
    ),
    (
        "MaxPool2d_stride_0",
        lambda: nn.MaxPool2d(2, stride=(2, 0)),
        ValueError,
        r"MaxPool2d: stride must be >= 1, got \(2, 0\)",
    ),
    (
        "Flatten_negative_start_dim",
        lambda: nn.Flatten(-1),
        ValueError,
        r"Flatten: start_dim must be a non-negative int, got -1",
    ),
    (
        "Sequential_non_module",
        lambda: nn.Sequential(dense(), np.tanh),
        TypeError,
        r"Sequential: layer 1 is a ufunc, not a Module",
    ),
    (
        "Twin_non_module_branch",
        lambda: nn.Twin(lambda v: v),
        TypeError,
        r"Twin: branch must be a Module, got function",
    ),
    (
        "Twin_non_module_other",
        lambda: nn.Twin(dense(), other=3),
        TypeError,
        r"Twin: other must be a Module, got int",
    ),
    (
        "Twin_embed_branch_2",
        lambda: nn.Twin(dense()).embed(x(1, 4), branch=2),
        ValueError,
        r"branch must be 0 or 1, got 2",
    ),
    # ----- what goes into layers -----
    (
        "Dense_uint8_images",
        lambda: dense()(x(2, 4, dtype=np.uint8)),
        TypeError,
        r"Dense: x must be float32 or float64, got uint8; integer images\?",
    ),
    (
        "Dense_int64",
        lambda: dense()(x(2, 4, dtype=np.int64)),
        TypeError,
        r"Dense: x must be float32 or float64, got int64",
    ),
    (
        "Dense_float16",
        lambda: dense()(x(2, 4, dtype=np.float16)),
        TypeError,
        r"Dense: x must be float32 or float64, got float16",
    ),
    (
        "Conv2d_uint8_images",
        lambda: conv()(x(2, 1, 5, 5, dtype=np.uint8)),
        TypeError,
        r"Conv2d: x must be float32 or float64, got uint8",
    ),
    (
        "Conv2d_float16",
        lambda: conv()(x(2, 1, 5, 5, dtype=np.float16)),
        TypeError,
        r"Conv2d: x must be float32 or float64, got float16",
    ),
    (
        "Dense_numpy_array",
        lambda: dense()(np.zeros((2, 4), np.float32)),
        TypeError,
        r"Dense: input 0 must be a Tensor, got ndarray; wrap arrays with tinysiam\.tensor",
    ),
    (
        "Twin_numpy_arrays",
        lambda: nn.Twin(dense())(x(2, 4), np.zeros((2, 4))),
        TypeError,
        r"Twin: input 1 must be a Tensor, got ndarray",
    ),
    (
        "Dense_rank_1",
        lambda: dense()(x(4)),
        ValueError,
        r"Dense: x must have shape \(N, 4\), got \(4,\)",
    ),
    (
        "Dense_rank_3",
        lambda: dense()(x(2, 2, 4)),
        ValueError,
        r"Dense: x must have shape \(N, 4\), got \(2, 2, 4\)",
    ),
    (
        "Dense_wrong_features",
        lambda: dense()(x(2, 5)),
        ValueError,
        r"Dense: x must have shape \(N, 4\), got \(2, 5\)",
    ),
    (
        "Conv2d_rank_3",
        lambda: conv()(x(1, 5, 5)),
        ValueError,
        r"Conv2d: x must have shape \(N, 1, H, W\), got \(1, 5, 5\)",
    ),
    (
        "Conv2d_wrong_channels",
        lambda: conv()(x(2, 3, 5, 5)),
        ValueError,
        r"Conv2d: x must have shape \(N, 1, H, W\), got \(2, 3, 5, 5\)",
    ),
    (
        "Conv2d_kernel_larger_than_image",
        lambda: conv()(x(1, 1, 2, 2)),
        ValueError,
        r"conv2d: a 3x3 kernel does not fit an input of 2x2",
    ),
    (
        "MaxPool2d_window_larger_than_image",
        lambda: nn.MaxPool2d(3)(x(1, 1, 2, 2)),
        ValueError,
        r"max_pool2d: a 3x3 window does not fit an input of 2x2",
    ),
    (
        "MaxPool2d_rank_2",
        lambda: nn.MaxPool2d(2)(x(4, 4)),
        ValueError,
        r"max_pool2d: input must be \(N, C, H, W\), got shape \(4, 4\)",
    ),
    (
        "MaxPool2d_kernel_wider_than_256",
        lambda: nn.MaxPool2d((1, 300))(x(1, 1, 1, 300)),
        ValueError,
        r"max_pool2d: kernel_size must be at most 256, got \(1, 300\)",
    ),
    (
        "Dense_empty_batch",
        lambda: dense()(x(0, 4)),
        ValueError,
        r"Dense: x is an empty batch, shape \(0, 4\); give at least one example",
    ),
    (
        "Conv2d_empty_batch",
        lambda: conv()(x(0, 1, 5, 5)),
        ValueError,
        r"Conv2d: x is an empty batch, shape \(0, 1, 5, 5\)",
    ),
    cuda(
        (
            "Dense_input_on_other_device",
            lambda: dense()(x(2, 4, device="cuda")),
            ValueError,
            r"Dense: x is on 'cuda' but the layer's parameters are on 'cpu'",
        )
    ),
    cuda(
        (
            "add_across_devices",
            lambda: x(2) + x(2, device="cuda"),
            ValueError,
            r"Add: .*input 0 on 'cpu', input 1 on 'cuda'",
        )
    ),
    (
        "Module_to_unknown_device",
        lambda: dense().to("gpu"),
        ValueError,
        r"device must be one of \('cpu', 'cuda'\), got 'gpu'",
    ),
    (
        "Module_to_int_dtype",
        lambda: dense().to(dtype=np.int32),
        TypeError,
        r"parameters must stay floating point, got dtype int32",
    ),
    # ----- Module.load_state_dict -----
    (
        "load_state_dict_wrong_shape",
        lambda: dense().load_state_dict({"weight": np.zeros((3, 5)), "bias": np.zeros(3)}),
        ValueError,
        r"entry 'weight' has shape \(3, 5\), expected \(3, 4\)",
    ),
    (
        "load_state_dict_missing_entry",
        lambda: dense().load_state_dict({"weight": np.zeros((3, 4))}),
        ValueError,
        r"missing entry 'bias' \(expected shape \(3,\)\)",
    ),
    (
        "load_state_dict_unexpected_entry",
        lambda: dense().load_state_dict({**dense().state_dict(), "scale": np.ones(1)}),
        ValueError,
        r"unexpected entry 'scale'",
    ),
    (
        "load_state_dict_not_a_dict",
        lambda: dense().load_state_dict([np.zeros((3, 4)), np.zeros(3)]),
        TypeError,
        r"load_state_dict into Dense: state must be a dict of arrays, got list",
    ),
    # ----- losses -----
    (
        "contrastive_label_2",
        lambda: contrastive(y=[0, 1, 2, 1]),
        ValueError,
        r"contrastive_loss: y must hold pair labels 0 \(dissimilar\) or 1 \(similar\), "
        r"got also \[2\]",
    ),
    (
        "contrastive_label_minus_1",
        lambda: contrastive(y=[0, -1, 1, 1]),
        ValueError,
        r"contrastive_loss: y must hold pair labels.*got also \[-1\]",
    ),
    (
        "contrastive_label_half",
        lambda: contrastive(y=np.full(4, 0.5)),
        ValueError,
        r"contrastive_loss: y must hold pair labels.*got also \[0\.5\]",
    ),
    (
        "contrastive_label_nan",
        lambda: contrastive(y=[0, 1, np.nan, 1]),
        ValueError,
        r"contrastive_loss: y must hold pair labels.*got also \[nan\]",
    ),
    (
        "contrastive_labels_wrong_length",
        lambda: contrastive(y=LABELS[:3]),
        ValueError,
        r"contrastive_loss: y must have one entry per pair, shape \(4,\), got shape \(3,\)",
    ),
    (
        "contrastive_margin_0",
        lambda: contrastive(margin=0.0),
        ValueError,
        r"contrastive_loss: margin must be > 0, got 0\.0",
    ),
    (
        "contrastive_margin_negative",
        lambda: contrastive(margin=-1.0),
        ValueError,
        r"contrastive_loss: margin must be > 0, got -1\.0",
    ),
    (
        "contrastive_margin_nan",
        lambda: contrastive(margin=math.nan),
        ValueError,
        r"contrastive_loss: margin must be > 0, got nan",
    ),
    (
        "contrastive_margin_string",
        lambda: contrastive(margin="1"),
        TypeError,
        r"contrastive_loss: margin must be a number, got str '1'",
    ),
    (
        "contrastive_eps_negative",
        lambda: contrastive(eps=-1e-6),
        ValueError,
        r"contrastive_loss: eps must be >= 0, got -1e-06",
    ),
    (
        "contrastive_unknown_reduction",
        lambda: contrastive(reduction="avg"),
        ValueError,
        r"contrastive_loss: unknown reduction 'avg'; valid ones are 'sum', 'mean', 'none'",
    ),
    (
        "contrastive_shape_mismatch",
        lambda: contrastive(f2=x(4, 3)),
        ValueError,
        r"f1 and f2 must both be \(N, D\) with one shape, got f1 \(4, 2\) and f2 \(4, 3\)",
    ),
    (
        "contrastive_rank_1",
        lambda: contrastive(f1=x(4), f2=x(4)),
        ValueError,
        r"must both be \(N, D\).*got f1 \(4,\)",
    ),
    (
        "contrastive_numpy_embeddings",
        lambda: contrastive(f1=np.zeros((4, 2))),
        TypeError,
        r"contrastive_loss: f1 must be a Tensor, got ndarray",
    ),
    (
        "contrastive_int_embeddings",
        lambda: contrastive(f2=x(4, 2, dtype=np.int64)),
        TypeError,
        r"contrastive_loss: f2 must be float32 or float64, got int64",
    ),
    (
        "contrastive_float16_embeddings",
        lambda: contrastive(f1=x(4, 2, dtype=np.float16)),
        TypeError,
        r"contrastive_loss: f1 must be float32 or float64, got float16",
    ),
    (
        "contrastive_empty_batch",
        lambda: contrastive(x(0, 2), x(0, 2), np.zeros(0)),
        ValueError,
        r"contrastive_loss: f1 is an empty batch, shape \(0, 2\); a loss needs at least one pair",
    ),
    (
        "bce_probability_above_1",
        lambda: bce(p=ts.tensor(np.array([0.5, 1.5], np.float32)), y=[0, 1]),
        ValueError,
        r"binary_cross_entropy: p must hold probabilities in \[0, 1\], "
        r"got values from 0\.5 to 1\.5; for logits use",
    ),
    (
        "bce_probability_below_0",
        lambda: bce(p=ts.tensor(np.array([-0.2, 0.5], np.float32)), y=[0, 1]),
        ValueError,
        r"p must hold probabilities in \[0, 1\], got values from -0\.2",
    ),
    (
        "bce_label_2",
        lambda: bce(y=[0, 1, 2, 0]),
        ValueError,
        r"binary_cross_entropy: y must hold pair labels.*got also \[2\]",
    ),
    (
        "bce_eps_too_large",
        lambda: bce(eps=0.5),
        ValueError,
        r"binary_cross_entropy: eps must be in \[0, 0\.5\), got 0\.5",
    ),
    (
        "bce_unknown_reduction",
        lambda: bce(reduction="batchmean"),
        ValueError,
        r"binary_cross_entropy: unknown reduction 'batchmean'",
    ),
    (
        "bce_two_columns",
        lambda: bce(p=x(4, 2)),
        ValueError,
        r"binary_cross_entropy: p must have shape \(N,\) or \(N, 1\), got \(4, 2\)",
    ),
    (
        "bce_empty_batch",
        lambda: bce(p=x(0), y=np.zeros(0)),
        ValueError,
        r"binary_cross_entropy: p is an empty batch, shape \(0,\)",
    ),
    (
        "bce_logits_label_minus_1",
        lambda: bce_logits(y=[0, 1, -1, 0]),
        ValueError,
        r"binary_cross_entropy_with_logits: y must hold pair labels.*got also \[-1\]",
    ),
    (
        "bce_logits_unknown_reduction",
        lambda: bce_logits(reduction="max"),
        ValueError,
        r"binary_cross_entropy_with_logits: unknown reduction 'max'",
    ),
    (
        "bce_logits_int_logits",
        lambda: bce_logits(z=x(4, dtype=np.int32)),
        TypeError,
        r"binary_cross_entropy_with_logits: z must be float32 or float64, got int32",
    ),
    # ----- optimisers -----
    ("SGD_lr_0", lambda: optim.SGD(params(), lr=0.0), ValueError, r"SGD: lr must be > 0, got 0\.0"),
    (
        "SGD_lr_negative",
        lambda: optim.SGD(params(), lr=-0.1),
        ValueError,
        r"SGD: lr must be > 0, got -0\.1",
    ),
    (
        "SGD_lr_nan",
        lambda: optim.SGD(params(), lr=math.nan),
        ValueError,
        r"SGD: lr must be > 0, got nan",
    ),
    (
        "SGD_lr_string",
        lambda: optim.SGD(params(), lr="0.1"),
        TypeError,
        r"SGD: lr must be a number, got str '0\.1'",
    ),
    (
        "SGD_momentum_negative",
        lambda: optim.SGD(params(), lr=0.1, momentum=-0.5),
        ValueError,
        r"SGD: momentum must be in \[0, 1\), got -0\.5",
    ),
    (
        "SGD_momentum_1",
        lambda: optim.SGD(params(), lr=0.1, momentum=1.0),
        ValueError,
        r"SGD: momentum must be in \[0, 1\), got 1\.0",
    ),
    ("Adam_lr_0", lambda: optim.Adam(params(), lr=0), ValueError, r"Adam: lr must be > 0, got 0"),
    (
        "Adam_beta2_1",
        lambda: optim.Adam(params(), betas=(0.9, 1.0)),
        ValueError,
        r"Adam: betas must be two numbers in \[0, 1\), got \(0\.9, 1\.0\)",
    ),
    (
        "Adam_beta1_negative",
        lambda: optim.Adam(params(), betas=(-0.1, 0.99)),
        ValueError,
        r"Adam: betas must be two numbers in \[0, 1\), got \(-0\.1, 0\.99\)",
    ),
    (
        "Adam_three_betas",
        lambda: optim.Adam(params(), betas=(0.9, 0.9, 0.9)),
        TypeError,
        r"Adam: betas must be a pair \(b1, b2\), got \(0\.9, 0\.9, 0\.9\)",
    ),
    (
        "Adam_betas_one_number",
        lambda: optim.Adam(params(), betas=0.9),
        TypeError,
        r"Adam: betas must be a pair \(b1, b2\), got 0\.9",
    ),
    (
        "Adam_eps_negative",
        lambda: optim.Adam(params(), eps=-1e-8),
        ValueError,
        r"Adam: eps must be >= 0, got -1e-08",
    ),
    (
        "optimizer_no_parameters",
        lambda: optim.Adam([]),
        ValueError,
        r"Adam: got an empty parameter list",
    ),
    (
        "optimizer_given_a_module",
        lambda: optim.SGD(dense(), lr=0.1),
        TypeError,
        r"SGD: params must be an iterable of tensors such as net\.parameters\(\), got Dense",
    ),
    (
        "optimizer_given_arrays",
        lambda: optim.SGD([np.zeros(3)], lr=0.1),
        TypeError,
        r"SGD: parameter 0 must be a tensor that requires grad.*got ndarray",
    ),
    (
        "optimizer_given_constant_tensor",
        lambda: optim.SGD([x(3)], lr=0.1),
        TypeError,
        r"parameter 0 must be a tensor that requires grad.*requires_grad=False",
    ),
    (
        "optimizer_state_of_another_type",
        lambda: optim.SGD(params(), lr=0.1).load_state_dict(optim.Adam(params()).state_dict()),
        ValueError,
        r"SGD\.load_state_dict: the state is for 'Adam'",
    ),
    # ----- pairs, devices, seeds, checkpoints -----
    (
        "PairSampler_labels_wrong_length",
        lambda: PairSampler(IMAGES, CLASSES[:4]),
        ValueError,
        r"labels must be 1-D with one label per image: got shape \(4,\) for 6 images",
    ),
    (
        "PairSampler_labels_2d",
        lambda: PairSampler(IMAGES, CLASSES.reshape(3, 2)),
        ValueError,
        r"labels must be 1-D.*got shape \(3, 2\)",
    ),
    (
        "PairSampler_one_class",
        lambda: PairSampler(IMAGES, np.zeros(6)),
        ValueError,
        r"pairs need at least 2 classes, got 1",
    ),
    (
        "PairSampler_no_class_with_two_images",
        lambda: PairSampler(IMAGES[:3], CLASSES[[0, 2, 4]]),
        ValueError,
        r"similar pairs need a class with at least 2 images",
    ),
    (
        "PairSampler_within_group_without_groups",
        lambda: PairSampler(IMAGES, CLASSES, within_group=True),
        ValueError,
        r"within_group=True needs groups",
    ),
    (
        "PairSampler_images_list",
        lambda: PairSampler(IMAGES.tolist(), CLASSES),
        TypeError,
        r"images must be a NumPy or CuPy array of shape \(N, \.\.\.\), got list",
    ),
    (
        "PairSampler_images_scalar",
        lambda: PairSampler(np.float32(3.0), CLASSES),
        TypeError,
        r"images must be a NumPy or CuPy array.*got float32",
    ),
    (
        "PairSampler_seed_string",
        lambda: PairSampler(IMAGES, CLASSES, seed="0"),
        TypeError,
        r"seed must be a non-negative int, got str '0'",
    ),
    (
        "PairSampler_seed_negative",
        lambda: PairSampler(IMAGES, CLASSES, seed=-1),
        ValueError,
        r"seed must be a non-negative int, got -1",
    ),
    (
        "PairSampler_sample_0",
        lambda: PairSampler(IMAGES, CLASSES).sample(0),
        ValueError,
        r"n must be a positive int, got 0",
    ),
    (
        "PairSampler_sample_float",
        lambda: PairSampler(IMAGES, CLASSES).sample(2.5),
        TypeError,
        r"n must be a positive int, got float 2\.5",
    ),
    (
        "PairSampler_state_without_rng",
        lambda: PairSampler(IMAGES, CLASSES).load_state_dict({}),
        ValueError,
        r"needs the key 'rng'",
    ),
    (
        "resolve_device_unknown",
        lambda: resolve_device("gpu"),
        ValueError,
        r"device must be 'auto', 'cpu' or 'cuda', got 'gpu'",
    ),
    (
        "scheduled_lr_unknown_schedule",
        lambda: optim.scheduled_lr(0.1, "step", 0, 10),
        ValueError,
        r"scheduled_lr: schedule must be one of constant, cosine, got 'step'",
    ),
    (
        "scheduled_lr_iteration_past_total",
        lambda: optim.scheduled_lr(0.1, "cosine", 10, 10),
        ValueError,
        r"scheduled_lr: iteration must be in 0\.\.9 \(total 10\), got 10",
    ),
    (
        "keep_freed_memory_zero",
        lambda: ts.keep_freed_memory(0),
        ValueError,
        r"keep_freed_memory: limit_bytes must be in 1\.\.2147483647, got 0",
    ),
    (
        "keep_freed_memory_string",
        lambda: ts.keep_freed_memory("1GB"),
        TypeError,
        r"keep_freed_memory: limit_bytes must be an int, got str",
    ),
    (
        "manual_seed_negative",
        lambda: ts.manual_seed(-1),
        ValueError,
        r"manual_seed: seed must be a non-negative int, got -1",
    ),
    (
        "save_a_tensor",
        lambda: ts.save("/nonexistent/ckpt.npz", weights=x(2)),
        TypeError,
        r"cannot save state\['weights'\] of type Tensor.*t\.numpy\(\)",
    ),
    (
        "load_missing_checkpoint",
        lambda: ts.load("/nonexistent/ckpt.npz"),
        FileNotFoundError,
        r"no checkpoint at '/nonexistent/ckpt\.npz'",
    ),
]


@pytest.mark.parametrize(
    "call, error, message", [pytest.param(*case[1:4], id=case[0], marks=case[4:]) for case in CASES]
)
def test_bad_input_raises_a_clear_error(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_case_names_are_unique() -> None:
    names = [case[0] for case in CASES]
    assert len(names) == len(set(names))


# ----- NaN policy: NaN in the data propagates; check_finite and detect_anomaly catch it -----
def test_nan_embedding_propagates_into_the_loss_and_check_finite_stops() -> None:
    f1 = ts.tensor(np.array([[np.nan, 0.0], [1.0, 1.0]], np.float32))
    loss = losses.contrastive_loss(f1, x(2, 2), [0, 1])
    assert math.isnan(loss.item())
    with pytest.raises(
        NonFiniteLossError,
        match=r"the loss became nan at iteration 7; the last finite loss was 0\.5",
    ):
        check_finite(loss.item(), 7, 0.5)


def test_nan_probability_propagates_and_anomaly_mode_names_the_first_op() -> None:
    p = ts.tensor(np.array([np.nan, 0.5], np.float32))
    assert math.isnan(losses.binary_cross_entropy(p, [0, 1]).item())
    with (
        ts.detect_anomaly(),
        pytest.raises(
            ts.AnomalyError, match=r"^Clip forward produced NaN.*input 0 already held NaN"
        ),
    ):
        losses.binary_cross_entropy(p, [0, 1])
