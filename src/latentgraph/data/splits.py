"""Deduplication and leak-free splits (docs/method.md §1). Pure functions on data frames.

Frames have a ``sequence`` column plus float label columns (NaN = no label).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Deduplicated:
    frame: pd.DataFrame  # one row per sequence
    n_duplicates: int  # rows removed as plain repeats
    conflicts: pd.DataFrame  # every row of a sequence whose copies carry different labels (all dropped)


def deduplicate(frame: pd.DataFrame) -> Deduplicated:
    """Keep one row per sequence; drop sequences whose copies disagree on a label.

    Copies agree when every label column holds one distinct non-missing value among them (a
    missing label never conflicts). A conflicting sequence is removed entirely, since its label
    is unknown, and every one of its rows is returned in ``conflicts`` for the report.
    """
    label_columns = [c for c in frame.columns if c != "sequence"]
    if frame.empty:
        return Deduplicated(frame.copy(), 0, frame.iloc[0:0].copy())
    grouped = frame.groupby("sequence", sort=False)
    conflicting = pd.Series(False, index=frame["sequence"].unique())
    for column in label_columns:
        conflicting |= grouped[column].nunique(dropna=True) > 1
    bad = set(conflicting[conflicting].index)
    conflicts = frame[frame["sequence"].isin(bad)]
    kept = frame[~frame["sequence"].isin(bad)]
    # first non-missing value per label column, in file order
    merged = (
        kept.groupby("sequence", sort=False).first().reset_index()
        if label_columns
        else kept.drop_duplicates("sequence")
    )
    n_duplicates = len(kept) - len(merged)
    return Deduplicated(merged.reset_index(drop=True), n_duplicates, conflicts.reset_index(drop=True))


def split_labelled(
    frame: pd.DataFrame, *, target: str, fractions: tuple[float, float, float], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stratified train/val/test split by the ``target`` label, fixed by ``seed``.

    Rows without a target label are left out (they cannot be evaluated). Each class is shuffled
    with ``numpy.random.default_rng(seed)`` and cut by ``fractions`` (rounded down for val and
    test, the remainder to train).
    """
    if target not in frame.columns:
        raise KeyError(target)
    labelled = frame[frame[target].notna()]
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for _, rows in labelled.groupby(target, sort=True):
        index = rng.permutation(rows.index.to_numpy())
        n_val = int(len(index) * fractions[1])
        n_test = int(len(index) * fractions[2])
        parts[1].extend(index[:n_val])
        parts[2].extend(index[n_val : n_val + n_test])
        parts[0].extend(index[n_val + n_test :])
    return tuple(labelled.loc[sorted(p)].reset_index(drop=True) for p in parts)  # type: ignore[return-value]


def remove_sequences(frame: pd.DataFrame, exclude: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """Drop rows whose sequence is in ``exclude``; return the frame and how many were removed."""
    exclude = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
    mask = frame["sequence"].isin(exclude)
    return frame[~mask].reset_index(drop=True), int(mask.sum())


def holdout_split(sequences: list[str], *, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Random (train, held-out) split of an unlabelled corpus, fixed by ``seed``."""
    order = np.random.default_rng(seed).permutation(len(sequences))
    n_held = max(1, int(round(len(sequences) * fraction))) if fraction > 0 and len(sequences) > 1 else 0
    held = [sequences[i] for i in np.sort(order[:n_held])]
    train = [sequences[i] for i in np.sort(order[n_held:])]
    return train, held
