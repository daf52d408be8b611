"""tinysiam.training helpers that the examples share."""

from __future__ import annotations

import numpy as np

import tinysiam
from tinysiam import nn
from tinysiam.training import outputs_in_batches


def test_outputs_in_batches_equal_one_forward_and_record_no_graph() -> None:
    tinysiam.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Dense(12, 3))
    images = np.random.default_rng(0).random((10, 1, 3, 4), dtype=np.float32)
    seen = []

    def forward(x: tinysiam.Tensor) -> tinysiam.Tensor:
        out = net(x)
        seen.append((x.shape[0], out.requires_grad))
        return out

    batched = outputs_in_batches(forward, images, "cpu", batch=4)
    assert isinstance(batched, np.ndarray) and batched.shape == (10, 3)
    assert seen == [(4, False), (4, False), (2, False)]  # three batches, none building a graph
    np.testing.assert_allclose(batched, net(tinysiam.tensor(images)).numpy(), rtol=1e-6)
