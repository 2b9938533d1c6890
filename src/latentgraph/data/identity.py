"""How close each out-of-distribution sequence is to what the run trained on (docs/method.md §1).

An OOD set deduplicated by equality can still hold near-copies of ID or corpus sequences (a peptide
one residue longer, a point variant), which leak as much as copies do. For every OOD sequence this
module finds its nearest neighbour's identity in a reference set:

- **peptides**: the fraction of identical residues in the best local alignment (Smith–Waterman,
  BLOSUM62, gap open 10, gap extend 1), over the length of the shorter sequence, as CD-HIT counts
  identity. Aligned with Opal's SIMD aligner (``pyopal``), one query against all references at
  once, queries in parallel threads;
- **molecules**: the Tanimoto similarity of Morgan fingerprints (radius 2, 2,048 bits; RDKit).

``data.max_identity`` then drops every OOD sequence whose nearest neighbour is above the bound.
Pure functions of sequences.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

GAP_OPEN, GAP_EXTEND = 10, 1
MORGAN_RADIUS, MORGAN_BITS = 2, 2048
QUANTILES = (0.5, 0.9, 0.99)
PEPTIDE_MEASURE = (
    "identity: identical residues of the best local alignment (BLOSUM62, gaps 10/1) over the shorter length"
)
MOLECULE_MEASURE = "Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits)"
IDENTITY_BLOCK = 256  # queries aligned before their rows are handed on
BOUNDS = (0.5, 0.8, 0.9, 1.0)  # the counts reported: OOD sequences at or above each identity


def nearest_identity(
    queries: list[str], references: dict[str, list[str]], *, molecules: bool = False
) -> dict[str, np.ndarray]:
    """For each named reference set, ``[Q]``: each query's highest identity to any of its sequences
    (0 where the set is empty). Every query is aligned once against the union of the sets.

    Args:
        queries: the OOD sequences (SMILES when ``molecules``).
        references: name → sequences, for example the ID training split and the autoencoder corpus.
        molecules: Tanimoto similarity of Morgan fingerprints instead of sequence identity.
    """
    union = list(dict.fromkeys(s for sequences in references.values() for s in sequences))
    index = {s: i for i, s in enumerate(union)}
    members = {name: np.array([index[s] for s in dict.fromkeys(seqs)], dtype=int) for name, seqs in references.items()}
    best = {name: np.zeros(len(queries)) for name in references}
    if not union:
        return best
    rows = _tanimoto_rows(queries, union) if molecules else _identity_rows(queries, union)
    for i, row in enumerate(rows):
        for name, where in members.items():
            if len(where):
                best[name][i] = float(row[where].max())
    return best


def _identity_rows(queries: list[str], references: list[str], workers: int | None = None):
    """Each query's identity to every reference, ``[T]`` per query (CD-HIT's: identical residues of
    the best local alignment over the shorter length). Queries are aligned ``workers`` at a time
    (threads, each with its own aligner: Opal leaves the GIL for the alignment; default: the usable
    cores), in blocks, so memory stays one block of rows."""
    import pyopal

    database = pyopal.Database(references)
    lengths = np.array([len(r) for r in references])
    workers = workers or len(os.sched_getaffinity(0))
    aligners = threading.local()

    def row(query: str) -> np.ndarray:
        if not hasattr(aligners, "aligner"):
            aligners.aligner = _aligner()
        results = aligners.aligner.align(query, database, mode="full", algorithm="sw")
        target = np.fromiter((result.target_index for result in results), dtype=np.int64, count=len(results))
        matches = np.fromiter((result.alignment.count("M") for result in results), dtype=float, count=len(results))
        identity = np.zeros(len(references))
        identity[target] = matches / np.maximum(1, np.minimum(len(query), lengths[target]))
        return identity

    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(queries), IDENTITY_BLOCK):
            yield from pool.map(row, queries[start : start + IDENTITY_BLOCK])


def _aligner():
    import pyopal
    from scoring_matrices import ScoringMatrix

    return pyopal.Aligner(ScoringMatrix.from_name("BLOSUM62"), gap_open=GAP_OPEN, gap_extend=GAP_EXTEND)


def _fingerprints(smiles: list[str]) -> list:
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)
    return [generator.GetFingerprint(m) if m is not None else None for m in map(Chem.MolFromSmiles, smiles)]


def _tanimoto_rows(queries: list[str], references: list[str]):
    """Each query's Tanimoto similarity to every reference (0 for a SMILES RDKit cannot read)."""
    from rdkit import DataStructs

    targets = _fingerprints(references)
    readable = np.array([t is not None for t in targets])
    kept = [t for t in targets if t is not None]
    for fingerprint in _fingerprints(queries):
        row = np.zeros(len(references))
        if fingerprint is not None and kept:
            row[readable] = DataStructs.BulkTanimotoSimilarity(fingerprint, kept)
        yield row


def distribution(values: np.ndarray) -> dict:
    """The summary of nearest-neighbour identities that ``data/summary.json`` and the report show."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": round(float(values.mean()), 4),
        **{f"q{int(q * 100)}": round(float(np.quantile(values, q)), 4) for q in QUANTILES},
        "max": round(float(values.max()), 4),
        "at_least": {str(b): int((values >= b - 1e-9).sum()) for b in BOUNDS},
    }
