"""Synthetic predictor scores with a known mean AUROC, for checking interval coverage (docs/method.md §6b).

Test rows are ``x | y ~ N(y·μ, I₂)``; a replicate's predictor scores ``w·x`` with ``w = (1, θ)``,
where ``θ`` is drawn per replicate (its label subsample) and per autoencoder seed. The population
AUROC of ``w`` is ``Φ(w·μ / (√2 |w|))``, so every true mean below is an exact expectation (over
400,000 draws of ``θ``). Arm A and arm B share each replicate's draw, as two feature sets share
a label subsample. Used by ``tests/test_intervals.py`` and ``scripts/interval_coverage.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.stats import norm

MU = np.array([0.8, 0.6])
SEED_SPREAD = 0.4


def population_auroc(theta: np.ndarray) -> np.ndarray:
    """The AUROC of the score ``x₀ + θ·x₁`` over the whole population."""
    return norm.cdf((MU[0] + theta * MU[1]) / (np.sqrt(2) * np.sqrt(1 + theta**2)))


def arm_a(shared: np.ndarray, seed_shift: np.ndarray | float = 0.0) -> np.ndarray:
    return 0.6 + 0.6 * shared + seed_shift


def arm_b(shared: np.ndarray) -> np.ndarray:
    return -0.2 + 0.4 * shared


@dataclass(frozen=True)
class Truths:
    auroc: float  # arm A's mean AUROC
    difference: float  # arm A − arm B
    seed_difference: float  # arm A at a random autoencoder seed − arm B


@cache
def truths() -> Truths:
    rng = np.random.default_rng(12345)
    shared = rng.standard_normal(400_000)
    shift = SEED_SPREAD * rng.standard_normal(400_000)
    a, b = population_auroc(arm_a(shared)), population_auroc(arm_b(shared))
    return Truths(float(a.mean()), float((a - b).mean()), float((population_auroc(arm_a(shared, shift)) - b).mean()))


@dataclass
class Experiment:
    """One draw: ``labels [N]``, arm A's and arm B's scores ``[R, N]``, and arm A per seed ``[S, R, N]``."""

    labels: np.ndarray
    a: np.ndarray
    b: np.ndarray
    a_per_seed: np.ndarray


def draw(rng: np.random.Generator, *, rows: int = 80, replicates: int = 20, seeds: int = 5) -> Experiment:
    """Test rows (half positive), replicates and seeds drawn afresh."""
    y = np.repeat([1, 0], rows // 2)
    x = rng.standard_normal((len(y), 2)) + y[:, None] * MU
    shared = rng.standard_normal(replicates)
    shift = SEED_SPREAD * rng.standard_normal(seeds)

    def scores(theta: np.ndarray) -> np.ndarray:  # [..., R] -> [..., R, N]
        return x[:, 0] + theta[..., None] * x[:, 1]

    return Experiment(y, scores(arm_a(shared)), scores(arm_b(shared)), scores(arm_a(shared[None, :], shift[:, None])))
