"""Descriptor benchmark: latentgraph's vectorised descriptors vs modlamp vs the `peptides` package.

All three compute the same twelve-descriptor panel on the same sequences, drawn with replacement
from the four modlamp sets (so lengths are realistic). modlamp runs
``GlobalDescriptor.calculate_all`` plus ``PeptideDescriptor('eisenberg')`` global and moment;
``peptides`` runs its matching per-sequence methods. Ours includes tokenization. All run in this
process on the same machine. Ours takes about 0.1 s, where scheduler noise matters, so it is
timed ``--repeats`` times and the median is used (the minimum is printed too); the reference
libraries take seconds and are timed once. The ratios are printed.

    python scripts/bench_descriptors.py --n 100000          # needs: pip install peptides
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from modlamp.datasets import load_ACPvsRandom, load_ACPvsTM, load_AMPvsTM, load_AMPvsUniProt

from latentgraph.attributes.descriptors import compute_descriptors
from latentgraph.data.alphabet import tokenize_numpy


def sample_sequences(n: int, seed: int = 0) -> list[str]:
    pool = sorted(
        {s for load in (load_AMPvsUniProt, load_AMPvsTM, load_ACPvsTM, load_ACPvsRandom) for s in load().sequences}
    )
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.integers(0, len(pool), size=n)]


def ours(sequences: list[str]) -> None:
    compute_descriptors(torch.from_numpy(tokenize_numpy(sequences, max(map(len, sequences)))))


def with_modlamp(sequences: list[str]) -> None:
    from modlamp.descriptors import GlobalDescriptor, PeptideDescriptor

    GlobalDescriptor(sequences).calculate_all(ph=7.0, amide=False)
    eisenberg = PeptideDescriptor(sequences, "eisenberg")
    eisenberg.calculate_global()
    eisenberg.calculate_moment()


def with_peptides(sequences: list[str]) -> None:
    import peptides

    for s in sequences:
        p = peptides.Peptide(s)
        len(s)
        p.molecular_weight()
        p.charge(pH=7.0)
        p.isoelectric_point()
        p.hydrophobicity("Eisenberg")
        p.hydrophobic_moment(angle=100, window=len(s))
        p.aliphatic_index()
        p.instability_index()
        p.boman()
        # aromaticity, hydrophobic ratio and charge density from counts, as a user would
        counts = p.counts()
        (counts["F"] + counts["W"] + counts["Y"]) / len(s)


def timed(function, sequences) -> float:
    start = time.perf_counter()
    function(sequences)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5, help="timings of ours; the median is used")
    parser.add_argument("--skip-peptides", action="store_true")
    args = parser.parse_args()
    sequences = sample_sequences(args.n)
    ours(sequences[:100])  # warm-up (table transfer, allocator)
    ours_times = sorted(timed(ours, sequences) for _ in range(args.repeats))
    t_ours = ours_times[len(ours_times) // 2]
    t_modlamp = timed(with_modlamp, sequences)
    print(f"machine: {platform.machine()} threads={torch.get_num_threads()} torch={torch.__version__}")
    print(f"sequences: {args.n}")
    print(f"latentgraph (vectorised): {t_ours:8.3f} s   (median of {args.repeats}; min {ours_times[0]:.3f} s)")
    print(f"modlamp:                  {t_modlamp:8.2f} s   ratio {t_modlamp / t_ours:7.1f}x")
    if not args.skip_peptides:
        t_peptides = timed(with_peptides, sequences)
        print(f"peptides:                 {t_peptides:8.2f} s   ratio {t_peptides / t_ours:7.1f}x")


if __name__ == "__main__":
    main()
