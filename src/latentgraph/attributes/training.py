"""Fit an attribute classifier on labelled sequences, and score it.

The oracle stage (:func:`latentgraph.pipeline.oracles.train_or_load_classifier`) caches what
:func:`fit_classifier` fits, under a key of everything the weights depend on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.functional.classification import binary_auroc

from latentgraph.attributes.classifier import SequenceClassifier
from latentgraph.checkpoint_io import AtomicCheckpointIO
from latentgraph.data.alphabet import Alphabet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierRecipe:
    """What a trained classifier's weights depend on besides its rows: the fit's settings, and
    ``data``, the settings that drew its training rows (sources, split; the oracle stage's)."""

    name: str  # the label column, and the attribute's name
    max_len: int
    epochs: int
    batch_size: int
    seed: int
    model_kwargs: dict
    alphabet: str = "peptides"
    data: dict = field(default_factory=dict)


@dataclass
class TrainedClassifier:
    model: SequenceClassifier
    checkpoint: Path
    reused: bool
    key: str


def _loader(
    frame: pd.DataFrame, label: str, max_len: int, alphabet: Alphabet, *, shuffle: bool, batch_size: int
) -> DataLoader:
    tokens = alphabet.tokenize(list(frame["sequence"]), max_len)
    dataset = TensorDataset(tokens, torch.tensor(frame[label].to_numpy()).long())
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def fit_classifier(recipe: ClassifierRecipe, train: pd.DataFrame, val: pd.DataFrame) -> SequenceClassifier:
    """A classifier of ``recipe.name`` fitted on ``train`` (validated on ``val``), still attached to its trainer."""
    name, max_len = recipe.name, recipe.max_len
    pl.seed_everything(recipe.seed, workers=True)
    model = SequenceClassifier(name=name, max_len=max_len, alphabet=recipe.alphabet, **recipe.model_kwargs)
    trainer = pl.Trainer(
        max_epochs=recipe.epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        plugins=[AtomicCheckpointIO()],
    )
    trainer.fit(
        model,
        _loader(train, name, max_len, model.alphabet, shuffle=True, batch_size=recipe.batch_size),
        _loader(val, name, max_len, model.alphabet, shuffle=False, batch_size=1024),
    )
    return model


def classifier_auroc(model: SequenceClassifier, frame: pd.DataFrame, label: str) -> float:
    """AUROC of ``model`` on a labelled frame (NaN when it holds a single class)."""
    labels = torch.tensor(frame[label].to_numpy()).long()
    if labels.unique().numel() < 2:
        return float("nan")
    return float(binary_auroc(model.predict_proba(list(frame["sequence"])), labels))
