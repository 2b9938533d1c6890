"""Intervals for AUROCs and paired AUROC differences (docs/method.md §6b).

A predictor's AUROC varies with the labelled rows it trained on (the replicate: a label subsample
in the limited regime, a predictor seed elsewhere) and the test rows it is scored on. Resampling
only the replicates leaves the test rows fixed and gives intervals that are too narrow (they
covered a known truth 69–85 % of the time at a nominal 95 %).

**Within one fit**, the crossed ("pigeonhole") bootstrap resamples both factors at once and
independently (Owen, 2007, *Annals of Applied Statistics* 1:2): each draw takes replicates with
replacement and test rows with replacement (positives and negatives separately, so every draw has
both classes), and recomputes the mean AUROC with the drawn rows' multiplicities as weights. The
2.5 and 97.5 percentiles of those means are the interval.

**Across autoencoder fits** (an ensemble's per-seed blankets), the fits are a third factor, and
the one that dominates: few of them, and each with its own blanket *members*. A percentile
bootstrap over 5 fits covers about 0.85 there (its variance shrinks by (S−1)/S and it lacks the t
tail). :meth:`CrossedBootstrap.across_fits` gives a few-fit t interval instead: the variance
``s²/S`` of the per-fit differences plus the crossed-bootstrap variance of their mean with the fits
held fixed (the fits share the rows and subsamples, so that noise is invisible in ``s²``), with
``S − 1`` degrees of freedom. Pure: arrays in, numbers out.

Scores are ``[..., R, N]``: replicate ``r``'s predicted probability of every test row; NaN marks a
row that replicate did not score (a few-shot fit's own training shots), and a replicate with no
score at all (a selector that failed there) carries no weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
N_BOOT = 1000


@dataclass(frozen=True)
class Interval:
    """A mean over replicates, its interval and a two-sided p-value of ``mean = 0``; ``fits``: the
    autoencoder fits it averages over (0: one fit, the crossed bootstrap's percentile interval)."""

    mean: float
    low: float
    high: float
    pvalue: float = float("nan")
    fits: int = 0

    @classmethod
    def empty(cls) -> Interval:
        return cls(float("nan"), float("nan"), float("nan"))


def _distinct_replicates(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scores [..., N]`` as distinct replicate rows ``[U, N]`` and each replicate's row index:
    replicates with the same scores (fits whose blankets agree, a baseline shared by the fits of
    one blanket size) are scored once and share their AUROCs."""
    distinct, inverse = np.unique(scores.reshape(-1, scores.shape[-1]), axis=0, return_inverse=True)
    return distinct, inverse.reshape(-1)


class _RankedScores:
    """Each replicate's scores sorted once, with the bounds of every tie group, so that a weighted
    AUROC under any row weights costs two cumulative sums (no re-sorting per bootstrap draw)."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray):
        scores = np.asarray(scores, dtype=np.float64)
        self.shape = scores.shape[:-1]
        flat, self.inverse = _distinct_replicates(scores)
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
        return out[:, self.inverse].reshape((len(row_weights),) + self.shape)


class _PairwiseScores:
    """Each replicate's positive × negative comparisons as a matrix ``K[m, i, j] = 1[s_i > s_j] + ½·1[s_i = s_j]``,
    so a weighted AUROC under any row weights is a matrix product: the fast path for test sets of
    up to a few thousand rows (:data:`PAIRWISE_LIMIT` entries), where it beats re-ranking many-fold."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray):
        scores = np.asarray(scores, dtype=np.float64)
        self.shape = scores.shape[:-1]
        flat, self.inverse = _distinct_replicates(scores)
        self.positives, self.negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        pos, neg = flat[:, self.positives, None], flat[:, None, self.negatives]
        self.wins = ((pos > neg) + 0.5 * (pos == neg)).astype(np.float32)  # [M, P, Q]; NaN compares False
        self.partial = not bool(np.isfinite(flat).all())
        if self.partial:  # rows a replicate did not score: the pairs it can compare differ per replicate
            self.pairs = (np.isfinite(pos) & np.isfinite(neg)).astype(np.float32)

    def auroc(self, row_weights: np.ndarray) -> np.ndarray:
        """``[B, *shape]`` AUROCs under ``row_weights [B, N]``, in chunks of draws that bound the
        ``[M·P, chunk]`` product at :data:`PAIRWISE_CHUNK` entries."""
        m, p, _ = self.wins.shape
        chunk = max(1, PAIRWISE_CHUNK // max(1, m * p))
        parts = [self._auroc(row_weights[start : start + chunk]) for start in range(0, len(row_weights), chunk)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _auroc(self, row_weights: np.ndarray) -> np.ndarray:
        weights = row_weights.astype(np.float32)
        positive, negative = weights[:, self.positives], weights[:, self.negatives]  # [B, P], [B, Q]
        wins = self._quadratic(self.wins, positive, negative)
        if self.partial:
            pairs = self._quadratic(self.pairs, positive, negative)
        else:
            pairs = (positive.sum(axis=1) * negative.sum(axis=1))[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = wins.astype(np.float64) / pairs
        return out[:, self.inverse].reshape((len(row_weights),) + self.shape)

    @staticmethod
    def _quadratic(matrix: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        """``[B, M]``: ``positive[b] · matrix[m] · negative[b]``, as one matrix product and one contraction."""
        m, p, q = matrix.shape
        right = (matrix.reshape(m * p, q) @ negative.T).reshape(m, p, -1)  # [M, P, B]
        return np.einsum("mpb,bp->bm", right, positive)


# replicates × positives × negatives held as one float32 matrix (400 MB): up to there the pairwise
# path beats the rank path (2.2× on a 6-fit per-seed arm of the 830-row ID split, the same AUROCs;
# docs/benchmarks.md)
PAIRWISE_LIMIT = 100_000_000
PAIRWISE_CHUNK = 25_000_000  # entries of the pairwise path's [replicates × positives, draws] product (100 MB)


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
    """One set of crossed-bootstrap draws for one test set: row multiplicities and replicate
    multiplicities. Every arm scored on those rows and replicates is resampled with the *same*
    draws, so a paired difference is the difference of the two arms' resampled means, and each
    arm's resampled means are computed once however many comparisons it enters. An arm of several
    fits (``[S, R, N]`` scores) is resampled with its fits held fixed; :meth:`across_fits` adds
    the fits' own variance.

    Args:
        labels: ``[N]`` binary labels of the test rows.
        replicates: ``R``, the replicates every arm has (label subsamples or predictor seeds).
        n_boot: draws; seed: their random seed.
    """

    def __init__(self, labels: np.ndarray, replicates: int, *, n_boot: int = N_BOOT, seed: int = 0):
        self.labels = np.asarray(labels).astype(int)
        rng = np.random.default_rng(seed)
        self.rows = _row_draws(self.labels, n_boot, rng)
        self.replicate_counts = _counts(replicates, n_boot, rng)
        self._means: dict[str, tuple[float, np.ndarray]] = {}

    def means(self, scores: np.ndarray, name: str | None = None) -> tuple[float, np.ndarray]:
        """The observed mean AUROC over replicates (and seeds) and its ``[n_boot]`` resampled means;
        with a ``name``, computed once for that arm and reused by every comparison it enters."""
        if name is not None and name in self._means:
            return self._means[name]
        ranked = _scores_for(scores, self.labels)
        observed = _weighted_mean(ranked.auroc(np.ones((1, len(self.labels)))), None)[0]
        draws = np.empty(len(self.rows))
        chunk = len(self.rows) if isinstance(ranked, _PairwiseScores) else _rank_chunk(scores)
        for start in range(0, len(self.rows), chunk):
            part = slice(start, start + chunk)
            draws[part] = _weighted_mean(ranked.auroc(self.rows[part]), self.replicate_counts[part])
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

    def across_fits(
        self,
        per_fit: np.ndarray,
        reference: np.ndarray,
        *,
        names: tuple[str, str] | None = None,
        level: float = LEVEL,
    ) -> Interval:
        """The mean over fits of each fit's paired difference ``per_fit[s] − reference[s]`` and its
        few-fit t interval (docs/method.md §6b).

        ``d_s`` is fit ``s``'s mean difference over its replicates on the rows as they are; the
        estimate is their mean ``d̄``. Its variance is ``V = s²/S + V_rows``: ``s²`` the sample
        variance of the ``d_s``, ``V_rows`` this bootstrap's variance of ``d̄`` with the fits held
        fixed. The interval is ``d̄ ± t(S−1)·√V``; the p-value is ``d̄/√V``'s under ``t(S−1)``.
        ``S − 1`` degrees of freedom, not Welch–Satterthwaite's (which grow when the rows' share
        does), because the few per-fit differences are skewed (blanket membership is discrete):
        Satterthwaite's covered 0.940 at 5 fits in the simulation, ``S − 1`` 0.967
        (docs/method.md §6b). It is conservative where the fits interact with the rows (that part
        enters both terms).

        Args:
            per_fit: ``[S, R, N]``, each fit's arm (its own blanket) on the same replicates and rows.
            reference: ``[R, N]`` (an arm that does not vary with the fit, such as ``all``) or
                ``[S, R, N]`` (one per fit, such as a baseline size-matched to that fit's blanket).
            names: the two arms' names, so that their resampled means are reused.
        """
        per_fit = np.asarray(per_fit)
        differences = _per_fit_differences(observed_auroc(per_fit, self.labels), observed_auroc(reference, self.labels))
        fits = int(np.isfinite(differences).sum())
        if fits < 2:
            mean = float(np.nanmean(differences)) if fits else float("nan")
            return Interval(mean, float("nan"), float("nan"), fits=fits)
        differences = differences[np.isfinite(differences)]
        mean = float(differences.mean())
        _, draws = self.means(per_fit, names[0] if names else None)
        _, other = self.means(reference, names[1] if names else None)
        shared = draws - other
        shared = shared[np.isfinite(shared)]
        between = float(differences.var(ddof=1)) / fits
        within = float(shared.var(ddof=1)) if len(shared) > 1 else 0.0
        variance = between + within
        if variance == 0:
            return Interval(mean, mean, mean, 1.0 if mean == 0 else 0.0, fits=fits)
        dof = fits - 1
        half = float(stats.t.ppf(1 - (1 - level) / 2, dof)) * np.sqrt(variance)
        pvalue = float(2 * stats.t.sf(abs(mean) / np.sqrt(variance), dof))
        return Interval(mean, mean - half, mean + half, pvalue, fits=fits)


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
        scores: ``[R, N]`` (replicates × test rows) or ``[S, R, N]`` (autoencoder fits ×
            replicates × rows; the replicates are the same label subsamples for every fit: with a
            ``reference``, the few-fit t interval of :meth:`CrossedBootstrap.across_fits`).
        labels: ``[N]`` binary labels of the test rows.
        reference: ``[R, N]`` or ``[S, R, N]``, the other arm's scores on the same replicates and
            rows, for a paired difference; ``None`` for one arm's AUROC.
        n_boot: bootstrap draws; seed: their random seed; level: the interval's coverage.

    Returns:
        The observed mean, the interval, and (for a difference) the two-sided p-value of a zero
        mean difference: within one fit the bootstrap's ``min(1, 2·min(P*(d ≤ 0), P*(d ≥ 0)))``,
        across fits the t test's.
    """
    shape = np.shape(scores)
    draws = CrossedBootstrap(labels, shape[-2], n_boot=n_boot, seed=seed)
    if len(shape) == 3 and reference is not None:
        return draws.across_fits(scores, reference, level=level)
    return draws.interval(scores, reference, level=level)


def _rank_chunk(scores: np.ndarray) -> int:
    """Draws per chunk of the rank path, bounding its ``[chunk, M, N]`` arrays."""
    return max(1, int(4e6 // max(1, np.prod(np.shape(scores)))))


def _per_fit_differences(per_fit: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``[S]``: each fit's mean paired difference over the replicates both arms scored
    (``per_fit [S, R]`` and ``reference [R]`` or ``[S, R]`` AUROCs; NaN where a fit has none)."""
    paired = per_fit - reference
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(paired).sum(axis=1)
        return np.where(counts > 0, np.nansum(paired, axis=1) / np.maximum(counts, 1), np.nan)


def _weighted_mean(values: np.ndarray, replicate_counts: np.ndarray | None) -> np.ndarray:
    """``[B]`` means of per-replicate AUROCs ``[B, R]`` or ``[B, S, R]`` (fits held fixed) under the
    drawn multiplicities (a replicate whose AUROC is undefined, NaN, carries no weight)."""
    weights = np.ones(values.shape)
    if replicate_counts is not None:
        weights = weights * (replicate_counts[:, None, :] if values.ndim == 3 else replicate_counts)
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
