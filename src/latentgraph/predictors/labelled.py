"""The predictors' inputs: attribute matrices with labels, per split and OOD set, and the label
subsamples of the few-shot and limited regimes (docs/method.md §6)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

log = logging.getLogger(__name__)

ID_TEST = "id_test"
ID_VAL = "id_val"  # the supervised predictor on the ID validation split: for model and setting choice, never OOD


@dataclass
class Labelled:
    """Attribute values ``x [n, m]`` (columns: :attr:`PredictorData.names`) and binary labels ``y [n]``."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def columns(self, index: list[int]) -> Labelled:
        return Labelled(self.x[:, index], self.y)

    def rows(self, index: np.ndarray | torch.Tensor) -> Labelled:
        index = torch.as_tensor(index, dtype=torch.long)
        return Labelled(self.x[index], self.y[index])


@dataclass
class PredictorData:
    names: list[str]
    train: Labelled
    val: Labelled
    test: Labelled
    ood: dict[str, Labelled]
    prior: Labelled | None = None  # prior samples labelled by the target oracle (unsupervised regime)
    notes: dict[str, str] = field(default_factory=dict)


def stratified_counts(positives: int, negatives: int, n: int) -> tuple[int, int]:
    """How many positives and negatives :func:`stratified_sample` draws for ``n`` rows of a set
    with these class counts: in proportion, at least one of each when ``n ≥ 2``."""
    n_pos = int(round(n * positives / (positives + negatives)))
    n_pos = min(max(n_pos, 1 if n >= 2 else 0), positives, n - (1 if n >= 2 else 0))
    return n_pos, min(n - n_pos, negatives)


def stratified_sample(y: torch.Tensor, n: int, seed: int) -> np.ndarray:
    """``n`` row indices with both classes in proportion (at least one of each when ``n ≥ 2``)."""
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos, n_neg = stratified_counts(len(positives), len(negatives), n)
    return np.concatenate([rng.choice(positives, n_pos, replace=False), rng.choice(negatives, n_neg, replace=False)])


def fewshot_sizes(labels: np.ndarray, ks: Sequence[int]) -> list[int]:
    """The few-shot ``k`` an OOD set with these labels can score: its ``k`` stratified shots must
    leave both classes in the rest, on which the AUROC is computed."""
    positives = int((np.asarray(labels) == 1).sum())
    negatives = len(labels) - positives
    if min(positives, negatives) == 0:
        return []
    kept = []
    for k in ks:
        n_pos, n_neg = stratified_counts(positives, negatives, k)
        if n_pos + n_neg == k and positives - n_pos >= 1 and negatives - n_neg >= 1:
            kept.append(k)
    return kept


def limited_sizes(train_rows: int, ns: Sequence[int]) -> list[int]:
    """The limited regime's ``n`` that subsample the ID training rows (smaller than all of them)."""
    return [n for n in ns if n < train_rows]
