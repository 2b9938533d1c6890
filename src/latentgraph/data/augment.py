"""Training-time corpus augmentation (this project's choice, not the paper's)."""

from __future__ import annotations

import torch

from latentgraph.data.alphabet import EOS, N_SPECIAL, PAD, VOCAB_SIZE


def substitute_residues(
    tokens: torch.Tensor, rate: float, generator: torch.Generator | None = None, vocab_size: int = VOCAB_SIZE
) -> torch.Tensor:
    """Replace each residue token by a uniformly drawn residue with probability ``rate``.

    ``vocab_size`` is the alphabet's (:attr:`~latentgraph.data.alphabet.Alphabet.size`); the
    default is the peptide alphabet's.

    Special tokens (``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``) are never touched, so lengths are
    kept. The autoencoder then sees point mutants of the corpus as extra training sequences,
    which narrows the gap between training and held-out reconstruction on small corpora.
    Returns a new tensor; ``rate=0`` returns the input unchanged.
    """
    if rate <= 0:
        return tokens
    residue = tokens >= N_SPECIAL
    hit = (torch.rand(tokens.shape, generator=generator) < rate) & residue
    replacement = torch.randint(N_SPECIAL, vocab_size, tokens.shape, generator=generator, dtype=tokens.dtype)
    return torch.where(hit, replacement, tokens)


def crop_residues(tokens: torch.Tensor, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``rate`` per row, keep a random contiguous window of its residues.

    Rows are ``<bos>`` residues ``<eos>`` ``<pad>``…; a cropped row keeps between half and all of
    its residues (at least one) from a uniformly drawn start, re-terminated with ``<eos>``. The
    autoencoder then sees each motif at several positions. ``rate=0`` returns the input.
    """
    if rate <= 0:
        return tokens
    n, width = tokens.shape
    lengths = (tokens >= N_SPECIAL).sum(dim=1)
    crop = (torch.rand(n, generator=generator) < rate) & (lengths > 1)
    low = (lengths + 1) // 2
    new_len = low + (torch.rand(n, generator=generator) * (lengths - low + 1).float()).long()
    new_len = torch.where(crop, new_len.clamp(min=1), lengths)
    start = (torch.rand(n, generator=generator) * (lengths - new_len + 1).float()).long()
    start = torch.where(crop, start, torch.zeros_like(start))
    columns = torch.arange(width)[None, :]
    source = (columns + start[:, None]).clamp(max=width - 1)  # column c (c >= 1) reads residue c + start
    out = torch.gather(tokens, 1, source)
    out[:, 0] = tokens[:, 0]
    eos_at = new_len + 1
    out[columns == eos_at[:, None]] = EOS
    out[columns > eos_at[:, None]] = PAD
    return out
