"""The positive control's oracle (docs/method.md §8): a known function of planted descriptors.

``planted_score = σ(Σ_i w_i · (d_i − c_i) / s_i)`` over the member descriptors ``d_i``, with centres
``c_i`` and scales ``s_i`` taken from the ID training sequences (no label is read). The control's
labels are drawn from the same logit, so this column is the target's oracle and the members are
the target's true blanket.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from latentgraph.attributes.descriptors import compute_descriptors

PLANTED_COLUMN = "planted_score"


class PlantedBlock:
    """The planted function as an attribute column, an oracle for ``target``."""

    def __init__(
        self,
        members: Sequence[str],
        weights: Sequence[float],
        centre: Sequence[float],
        scale: Sequence[float],
        target: str,
    ):
        if not (len(members) == len(weights) == len(centre) == len(scale)) or not members:
            raise ValueError("the planted function needs one weight, centre and scale per member")
        self.members = list(members)
        self.weights = torch.tensor(list(weights), dtype=torch.float32)
        self.centre = torch.tensor(list(centre), dtype=torch.float32)
        self.scale = torch.tensor(list(scale), dtype=torch.float32).clamp(min=1e-8)
        self.names = [PLANTED_COLUMN]
        self.oracle_for = {PLANTED_COLUMN: target}

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[n]``: the planted function's logit of each tokenised sequence."""
        values = compute_descriptors(tokens, self.members).to(torch.float32)
        return ((values - self.centre) / self.scale) @ self.weights

    def __call__(self, batch) -> torch.Tensor:
        return torch.sigmoid(self.logits(batch.tokens))[:, None]
