"""A hand-built autoencoder with a known latent→attribute structure, for the graph tests.

Sequence layout (26 residues): four blocks of five positions, then a six-position noise block.
Latent ``z_j`` (j < 4) sets how many of block j's five positions hold residue ``BLOCK_RESIDUES[j]``
(the rest are ``A``): ``count = clamp(round(z_j + 2.5), 0, 5)``. The noise block holds ``G`` or
``S`` at each position by a hash of the whole rounded code, so *every* latent, null ones
included, reshuffles it at random. Latents ``z4`` and ``z5`` control nothing else.
"""

from __future__ import annotations

import torch

BLOCK_RESIDUES = "KEWL"
LATENT_DIM = 6
NOISE_POSITIONS = 6


class ToyAutoencoder:
    latent_dim = LATENT_DIM

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def encode(self, sequences: list[str]) -> torch.Tensor:
        counts = torch.tensor(
            [[s[5 * j : 5 * j + 5].count(r) for j, r in enumerate(BLOCK_RESIDUES)] for s in sequences],
            dtype=torch.float32,
        )
        return torch.cat([counts - 2.5, torch.zeros(len(sequences), 2)], dim=1)

    def decode(self, z: torch.Tensor) -> list[str]:
        counts = torch.clamp(torch.round(z[:, :4] + 2.5), 0, 5).long().tolist()
        keys = torch.round(z * 8).long().tolist()
        out = []
        for row_counts, key in zip(counts, keys):
            blocks = "".join(r * c + "A" * (5 - c) for r, c in zip(BLOCK_RESIDUES, row_counts))
            h = hash(tuple(key))
            noise = "".join("G" if (h >> (7 * p + 3)) & 1 else "S" for p in range(NOISE_POSITIONS))
            out.append(blocks + noise)
        return out


class ToyAttributes:
    """Residue counts and sums of counts, with a tie (``twice_K``) and a noise-only attribute."""

    names = ["count_K", "twice_K", "count_E", "K_plus_E", "count_W", "count_L", "W_plus_L", "count_G"]

    def __call__(self, sequences: list[str]) -> torch.Tensor:
        rows = []
        for s in sequences:
            k, e, w, l_, g = (s.count(r) for r in "KEWLG")
            rows.append([k, 2 * k, e, k + e, w, l_, w + l_, g])
        return torch.tensor(rows, dtype=torch.float32)


TRUE_EDGES = {
    ("z0", "count_K"),
    ("z0", "twice_K"),
    ("z0", "K_plus_E"),
    ("z1", "count_E"),
    ("z1", "K_plus_E"),
    ("z2", "count_W"),
    ("z2", "W_plus_L"),
    ("z3", "count_L"),
    ("z3", "W_plus_L"),
}
TRUE_DAG_EDGES = {
    ("count_K", "K_plus_E"),
    ("twice_K", "K_plus_E"),
    ("count_E", "K_plus_E"),
    ("count_W", "W_plus_L"),
    ("count_L", "W_plus_L"),
    ("count_K", "twice_K"),
}  # the last is the tie (undirected)
TRUE_BLANKETS = {
    "count_K": {"twice_K", "K_plus_E", "count_E"},
    "twice_K": {"count_K", "K_plus_E", "count_E"},
    "count_E": {"K_plus_E", "count_K", "twice_K"},
    "K_plus_E": {"count_K", "twice_K", "count_E"},
    "count_W": {"W_plus_L", "count_L"},
    "count_L": {"W_plus_L", "count_W"},
    "W_plus_L": {"count_W", "count_L"},
    "count_G": set(),
}


class NoisyToyAutoencoder(ToyAutoencoder):
    """The toy with a sampling decoder, standing in for one of several fits that each may err.

    Each block position independently, with probability ``noise``, holds a fair coin's choice
    between its block residue and ``A`` instead of what the code says, drawn afresh at every
    decode from the fit's own generator (seeded by ``seed``). Attribute changes then carry noise,
    so one experiment's tests sometimes admit a null edge or miss a true one; the structure is
    the toy's, so bootstrap and consensus frequencies have a known truth to recover.
    """

    def __init__(self, seed: int, noise: float = 0.2):
        self.noise = noise
        self.generator = torch.Generator().manual_seed(seed)

    def decode(self, z: torch.Tensor) -> list[str]:
        exact = super().decode(z)
        blocks = len(BLOCK_RESIDUES) * 5
        flip = torch.rand(len(exact), blocks, generator=self.generator) < self.noise
        coin = torch.rand(len(exact), blocks, generator=self.generator) < 0.5
        out = []
        for sequence, row_flip, row_coin in zip(exact, flip.tolist(), coin.tolist()):
            residues = list(sequence)
            for p in range(blocks):
                if row_flip[p]:
                    residues[p] = BLOCK_RESIDUES[p // 5] if row_coin[p] else "A"
            out.append("".join(residues))
        return out
