"""NaN-aware column statistics shared by the attribute summary and the edge test (a leaf module)."""

from __future__ import annotations

import torch


def nanstd(values: torch.Tensor) -> torch.Tensor:
    """Population standard deviation of each column of ``values [n, m]`` → ``[m]``, NaN rows ignored."""
    mean = values.nanmean(dim=0, keepdim=True)
    return ((values - mean) ** 2).nanmean(dim=0).sqrt()
