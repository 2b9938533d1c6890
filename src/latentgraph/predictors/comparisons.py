"""Every feature set's AUROC with its interval, and the comparisons fixed in advance (docs/method.md §6b).

The comparisons are the blanket (and the consensus blanket) against ``all`` and against each
baseline of the plan, in the limited and supervised regimes, on the ID test split and every OOD
set, at every ``n``. No comparison is chosen after seeing a result: there is no "best baseline"
picked on the set it is scored on. Each is a paired AUROC difference (the two arms trained on the
same label subsample or seed, scored on the same rows) with its crossed-bootstrap interval; the
p-values of one blanket's comparisons at one regime, dataset and ``n`` are Holm-adjusted as a
family, and the adjusted test gives each its word: better, worse, or no detectable difference.
A comparison whose two arms had the same features in every replicate is not made (its difference
would be zero by construction) and is listed with the reason instead.

Pure: the results of :func:`~latentgraph.predictors.experiment.run_regimes` in, tables out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latentgraph.predictors.experiment import ID_VAL, FeaturePlan, RegimeResults
from latentgraph.predictors.intervals import N_BOOT, CrossedBootstrap, holm, verdict

COMPARED_REGIMES = ("limited", "supervised")
SUMMARY_COLUMNS = ["feature_set", "regime", "dataset", "n", "auroc_mean", "auroc_low", "auroc_high", "seeds"]
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
]
PER_SEED = "per-seed blanket"


@dataclass
class Analysis:
    """``summary``: each set's mean AUROC and interval; ``comparisons``: the fixed comparisons;
    ``not_compared``: the comparisons left out, with why."""

    summary: pd.DataFrame
    comparisons: pd.DataFrame
    not_compared: list[str] = field(default_factory=list)


def analyse(
    results: RegimeResults, plan: FeaturePlan | None = None, *, n_boot: int = N_BOOT, seed: int = 0
) -> Analysis:
    """Intervals for every set and the plan's comparisons (none without a plan), one set of
    bootstrap draws per regime × dataset × ``n`` shared by every arm there (so differences stay paired)."""
    plan = plan or FeaturePlan(choices={})
    summary, comparisons, not_compared = [], [], []
    groups = list(dict.fromkeys((regime, dataset, n) for (_, regime, dataset, n) in results.scores.scores))
    for regime, dataset, n in groups:
        arms = {
            name: values
            for (name, r, d, size), values in results.scores.scores.items()
            if (r, d, size) == (regime, dataset, n)
        }
        replicates = next(iter(arms.values())).shape[0]
        compared = regime in COMPARED_REGIMES and dataset != ID_VAL
        seeds = len(plan.seed_sets) if compared and all(s in arms for s in plan.seed_sets.values()) else 0
        draws = CrossedBootstrap(results.scores.labels[dataset], replicates, seeds=seeds, n_boot=n_boot, seed=seed)
        for name, values in arms.items():
            interval = draws.interval(values, names=(name, ""))
            summary.append([name, regime, dataset, n, interval.mean, interval.low, interval.high, replicates])
        if not compared:
            continue
        for blanket, references in plan.comparisons.items():
            if blanket not in arms:
                continue
            family = []
            for reference in references:
                if reference not in arms:
                    continue
                if results.features.get((blanket, regime, n)) == results.features.get((reference, regime, n)):
                    not_compared.append(
                        f"{blanket} − {reference} ({regime}, {dataset}, n={n}): the same features in every "
                        "replicate, so the difference is zero by construction"
                    )
                    continue
                family.append((reference, draws.interval(arms[blanket], arms[reference], names=(blanket, reference))))
            adjusted = holm([interval.pvalue for _, interval in family])
            for (reference, interval), p_holm in zip(family, adjusted):
                comparisons.append(_row(blanket, reference, regime, dataset, n, interval, p_holm, replicates))
        if seeds and "all" in arms:
            stacked = np.stack([arms[name] for name in plan.seed_sets.values()])
            interval = draws.interval(stacked, arms["all"], names=(PER_SEED, "all"))
            label = f"{PER_SEED} ({seeds} seeds)"
            comparisons.append(_row(label, "all", regime, dataset, n, interval, interval.pvalue, replicates))
    return Analysis(
        pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS),
        not_compared,
    )


def _row(blanket, reference, regime, dataset, n, interval, p_holm, replicates) -> list:
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
    ]
