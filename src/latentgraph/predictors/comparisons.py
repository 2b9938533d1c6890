"""Every feature set's AUROC with its interval, and the comparisons fixed in advance (docs/method.md §6b).

The comparisons are the blanket (and the consensus blanket) against ``all`` and against each
baseline of the plan, in the limited and supervised regimes, on the ID test split and every OOD
set, at every ``n``. No comparison is chosen after seeing a result: there is no "best baseline"
picked on the set it is scored on. Each is a paired AUROC difference (the two arms trained on the
same label subsample or seed, scored on the same rows) with its crossed-bootstrap interval; the
p-values of one blanket's comparisons at one regime, dataset and ``n`` are Holm-adjusted as a
family, and the adjusted test gives each its word: better, worse, or no detectable difference.

An ensemble adds the per-seed rows: each fit's own blanket against ``all`` and against each
baseline (the size-matched ones of that fit's blanket size), averaged over the fits, with the
few-fit t interval that carries the fits' variance; their family, too, is ``all`` plus the
baselines. The consensus rows hold the ensemble fixed (``fits`` 0): they say how this consensus
does, not how a consensus of ``R`` fits would.

A selection that failed or chose nothing on a replicate (a label subsample, a seed) is counted
(``failed``) and left out: that replicate is not scored for the set, and its partner replicate is
left out of the comparison with it. A set that failed on every replicate is not compared, and
neither is a comparison whose two arms had the same features in every replicate (its difference
would be zero by construction); both are listed with the reason instead.

Pure: the results of :func:`~latentgraph.predictors.regimes.run_regimes` in, tables out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latentgraph.predictors.feature_plan import FeaturePlan
from latentgraph.predictors.intervals import N_BOOT, CrossedBootstrap, Interval, holm, verdict
from latentgraph.predictors.labelled import ID_VAL
from latentgraph.predictors.regimes import RegimeResults

COMPARED_REGIMES = ("limited", "supervised")
SUMMARY_COLUMNS = ["feature_set", "regime", "dataset", "n", "auroc_mean", "auroc_low", "auroc_high", "seeds", "failed"]
COMPARISON_COLUMNS = [
    "blanket",
    "reference",
    "regime",
    "dataset",
    "n",
    "diff",
    "low",
    "high",
    "pvalue",
    "p_holm",
    "verdict",
    "replicates",
    "failed",
    "fits",
]
PER_SEED = "per-seed blanket"


def per_seed_label(fits: int) -> str:
    """The per-seed rows' arm name in ``comparisons.csv``: ``per-seed blanket (10 fits)``."""
    return f"{PER_SEED} ({fits} fits)"


@dataclass
class Analysis:
    """``summary``: each set's mean AUROC and interval; ``comparisons``: the fixed comparisons;
    ``not_compared``: the comparisons left out, with why."""

    summary: pd.DataFrame
    comparisons: pd.DataFrame
    not_compared: list[str] = field(default_factory=list)


def compare_feature_sets(
    results: RegimeResults, plan: FeaturePlan | None = None, *, n_boot: int = N_BOOT, seed: int = 0
) -> Analysis:
    """Intervals for every set and the plan's comparisons (none without a plan), one set of
    bootstrap draws per regime × dataset × ``n`` shared by every arm there (so differences stay paired)."""
    plan = plan or FeaturePlan(choices={})
    summary, comparisons, not_compared = [], [], []
    groups = list(dict.fromkeys((regime, dataset, n) for (_, regime, dataset, n) in results.scores.scores))
    for regime, dataset, n in groups:
        arms = _Arms(results, regime, dataset, n)
        draws = CrossedBootstrap(results.scores.labels[dataset], arms.replicates, n_boot=n_boot, seed=seed)
        for name, values in arms.scores.items():
            interval = draws.interval(values, names=(name, "")) if arms.scored(name) else Interval.empty()
            row = [name, regime, dataset, n, interval.mean, interval.low, interval.high]
            summary.append(row + [arms.replicates, arms.failed(name)])
        if regime not in COMPARED_REGIMES or dataset == ID_VAL:
            continue
        where = f"({regime}, {dataset}, n={n})"
        for blanket, references in plan.comparisons.items():
            if blanket in arms.scores:
                family = []
                for reference in references:
                    reason = arms.not_comparable(blanket, reference)
                    if reason:
                        not_compared.append(f"{blanket} − {reference} {where}: {reason}")
                        continue
                    family.append((reference, arms.difference(draws, blanket, reference), arms.failed(reference)))
                comparisons += _family_rows(blanket, family, regime, dataset, n, arms)
        comparisons += _per_seed_rows(plan, arms, draws, regime, dataset, n, not_compared)
    return Analysis(
        pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS),
        not_compared,
    )


class _Arms:
    """The arms scored at one regime × dataset × ``n``, each replicate a failed selection chose
    nothing on marked unscored (NaN), and the pairing of two arms' replicates."""

    def __init__(self, results: RegimeResults, regime: str, dataset: str, n: int):
        self.results, self.regime, self.n = results, regime, n
        self.scores: dict[str, np.ndarray] = {}
        self._failed: dict[str, np.ndarray] = {}
        for (name, r, d, size), values in results.scores.scores.items():
            if (r, d, size) == (regime, dataset, n):
                failed = self._empty_replicates(name, len(values))
                self._failed[name] = failed
                self.scores[name] = np.where(failed[:, None], np.nan, values) if failed.any() else values
        self.replicates = next(iter(self.scores.values())).shape[0]

    def _empty_replicates(self, name: str, replicates: int) -> np.ndarray:
        features = self.results.features.get((name, self.regime, self.n))
        if not features or len(features) != replicates:
            return np.zeros(replicates, dtype=bool)
        return np.array([not chosen for chosen in features])

    def failed(self, name: str) -> int:
        return int(self._failed[name].sum())

    def scored(self, name: str) -> bool:
        return not self._failed[name].all()

    def not_comparable(self, blanket: str, reference: str) -> str | None:
        if reference not in self.scores:
            return "the reference was not evaluated"
        if not self.scored(reference):
            return f"{reference} failed or chose nothing on every replicate; counted, not scored"
        features = self.results.features
        if features.get((blanket, self.regime, self.n)) == features.get((reference, self.regime, self.n)):
            return "the same features in every replicate, so the difference is zero by construction"
        return None

    def paired(self, name: str, partner: str) -> tuple[np.ndarray, str]:
        """``name``'s scores without the replicates ``partner`` left unscored, and their cache name."""
        missing = self._failed[partner] & ~self._failed[name]
        if not missing.any():
            return self.scores[name], name
        return np.where(missing[:, None], np.nan, self.scores[name]), f"{name}|without {partner}'s failures"

    def difference(self, draws: CrossedBootstrap, blanket: str, reference: str) -> Interval:
        values, name = self.paired(blanket, reference)
        return draws.interval(values, self.scores[reference], names=(name, reference))


def _family_rows(blanket: str, family: list, regime, dataset, n, arms: _Arms, fits: int = 0) -> list[list]:
    """The rows of one Holm family, ``(reference, interval, failed)`` each: one arm against each of
    its references at one regime, dataset and ``n``."""
    adjusted = holm([interval.pvalue for _, interval, _ in family])
    return [
        _row(blanket, reference, regime, dataset, n, interval, p_holm, arms.replicates, failed, fits)
        for (reference, interval, failed), p_holm in zip(family, adjusted)
    ]


def _per_seed_rows(plan: FeaturePlan, arms: _Arms, draws: CrossedBootstrap, regime, dataset, n, not_compared) -> list:
    """Each fit's own blanket − each of its references, averaged over the fits, with the few-fit
    interval (:meth:`CrossedBootstrap.across_fits`); one Holm family (``all`` and the baselines).
    A fit whose blanket equals its reference contributes its zero difference: that is its outcome."""
    seeds = [seed for seed, name in plan.seed_sets.items() if name in arms.scores]
    if len(seeds) < 2:
        return []
    label, family = per_seed_label(len(seeds)), []
    for baseline in dict.fromkeys(b for seed in seeds for b in plan.seed_references[seed]):
        references = [plan.seed_references[seed].get(baseline) for seed in seeds]
        unscored = sorted({r for r in references if r is None or r not in arms.scores or not arms.scored(r)}, key=str)
        if unscored:
            not_compared.append(
                f"{label} − {baseline} ({regime}, {dataset}, n={n}): {', '.join(map(str, unscored))} not evaluated, "
                "or failed or chose nothing on every replicate"
            )
            continue
        pairs = [arms.paired(plan.seed_sets[seed], reference) for seed, reference in zip(seeds, references)]
        masked = any(name != plan.seed_sets[seed] for (_, name), seed in zip(pairs, seeds))
        interval = draws.across_fits(
            np.stack([values for values, _ in pairs]),
            np.stack([arms.scores[reference] for reference in references]),
            names=(f"{PER_SEED}|{baseline}" if masked else PER_SEED, f"{baseline}|per seed"),
        )
        family.append((baseline, interval, sum(arms.failed(r) for r in dict.fromkeys(references))))
    return _family_rows(label, family, regime, dataset, n, arms, fits=len(seeds))


def _row(blanket, reference, regime, dataset, n, interval, p_holm, replicates, failed=0, fits=0) -> list:
    return [
        blanket,
        reference,
        regime,
        dataset,
        int(n),
        interval.mean,
        interval.low,
        interval.high,
        interval.pvalue,
        p_holm,
        verdict(interval, p_holm),
        int(replicates),
        int(failed),
        int(fits),
    ]
