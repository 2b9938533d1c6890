"""Seed each training step from (seed, step, rank): resumed fits draw what uninterrupted ones drew."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from typing_extensions import override

from latentgraph.seeding import MODEL_STREAM, derived_seed


class StepSeeding(pl.Callback):
    """Before every training step, seed the model's random draws from ``(seed, global_step, rank)``.

    Models with a ``reseed(seed)`` method (the WAE: word dropout, code noise, MMD features) seed
    all their generators there; others get ``torch.manual_seed``. Together with the datamodule's
    per-epoch order and per-step augmentation seeds, a fit resumed from ``last.ckpt`` continues
    exactly as the uninterrupted fit would have (tested to 1e-6 on CPU).
    """

    def __init__(self, seed: int):
        self.seed = int(seed)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        seed = derived_seed(self.seed, MODEL_STREAM, trainer.global_step, trainer.global_rank)
        getattr(pl_module, "reseed", torch.manual_seed)(seed)
