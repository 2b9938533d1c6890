"""The batched perturbation experiment (docs/method.md §4).

For ``N`` base codes ``z_n``, every latent ``j`` and every step ``δ_k``, the engine decodes
``z_n + δ_k·s_j·e_j`` and scores the decode with the attributes. All ``N·d·K`` perturbed codes
are built, decoded and scored chunk by chunk (``batch_size`` codes at a time, the memory bound),
never one latent or one step at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import torch

from latentgraph.config.choices import Base, LatentScale
from latentgraph.config.schema import DELTAS, PerturbationConfig
from latentgraph.perturbation.edge_tests import (
    attribute_spread,
    benjamini_hochberg,
    generic_response_pvalues,
    permutations_for,
    random_directions,
    sensitivity,
    sign_flip_pvalues,
)
from latentgraph.perturbation.protocol import Attributes, Autoencoder, Shard
from latentgraph.perturbation.result import PerturbationResult
from latentgraph.progress import progress_steps, show_bars

log = logging.getLogger(__name__)


def perturbed_codes(base: torch.Tensor, rows: torch.Tensor, deltas: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Codes for flat row indices ``rows`` of the ``(n, j, k)`` grid (``n`` slowest, ``k`` fastest).

    Row ``r`` is ``base[n] + deltas[k]·scale[j]·e_j`` with ``n, j, k`` unravelled from ``r``.
    """
    d, k = base.shape[1], len(deltas)
    n_index, j_index, k_index = rows // (d * k), (rows // k) % d, rows % k
    codes = base[n_index].clone()
    codes[torch.arange(len(rows), device=base.device), j_index] += deltas[k_index] * scale[j_index]
    return codes


def _score(attributes: Attributes, sequences: list[str]) -> torch.Tensor:
    """``[len(sequences), m]``: each distinct sequence scored once.

    Perturbed decodes repeat (about 44 % of a default chunk are copies: a step along a latent
    that does not move the decode gives the base decode again), and an attribute is a function
    of the sequence, so its copies get its row (a bad decode is counted once in a drop log).
    """
    position = {sequence: i for i, sequence in enumerate(dict.fromkeys(sequences))}
    distinct = list(position)
    values = attributes(distinct)
    if not isinstance(values, torch.Tensor) or values.shape != (len(distinct), len(attributes.names)):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(
            f"attributes returned {shape}; expected a tensor of shape "
            f"({len(distinct)}, {len(attributes.names)}) (n sequences × len(names))"
        )
    values = values.detach().to(torch.float32).cpu()
    if len(distinct) == len(sequences):
        return values
    return values[torch.tensor([position[sequence] for sequence in sequences], dtype=torch.long)]


def _base_codes(
    autoencoder: Autoencoder,
    base: str,
    n_base: int,
    sequences: Sequence[str] | None,
    generator: torch.Generator,
    batch_size: int,
) -> torch.Tensor:
    if base == "prior":
        return autoencoder.sample_prior(n_base, generator=generator).detach()
    if base != "posterior":
        raise ValueError(f"base must be 'prior' or 'posterior', got {base!r}")
    if not sequences:
        raise ValueError(
            "base='posterior' (the default, as in the config) encodes n_base of the given sequences: pass "
            "sequences=[...], or base='prior' to draw the base codes from the prior"
        )
    if len(sequences) < n_base:
        log.warning("base='posterior': only %d sequences for n_base=%d; using all of them", len(sequences), n_base)
    picked = torch.randperm(len(sequences), generator=generator)[:n_base].tolist()
    return _encode(autoencoder, [sequences[i] for i in picked], batch_size)


def _encode(autoencoder: Autoencoder, sequences: Sequence[str], batch_size: int) -> torch.Tensor:
    parts = [
        autoencoder.encode(list(sequences[i : i + batch_size])).detach() for i in range(0, len(sequences), batch_size)
    ]
    return torch.cat(parts)


def run_perturbation(
    autoencoder: Autoencoder,
    attributes: Attributes,
    *,
    n_base: int = PerturbationConfig.n_base,
    deltas: Sequence[float] = DELTAS,
    base: Base | str = PerturbationConfig.base,
    sequences: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = PerturbationConfig.batch_size,
    latent_scale: LatentScale | str | None = None,
    n_permutations: int | None = PerturbationConfig.n_permutations,
    n_directions: int = PerturbationConfig.n_directions,
    progress: bool | None = None,
    shard: Shard | None = None,
    bars: bool | None = None,
) -> PerturbationResult | None:
    """Perturb every latent of ``n_base`` codes by every step and measure the attributes' response.
    Every default is the config's (:class:`~latentgraph.config.schema.PerturbationConfig`).

    Args:
        autoencoder: a :class:`~latentgraph.perturbation.protocol.Autoencoder`.
        attributes: anything with ``names`` that maps ``list[str]`` to ``Tensor[n, len(names)]``.
        n_base: number of base codes ``N``; deltas: the steps ``δ_k`` (non-zero), in latent scales.
        base: ``"posterior"`` (codes of ``n_base`` of the ``sequences``, which ``latent_scale="data"``
            needs too) or ``"prior"`` (codes drawn from the prior, no sequences needed).
        seed: seeds the base codes and the tests (the result is deterministic for a seed).
        batch_size: codes decoded and scored per chunk (bounds memory).
        latent_scale: ``"data"`` (each latent's std over the encoded ``sequences``; the default
            when sequences are given) or ``"unit"`` (1; the default without).
        n_permutations: sign flips per test (``None``: enough for one pair to pass BH at α = 0.05
            alone, :func:`~latentgraph.perturbation.edge_tests.permutations_for`); also the null
            draws of the random-direction null.
        n_directions: ``R`` random unit directions for the null (docs/method.md §5c): every base
            code is also stepped by each ``δ_k`` times the median latent scale along each direction
            (``N·R·K`` more decodes), and each (latent, attribute) pair is tested against that
            generic response. 0: no null (``min_effect="auto"`` then cannot be used).
        progress: report each chunk (``False``: silent), as a bar or a log line (``bars``; default
            :func:`latentgraph.progress.show_bars`). shard: split the decoding across DDP ranks;
            rank zero gathers the effects, tests them and returns a single process's result, the
            other ranks return ``None``.
    """
    deltas_t = torch.as_tensor(list(deltas), dtype=torch.float32)
    _check_design(deltas_t, n_base, n_directions)
    generator = torch.Generator().manual_seed(seed)
    latent_scale = latent_scale or ("data" if sequences else "unit")

    z = _base_codes(autoencoder, base, n_base, sequences, generator, batch_size).to(torch.float32)
    n, d = z.shape
    scale = _latent_scales(autoencoder, latent_scale, sequences, d, batch_size)
    started = time.perf_counter()
    base_sequences = autoencoder.decode(z)
    base_values = _score(attributes, base_sequences)
    grid = _decode_grid(
        autoencoder, attributes, z, deltas_t, scale, base_sequences, batch_size, shard, progress is not False, bars
    )
    if grid is None:  # another rank than zero: its share went to rank zero
        return None
    values, changed, decode_seconds = grid
    elapsed = time.perf_counter() - started
    tested = _effect_tests(
        autoencoder, attributes, z, values, base_values, deltas_t, scale, n_directions, n_permutations, generator,
        batch_size,
    )  # fmt: skip
    elapsed += tested.pop("null_seconds")
    settings = {"seed": seed, "base": base, "latent_scale": latent_scale, "batch_size": batch_size}
    info = _run_info(tested, settings, (n, d, len(deltas_t)), n_directions, shard, elapsed, decode_seconds)
    _log_counts(info, elapsed)
    return PerturbationResult(
        latent_names=[f"z{j}" for j in range(d)],
        attribute_names=list(attributes.names),
        change_rate=changed.reshape(n, d, len(deltas_t)).float().mean(dim=(0, 2)),
        deltas=deltas_t,
        latent_scale=scale,
        base_codes=z.cpu(),
        base_values=base_values,
        base_sequences=list(base_sequences),
        info=info,
        **tested,
    )


def _run_info(
    tested: dict,
    settings: dict,
    shape: tuple[int, int, int],
    n_directions: int,
    shard: Shard | None,
    seconds: float,
    decode_seconds: float,
) -> dict:
    """The result's ``info``: its settings, the decodes made and the time taken (takes the tests' counts)."""
    n, d, k = shape
    return {
        "seed": settings["seed"],
        "base": settings["base"],
        "n_base": n,
        "latent_scale": settings["latent_scale"],
        "n_permutations": tested.pop("n_permutations"),
        "batch_size": settings["batch_size"],
        "processes": shard.world_size if shard is not None else 1,
        "decodes": n * d * k + n + n * n_directions * k,
        "n_directions": n_directions,
        "unscorable_decodes": tested.pop("unscorable"),
        "seconds": round(seconds, 3),
        "decode_seconds": round(decode_seconds, 3),
    }


def _effect_tests(
    autoencoder: Autoencoder,
    attributes: Attributes,
    z: torch.Tensor,
    values: torch.Tensor,
    base_values: torch.Tensor,
    deltas: torch.Tensor,
    scale: torch.Tensor,
    n_directions: int,
    n_permutations: int | None,
    generator: torch.Generator,
    batch_size: int,
) -> dict:
    """The effects, sensitivities, sign-flip p- and q-values and the random-direction null, as
    :class:`PerturbationResult` fields, plus ``n_permutations``, ``unscorable`` and ``null_seconds``."""
    n, d = z.shape
    k = len(deltas)
    effects = values.reshape(n, d, k, values.shape[1]) - base_values[:, None, None, :]
    spread = attribute_spread(base_values)
    n_permutations = n_permutations or permutations_for(d * values.shape[1], k)
    pvalues = sign_flip_pvalues(effects, n_permutations=n_permutations, generator=generator)
    unscorable = int(torch.isnan(values).any(dim=1).sum()) + int(torch.isnan(base_values).any(dim=1).sum())
    direction_null: dict[str, torch.Tensor] = {}
    tick = time.perf_counter()
    if n_directions > 0:
        direction_null = _random_direction_null(
            autoencoder, attributes, z, base_values, deltas, scale, effects, n_directions, n_permutations, generator,
            batch_size,
        )  # fmt: skip
        unscorable += int(torch.isnan(direction_null["null_effects"]).any(dim=-1).sum())
    return {
        "sensitivity": sensitivity(effects, spread),
        "pvalues": pvalues,
        "qvalues": benjamini_hochberg(pvalues),
        "attribute_spread": spread,
        "effects": effects,
        **direction_null,
        "n_permutations": n_permutations,
        "unscorable": unscorable,
        "null_seconds": time.perf_counter() - tick if n_directions > 0 else 0.0,
    }


def _check_design(deltas: torch.Tensor, n_base: int, n_directions: int) -> None:
    if len(deltas) == 0 or bool((deltas == 0).any()):
        raise ValueError(f"deltas must be a non-empty list of non-zero steps, got {deltas.tolist()}")
    if n_base < 2:
        raise ValueError(f"n_base must be >= 2 for a paired test, got {n_base}")
    if n_directions < 0:
        raise ValueError(f"n_directions must be >= 0, got {n_directions}")


def _latent_scales(
    autoencoder: Autoencoder, latent_scale: str, sequences: Sequence[str] | None, d: int, batch_size: int
) -> torch.Tensor:
    """Each latent's step unit: its spread over encoded ``sequences`` (``"data"``) or 1 (``"unit"``)."""
    if latent_scale == "data":
        if not sequences:
            raise ValueError("latent_scale='data' needs sequences to encode")
        return _encode(autoencoder, list(sequences)[:8192], batch_size).to(torch.float32).std(dim=0).cpu()
    if latent_scale == "unit":
        return torch.ones(d)
    raise ValueError(f"latent_scale must be 'data' or 'unit', got {latent_scale!r}")


def _decode_grid(
    autoencoder: Autoencoder,
    attributes: Attributes,
    z: torch.Tensor,
    deltas: torch.Tensor,
    scale: torch.Tensor,
    base_sequences: list[str],
    batch_size: int,
    shard: Shard | None,
    progress: bool,
    bars: bool | None,
) -> tuple[torch.Tensor, torch.Tensor, float] | None:
    """Decode and score every (code, latent, step) in chunks: the attribute values, whether each
    decode differs from its base's, and the decoding seconds. With ``shard``, this process decodes
    its contiguous share and rank zero gathers the rest (other ranks return ``None``)."""
    n, d = z.shape
    k = len(deltas)
    total = n * d * k
    values = torch.empty(total, len(attributes.names), dtype=torch.float32)
    changed = torch.empty(total, dtype=torch.bool)
    deltas_dev, scale_dev = deltas.to(z.device), scale.to(z.device)
    decode_seconds = 0.0
    rank, world = (shard.rank, shard.world_size) if shard is not None else (0, 1)
    first, last = rank * total // world, (rank + 1) * total // world  # this process's rows (all of them alone)
    label = "perturbation: decode + score" + (f" (rank 0 of {world})" if world > 1 else "")
    reporting = progress and rank == 0
    bars = reporting and (show_bars() if bars is None else bars)
    with progress_steps(label, last - first, log, bars=bars) as advance:
        for start in range(first, last, batch_size):
            rows = torch.arange(start, min(start + batch_size, last), device=z.device)
            tick = time.perf_counter()
            decoded = autoencoder.decode(perturbed_codes(z, rows, deltas_dev, scale_dev))
            decode_seconds += time.perf_counter() - tick
            values[start : start + len(rows)] = _score(attributes, decoded)
            base_index = (rows // (d * k)).tolist()
            changed[start : start + len(rows)] = torch.tensor(
                [s != base_sequences[i] for s, i in zip(decoded, base_index)]
            )
            if reporting:
                advance(len(rows))
    if world > 1:
        shares = shard.gather((first, values[first:last].clone(), changed[first:last].clone()))
        log.info("perturbation: rank %d of %d decoded %d of %d codes", rank, world, last - first, total)
        if shares is None:
            return None
        for start, share_values, share_changed in shares:
            values[start : start + len(share_values)] = share_values
            changed[start : start + len(share_changed)] = share_changed
    return values, changed, decode_seconds


def _log_counts(info: dict, elapsed: float) -> None:
    if info["unscorable_decodes"]:
        log.warning(
            "perturbation: %d of %d decodes could not be scored; their effects are left out",
            info["unscorable_decodes"],
            info["decodes"],
        )
    log.info(
        "perturbation: %d decodes in %.1f s (%.0f per second)",
        info["decodes"],
        elapsed,
        info["decodes"] / max(elapsed, 1e-9),
    )


def _random_direction_null(
    autoencoder: Autoencoder,
    attributes: Attributes,
    z: torch.Tensor,
    base_values: torch.Tensor,
    deltas: torch.Tensor,
    scale: torch.Tensor,
    effects: torch.Tensor,
    n_directions: int,
    n_draws: int,
    generator: torch.Generator,
    batch_size: int,
) -> dict[str, torch.Tensor]:
    """The random-direction null (docs/method.md §5c): the same steps along random unit
    directions, at the median latent scale, and each pair's test against that generic response."""
    n, d = z.shape
    k = len(deltas)
    directions = random_directions(d, n_directions, generator)
    length = float(scale.median())
    steps = deltas[None, :, None] * length * directions[:, None, :]  # [R, K, d]
    codes = (z.cpu()[:, None, None, :] + steps[None]).reshape(-1, d).to(z.device)
    values = torch.cat([_score(attributes, autoencoder.decode(chunk)) for chunk in codes.split(batch_size)])
    null_effects = values.reshape(n, n_directions, k, -1) - base_values[:, None, None, :]
    pvalues = generic_response_pvalues(effects, null_effects, n_draws=n_draws, generator=generator)
    return {
        "directions": directions,
        "null_effects": null_effects,
        "null_pvalues": pvalues,
        "null_qvalues": benjamini_hochberg(pvalues),
    }
