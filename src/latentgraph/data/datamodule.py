"""LightningDataModule over the autoencoder corpus; the labelled splits ride along for later stages."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from typing_extensions import override

from latentgraph.config.schema import DataConfig
from latentgraph.config.validation import with_changes
from latentgraph.data.alphabet import PEPTIDES, Alphabet, get_alphabet
from latentgraph.data.augment import crop_residues, substitute_residues
from latentgraph.data.prepare import PreparedData, prepare_data
from latentgraph.seeding import AUGMENT_STREAM, BUCKET_STREAM, SHUFFLE_STREAM, derived_seed

BUCKET_POOL_BATCHES = 32  # batches per length-sorted pool (data.bucket_by_length)


class TokenDataset(Dataset):
    """Token rows held as one compact ``uint8`` array; items are ``LongTensor[max_len + 2]``."""

    def __init__(self, sequences: list[str], max_len: int, alphabet: Alphabet = PEPTIDES):
        self.tokens = alphabet.tokenize_numpy(sequences, max_len)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.tokens[index].astype(np.int64))


def _collate(rows: list[torch.Tensor]) -> torch.Tensor:
    batch = torch.stack(rows)
    width = int((batch != 0).sum(dim=1).max())  # trim trailing pad columns: shorter GRU unrolls
    return batch[:, :width]


class FitPosition(NamedTuple):
    """Where a fit stands when an epoch's batches are drawn."""

    epoch: int  # epochs finished
    batches_done: int  # batches of this epoch already trained on (> 0 only when a fit resumes mid-epoch)
    rank: int = 0
    world_size: int = 1


class ResumableShuffle(Sampler[int]):
    """Shuffles the training corpus with an order that depends only on ``(seed, epoch)``.

    A fit resumed mid-epoch therefore sees the rest of the very order it was killed in: the
    sampler skips the ``batches_done`` batches already trained on. Under DDP each rank takes every
    ``world_size``-th index of the epoch's order, the order padded by wrapping to an equal share
    per rank (Lightning's distributed sampler is switched off: ``trainer.use_distributed_sampler``).

    Args:
        n: corpus size.
        seed: the run's seed.
        batch_size: per-rank batch size (to turn batches done into indices to skip).
        position: called when an epoch's iteration starts; returns the :class:`FitPosition`.
        lengths: each sequence's token length, to bucket batches by length (``None``: plain shuffle).

    With ``lengths`` (length-bucketed batches), each rank's share is cut into pools of
    :data:`BUCKET_POOL_BATCHES` batches; a pool is sorted by length and cut into batches, and the
    order of all the epoch's batches is shuffled. A batch then holds sequences of similar length,
    so the collate trims most padding columns, while every batch still comes from a random pool.
    The order still depends only on ``(seed, epoch, rank)``.
    """

    def __init__(
        self,
        n: int,
        *,
        seed: int,
        batch_size: int,
        position: Callable[[], FitPosition],
        lengths: np.ndarray | None = None,
    ):
        self.n, self.seed, self.batch_size, self.position = n, seed, batch_size, position
        self.lengths = None if lengths is None else torch.as_tensor(lengths)

    def __len__(self) -> int:
        return math.ceil(self.n / self.position().world_size)

    def __iter__(self) -> Iterator[int]:
        epoch, done, rank, world = self.position()
        generator = torch.Generator().manual_seed(derived_seed(self.seed, SHUFFLE_STREAM, epoch))
        order = torch.randperm(self.n, generator=generator)
        share = math.ceil(self.n / world)
        if share * world > self.n:  # wrap so every rank gets the same number of batches
            order = torch.cat([order, order[: share * world - self.n]])
        mine = order[rank::world]
        if self.lengths is not None:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, BUCKET_STREAM, epoch, rank))
            mine = self._bucketed(mine, generator)
        return iter(mine[done * self.batch_size :].tolist())

    def _bucketed(self, order: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``order`` regrouped into batches of similar length, in a shuffled batch order."""
        pool = self.batch_size * BUCKET_POOL_BATCHES
        batches = []
        for start in range(0, len(order), pool):
            part = order[start : start + pool]
            part = part[torch.argsort(self.lengths[part], stable=True)]
            batches += list(part.split(self.batch_size))
        shuffled = torch.randperm(len(batches), generator=generator).tolist()
        return torch.cat([batches[i] for i in shuffled])


class SequenceDataModule(pl.LightningDataModule):
    """Prepares the data once (``setup``) and serves the autoencoder corpus.

    Args:
        settings: the run's ``data`` config (its defaults when omitted); ``changes`` replace some of
            its values by name, as :func:`~latentgraph.data.prepare_data` takes them.
        prepared: already prepared data (skips reading the sources).
        seed: the run's seed; the training order and augmentation of each step derive from it
            (see :mod:`latentgraph.seeding`), so a resumed fit sees the batches the uninterrupted
            one saw.
    """

    def __init__(
        self,
        settings: DataConfig | None = None,
        /,
        *,
        prepared: PreparedData | None = None,
        seed: int = 0,
        **changes: Any,
    ) -> None:
        super().__init__()
        self.seed = int(seed)
        self.settings = with_changes(settings or DataConfig(), **changes)  # prepare_data's, when prepared is None
        self.alphabet = get_alphabet(self.settings.alphabet)
        self.max_len = int(self.settings.max_len)
        self.batch_size = int(self.settings.batch_size)
        self.num_workers = int(self.settings.num_workers)
        self.augment_crop = float(self.settings.augment_crop)
        self.augment_substitution = float(self.settings.augment_substitution)
        self.bucket_by_length = bool(self.settings.bucket_by_length)
        self.prepared = prepared
        self._train: TokenDataset | None = None
        self._val: TokenDataset | None = None

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.prepared is None:
            self.prepared = prepare_data(self.settings)
        if self._train is None:
            self._train = TokenDataset(self.prepared.corpus_train, self.max_len, self.alphabet)
            self._val = TokenDataset(self.prepared.corpus_val, self.max_len, self.alphabet)

    def fit_position(self) -> FitPosition:
        """Epoch, batches of it already trained, rank and world size, from the attached trainer."""
        trainer = self.trainer
        if trainer is None:
            return FitPosition(0, 0)
        loop = trainer.fit_loop
        return FitPosition(
            loop.epoch_progress.current.processed,
            loop.epoch_loop.batch_progress.current.processed,
            trainer.global_rank,
            trainer.world_size,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        lengths = (self._train.tokens != 0).sum(axis=1) if self.bucket_by_length else None
        sampler = ResumableShuffle(
            len(self._train), seed=self.seed, batch_size=self.batch_size, position=self.fit_position, lengths=lengths
        )
        return DataLoader(
            self._train,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=_collate,
            persistent_workers=self.num_workers > 0,
        )

    @override
    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self._val,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=_collate,
            persistent_workers=self.num_workers > 0,
        )

    @override
    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> torch.Tensor:
        """Crop and mutate training batches (see :mod:`latentgraph.data.augment`), drawn from the step's own seed."""
        trainer = self.trainer
        if trainer is None or not trainer.training or (self.augment_crop <= 0 and self.augment_substitution <= 0):
            return batch
        generator = torch.Generator().manual_seed(
            derived_seed(self.seed, AUGMENT_STREAM, trainer.global_step, trainer.global_rank)
        )
        device = batch.device
        batch = crop_residues(batch.cpu(), self.augment_crop, generator)
        return substitute_residues(batch, self.augment_substitution, generator, self.alphabet.size).to(device)


PeptideDataModule = SequenceDataModule  # the name before the molecule domain; kept for old code
