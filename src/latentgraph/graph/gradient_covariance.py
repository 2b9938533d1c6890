"""An attribute graph that no rotation of the latent space changes (docs/method.md §5d; ours).

The footprint graph compares *sets of latents*. A WAE's latent basis is not identifiable (the
prior N(0, I) and the MMD penalty are unchanged by a rotation of ``z``), so two fits of the same
data can spread the same directions over different coordinates, and which footprint contains
which changes from fit to fit. This graph is built from what the attributes do under a move of
the code, whatever the basis:

* ``J_n[j, a] = Σ_k sign(δ_k)·Δ[n, j, k, a] / (Σ_k |δ_k| · spread_a)``: a finite-difference
  derivative of attribute ``a`` along latent ``j`` at base code ``n``, in the attribute's spread
  (NaN effects count as 0);
* ``M = mean_n J_nᵀ J_n``: the attributes' covariance under a small isotropic move of the code
  around the base codes (an outer product of gradients; ``J_n → R J_n`` for a rotation ``R``
  leaves it unchanged);
* an undirected edge ``a -- b`` when the partial correlation of ``a`` and ``b`` in ``M`` is not
  zero: a two-sided percentile-bootstrap p-value over resamples of the base codes, with
  Benjamini–Hochberg q-values over every pair, below ``alpha``. Under a linear-Gaussian reading
  (attributes linear in the code, the code moved isotropically) a zero partial correlation is a
  conditional independence, so the target's neighbours are its Markov blanket.

Pure: numpy and torch in, a networkx graph and arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from latentgraph.perturbation.edge_tests import benjamini_hochberg


def attribute_derivatives(effects: torch.Tensor, deltas: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """``J [n, d, m]`` from effects ``[n, d, K, m]``, steps ``[K]`` and attribute spreads ``[m]``."""
    signed = torch.nan_to_num(effects.to(torch.float64)) * torch.sign(deltas.to(torch.float64))[None, None, :, None]
    spread = torch.where(spread > 0, spread, torch.ones_like(spread)).to(torch.float64)
    return signed.sum(dim=2) / deltas.abs().sum().to(torch.float64) / spread


def partial_correlations(moment: torch.Tensor) -> torch.Tensor:
    """Partial correlations ``[..., m, m]`` of second-moment matrices ``[..., m, m]`` (the diagonal is -1).

    An attribute that never moves (a zero row) gets partial correlation 0 with every other.
    """
    variance = moment.diagonal(dim1=-2, dim2=-1)
    scale = variance.clamp(min=1e-30).sqrt()
    correlation = moment / scale[..., :, None] / scale[..., None, :]
    precision = _inverse(correlation)
    norm = precision.diagonal(dim1=-2, dim2=-1).clamp(min=1e-30).sqrt()
    partial = -precision / norm[..., :, None] / norm[..., None, :]
    # a still attribute's row of the pseudo-inverse is rounding noise (~1e-16), which the tiny
    # norm would blow up to ~0.1: set it to the 0 it is
    still = variance <= 0
    if bool(still.any()):
        partial = partial.masked_fill(still[..., :, None] | still[..., None, :], 0.0)
        partial.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
    return partial


def _inverse(correlations: torch.Tensor) -> torch.Tensor:
    """Inverses of correlation matrices ``[..., m, m]``: LU where the matrix is well conditioned (a
    tenth of the eigendecomposition's cost), the pseudo-inverse where it is singular or nearly so
    (an attribute that never moves, or barely: LU's inverse is then rounding noise). The inverse of
    a correlation matrix has a diagonal of ``1 / (1 − R²) ≥ 1``; one below 1 or above 1e8 is not
    trusted."""
    inverse, info = torch.linalg.inv_ex(correlations)
    diagonal = inverse.diagonal(dim1=-2, dim2=-1)
    untrusted = (info != 0) | ~torch.isfinite(inverse).flatten(-2).all(dim=-1)
    untrusted |= (diagonal < 1 - 1e-6).any(dim=-1) | (diagonal > 1e8).any(dim=-1)
    if bool(untrusted.any()):
        inverse[untrusted] = torch.linalg.pinv(correlations[untrusted], hermitian=True)
    return inverse


def bootstrap_draws_for(n_pairs: int, alpha: float = 0.05) -> int:
    """The fewest resamples that let a lone pair pass BH: its smallest p-value ``2/(B+1)`` must
    reach ``alpha / n_pairs``."""
    return max(999, math.ceil(2 * n_pairs / alpha) - 1)


@dataclass
class GradientCovariance:
    """The partial correlations behind a gradient-covariance graph.

    Attributes:
        attribute_names: the ``m`` attributes, in the arrays' order.
        partial_correlation: ``[m, m]`` from all base codes.
        pvalues, qvalues: ``[m, m]`` bootstrap p-values and their BH q-values over the pairs (1 on the diagonal).
        n_boot: the resamples behind the p-values.
    """

    attribute_names: list[str]
    partial_correlation: np.ndarray
    pvalues: np.ndarray
    qvalues: np.ndarray
    n_boot: int

    def partial_correlation_by_name(self) -> dict[str, dict[str, float]]:
        """``{a: {b: partial correlation}}`` for every pair ``a != b``."""
        names = self.attribute_names
        return {
            a: {b: float(self.partial_correlation[i, j]) for j, b in enumerate(names) if j != i}
            for i, a in enumerate(names)
        }

    def graph(self, alpha: float) -> nx.DiGraph:
        """Attributes joined (``undirected=True``) where ``q < alpha``."""
        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(self.attribute_names))
        names = self.attribute_names
        for a, b in zip(*np.triu_indices(len(names), k=1)):
            if self.qvalues[a, b] < alpha:
                first, second = sorted((names[a], names[b]))
                graph.add_edge(
                    first, second, undirected=True, partial_correlation=float(self.partial_correlation[a, b])
                )
        return graph


def gradient_covariance(
    effects: torch.Tensor,
    deltas: torch.Tensor,
    spread: torch.Tensor,
    attribute_names: list[str],
    *,
    alpha: float = 0.05,
    n_boot: int | None = None,
    seed: int = 0,
) -> GradientCovariance:
    """Partial correlations of ``M = mean_n J_nᵀ J_n`` and their bootstrap p- and q-values.

    The ``n_boot`` resamples of the base codes (default: :func:`bootstrap_draws_for` the pairs)
    reweight the per-code products ``J_nᵀ J_n``, so each costs one small matrix product.
    """
    jacobians = attribute_derivatives(effects, deltas, spread)
    n, _, m = jacobians.shape
    per_code = torch.einsum("nja,njb->nab", jacobians, jacobians).reshape(n, m * m)
    point = partial_correlations((per_code.mean(dim=0)).reshape(m, m))
    pairs = m * (m - 1) // 2
    n_boot = n_boot or bootstrap_draws_for(pairs, alpha)
    generator = torch.Generator().manual_seed(seed)
    opposite = torch.zeros(m, m, dtype=torch.long)
    for start in range(0, n_boot, 512):
        size = min(512, n_boot - start)
        rows = torch.randint(0, n, (size, n), generator=generator)
        weights = torch.zeros(size, n, dtype=torch.float64).scatter_add_(
            1, rows, torch.ones(size, n, dtype=torch.float64)
        )
        draws = partial_correlations((weights @ per_code / n).reshape(size, m, m))
        # a draw on the other side of zero from the estimate, or at zero, is evidence against it
        # (an estimate of exactly 0, an attribute that never moves, gets p = 1)
        opposite += (draws * torch.sign(point)[None] <= 0).sum(dim=0)
    pvalues = ((1.0 + opposite.to(torch.float64)) * 2.0 / (n_boot + 1.0)).clamp(max=1.0)
    pvalues.fill_diagonal_(1.0)
    upper = torch.triu_indices(m, m, offset=1)
    qvalues = torch.ones(m, m, dtype=torch.float64)
    q_upper = benjamini_hochberg(pvalues[upper[0], upper[1]])
    qvalues[upper[0], upper[1]] = q_upper
    qvalues[upper[1], upper[0]] = q_upper
    return GradientCovariance(list(attribute_names), point.numpy(), pvalues.numpy(), qvalues.numpy(), n_boot)
