"""What the perturbation engine needs from an autoencoder and from attributes.

Both are structural (``typing.Protocol``): a user's own pre-trained model or plain function
qualifies without subclassing anything from this project.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

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

    def __call__(self, sequences: list[str]) -> torch.Tensor: ...


class Shard(Protocol):
    """This process's share of a perturbation experiment split across ``world_size`` processes.

    Every process builds the same base codes; process ``rank`` decodes and scores its contiguous
    ``1/world_size`` of the perturbed codes, and ``gather`` brings each process's object to rank zero (a list in
    rank order there, ``None`` elsewhere). See :class:`latentgraph.perturbation.callback.DistributedShard`.
    """

    rank: int
    world_size: int

    def gather(self, obj: Any) -> list[Any] | None: ...
