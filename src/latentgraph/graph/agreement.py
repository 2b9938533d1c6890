"""Agreement between blankets and ensembles of them: Jaccard indices, their chance levels, and
what a second ensemble should give (docs/method.md §5b). Pure functions of sets and counts; the
consensus itself is :mod:`latentgraph.graph.consensus`, which uses some of them, and the rest serve
the report and the study scripts (``scripts/study/compare_ensembles.py``, ``scripts/study/ensemble_size.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from math import ceil, comb

import numpy as np


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """``|a ∩ b| / |a ∪ b|``; two empty sets agree (1.0)."""
    a, b = set(a), set(b)
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def mean_pairwise_jaccard(sets: Sequence[Iterable[str]]) -> float:
    """The mean Jaccard index over every pair of ``sets`` (NaN for fewer than two)."""
    pairs = [jaccard(a, b) for a, b in combinations([set(s) for s in sets], 2)]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def chance_jaccard(size_a: int, size_b: int, pool: int) -> float:
    """The expected Jaccard index of two independent, uniformly random subsets of sizes
    ``size_a`` and ``size_b`` of ``pool`` items (two empty sets agree: 1.0).

    The overlap is hypergeometric, so the expectation is a finite sum. Blankets of 10 of 13
    attributes agree at 0.63 by chance alone; a Jaccard index means little without this.
    """
    if not 0 <= size_a <= pool or not 0 <= size_b <= pool:
        raise ValueError(f"subset sizes {size_a}, {size_b} must lie in [0, {pool}]")
    if size_a == size_b == 0:
        return 1.0
    total = comb(pool, size_b)
    low, high = max(0, size_a + size_b - pool), min(size_a, size_b)
    return sum(
        comb(size_a, k) * comb(pool - size_a, size_b - k) / total * k / (size_a + size_b - k)
        for k in range(low, high + 1)
    )


def chance_pairwise_jaccard(sizes: Sequence[int], pool: int) -> float:
    """:func:`mean_pairwise_jaccard` expected of random sets of these ``sizes`` (NaN for fewer than two)."""
    pairs = [chance_jaccard(a, b, pool) for a, b in combinations(sizes, 2)]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def votes_needed(threshold: float, n_graphs: int) -> int:
    """How many of ``n_graphs`` blankets must hold a member for its frequency to reach
    ``threshold`` (a small tolerance, so that 3 of 6 passes 0.5 however the product rounds)."""
    return max(ceil(threshold * n_graphs - 1e-9), 0)


def inclusion_probability(frequency: float, n_graphs: int, threshold: float) -> float:
    """The chance that a member seen in a fraction ``frequency`` of ``n_graphs`` blankets enters
    the consensus of a fresh ensemble of the same size: ``P(Binomial(n_graphs, frequency) ≥ k)``
    with ``k`` the :func:`votes_needed`. The plug-in (bootstrap) estimate, exact: a member at 3 of
    5 with threshold 0.5 gets 0.68, so a second ensemble drops it one time in three.
    """
    if not 0 <= frequency <= 1:
        raise ValueError(f"frequency must lie in [0, 1], got {frequency}")
    needed = votes_needed(threshold, n_graphs)
    return sum(
        comb(n_graphs, j) * frequency**j * (1 - frequency) ** (n_graphs - j) for j in range(needed, n_graphs + 1)
    )


def _membership(blankets: Sequence[set[str]], candidates: Sequence[str]) -> np.ndarray:
    """``fits × candidates``: 1 where the fit's blanket holds the candidate."""
    return np.array([[name in blanket for name in candidates] for blanket in blankets], dtype=np.int64)


def _row_jaccard(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """:func:`jaccard` of each row pair of two boolean ``draws × candidates`` arrays (empty rows agree)."""
    union = (first | second).sum(axis=1)
    overlap = (first & second).sum(axis=1)
    return np.where(union > 0, overlap / np.maximum(union, 1), 1.0)


def expected_consensus_jaccard(
    blankets: Sequence[Iterable[str]],
    candidates: Sequence[str],
    threshold: float,
    *,
    n_resamples: int = 4000,
    seed: int = 0,
) -> float:
    """The Jaccard index expected between the consensus blankets of two independent ensembles of
    ``len(blankets)`` fits, estimated from this one ensemble: draw two ensembles of the same size
    from its fits with replacement (the bootstrap over autoencoders; Friedman, Goldszmidt and
    Wyner, 1999, resample data instead), take each one's consensus at ``threshold``, and average
    their Jaccard index over ``n_resamples`` pairs (two empty consensus blankets agree, as in
    :func:`jaccard`). NaN for fewer than two blankets.

    Resampling keeps the members' dependence (fits that hold one attribute tend to hold
    another). With few fits it is optimistic: a member no fit holds can never appear.
    """
    blankets = [set(b) for b in blankets]
    n_graphs = len(blankets)
    if n_graphs < 2:
        return float("nan")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    held = _membership(blankets, candidates)
    needed = votes_needed(threshold, n_graphs)
    rng = np.random.default_rng(seed)

    def resampled_consensus() -> np.ndarray:
        draws = rng.integers(0, n_graphs, size=(n_resamples, n_graphs))
        return held[draws].sum(axis=1) >= needed

    first, second = resampled_consensus(), resampled_consensus()
    return float(_row_jaccard(first, second).mean())


def disjoint_ensemble_agreement(
    blankets: Sequence[Iterable[str]],
    candidates: Sequence[str],
    threshold: float,
    size: int,
    *,
    n_splits: int = 300,
    seed: int = 0,
) -> np.ndarray:
    """The consensus Jaccard of two disjoint ensembles of ``size`` fits, drawn at random from
    ``blankets`` (one per fit) ``n_splits`` times: how well two ensembles of that size agree when
    the pooled fits stand for the population of autoencoders. Needs ``2 * size`` fits or more;
    with exactly that many the two ensembles are complements, so their counts are tied.
    """
    blankets = [set(b) for b in blankets]
    if size < 1 or 2 * size > len(blankets):
        raise ValueError(f"two disjoint ensembles of {size} need at least {2 * size} fits, got {len(blankets)}")
    held = _membership(blankets, candidates)
    needed = votes_needed(threshold, size)
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(len(blankets)) for _ in range(n_splits)]).reshape(n_splits, len(blankets))
    first = held[orders[:, :size]].sum(axis=1) >= needed
    second = held[orders[:, size : 2 * size]].sum(axis=1) >= needed
    return _row_jaccard(first, second)
