"""Latent regularisers and the β schedule: pure functions on tensors."""

from __future__ import annotations

import math

import torch


def mmd_random_features(
    z: torch.Tensor, *, n_features: int, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Squared MMD between the codes ``z`` and N(0, I), with an RBF kernel of bandwidth ``sigma``.

    The kernel ``k(x, y) = exp(-|x - y|² / (2σ²))`` is approximated by ``n_features`` random
    Fourier features ``φ(x) = sqrt(2/D) cos(Wx + b)`` with ``W ~ N(0, σ⁻² I)`` and
    ``b ~ U[0, 2π)`` (Rahimi & Recht, 2007). Against the Gaussian prior the mean feature has a
    closed form, ``E φ(p) = sqrt(2/D) exp(-|w|²/2) cos(b)``, so no prior samples are needed and
    the estimate has no sampling noise from the prior side.

    Args:
        z: codes, ``[n, d]``.
        n_features: number of random features ``D``.
        sigma: kernel bandwidth (same units as ``z``).
        generator: source of the random features (fresh features each call).

    Returns:
        A scalar tensor ``|mean φ(z) - E φ(p)|²``.
    """
    d = z.shape[1]
    weights = torch.randn(d, n_features, generator=generator, device="cpu").to(z) / sigma
    phases = (torch.rand(n_features, generator=generator, device="cpu") * 2 * math.pi).to(z)
    scale = math.sqrt(2.0 / n_features)
    features_z = scale * torch.cos(z @ weights + phases).mean(dim=0)
    features_prior = scale * torch.exp(-0.5 * (weights**2).sum(dim=0)) * torch.cos(phases)
    return ((features_z - features_prior) ** 2).sum()


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(0, I)), summed over latents and averaged over the batch."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def beta_at(step: int, *, beta: float, beta_start: float, anneal_steps: int) -> float:
    """Linear β annealing from ``beta_start`` at step 0 to ``beta`` at ``anneal_steps``, then flat."""
    if anneal_steps <= 0 or step >= anneal_steps:
        return beta
    return beta_start + (beta - beta_start) * step / anneal_steps
