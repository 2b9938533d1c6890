"""Speed of the limited regime's per-subsample work: DirectLiNGAM's causal order, GES, and the crossed bootstrap.

1. ``lingam.DirectLiNGAM().fit`` against :func:`latentgraph.predictors.feature_sets.lingam_adjacency`
   (the same causal order and adjacency, the search as array operations), on data of the limited
   regime's shapes: ``n`` rows of 13 attributes plus a label. The two agree on every draw (checked
   here as well as in the tests).
2. causal-learn's ``ges`` against :func:`latentgraph.predictors.greedy_equivalence.ges` (the same
   CPDAG, checked on every draw), on standardised Gaussian data of the same shapes.
3. The crossed bootstrap's weighted AUROC: the pairwise (matrix product) path against the rank path,
   on 50 replicates of the default ID test split's size, and on a 6-fit per-seed arm against
   ``all`` (the default run's, with the shipped members). ``--bootstrap-only`` times only these.

Alternatives run interleaved in one process; the medians and their ratio are printed.

    .venv/bin/python scripts/bench_selection.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def lingam_data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 14)) ** 3
    x[:, 1] += 0.8 * x[:, 0]
    x[:, 5] += 0.5 * x[:, 1] - 0.7 * x[:, 2]
    x[:, 13] = (x[:, 5] + 0.3 * rng.standard_normal(n) > 0).astype(float)  # the label
    return x


def ges_data(n: int, seed: int) -> np.ndarray:
    """13 standardised linear-Gaussian attributes (a random DAG) and a binary label, as the GES baseline sees them."""
    rng = np.random.default_rng(seed)
    weights = np.triu(rng.standard_normal((14, 14)) * (rng.random((14, 14)) < 0.3), 1)
    x = np.zeros((n, 14))
    for j in range(14):
        x[:, j] = x @ weights[:, j] + rng.standard_normal(n)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x[:, 13] = (x[:, 13] > 0).astype(float)
    return x


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bootstrap-only", action="store_true", help="only the crossed-bootstrap timings")
    args = parser.parse_args()
    if args.bootstrap_only:
        bootstrap(args.repeats)
        return
    warnings.filterwarnings("ignore")
    from lingam import DirectLiNGAM

    from latentgraph.predictors.feature_sets import lingam_adjacency, lingam_causal_order

    for n in (16, 128):
        batch = [lingam_data(n, seed) for seed in range(20)]
        for x in batch:
            model = DirectLiNGAM().fit(x)
            assert list(model.causal_order_) == lingam_causal_order(x)
            assert np.allclose(model.adjacency_matrix_, lingam_adjacency(x))
        package, ours = [], []
        for _ in range(args.repeats):
            package.append(timed(lambda rows: [DirectLiNGAM().fit(x) for x in rows], batch) / len(batch))
            ours.append(timed(lambda rows: [lingam_adjacency(x) for x in rows], batch) / len(batch))
        a, b = statistics.median(package), statistics.median(ours)
        print(f"DirectLiNGAM, n={n} x 14: lingam {a * 1e3:.1f} ms, ours {b * 1e3:.1f} ms, ratio {a / b:.1f}x")

    from causallearn.search.ScoreBased.GES import ges as causal_learn_ges

    from latentgraph.predictors.greedy_equivalence import ges

    for n in (16, 128):
        batch = [ges_data(n, seed) for seed in range(20)]
        for x in batch:
            assert np.array_equal(causal_learn_ges(x)["G"].graph, ges(x))
        package, ours = [], []
        for _ in range(args.repeats):
            package.append(timed(lambda rows: [causal_learn_ges(x) for x in rows], batch) / len(batch))
            ours.append(timed(lambda rows: [ges(x) for x in rows], batch) / len(batch))
        a, b = statistics.median(package), statistics.median(ours)
        print(f"GES, n={n} x 14: causal-learn {a * 1e3:.1f} ms, ours {b * 1e3:.1f} ms, ratio {a / b:.1f}x")

    bootstrap(args.repeats)


def bootstrap(repeats: int) -> None:
    from latentgraph.predictors import intervals

    """The crossed bootstrap on the 830-row ID split: one arm of 50 replicates, and a 6-fit
    per-seed arm (the default run's, with the shipped members) against ``all``."""
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 415)
    cases = {"50": (50,), "6 x 50": (6, 50), "6 x 50, 3 distinct blankets": (3, 50)}
    for name, shape in cases.items():
        scores = rng.standard_normal((*shape, len(labels))) + labels
        if name.endswith("distinct blankets"):  # fits whose blankets agree have the same scores
            scores = scores[[0, 1, 0, 2, 1, 0]]
        reference = rng.standard_normal((50, len(labels))) + labels if len(scores.shape) == 3 else None
        pairwise, ranked = [], []
        for _ in range(repeats):
            pairwise.append(timed(intervals.crossed_interval, scores, labels, reference))
            limit, intervals.PAIRWISE_LIMIT = intervals.PAIRWISE_LIMIT, 0
            ranked.append(timed(intervals.crossed_interval, scores, labels, reference))
            intervals.PAIRWISE_LIMIT = limit
        a, b = statistics.median(ranked), statistics.median(pairwise)
        what = f"{name} x {len(labels)}" + (" (per-seed arm - all)" if reference is not None else "")
        print(f"crossed bootstrap, 1000 draws of {what}: rank path {a:.2f} s, pairwise {b:.2f} s, ratio {a / b:.1f}x")


if __name__ == "__main__":
    main()
