"""A sequence classifier used as a pre-trained attribute oracle (DESIGN §3).

Embedding → parallel 1-D convolutions (several kernel widths) → max-pool over positions →
dropout → one logit. Its attribute value is the predicted probability of the positive class.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryAveragePrecision
from typing_extensions import override

from latentgraph.data.alphabet import PAD, VOCAB_SIZE, tokenize
from latentgraph.data.records import require_valid


def _metrics(prefix: str) -> MetricCollection:
    return MetricCollection({"auroc": BinaryAUROC(), "auprc": BinaryAveragePrecision(), "acc": BinaryAccuracy()},
                            prefix=prefix)


class SequenceClassifier(pl.LightningModule):
    """Binary peptide classifier on token tensors ``[n, L]``.

    Args:
        name: the attribute this classifier predicts (e.g. ``"amp"``).
        max_len: longest sequence accepted by :meth:`predict_proba`.
        embedding_dim: token embedding size.
        channels: filters per kernel width.
        kernel_sizes: comma-separated convolution widths (a string, so hparams stay primitive).
        dropout: dropout before the output layer.
        lr, weight_decay: AdamW settings.
    """

    def __init__(self, *, name: str = "amp", max_len: int = 50, embedding_dim: int = 32, channels: int = 64,
                 kernel_sizes: str = "3,5,7", dropout: float = 0.3, lr: float = 3e-3, weight_decay: float = 1e-4) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        widths = [int(k) for k in kernel_sizes.split(",")]
        self.embedding = nn.Embedding(VOCAB_SIZE, embedding_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, channels, k, padding=k // 2) for k in widths)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels * len(widths), 1)
        self.val_metrics = _metrics("val/")
        self.test_metrics = _metrics("test/")

    @override
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[n]``."""
        x = self.embedding(tokens.long()).transpose(1, 2)  # [n, e, L]
        mask = (tokens != PAD)[:, None, :]
        pooled = [conv(x).masked_fill(~mask, -1e4).amax(dim=2) for conv in self.convs]
        return self.out(self.dropout(F.relu(torch.cat(pooled, dim=1)))).squeeze(1)

    def _common_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        tokens, labels = batch
        logits = self(tokens)
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

    @torch.no_grad()
    def predict_proba(self, sequences: list[str], batch_size: int = 4096) -> torch.Tensor:
        """Probability of the positive class for each sequence, ``[n]`` float32.

        Raises:
            DataError: a sequence that is empty, too long or non-canonical (named by index).
        """
        require_valid(sequences, self.hparams.max_len, what=f"scored by {self.hparams.name!r}")
        return self.proba_from_tokens(tokenize(sequences, self.hparams.max_len), batch_size=batch_size)

    @torch.no_grad()
    def proba_from_tokens(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """As :meth:`predict_proba` on already validated token rows ``[n, L]`` (any width)."""
        was_training = self.training
        self.eval()
        tokens = tokens.to(self.device)
        out = torch.cat([torch.sigmoid(self(tokens[i:i + batch_size])) for i in range(0, len(tokens), batch_size)]) \
            if len(tokens) else torch.empty(0)
        self.train(was_training)
        return out.float().cpu()
