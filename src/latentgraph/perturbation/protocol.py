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


class AutoencoderCheckError(ValueError):
    """What an object lacks or gets wrong as an :class:`Autoencoder` (``problems``, one line each)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def check_autoencoder(model: Any, n: int = 4, seed: int = 0) -> None:
    """Check that ``model`` works as an :class:`Autoencoder`, as the perturbation engine will use it.

    In the spirit of scikit-learn's ``check_estimator``: it names every member ``model`` lacks, then
    calls them on ``n`` prior codes and checks what comes back: codes ``[n, latent_dim]`` of finite
    numbers, ``n`` strings from ``decode``, the same strings from a second ``decode`` of the same
    codes, and the same codes from a second ``encode``. Raises :class:`AutoencoderCheckError`
    listing every problem found.
    """
    dim = getattr(model, "latent_dim", None)
    problems = [] if isinstance(dim, int) and dim > 0 else [f"latent_dim must be a positive int, not {dim!r}"]
    methods = ("sample_prior", "encode", "decode")
    problems += [f"lacks the method {name}()" for name in methods if not callable(getattr(model, name, None))]
    if problems:
        raise AutoencoderCheckError(problems)

    def call(what: str, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the user's method failed: say which and how
            raise AutoencoderCheckError([f"{what} raised {type(error).__name__}: {error}"]) from None

    codes = call(
        f"sample_prior({n}, generator=...)", model.sample_prior, n, generator=torch.Generator().manual_seed(seed)
    )
    problems += _code_problems("sample_prior", codes, n, dim)
    if problems:
        raise AutoencoderCheckError(problems)
    sequences = call("decode(codes)", model.decode, codes)
    if not (isinstance(sequences, list) and len(sequences) == n and all(isinstance(s, str) for s in sequences)):
        raise AutoencoderCheckError(
            [f"decode(codes [{n}, {dim}]) must return a list of {n} str, not {sequences!r:.80}"]
        )
    if call("decode(codes)", model.decode, codes.clone()) != sequences:
        problems.append("decode is not deterministic: the same codes decoded twice gave other sequences")
    encoded = call("encode(sequences)", model.encode, sequences)
    problems += _code_problems("encode", encoded, n, dim)
    if not problems and not torch.equal(call("encode(sequences)", model.encode, sequences), encoded):
        problems.append("encode is not deterministic: the same sequences encoded twice gave other codes")
    if problems:
        raise AutoencoderCheckError(problems)


def _code_problems(method: str, codes: Any, n: int, dim: int) -> list[str]:
    if not isinstance(codes, torch.Tensor):
        return [f"{method} must return a torch.Tensor, not {type(codes).__name__}"]
    if tuple(codes.shape) != (n, dim):
        return [f"{method} returned shape {tuple(codes.shape)}; expected ({n}, {dim}) (n, latent_dim)"]
    if not torch.isfinite(codes).all():
        return [f"{method} returned codes that are not all finite"]
    return []
