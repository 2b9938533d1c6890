"""LightningDataModule over the autoencoder corpus; the labelled splits ride along for later stages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from typing_extensions import override

from latentgraph.data.alphabet import tokenize_numpy
from latentgraph.data.augment import crop_residues, substitute_residues
from latentgraph.data.prepare import PreparedData, prepare_data


class TokenDataset(Dataset):
    """Token rows held as one compact ``uint8`` array; items are ``LongTensor[max_len + 2]``."""

    def __init__(self, sequences: list[str], max_len: int):
        self.tokens = tokenize_numpy(sequences, max_len)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.tokens[index].astype(np.int64))


def _collate(rows: list[torch.Tensor]) -> torch.Tensor:
    batch = torch.stack(rows)
    width = int((batch != 0).sum(dim=1).max())  # trim trailing pad columns: shorter GRU unrolls
    return batch[:, :width]


class _AugmentingCollate:
    """Collate, then crop and mutate (training batches only; see :mod:`latentgraph.data.augment`)."""

    def __init__(self, *, crop: float, substitution: float):
        self.crop, self.substitution = crop, substitution

    def __call__(self, rows: list[torch.Tensor]) -> torch.Tensor:
        return substitute_residues(crop_residues(_collate(rows), self.crop), self.substitution)


class PeptideDataModule(pl.LightningDataModule):
    """Prepares the data once (``setup``) and serves the autoencoder corpus.

    Args:
        data_config: the ``data`` config node's keys (``**cfg.data``).
        prepared: already prepared data (skips reading the sources).
    """

    def __init__(self, *, prepared: PreparedData | None = None, **data_config: Any) -> None:
        super().__init__()
        self.data_config = data_config
        self.max_len = int(data_config["max_len"])
        self.batch_size = int(data_config.get("batch_size", 128))
        self.num_workers = int(data_config.get("num_workers", 0))
        self.augment = _AugmentingCollate(crop=float(data_config.get("augment_crop", 0.0)),
                                          substitution=float(data_config.get("augment_substitution", 0.0)))
        self.prepared = prepared
        self._train: TokenDataset | None = None
        self._val: TokenDataset | None = None

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.prepared is None:
            self.prepared = prepare_data(**self.data_config)
        if self._train is None:
            self._train = TokenDataset(self.prepared.corpus_train, self.max_len)
            self._val = TokenDataset(self.prepared.corpus_val, self.max_len)

    def _loader(self, dataset: Dataset, *, train: bool) -> DataLoader:
        augmenting = train and (self.augment.crop > 0 or self.augment.substitution > 0)
        collate = self.augment if augmenting else _collate
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=train, num_workers=self.num_workers,
                          collate_fn=collate, persistent_workers=self.num_workers > 0)

    @override
    def train_dataloader(self) -> DataLoader:
        return self._loader(self._train, train=True)

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader(self._val, train=False)
