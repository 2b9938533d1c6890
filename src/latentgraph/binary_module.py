"""The Lightning plumbing shared by the project's binary classifiers.

Both the attribute classifiers (sequences → property) and the predictors (attributes → target)
are binary: one logit, BCE loss, torchmetrics AUROC, AUPRC and accuracy on validation and test,
AdamW. A subclass defines ``forward`` (inputs → logits ``[n]``) and saves ``lr`` and
``weight_decay`` among its hyperparameters.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryAveragePrecision
from typing_extensions import override


def binary_metrics(prefix: str) -> MetricCollection:
    return MetricCollection(
        {"auroc": BinaryAUROC(), "auprc": BinaryAveragePrecision(), "acc": BinaryAccuracy()}, prefix=prefix
    )


class BinaryClassifierModule(pl.LightningModule):
    """Shared steps: ``train/loss``, ``val/*`` and ``test/*`` metrics, AdamW.

    The metric collections are made in :meth:`setup`, which Lightning calls before any of its
    loops (and before it moves the module to its device): a module trained or used outside a
    Trainer never pays for them (about 1.3 ms a module, and the predictor stage fits thousands
    of predictors in plain loops).
    """

    val_metrics: MetricCollection
    test_metrics: MetricCollection

    @override
    def setup(self, stage: str) -> None:
        if not hasattr(self, "val_metrics"):
            self.val_metrics = binary_metrics("val/")
            self.test_metrics = binary_metrics("test/")

    def _common_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        inputs, labels = batch
        logits = self(inputs)
        loss = F.binary_cross_entropy_with_logits(logits, labels.float())
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, batch_size=len(labels))
        if stage != "train":
            metrics = self.val_metrics if stage == "val" else self.test_metrics
            metrics.update(torch.sigmoid(logits), labels.long())
            self.log_dict(metrics, on_epoch=True, batch_size=len(labels))
        return loss

    @override
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "train")

    @override
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._common_step(batch, "val")

    @override
    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._common_step(batch, "test")

    @override
    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
