"""A sequence classifier used as a pre-trained attribute oracle (docs/method.md §2).

Embedding → parallel 1-D convolutions (several kernel widths) → max-pool over positions →
dropout → one logit. Its attribute value is the predicted probability of the positive class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from latentgraph.binary_module import BinaryClassifierModule
from latentgraph.data.alphabet import PAD, get_alphabet
from latentgraph.data.records import require_valid


class SequenceClassifier(BinaryClassifierModule):
    """Binary sequence classifier on token tensors ``[n, L]`` (peptides, or molecule strings).

    Args:
        name: the attribute this classifier predicts (e.g. ``"amp"``).
        max_len: longest sequence accepted by :meth:`predict_proba`.
        embedding_dim: token embedding size.
        channels: filters per kernel width.
        kernel_sizes: comma-separated convolution widths (a string, so hparams stay primitive).
        dropout: dropout before the output layer.
        lr, weight_decay: AdamW settings.
        alphabet: the alphabet's name (``peptides``, ``selfies``, ``smiles``).
    """

    def __init__(
        self,
        *,
        name: str = "amp",
        max_len: int = 50,
        embedding_dim: int = 32,
        channels: int = 64,
        kernel_sizes: str = "3,5,7",
        dropout: float = 0.3,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        alphabet: str = "peptides",
    ) -> None:
        super().__init__()
        self.alphabet = get_alphabet(alphabet)
        self.save_hyperparameters(logger=False)
        widths = [int(k) for k in kernel_sizes.split(",")]
        self.embedding = nn.Embedding(self.alphabet.size, embedding_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, channels, k, padding=k // 2) for k in widths)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels * len(widths), 1)

    @override
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[n]``.

        Columns after every row's end are cut first: they hold padding, whose embedding is zero
        like the convolutions' own zero padding, so no logit changes, and the perturbation's
        decodes (``max_len + 2`` wide, most far shorter) are scored in about half the time.
        """
        if len(tokens):
            tokens = tokens[:, : int((tokens != PAD).sum(dim=1).max())]
        x = self.embedding(tokens.long()).transpose(1, 2)  # [n, e, L]
        mask = (tokens != PAD)[:, None, :]
        pooled = [conv(x).masked_fill(~mask, -1e4).amax(dim=2) for conv in self.convs]
        return self.out(self.dropout(F.relu(torch.cat(pooled, dim=1)))).squeeze(1)

    @torch.no_grad()
    def predict_proba(self, sequences: list[str], batch_size: int = 4096) -> torch.Tensor:
        """Probability of the positive class for each sequence, ``[n]`` float32.

        Raises:
            DataError: a sequence that is empty, too long or non-canonical (named by index).
        """
        require_valid(sequences, self.hparams.max_len, what=f"scored by {self.hparams.name!r}", alphabet=self.alphabet)
        tokens = self.alphabet.tokenize(sequences, self.hparams.max_len)
        return self.proba_from_tokens(tokens, batch_size=batch_size)

    @torch.no_grad()
    def proba_from_tokens(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """As :meth:`predict_proba` on already validated token rows ``[n, L]`` (any width)."""
        was_training = self.training
        self.eval()
        tokens = tokens.to(self.device)
        out = (
            torch.cat([torch.sigmoid(self(tokens[i : i + batch_size])) for i in range(0, len(tokens), batch_size)])
            if len(tokens)
            else torch.empty(0)
        )
        self.train(was_training)
        return out.float().cpu()
