"""Does the consensus reproduce? Two ensemble runs on disjoint seeds, compared (issue 14).

Each argument is a finished ``latentgraph ensemble.size=R`` run (or a ``stage=consensus`` run):
its ``consensus/stability.json`` holds each fit's blanket of the target and every attribute's
frequency over the fits. This prints, for the two runs and for their union:

* each run's consensus blanket and the Jaccard index of the two consensus blankets (two empty
  consensus blankets count as agreeing, which says nothing: the output says so);
* the mean pairwise Jaccard of the per-seed blankets within each run, across the two runs only,
  and over all fits;
* the Jaccard index random blankets of the same sizes would reach, for each of these;
* whether the two runs scored their fits with the same attribute oracles (the classifiers'
  cache keys in ``metrics/classifiers.json``): with different oracles the target itself is a
  different function, so the comparison mixes oracle and autoencoder variance (fix
  ``attributes.classifier.seed`` to compare autoencoders alone);
* the consensus Jaccard each run predicts for a second ensemble by resampling its own fits
  (``expected_consensus_jaccard``), beside the one observed;
* the correlation of the two runs' blanket-frequency vectors;
* the consensus of the union at the runs' threshold;

and draws both runs' frequencies side by side (``--out``). No label is used.

    python scripts/study/compare_ensembles.py RUN_A RUN_B --out docs/figures/consensus-two-ensembles.png
"""

from __future__ import annotations

import argparse
from itertools import product
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from finished_runs import classifier_keys, consensus_stability

from latentgraph.errors import DataError
from latentgraph.graph import chance_pairwise_jaccard, expected_consensus_jaccard, mean_pairwise_jaccard
from latentgraph.graph.agreement import chance_jaccard, jaccard
from latentgraph.report.figures import save_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, type=Path)
    parser.add_argument("--out", type=Path, help="write the side-by-side frequency picture here")
    args = parser.parse_args()
    try:
        a, b = (consensus_stability(run) for run in args.runs)
    except DataError as error:
        raise SystemExit(str(error)) from None
    if a["target"] != b["target"]:
        raise SystemExit(f"the runs have different targets: {a['target']!r} and {b['target']!r}")
    overlap = set(a["seeds"] or []) & set(b["seeds"] or [])
    if overlap:
        print(f"warning: the ensembles share seeds {sorted(overlap)}; they are not disjoint")
    keys_a, keys_b = (classifier_keys(run) for run in args.runs)
    if keys_a is not None and keys_b is not None and keys_a != keys_b:
        differ = sorted(n for n in set(keys_a) | set(keys_b) if keys_a.get(n) != keys_b.get(n))
        print(
            f"warning: the runs' classifiers {differ} differ (trained at other seeds or settings), so their "
            "blankets are of different oracles; rerun one with attributes.classifier.seed set "
            "to compare autoencoders alone"
        )
    names = sorted(set(a["blanket_frequency"]) | set(b["blanket_frequency"]))
    pool = len(names)
    fa = np.array([a["blanket_frequency"].get(n, 0.0) for n in names])
    fb = np.array([b["blanket_frequency"].get(n, 0.0) for n in names])
    threshold = a["threshold"]
    pooled = (fa * a["n_graphs"] + fb * b["n_graphs"]) / (a["n_graphs"] + b["n_graphs"])
    both_empty = not a["blanket"] and not b["blanket"]
    consensus_jaccard = jaccard(a["blanket"], b["blanket"])
    print(f"target {a['target']}; seeds {a['seeds']} and {b['seeds']}; threshold {threshold}")
    print(f"consensus A: {a['blanket'] or 'empty'}")
    print(f"consensus B: {b['blanket'] or 'empty'}")
    print(
        f"Jaccard of the two consensus blankets: {consensus_jaccard:.3f}"
        + ("  (both empty: they agree on nothing)" if both_empty else "")
        + f"; random blankets of the same sizes: {chance_jaccard(len(a['blanket']), len(b['blanket']), pool):.3f}"
    )
    sizes_a, sizes_b = [len(x) for x in a["blankets"]], [len(y) for y in b["blankets"]]
    cross = np.mean([jaccard(x, y) for x, y in product(a["blankets"], b["blankets"])])
    cross_chance = np.mean([chance_jaccard(x, y, pool) for x, y in product(sizes_a, sizes_b)])
    print(
        f"mean pairwise Jaccard of per-seed blankets: A {a['mean_pairwise_jaccard']:.3f}, "
        f"B {b['mean_pairwise_jaccard']:.3f}, across A×B {cross:.3f}, "
        f"all {len(a['blankets']) + len(b['blankets'])} fits {mean_pairwise_jaccard(a['blankets'] + b['blankets']):.3f}"
    )
    print(
        f"  random blankets of the same sizes: A {chance_pairwise_jaccard(sizes_a, pool):.3f}, "
        f"B {chance_pairwise_jaccard(sizes_b, pool):.3f}, across A×B {cross_chance:.3f}, "
        f"all {chance_pairwise_jaccard(sizes_a + sizes_b, pool):.3f}"
    )
    expected_a, expected_b = (
        expected_consensus_jaccard(run["blankets"], list(run["blanket_frequency"]), threshold) for run in (a, b)
    )
    print(
        f"consensus Jaccard a second ensemble should reach, estimated from one run alone (bootstrap over "
        f"its fits): from A {expected_a:.3f}, from B {expected_b:.3f}; observed {consensus_jaccard:.3f}"
    )
    correlation = np.corrcoef(fa, fb)[0, 1] if fa.std() > 0 and fb.std() > 0 else float("nan")
    print(f"correlation of the blanket frequencies: {correlation:.3f}")
    union = [n for n, f in zip(names, pooled) if f >= threshold]
    print(f"consensus of all fits at {threshold}: {union or 'empty'}")
    print(
        "frequency (A, B, all): "
        + ", ".join(f"{n} {x:.1f}/{y:.1f}/{p:.2f}" for n, x, y, p in zip(names, fa, fb, pooled))
    )
    if args.out:
        order = np.argsort(-pooled, kind="stable")
        figure, axis = plt.subplots(figsize=(max(6, 0.55 * len(names)), 3.6))
        x = np.arange(len(names))
        axis.bar(x - 0.2, fa[order], 0.4, label=f"seeds {a['seeds']}")
        axis.bar(x + 0.2, fb[order], 0.4, label=f"seeds {b['seeds']}")
        axis.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold}")
        axis.set_xticks(x, [names[i] for i in order], rotation=45, ha="right")
        axis.set_ylim(0, 1.05)
        axis.set_ylabel(f"frequency in the blanket of {a['target']}")
        axis.set_title(f"Two disjoint ensembles: consensus Jaccard {consensus_jaccard:.2f}")
        axis.legend(fontsize=8)
        save_png(figure, args.out)
        plt.close(figure)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
