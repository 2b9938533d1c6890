"""Training curves for a fraction of Lightning's per-step logging cost.

``self.log(name, value, on_step=True, on_epoch=True)`` in ``training_step`` costs about 0.4 ms
a value a step on this project's CPUs (the WAE's four values: 1.6 ms a step, about 7 s of a
default 60-epoch fit; ``docs/benchmarks.md``). Yet the loggers only ever receive the step values
of every ``trainer.log_every_n_steps``-th step. :class:`EpochMeanTrainingCurves` hands Lightning
those steps' values only, and the epoch means (weighted by batch size, as Lightning's are) once
an epoch, under the names Lightning gives them: ``<prefix><name>_step`` and ``<prefix><name>_epoch``
(a step-only term: ``<prefix><name>``).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from typing_extensions import override

CHECKPOINT_KEY = "training_curve_sums"  # the running epoch sums, so a fit resumed mid-epoch means the same


class EpochMeanTrainingCurves(pl.LightningModule):
    """A LightningModule base whose subclasses return a training step's scalar terms from
    :meth:`training_terms` instead of logging them.

    Every term is logged per step and as an epoch mean, except those named in
    ``step_only_terms`` (a schedule's value, say): per step only. The sums are taken in the
    training step itself, so a checkpoint written after it (``last.ckpt`` every few steps) holds them.
    """

    curve_prefix = "train/"
    step_only_terms: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self._curve_sums: dict[str, torch.Tensor] = {}
        self._curve_count = 0
        self._curve_restored_epoch: int | None = None

    @override
    def on_train_epoch_start(self) -> None:
        restored, self._curve_restored_epoch = self._curve_restored_epoch, None
        if restored != self.current_epoch:  # not resuming this epoch midway: a new epoch's sums
            self._curve_sums, self._curve_count = {}, 0

    def training_terms(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        """The step's scalar terms; ``loss`` is what the optimizer minimises."""
        raise NotImplementedError

    @override
    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        terms = self.training_terms(batch, batch_idx)
        values = {name: value.detach() for name, value in terms.items()}
        batch_size = len(batch)
        for name, value in values.items():
            if name not in self.step_only_terms:
                self._curve_sums[name] = self._curve_sums.get(name, 0.0) + value.float() * batch_size
        self._curve_count += batch_size
        # before the optimizer step: Lightning's loggers write the steps whose count divides evenly
        if self.trainer.log_every_n_steps and (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            for name, value in values.items():
                suffix = "" if name in self.step_only_terms else "_step"  # Lightning's names for on_step only / both
                self.log(f"{self.curve_prefix}{name}{suffix}", value, on_step=True, on_epoch=False)
        return terms

    def epoch_means(self) -> dict[str, float]:
        """The current epoch's mean of every term so far (what ``<term>_epoch`` will log at its end)."""
        if not self._curve_count:
            return {}
        return {name: float(total) / self._curve_count for name, total in self._curve_sums.items()}

    @override
    def on_train_epoch_end(self) -> None:
        if self._curve_count:
            for name, total in self._curve_sums.items():
                self.log(f"{self.curve_prefix}{name}_epoch", total / self._curve_count, on_step=False, on_epoch=True)

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "epoch": self.current_epoch,
            "sums": dict(self._curve_sums),
            "count": self._curve_count,
        }

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get(CHECKPOINT_KEY)  # absent from one not written by a fit (a shipped member's)
        if saved is not None:
            self._curve_sums, self._curve_count = dict(saved["sums"]), int(saved["count"])
            self._curve_restored_epoch = int(saved["epoch"])
