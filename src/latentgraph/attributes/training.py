"""Train an attribute classifier once, cache its checkpoint, reload it on later runs.

The cache key hashes everything the trained weights depend on (the training data's source and
split settings, the model and training settings, the seed), so a run whose settings match
reuses the checkpoint and any change retrains. Checkpoints are written to a temporary file and
renamed, so a killed run never leaves a half-written one to be trusted, and parallel jobs that
need the same classifier train it once (a lock per key, as the stage cache's).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.functional.classification import binary_auroc

from latentgraph.attributes.classifier import SequenceClassifier
from latentgraph.checkpoint_io import AtomicCheckpointIO
from latentgraph.data.alphabet import Alphabet
from latentgraph.stage_cache import held_lock, stage_key

log = logging.getLogger(__name__)


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


def train_or_load_classifier(
    *,
    name: str,
    train: pd.DataFrame,
    val: pd.DataFrame,
    settings: dict,
    cache_dir: str | Path,
    max_len: int,
    epochs: int,
    batch_size: int,
    seed: int,
    model_kwargs: dict,
    alphabet: str = "peptides",
    lock_timeout_s: float | None = None,
) -> TrainedClassifier:
    """Return the classifier for ``name``, trained on ``train`` (label column ``name``) or reloaded.

    Args:
        settings: what the training data depends on (sources, split settings); hashed into the
            cache key together with the model and training arguments.
        lock_timeout_s: how long to wait for another job training the same classifier
            (``paths.lock_timeout_s``; ``None``: without a limit).
    """
    key = stage_key(
        {
            "name": name,
            "data": settings,
            "max_len": max_len,
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "model": model_kwargs,
            # the peptide alphabet adds nothing, so keys from before molecule alphabets still hold
            **({"alphabet": alphabet} if alphabet != "peptides" else {}),
        }
    )
    checkpoint = Path(cache_dir) / "classifiers" / f"{name}-{key}.ckpt"
    # parallel jobs that need the same classifier train it once: the others wait, then reload it
    with held_lock(checkpoint.with_suffix(".lock"), f"classifier {name!r}, key {key}", lock_timeout_s):
        if checkpoint.is_file():
            log.info("classifier %r: reused from cache key %s (%s)", name, key, checkpoint)
            model = SequenceClassifier.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True)
            return TrainedClassifier(model, checkpoint, True, key)
        log.info("classifier %r: training (cache key %s)", name, key)
        model = _fit_classifier(name, train, val, max_len, epochs, batch_size, seed, model_kwargs, alphabet)
        model.trainer.save_checkpoint(checkpoint, weights_only=True)  # whole or not at all (AtomicCheckpointIO)
    return TrainedClassifier(model, checkpoint, False, key)


def _fit_classifier(
    name: str,
    train: pd.DataFrame,
    val: pd.DataFrame,
    max_len: int,
    epochs: int,
    batch_size: int,
    seed: int,
    model_kwargs: dict,
    alphabet: str,
) -> SequenceClassifier:
    """A classifier of ``name`` fitted on ``train`` (validated on ``val``), still attached to its trainer."""
    pl.seed_everything(seed, workers=True)
    model = SequenceClassifier(name=name, max_len=max_len, alphabet=alphabet, **model_kwargs)
    trainer = pl.Trainer(
        max_epochs=epochs,
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
        _loader(train, name, max_len, model.alphabet, shuffle=True, batch_size=batch_size),
        _loader(val, name, max_len, model.alphabet, shuffle=False, batch_size=1024),
    )
    return model


def classifier_auroc(model: SequenceClassifier, frame: pd.DataFrame, label: str) -> float:
    """AUROC of ``model`` on a labelled frame (NaN when it holds a single class)."""
    labels = torch.tensor(frame[label].to_numpy()).long()
    if labels.unique().numel() < 2:
        return float("nan")
    return float(binary_auroc(model.predict_proba(list(frame["sequence"])), labels))
