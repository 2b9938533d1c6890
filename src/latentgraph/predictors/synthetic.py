"""Synthetic predictor scores with a known mean AUROC, for checking interval coverage (docs/method.md §6b).

Test rows are ``x | y ~ N(y·μ, I₂)``; a replicate's predictor scores ``w·x`` with ``w = (1, θ)``,
where ``θ`` is drawn per replicate (its label subsample) and per autoencoder seed. The population
AUROC of ``w`` is ``Φ(w·μ / (√2 |w|))``, so every true mean below is an exact expectation (over
400,000 draws of ``θ``). Arm A and arm B share each replicate's draw, as two feature sets share
a label subsample. Used by ``tests/test_intervals.py`` and ``scripts/study/interval_coverage.py``.
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


# --- fits that disagree: each autoencoder fit has its own blanket members (docs/method.md §6b) ---
#
# Eight attributes, x | y ~ N(y·μ, I₈) out of distribution. A predictor on the attributes F, fitted
# on label subsample r, scores w·x_F with w = μ_ID[F] + ε_r[F]: μ_ID is the in-distribution signal,
# ε_r the subsample's estimation noise (shared by every arm on that subsample, so arms are paired).
# Attribute 7 is spurious: it predicts the label in distribution and the opposite out of it. Each
# fit's blanket draws every attribute independently with its frequency (redrawn when empty), so the
# fits differ in *membership* and the fit-to-fit variance dominates, as in the real study.

SIGNAL_ID = np.array([0.9, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.8])
SIGNAL_OOD = np.array([0.9, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, -0.6])
MEMBERSHIP = np.array([0.95, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.5])  # how often each attribute is in a fit's blanket
NOISE = 0.35  # the sd of a subsample's weight estimate, per attribute


def _population_auroc_of(weights: np.ndarray) -> np.ndarray:
    """OOD AUROC of ``w·x`` for ``weights [..., 8]`` (zeros outside the set)."""
    norm_w = np.sqrt((weights**2).sum(axis=-1))
    return norm.cdf((weights @ SIGNAL_OOD) / (np.sqrt(2) * np.maximum(norm_w, 1e-12)))


def draw_blankets(rng: np.random.Generator, fits: int) -> np.ndarray:
    """``[fits, 8]`` boolean membership, none empty."""
    members = rng.random((fits, len(MEMBERSHIP))) < MEMBERSHIP
    while not members.any(axis=1).all():
        empty = ~members.any(axis=1)
        members[empty] = rng.random((int(empty.sum()), len(MEMBERSHIP))) < MEMBERSHIP
    return members


def matched_baseline(estimates: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The size-matched selector: on each subsample, the ``size`` attributes with the largest
    estimated weight (``estimates [..., 8]``, ``size [...]``) → membership ``[..., 8]``."""
    ranks = np.argsort(np.argsort(-np.abs(estimates), axis=-1), axis=-1)
    return ranks < np.asarray(size)[..., None]


@dataclass(frozen=True)
class FitTruths:
    """Expected OOD AUROC differences over fits (membership) and subsamples."""

    versus_all: float  # a fit's blanket − all
    versus_matched: float  # a fit's blanket − the size-matched selector


@cache
def fit_truths() -> FitTruths:
    rng = np.random.default_rng(54321)
    draws = 400_000
    members = draw_blankets(rng, draws)
    estimates = SIGNAL_ID + NOISE * rng.standard_normal((draws, len(SIGNAL_ID)))
    blanket = _population_auroc_of(estimates * members)
    everything = _population_auroc_of(estimates)
    matched = _population_auroc_of(estimates * matched_baseline(estimates, members.sum(axis=1)))
    return FitTruths(float((blanket - everything).mean()), float((blanket - matched).mean()))


@dataclass
class FitStudy:
    """One study: ``labels [N]``; per fit its blanket's scores ``[S, R, N]`` and its size-matched
    baseline's ``[S, R, N]``; ``all``'s scores ``[R, N]``; and the fits' memberships ``[S, 8]``."""

    labels: np.ndarray
    per_fit: np.ndarray
    matched: np.ndarray
    everything: np.ndarray
    members: np.ndarray


def draw_study(rng: np.random.Generator, *, fits: int, rows: int = 120, replicates: int = 20) -> FitStudy:
    """Fits, subsamples and OOD test rows (half positive), all drawn afresh."""
    y = np.repeat([1, 0], rows // 2)
    x = rng.standard_normal((rows, len(SIGNAL_OOD))) + y[:, None] * SIGNAL_OOD
    members = draw_blankets(rng, fits)
    estimates = SIGNAL_ID + NOISE * rng.standard_normal((replicates, len(SIGNAL_ID)))  # [R, 8]
    matched = matched_baseline(estimates[None, :, :], members.sum(axis=1)[:, None])  # [S, R, 8]
    return FitStudy(
        labels=y,
        per_fit=np.einsum("srk,nk->srn", members[:, None, :] * estimates[None], x),
        matched=np.einsum("srk,nk->srn", matched * estimates[None], x),
        everything=estimates @ x.T,
        members=members,
    )
