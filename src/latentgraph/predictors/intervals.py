"""Crossed-bootstrap intervals for AUROCs and paired AUROC differences (docs/method.md §6b).

A predictor's AUROC varies with two independent draws: the labelled rows it trained on (the
replicate: a label subsample in the limited regime, a predictor seed elsewhere) and the test rows
it is scored on. Each autoencoder seed of an ensemble is a third draw. Resampling only the
replicates, as a bootstrap over subsamples does, leaves the test rows fixed and gives intervals
that are too narrow (they covered a known truth 69–85 % of the time at a nominal 95 %).

The crossed ("pigeonhole") bootstrap resamples every factor at once and independently (Owen,
2007, *Annals of Applied Statistics* 1:2): each draw takes replicates with replacement, test rows
with replacement (positives and negatives separately, so every draw has both classes), and seeds
with replacement, and recomputes the mean AUROC with the drawn rows' multiplicities as weights.
The 2.5 and 97.5 percentiles of those means are the interval. Pure: arrays in, numbers out.

Scores are ``[..., R, N]``: replicate ``r``'s predicted probability of every test row; NaN marks a
row that replicate did not score (a few-shot fit's own training shots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
N_BOOT = 1000


@dataclass(frozen=True)
class Interval:
    """A mean over replicates, its percentile interval and a two-sided bootstrap p-value of ``mean = 0``."""

    mean: float
    low: float
    high: float
    pvalue: float = float("nan")

    @classmethod
    def empty(cls) -> Interval:
        return cls(float("nan"), float("nan"), float("nan"))


class _RankedScores:
    """Each replicate's scores sorted once, with the bounds of every tie group, so that a weighted
    AUROC under any row weights costs two cumulative sums (no re-sorting per bootstrap draw)."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray):
        scores = np.asarray(scores, dtype=np.float64)
        self.shape = scores.shape[:-1]
        flat = scores.reshape(-1, scores.shape[-1])
        n = flat.shape[1]
        self.order = np.argsort(flat, axis=1, kind="stable")  # NaN last
        ranked = np.take_along_axis(flat, self.order, axis=1)
        self.valid = np.isfinite(ranked)
        self.positive = labels[self.order] == 1
        starts = np.ones_like(ranked, dtype=bool)
        starts[:, 1:] = ranked[:, 1:] != ranked[:, :-1]  # NaN != NaN: each NaN is its own group
        ends = np.ones_like(ranked, dtype=bool)
        ends[:, :-1] = starts[:, 1:]
        positions = np.arange(n)
        self.start = np.maximum.accumulate(np.where(starts, positions, 0), axis=1)
        self.end = np.minimum.accumulate(np.where(ends, positions + 1, n)[:, ::-1], axis=1)[:, ::-1]

    def auroc(self, row_weights: np.ndarray) -> np.ndarray:
        """``[B, *shape]`` AUROCs under ``row_weights [B, N]`` (NaN where a class has no weight)."""
        weights = row_weights[:, self.order] * self.valid  # [B, M, N], in each replicate's order
        negatives = np.where(self.positive, 0.0, weights)
        positives = weights - negatives
        below = np.concatenate([np.zeros(negatives.shape[:-1] + (1,)), np.cumsum(negatives, axis=-1)], axis=-1)
        start = np.broadcast_to(self.start, negatives.shape)
        end = np.broadcast_to(self.end, negatives.shape)
        strictly_below = np.take_along_axis(below, start, axis=-1)
        tied = np.take_along_axis(below, end, axis=-1) - strictly_below
        pairs = positives.sum(axis=-1) * negatives.sum(axis=-1)
        wins = (positives * (strictly_below + 0.5 * tied)).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = wins / pairs
        return out.reshape((len(row_weights),) + self.shape)


class _PairwiseScores:
    """Each replicate's positive × negative comparisons as a matrix ``K[m, i, j] = 1[s_i > s_j] + ½·1[s_i = s_j]``,
    so a weighted AUROC under any row weights is a matrix product: the fast path for test sets of
    up to a few thousand rows (:data:`PAIRWISE_LIMIT` entries), where it beats re-ranking many-fold."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray):
        scores = np.asarray(scores, dtype=np.float64)
        self.shape = scores.shape[:-1]
        flat = scores.reshape(-1, scores.shape[-1])
        self.positives, self.negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        pos, neg = flat[:, self.positives, None], flat[:, None, self.negatives]
        self.wins = ((pos > neg) + 0.5 * (pos == neg)).astype(np.float32)  # [M, P, Q]; NaN compares False
        self.partial = not bool(np.isfinite(flat).all())
        if self.partial:  # rows a replicate did not score: the pairs it can compare differ per replicate
            self.pairs = (np.isfinite(pos) & np.isfinite(neg)).astype(np.float32)

    def auroc(self, row_weights: np.ndarray) -> np.ndarray:
        weights = row_weights.astype(np.float32)
        positive, negative = weights[:, self.positives], weights[:, self.negatives]  # [B, P], [B, Q]
        wins = self._quadratic(self.wins, positive, negative)
        if self.partial:
            pairs = self._quadratic(self.pairs, positive, negative)
        else:
            pairs = (positive.sum(axis=1) * negative.sum(axis=1))[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = wins.astype(np.float64) / pairs
        return out.reshape((len(row_weights),) + self.shape)

    @staticmethod
    def _quadratic(matrix: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        """``[B, M]``: ``positive[b] · matrix[m] · negative[b]``, as one matrix product and one contraction."""
        m, p, q = matrix.shape
        right = (matrix.reshape(m * p, q) @ negative.T).reshape(m, p, -1)  # [M, P, B]
        return np.einsum("mpb,bp->bm", right, positive)


PAIRWISE_LIMIT = 30_000_000  # replicates × positives × negatives held as one float32 matrix (120 MB)


def _scores_for(scores: np.ndarray, labels: np.ndarray) -> _RankedScores | _PairwiseScores:
    replicates = int(np.prod(np.shape(scores)[:-1]))
    positives = int((labels == 1).sum())
    if replicates * positives * (len(labels) - positives) <= PAIRWISE_LIMIT:
        return _PairwiseScores(scores, labels)
    return _RankedScores(scores, labels)


def _row_draws(labels: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_boot, N]`` multiplicities: positives and negatives each resampled with replacement."""
    weights = np.zeros((n_boot, len(labels)))
    for value in (0, 1):
        rows = np.flatnonzero(labels == value)
        if len(rows):
            picks = rng.integers(0, len(rows), size=(n_boot, len(rows)))
            np.add.at(weights, (np.arange(n_boot)[:, None], rows[picks]), 1.0)
    return weights


def _counts(size: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_boot, size]`` multiplicities of a resample with replacement of ``size`` units."""
    picks = rng.integers(0, size, size=(n_boot, size))
    counts = np.zeros((n_boot, size))
    np.add.at(counts, (np.arange(n_boot)[:, None], picks), 1.0)
    return counts


def observed_auroc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each replicate's AUROC on the test rows as they are (``scores [..., N]`` → ``[...]``)."""
    labels = np.asarray(labels)
    return _scores_for(scores, labels).auroc(np.ones((1, len(labels))))[0]


class CrossedBootstrap:
    """One set of crossed-bootstrap draws for one test set: row multiplicities, replicate
    multiplicities and (for ensembles) seed multiplicities. Every arm scored on those rows and
    replicates is resampled with the *same* draws, so a paired difference is the difference of the
    two arms' resampled means, and each arm's resampled means are computed once however many
    comparisons it enters.

    Args:
        labels: ``[N]`` binary labels of the test rows.
        replicates: ``R``, the replicates every arm has (label subsamples or predictor seeds).
        seeds: ``S``, the autoencoder seeds of per-seed arms (``[S, R, N]`` scores), if any.
        n_boot: draws; seed: their random seed.
    """

    def __init__(self, labels: np.ndarray, replicates: int, *, seeds: int = 0, n_boot: int = N_BOOT, seed: int = 0):
        self.labels = np.asarray(labels).astype(int)
        rng = np.random.default_rng(seed)
        self.rows = _row_draws(self.labels, n_boot, rng)
        self.replicate_counts = _counts(replicates, n_boot, rng)
        self.seed_counts = _counts(seeds, n_boot, rng) if seeds else None
        self._means: dict[str, tuple[float, np.ndarray]] = {}

    def means(self, scores: np.ndarray, name: str | None = None) -> tuple[float, np.ndarray]:
        """The observed mean AUROC over replicates (and seeds) and its ``[n_boot]`` resampled means;
        with a ``name``, computed once for that arm and reused by every comparison it enters."""
        if name is not None and name in self._means:
            return self._means[name]
        ranked = _scores_for(scores, self.labels)
        observed = _weighted_mean(ranked.auroc(np.ones((1, len(self.labels)))), None, None)[0]
        draws = np.empty(len(self.rows))
        chunk = len(self.rows) if isinstance(ranked, _PairwiseScores) else _rank_chunk(scores)
        for start in range(0, len(self.rows), chunk):
            part = slice(start, start + chunk)
            seed_counts = self.seed_counts[part] if self.seed_counts is not None else None
            draws[part] = _weighted_mean(ranked.auroc(self.rows[part]), self.replicate_counts[part], seed_counts)
        result = (float(observed), draws)
        if name is not None:
            self._means[name] = result
        return result

    def interval(
        self,
        scores: np.ndarray,
        reference: np.ndarray | None = None,
        *,
        names: tuple[str, str] | None = None,
        level: float = LEVEL,
    ) -> Interval:
        """Mean AUROC of ``scores`` (or the mean paired difference ``scores − reference``) and its
        interval; ``names`` (the two arms') lets the arms' resampled means be reused."""
        observed, draws = self.means(scores, names[0] if names else None)
        if reference is not None:
            other, other_draws = self.means(reference, names[1] if names else None)
            observed, draws = observed - other, draws - other_draws
        if not np.isfinite(observed):
            return Interval.empty()
        draws = draws[np.isfinite(draws)]
        if len(draws) == 0:
            return Interval(observed, float("nan"), float("nan"))
        tail = (1 - level) / 2
        pvalue = float("nan")
        if reference is not None:
            below = (np.sum(draws <= 0) + 1) / (len(draws) + 1)
            above = (np.sum(draws >= 0) + 1) / (len(draws) + 1)
            pvalue = min(1.0, 2 * min(below, above))
        return Interval(observed, float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail)), pvalue)


def crossed_interval(
    scores: np.ndarray,
    labels: np.ndarray,
    reference: np.ndarray | None = None,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """Mean AUROC over replicates (or the mean paired difference ``scores − reference``) and its
    crossed-bootstrap interval.

    Args:
        scores: ``[R, N]`` (replicates × test rows) or ``[S, R, N]`` (autoencoder seeds ×
            replicates × rows; the replicates are the same label subsamples for every seed).
        labels: ``[N]`` binary labels of the test rows.
        reference: ``[R, N]`` the other arm's scores on the same replicates and rows (it does not
            vary with the seed), for a paired difference; ``None`` for one arm's AUROC.
        n_boot: bootstrap draws; seed: their random seed; level: the interval's coverage.

    Returns:
        The observed mean, the percentile interval, and (for a difference) the two-sided
        bootstrap p-value of a zero mean difference, ``min(1, 2·min(P*(d ≤ 0), P*(d ≥ 0)))``.
    """
    shape = np.shape(scores)
    seeds = shape[0] if len(shape) == 3 else 0
    draws = CrossedBootstrap(labels, shape[-2], seeds=seeds, n_boot=n_boot, seed=seed)
    return draws.interval(scores, reference, level=level)


def _rank_chunk(scores: np.ndarray) -> int:
    """Draws per chunk of the rank path, bounding its ``[chunk, M, N]`` arrays."""
    return max(1, int(4e6 // max(1, np.prod(np.shape(scores)))))


def _weighted_mean(
    values: np.ndarray, replicate_counts: np.ndarray | None, seed_counts: np.ndarray | None
) -> np.ndarray:
    """``[B]`` means of per-replicate AUROCs ``[B, R]`` or ``[B, S, R]`` under the drawn multiplicities
    (a replicate whose AUROC is undefined, NaN, carries no weight)."""
    weights = np.ones(values.shape)
    if replicate_counts is not None:
        weights = weights * (replicate_counts[:, None, :] if values.ndim == 3 else replicate_counts)
    if values.ndim == 3 and seed_counts is not None:
        weights = weights * seed_counts[:, :, None]
    finite = np.isfinite(values)
    weights = np.where(finite, weights, 0.0)
    axes = tuple(range(1, values.ndim))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(finite, values, 0.0) * weights).sum(axis=axes) / weights.sum(axis=axes)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and is not counted)."""
    values = np.asarray(pvalues, dtype=float)
    finite = np.flatnonzero(np.isfinite(values))
    adjusted = np.full(len(values), np.nan)
    order = finite[np.argsort(values[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def verdict(difference: Interval, adjusted_pvalue: float, alpha: float = 1 - LEVEL) -> str:
    """``better``, ``worse`` or ``no detectable difference`` (the Holm-adjusted test at ``alpha``)."""
    if not np.isfinite(adjusted_pvalue) or adjusted_pvalue >= alpha:
        return "no detectable difference"
    return "better" if difference.mean > 0 else "worse"
