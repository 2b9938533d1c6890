"""Training-time corpus augmentation (this project's choice, not the paper's)."""

from __future__ import annotations

import torch

from latentgraph.data.alphabet import N_SPECIAL, VOCAB_SIZE


def substitute_residues(tokens: torch.Tensor, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each residue token by a uniformly drawn residue with probability ``rate``.

    Special tokens (``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``) are never touched, so lengths are
    kept. The autoencoder then sees point mutants of the corpus as extra training sequences,
    which narrows the gap between training and held-out reconstruction on small corpora.
    Returns a new tensor; ``rate=0`` returns the input unchanged.
    """
    if rate <= 0:
        return tokens
    residue = tokens >= N_SPECIAL
    hit = (torch.rand(tokens.shape, generator=generator) < rate) & residue
    replacement = torch.randint(N_SPECIAL, VOCAB_SIZE, tokens.shape, generator=generator, dtype=tokens.dtype)
    return torch.where(hit, replacement, tokens)
