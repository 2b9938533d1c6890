"""How many autoencoders does the consensus need? Pool finished ensembles and measure (issue 14).

Each argument is a finished ``latentgraph ensemble.size=R`` run (or a ``stage=consensus`` run)
with the same target and candidates; their fits are pooled (``consensus/stability.json`` holds
each fit's blanket). For every ensemble size ``r`` with at least ``2r`` pooled fits, it draws two
disjoint ensembles of ``r`` at random many times and reports

* **observed**: the mean Jaccard index of their two consensus blankets, with the 5th and 95th
  percentiles over the draws (the pooled fits stand for the population of autoencoders);
* **estimate**: the mean of what one ensemble of ``r`` predicts by resampling its own fits
  (``expected_consensus_jaccard``, what a single run reports as ``expected_reproducibility``),

so a user can see both how agreement grows with the ensemble and whether the one-run estimate
can be trusted on their data. No label is used, nothing is refitted. Pool only runs scored by the
same classifiers (``attributes.classifier.seed`` fixed): it warns when they differ.

    python scripts/study/ensemble_size.py RUN [RUN ...] --out ensemble-size.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from finished_runs import classifier_keys, consensus_stability  # noqa: E402

from latentgraph.graph import disjoint_ensemble_agreement, expected_consensus_jaccard  # noqa: E402
from latentgraph.report.figures import save_png  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--sizes", nargs="+", type=int, help="ensemble sizes (default: 2 … half the pooled fits)")
    parser.add_argument("--splits", type=int, default=300, help="random pairs of disjoint ensembles per size")
    parser.add_argument("--threshold", type=float, help="consensus threshold (default: the runs')")
    parser.add_argument("--out", type=Path, help="write the agreement-by-size picture here")
    args = parser.parse_args()
    runs = [consensus_stability(run) for run in args.runs]
    first = runs[0]
    for path, run in zip(args.runs[1:], runs[1:]):
        if run["target"] != first["target"] or set(run["blanket_frequency"]) != set(first["blanket_frequency"]):
            raise SystemExit(f"{path}: its target or candidates differ from {args.runs[0]}'s; pool like with like")
    keys = {str(path): classifier_keys(path) for path in args.runs}
    if len({repr(k) for k in keys.values() if k is not None}) > 1:
        print("warning: the runs' classifiers differ, so the pooled blankets are of different oracles")
    blankets = [blanket for run in runs for blanket in run["blankets"]]
    candidates = sorted(first["blanket_frequency"])
    threshold = args.threshold if args.threshold is not None else first["threshold"]
    sizes = args.sizes or list(range(2, len(blankets) // 2 + 1))
    too_big = [r for r in sizes if 2 * r > len(blankets)]
    if too_big:
        raise SystemExit(f"--sizes {too_big}: two disjoint ensembles need twice as many fits; {len(blankets)} pooled")
    print(f"target {first['target']}; {len(blankets)} fits pooled from {len(runs)} runs; threshold {threshold}")
    print("size  observed [5%, 95%]     estimate from one ensemble")
    rows = []
    rng = np.random.default_rng(0)
    for size in sizes:
        observed = disjoint_ensemble_agreement(blankets, candidates, threshold, size, n_splits=args.splits)
        one = [
            [blankets[i] for i in rng.choice(len(blankets), size, replace=False)] for _ in range(min(args.splits, 100))
        ]
        estimate = float(
            np.mean(
                [
                    expected_consensus_jaccard(b, candidates, threshold, n_resamples=1000, seed=k)
                    for k, b in enumerate(one)
                ]
            )
        )
        low, high = np.percentile(observed, [5, 95])
        rows.append((size, observed.mean(), low, high, estimate))
        complement = "  (the two are complements)" if 2 * size == len(blankets) else ""
        print(f"{size:4d}  {observed.mean():.2f} [{low:.2f}, {high:.2f}]     {estimate:.2f}{complement}")
    if args.out:
        size, mean, low, high, estimate = (np.array(column) for column in zip(*rows))
        figure, axis = plt.subplots(figsize=(6, 3.6))
        axis.fill_between(size, low, high, alpha=0.2, label="observed, 5–95 %")
        axis.plot(size, mean, marker="o", label="observed mean")
        axis.plot(size, estimate, marker="s", linestyle="--", label="estimate from one ensemble")
        axis.axhline(0.8, color="grey", linewidth=0.8, linestyle=":")
        axis.set_ylim(0, 1.05)
        axis.set_xlabel("fits per ensemble")
        axis.set_ylabel("consensus Jaccard of two ensembles")
        axis.set_title(f"Blanket of {first['target']}: {len(blankets)} pooled fits")
        axis.legend(fontsize=8)
        save_png(figure, args.out)
        plt.close(figure)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
