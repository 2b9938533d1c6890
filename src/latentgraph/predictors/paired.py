"""Paired differences between feature sets with bootstrap intervals (docs/method.md §6).

Every feature set is evaluated on the same label subsamples (limited regime) or predictor seeds,
so AUROC differences are paired: ``d_r = AUROC(set, r) − AUROC(reference, r)``. Two intervals:

* over subsamples of one autoencoder: the percentile bootstrap of the mean of ``d_r``;
* over autoencoder seeds × subsamples (a seed-level, two-stage bootstrap): resample the seeds
  with replacement, then each chosen seed's subsamples with replacement, and take the grand
  mean; the 2.5 and 97.5 percentiles of those means are the interval. Seeds are the outer level
  because fits of one seed share everything, so seeds, not subsamples, are the independent units.

Pure: arrays and data frames in, numbers out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bootstrap_mean_interval(
    differences: np.ndarray, *, n_boot: int = 4000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of paired differences.

    ``differences`` is ``[R]`` (one level: subsamples) or ``[S, R]`` (two levels: seeds ×
    subsamples; rows may hold NaN where a seed has fewer subsamples).
    """
    values = np.asarray(differences, dtype=float)
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2
    if values.ndim == 1:
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return float("nan"), float("nan"), float("nan")
        draws = rng.integers(0, len(values), size=(n_boot, len(values)))
        means = values[draws].mean(axis=1)
        return float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
    if values.ndim != 2:
        raise ValueError(f"differences must be 1-D or 2-D, got shape {values.shape}")
    rows = [row[np.isfinite(row)] for row in values]
    rows = [row for row in rows if len(row)]
    if not rows:
        return float("nan"), float("nan"), float("nan")
    means = np.empty(n_boot)
    for b in range(n_boot):
        chosen = rng.integers(0, len(rows), size=len(rows))
        means[b] = np.mean([rows[s][rng.integers(0, len(rows[s]), size=len(rows[s]))].mean() for s in chosen])
    grand = float(np.mean([row.mean() for row in rows]))
    return grand, float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def _row(feature_set: str, reference: str, regime: str, dataset: str, n: int, differences: np.ndarray, **kw) -> dict:
    mean, low, high = bootstrap_mean_interval(differences, **kw)
    return {
        "feature_set": feature_set,
        "reference": reference,
        "regime": regime,
        "dataset": dataset,
        "n": int(n),
        "diff": mean,
        "low": low,
        "high": high,
        "pairs": int(np.isfinite(differences).sum()),
    }


def paired_differences(
    results: pd.DataFrame,
    *,
    reference: str = "all",
    regime: str = "limited",
    n_boot: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """``set − reference`` AUROC per feature set × dataset × n in one regime, paired by ``seed``.

    ``results`` has the columns of ``results/metrics.csv`` (``feature_set``, ``regime``,
    ``dataset``, ``n``, ``seed``, ``auroc``). Returns one row per (feature set, dataset, n): the
    mean difference, its 95 % percentile-bootstrap interval over the paired seeds or subsamples,
    and how many pairs there were.
    """
    frame = results[results["regime"] == regime]
    wide = frame.pivot_table(index=["dataset", "n", "seed"], columns="feature_set", values="auroc")
    if reference not in wide.columns:
        return pd.DataFrame(
            columns=["feature_set", "reference", "regime", "dataset", "n", "diff", "low", "high", "pairs"]
        )
    rows = []
    for name in wide.columns:
        if name == reference:
            continue
        for (dataset, n), group in wide.groupby(level=["dataset", "n"]):
            differences = (group[name] - group[reference]).to_numpy()
            rows.append(_row(name, reference, regime, dataset, n, differences, n_boot=n_boot, seed=seed))
    return pd.DataFrame(rows)


BASELINES = ("lasso", "mutual_info", "pc", "ges", "lingam")


def study_differences(
    results: pd.DataFrame,
    *,
    seed_sets: dict[int, str] | None = None,
    regime: str = "limited",
    n_boot: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """The blanket study's comparisons in one regime, each with its 95 % bootstrap interval.

    * every feature set − ``all`` (paired over subsamples);
    * ``consensus_blanket`` (else ``markov_blanket``) − the best baseline at that dataset and n
      (the baseline with the highest mean AUROC there: the hardest comparison to win);
    * with ``seed_sets`` (autoencoder seed → the feature-set name of that seed's blanket): the
      per-seed blanket − ``all``, with the seed-level two-stage bootstrap over seeds × subsamples.
    """
    table = paired_differences(results, reference="all", regime=regime, n_boot=n_boot, seed=seed)
    frame = results[results["regime"] == regime]
    wide = frame.pivot_table(index=["dataset", "n", "seed"], columns="feature_set", values="auroc")
    ours = "consensus_blanket" if "consensus_blanket" in wide.columns else "markov_blanket"
    rows = []
    for (dataset, n), group in wide.groupby(level=["dataset", "n"]):
        baselines = [b for b in BASELINES if b in group.columns]
        if ours in group.columns and baselines:
            best = max(baselines, key=lambda b: group[b].mean())
            differences = (group[ours] - group[best]).to_numpy()
            reference = f"best baseline ({best})"
            rows.append(_row(ours, reference, regime, dataset, n, differences, n_boot=n_boot, seed=seed))
        if seed_sets and "all" in group.columns:
            names = [name for name in seed_sets.values() if name in group.columns]
            if names:
                matrix = np.stack([(group[name] - group["all"]).to_numpy() for name in names])
                label = f"per-seed blanket ({len(names)} seeds, seed-level bootstrap)"
                rows.append(_row(label, "all", regime, dataset, n, matrix, n_boot=n_boot, seed=seed))
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True)


def blanket_comparisons(differences: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`study_differences` about the blanket: the run's own, the consensus, the per-seed ones."""
    ours = differences["feature_set"].isin(["markov_blanket", "consensus_blanket"])
    return differences[ours | differences["feature_set"].str.startswith("per-seed")]
