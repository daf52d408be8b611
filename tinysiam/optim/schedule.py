"""Learning-rate schedules: the learning rate to set before each step."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def scheduled_lr(base: float, schedule: str, iteration: int, total: int) -> float:
    """The learning rate for 0-based ``iteration`` of ``total``.

    "constant": ``base`` throughout. "cosine": base * (1 + cos(pi * iteration / total)) / 2, which
    falls smoothly from ``base`` at the first iteration towards 0 at the last. Set it before each
    step: ``optimizer.lr = scheduled_lr(1e-3, "cosine", iteration, iterations)``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"scheduled_lr: schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}"
        )
    if not 0 <= iteration < total:
        raise ValueError(
            f"scheduled_lr: iteration must be in 0..{total - 1} (total {total}), got {iteration}"
        )
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * iteration / total))
    return base
