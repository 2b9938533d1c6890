"""Coverage of the project's intervals on a synthetic with a known truth (docs/method.md §6b).

The synthetic of latentgraph.predictors.synthetic: test rows x | y ~ N(y·μ, I₂), each replicate's predictor
scores w·x with w = (1, θ), θ drawn per replicate (and per autoencoder seed), so every true mean
AUROC is an exact expectation. For each kind of interval it draws many experiments and counts how
often the interval covers the truth, beside the old subsample-only bootstrap for comparison.

    python scripts/interval_coverage.py [--experiments 400] [--rows 80] [--replicates 20]
"""

from __future__ import annotations

import argparse

import numpy as np

from latentgraph.predictors.intervals import crossed_interval, observed_auroc
from latentgraph.predictors.synthetic import draw, truths


def subsample_only(values: np.ndarray, rng: np.random.Generator, n_boot: int = 1000) -> tuple[float, float]:
    """The old interval: a percentile bootstrap over the replicates' AUROCs alone."""
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=400)
    parser.add_argument("--rows", type=int, default=80)
    parser.add_argument("--replicates", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    kinds = ["auroc", "paired difference", "per-seed difference"]
    crossed = dict.fromkeys(kinds, 0)
    old = dict.fromkeys(kinds[:2], 0)
    known = truths()
    truth = {"auroc": known.auroc, "paired difference": known.difference, "per-seed difference": known.seed_difference}
    for e in range(args.experiments):
        x = draw(rng, rows=args.rows, replicates=args.replicates)
        y, a, b, per_seed = x.labels, x.a, x.b, x.a_per_seed
        intervals = {
            "auroc": crossed_interval(a, y, seed=e),
            "paired difference": crossed_interval(a, y, b, seed=e),
            "per-seed difference": crossed_interval(per_seed, y, b, seed=e),
        }
        for kind, interval in intervals.items():
            crossed[kind] += interval.low <= truth[kind] <= interval.high
        auroc_a, auroc_b = observed_auroc(a, y), observed_auroc(b, y)
        for kind, values in (("auroc", auroc_a), ("paired difference", auroc_a - auroc_b)):
            low, high = subsample_only(values, rng)
            old[kind] += low <= truth[kind] <= high
    print(f"{args.experiments} experiments, {args.rows} test rows, {args.replicates} replicates, nominal 0.95")
    print(f"{'interval':<22} {'crossed':>8} {'subsample-only':>15}")
    for kind in kinds:
        previous = f"{old[kind] / args.experiments:.3f}" if kind in old else "-"
        print(f"{kind:<22} {crossed[kind] / args.experiments:>8.3f} {previous:>15}")


if __name__ == "__main__":
    main()
