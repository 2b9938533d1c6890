"""Coverage of the project's intervals on synthetics with a known truth (docs/method.md §6b).

Two simulations, both from latentgraph.predictors.synthetic:

- **within one fit**: test rows x | y ~ N(y·μ, I₂), each replicate's predictor scores w·x with
  w = (1, θ), θ drawn per replicate, so every true mean AUROC is an exact expectation. It checks the
  crossed bootstrap (an AUROC, a paired difference) beside the old subsample-only bootstrap;
- **across fits**: each fit draws its own blanket *members* from attribute frequencies, one
  attribute is spurious out of distribution, and the fit-to-fit variance dominates, as in the real
  study. It checks the few-fit t interval (per-seed blanket − all, and − a baseline size-matched to
  each fit's blanket) at 5 and 10 fits, beside a percentile bootstrap over the fits.

    python scripts/study/interval_coverage.py [--experiments 1000] [--only within|across]
"""

from __future__ import annotations

import argparse

import numpy as np

from latentgraph.predictors.intervals import CrossedBootstrap, crossed_interval, observed_auroc
from latentgraph.predictors.synthetic import draw, draw_study, fit_truths, truths


def subsample_only(values: np.ndarray, rng: np.random.Generator, n_boot: int = 1000) -> tuple[float, float]:
    """The old interval: a percentile bootstrap over the replicates' AUROCs alone."""
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def percentile_over_fits(per_fit: np.ndarray, shared: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """The interval the project used before: the fits resampled with replacement, crossed with the
    rows' and subsamples' draws (``shared``, centred), percentiles of the means."""
    picks = rng.integers(0, len(per_fit), size=(len(shared), len(per_fit)))
    means = per_fit[picks].mean(axis=1) + (shared - shared.mean())
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def within_one_fit(experiments: int, rng: np.random.Generator) -> None:
    kinds = {"auroc": truths().auroc, "paired difference": truths().difference}
    crossed, old = dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0)
    for e in range(experiments):
        x = draw(rng)
        intervals = {
            "auroc": crossed_interval(x.a, x.labels, seed=e),
            "paired difference": crossed_interval(x.a, x.labels, x.b, seed=e),
        }
        auroc_a, auroc_b = observed_auroc(x.a, x.labels), observed_auroc(x.b, x.labels)
        for kind, values in (("auroc", auroc_a), ("paired difference", auroc_a - auroc_b)):
            crossed[kind] += intervals[kind].low <= kinds[kind] <= intervals[kind].high
            low, high = subsample_only(values, rng)
            old[kind] += low <= kinds[kind] <= high
    print(f"within one fit: {experiments} experiments, 80 test rows, 20 replicates, nominal 0.95")
    for kind in kinds:
        print(f"  {kind:<22} crossed {crossed[kind] / experiments:.3f}   subsample-only {old[kind] / experiments:.3f}")


def across_fits(experiments: int, fits: int, rng: np.random.Generator) -> None:
    known = {"all": fit_truths().versus_all, "size-matched": fit_truths().versus_matched}
    t_cover, pct_cover, share = dict.fromkeys(known, 0), dict.fromkeys(known, 0), []
    for e in range(experiments):
        study = draw_study(rng, fits=fits)
        draws = CrossedBootstrap(study.labels, study.per_fit.shape[1], seed=e)
        for name, other in (("all", study.everything), ("size-matched", study.matched)):
            interval = draws.across_fits(study.per_fit, other, names=("blanket", name))
            t_cover[name] += interval.low <= known[name] <= interval.high
            per_fit = observed_auroc(study.per_fit, study.labels).mean(axis=1) - np.atleast_2d(
                observed_auroc(other, study.labels)
            ).mean(axis=-1)
            shared = draws.means(study.per_fit, "blanket")[1] - draws.means(other, name)[1]
            low, high = percentile_over_fits(per_fit, shared, rng)
            pct_cover[name] += low <= known[name] <= high
            if name == "all":
                share.append(per_fit.var(ddof=1) / fits / (per_fit.var(ddof=1) / fits + shared.var()))
    print(
        f"across {fits} fits: {experiments} studies, 120 OOD rows, 20 subsamples; "
        f"fits' share of the variance {np.median(share):.2f}"
    )
    for name in known:
        t, pct = t_cover[name] / experiments, pct_cover[name] / experiments
        print(f"  blanket − {name:<13} few-fit t {t:.3f}   percentile over fits {pct:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--only", choices=("within", "across"), default=None, help="run one simulation only")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.only != "across":
        within_one_fit(args.experiments, rng)
    if args.only != "within":
        for fits in (5, 10):
            across_fits(args.experiments, fits, rng)


if __name__ == "__main__":
    main()
