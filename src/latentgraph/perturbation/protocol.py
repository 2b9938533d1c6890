"""What the perturbation engine needs from an autoencoder and from attributes.

Both are structural (``typing.Protocol``): a user's own pre-trained model or plain function
qualifies without subclassing anything from this project.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Autoencoder(Protocol):
    """A generative autoencoder over sequences.

    The project's :class:`~latentgraph.models.wae.SequenceWAE` satisfies it directly.
    """

    latent_dim: int

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes ``[n, d]`` from the prior."""
        ...

    def encode(self, sequences: list[str]) -> torch.Tensor:
        """Codes ``[n, d]`` of sequences (deterministic: the posterior mean or point code)."""
        ...

    def decode(self, z: torch.Tensor) -> list[str]:
        """Sequences decoded from codes ``[n, d]``, deterministically for the engine's results to be."""
        ...


@runtime_checkable
class Attributes(Protocol):
    """Named attributes: ``attributes(sequences) -> Tensor[n, m]``, columns in ``names`` order.

    A NaN row marks a sequence the attributes could not score (e.g. an invalid decode); the
    engine counts such rows and leaves them out of every effect.
    """

    names: list[str]

    def __call__(self, sequences: list[str]) -> torch.Tensor:
        ...
