"""Benchmark: each OOD sequence's nearest identity to the ID training split and the corpus, on the
default run's data (AMPvsTM against AMPvsUniProt's training split and the ACP corpus).

- ``one by one``: one query at a time, each alignment's identity read in a Python loop (the
  data stage's code until 2026-12-08, kept here as the reference);
- ``ours``: :func:`latentgraph.data.identity.nearest_identity` (the results read into arrays,
  queries aligned in parallel threads).

Both are run in turn, ``--repeats`` times, and must give the same identities.

    python scripts/bench_identity.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pyopal
from scoring_matrices import ScoringMatrix

from latentgraph.config.schema import DataConfig
from latentgraph.data import prepare_data
from latentgraph.data.identity import GAP_EXTEND, GAP_OPEN, nearest_identity


def one_by_one(queries: list[str], references: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The reference: every alignment's identity read one at a time."""
    union = list(dict.fromkeys(s for sequences in references.values() for s in sequences))
    index = {s: i for i, s in enumerate(union)}
    aligner = pyopal.Aligner(ScoringMatrix.from_name("BLOSUM62"), gap_open=GAP_OPEN, gap_extend=GAP_EXTEND)
    database = pyopal.Database(union)
    lengths = np.array([len(r) for r in union])
    best = {name: np.zeros(len(queries)) for name in references}
    for i, query in enumerate(queries):
        row = np.zeros(len(union))
        for result in aligner.align(query, database, mode="full", algorithm="sw"):
            shorter = max(1, min(len(query), lengths[result.target_index]))
            row[result.target_index] = result.alignment.count("M") / shorter
        for name, sequences in references.items():
            best[name][i] = row[[index[s] for s in sequences]].max()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = prepare_data(DataConfig())
    queries = [s for frame in data.ood.values() for s in frame["sequence"]]
    references = {"id_train": list(data.id_train["sequence"]), "corpus": [*data.corpus_train, *data.corpus_val]}
    print(
        f"{len(queries)} OOD queries against {len(references['id_train'])} ID training and "
        f"{len(references['corpus'])} corpus sequences; {platform.processor() or platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} usable cores"
    )
    times: dict[str, list[float]] = {"one by one": [], "ours": []}
    for _ in range(args.repeats):
        for name, function in (("one by one", one_by_one), ("ours", nearest_identity)):
            started = time.perf_counter()
            found = function(queries, references)
            times[name].append(time.perf_counter() - started)
            if name == "one by one":
                expected = found
            else:
                assert all(np.array_equal(found[k], expected[k]) for k in references), "the identities differ"
    for name, seconds in times.items():
        print(f"{name}: best {min(seconds):.2f} s, median {np.median(seconds):.2f} s")
    print(f"ratio (best): {min(times['one by one']) / min(times['ours']):.2f}x; identities equal")


if __name__ == "__main__":
    main()
