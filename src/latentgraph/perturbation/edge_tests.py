"""Pure numeric cores of the edge test (docs/method.md §4): sensitivity, sign-flip p-values, BH q-values.

All functions take the effects tensor ``Δ[n, j, k, a] = A_a(decode(z_n + δ_k·s_j·e_j)) − A_a(decode(z_n))``
(``float``, NaN where either decode could not be scored) and know nothing of models or Lightning.
"""

from __future__ import annotations

import math

import torch

from latentgraph.nanstats import nanstd


def attribute_spread(base_values: torch.Tensor) -> torch.Tensor:
    """Standard deviation of each attribute over the base decodes ``[n, m]`` → ``[m]`` (NaN rows ignored).

    An attribute that does not vary over the base decodes gets spread 1, so its sensitivity is
    its mean absolute change in its own units instead of a division by zero.
    """
    spread = nanstd(base_values)
    return torch.where(torch.isfinite(spread) & (spread > 1e-12), spread, torch.ones_like(spread))


def sensitivity(effects: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """``S[j, a]``: mean of ``|Δ|`` over base codes and steps, divided by the attribute's spread."""
    mean_abs = effects.abs().nanmean(dim=(0, 2))
    return torch.nan_to_num(mean_abs, nan=0.0) / spread


def sign_flip_pvalues(
    effects: torch.Tensor, *, n_permutations: int = 9999, generator: torch.Generator | None = None, chunk: int = 512
) -> torch.Tensor:
    """Paired sign-flip permutation p-values ``[d, m]`` of "perturbing latent j leaves attribute a unchanged".

    For each step ``δ_k`` the base code's own decode is the pair's other half: under the null,
    ``Δ[n, j, k, a]`` is the difference of two draws of the same attribute distribution and so
    is symmetric about zero, and flipping its sign changes nothing. The statistic is
    ``|Σ_n Δ_nk|``; ``p_k = (1 + #{b: |Σ_n ε_bn Δ_nk| ≥ |Σ_n Δ_nk|}) / (B + 1)`` over ``B``
    random sign vectors ``ε_b`` (exact-valid for any ``B``; its smallest value is ``1/(B+1)``).

    The steps share their base codes, so their p-values are dependent; they are combined with
    Bonferroni, ``p = min(1, K · min_k p_k)``, which is valid under any dependence. NaN effects
    count as zero (no evidence either way); a pair whose effects are all zero gets ``p = 1``.
    """
    n, d, k, m = effects.shape
    x = torch.nan_to_num(effects.to(torch.float32), nan=0.0).reshape(n, d * k * m)
    observed = x.sum(dim=0).abs()
    tolerance = 1e-5 * observed + 1e-6 * x.abs().sum(dim=0)  # float32 sums: an exact tie must count as a tie
    exceed = torch.zeros(d * k * m, dtype=torch.long)
    done = 0
    while done < n_permutations:
        size = min(chunk, n_permutations - done)
        signs = torch.randint(0, 2, (size, n), generator=generator).to(torch.float32).mul_(2).sub_(1)
        exceed += ((signs @ x).abs() >= observed - tolerance).sum(dim=0)
        done += size
    per_step = ((1.0 + exceed.to(torch.float64)) / (n_permutations + 1.0)).reshape(d, k, m)
    return (k * per_step.min(dim=1).values).clamp(max=1.0)


def permutations_for(n_tests: int, n_steps: int, alpha: float = 0.05) -> int:
    """The fewest sign flips that let one pair whose flips never reach its statistic pass BH alone.

    Its combined p-value is ``K/(B+1)``; BH at level ``alpha`` over ``n_tests`` pairs admits a
    lone discovery when ``p ≤ alpha / n_tests``, so ``B = ⌈K · n_tests / alpha⌉ − 1``.
    """
    return max(999, math.ceil(n_steps * n_tests / alpha) - 1)


def benjamini_hochberg(pvalues: torch.Tensor) -> torch.Tensor:
    """Benjamini–Hochberg adjusted p-values (q-values) over all entries, same shape as the input."""
    flat = pvalues.reshape(-1).to(torch.float64)
    m = flat.numel()
    if m == 0:
        return pvalues.to(torch.float64)
    order = torch.argsort(flat)
    ranked = flat[order] * m / torch.arange(1, m + 1, dtype=torch.float64)
    # q_(i) = min over j >= i of p_(j)·m/j: a reversed running minimum
    adjusted = torch.flip(torch.cummin(torch.flip(ranked, [0]), dim=0).values, [0]).clamp(max=1.0)
    q = torch.empty_like(flat)
    q[order] = adjusted
    return q.reshape(pvalues.shape)


def random_directions(d: int, n_directions: int, generator: torch.Generator) -> torch.Tensor:
    """``[R, d]`` directions drawn uniformly on the unit sphere (normalised Gaussians)."""
    directions = torch.randn(n_directions, d, generator=generator)
    return directions / directions.norm(dim=1, keepdim=True).clamp(min=1e-12)


def generic_response_pvalues(
    effects: torch.Tensor,
    null_effects: torch.Tensor,
    *,
    n_draws: int = 9999,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """P-values ``[d, m]`` of "latent j moves attribute a no more than a random direction does".

    The random-direction null (docs/method.md §5c). ``effects`` is ``[N, d, K, m]`` (the
    latents' steps) and ``null_effects`` ``[N, R, K, m]`` (the same base codes and step sizes,
    along ``R`` random unit directions). Per base code ``n`` the response is the mean of ``|Δ|``
    over the steps; the statistic is its sum over base codes, ``T[j, a] = Σ_n r_n(j, a)``. Under
    the null, latent ``j``'s response at each base code is exchangeable with the random
    directions' responses there, so the null distribution is that of ``Σ_n r_n(ρ_n, a)`` for a
    random direction ``ρ_n`` drawn per base code; ``n_draws`` such sums give
    ``p = (1 + #{b: T_b ≥ T}) / (n_draws + 1)`` (one-sided: only a larger response counts).
    NaN effects (unscorable decodes) count as no response.
    """
    n, d, _, m = effects.shape
    if null_effects.shape[0] != n or null_effects.shape[2:] != effects.shape[2:]:
        raise ValueError(
            f"random-direction effects {tuple(null_effects.shape)} do not match the effects {tuple(effects.shape)}"
        )
    response = torch.nan_to_num(effects.abs(), nan=0.0).mean(dim=2)  # [N, d, m]
    direction_response = torch.nan_to_num(null_effects.abs(), nan=0.0).mean(dim=2)  # [N, R, m]
    observed = response.sum(dim=0)  # [d, m]
    r = direction_response.shape[1]
    exceed = torch.zeros(d, m, dtype=torch.long)
    rows = torch.arange(n)
    for start in range(0, n_draws, 1024):
        draws = min(1024, n_draws - start)
        chosen = torch.randint(0, r, (draws, n), generator=generator)
        null = direction_response[rows[None, :], chosen].sum(dim=1)  # [draws, m]
        tolerance = 1e-6 * null.abs()
        exceed += (null[:, None, :] >= observed[None] - tolerance[:, None, :]).sum(dim=0)
    return (1 + exceed).to(torch.float64) / (n_draws + 1)
