"""The WAE's learning-rate schedules as pure functions of the optimizer step (docs/method.md §3)."""

from __future__ import annotations

import math


def learning_rate_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based) of ``total_steps``.

    ``constant`` is 1 throughout; ``cosine`` falls from 1 at step 0 along a half cosine to 0 at
    ``total_steps`` (and stays 0 past it).
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        if total_steps <= 0:
            raise ValueError(f"a cosine schedule needs a positive number of steps, got {total_steps}")
        progress = min(step / total_steps, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose constant or cosine")
