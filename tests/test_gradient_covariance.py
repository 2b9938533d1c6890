"""The gradient-covariance attribute graph: its numeric cores, the toy's truth, and a rotated latent basis."""

from __future__ import annotations

import math

import pytest
import torch
from toy_models import TRUE_BLANKETS, ToyAttributes, ToyAutoencoder

from latentgraph.graph import AttributeGraph, bootstrap_graph, build_graph
from latentgraph.graph.gradient_covariance import (
    attribute_derivatives,
    bootstrap_draws_for,
    gradient_covariance,
    partial_correlations,
)
from latentgraph.perturbation import run_perturbation


def test_partial_correlations_vanish_between_the_ends_of_a_chain():
    # a -> b -> c with unit noise: a and c are independent given b
    a = torch.randn(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    b = a + torch.randn(20000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    c = b + torch.randn(20000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = torch.stack([a, b, c], dim=1)
    partial = partial_correlations(x.T @ x / len(x))
    assert abs(float(partial[0, 2])) < 0.02
    assert float(partial[0, 1]) == pytest.approx(0.5, abs=0.02)  # precision [[2,-1,0],[-1,2,-1],[0,-1,1]]
    assert float(partial[1, 2]) == pytest.approx(math.sqrt(0.5), abs=0.02)
    assert torch.allclose(partial, partial.T)


def test_the_gradient_covariance_ignores_a_rotation_of_the_latent_basis():
    generator = torch.Generator().manual_seed(0)
    effects = torch.randn(32, 6, 2, 4, generator=generator, dtype=torch.float64)
    deltas, spread = torch.tensor([-1.0, 1.0]), torch.ones(4)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator, dtype=torch.float64))
    jacobians = attribute_derivatives(effects, deltas, spread)
    rotated = attribute_derivatives(torch.einsum("ij,njka->nika", rotation, effects), deltas, spread)
    moment = torch.einsum("nja,njb->ab", jacobians, jacobians)
    assert torch.allclose(torch.einsum("nja,njb->ab", rotated, rotated), moment)


def test_a_never_moving_attribute_is_isolated_and_p_values_are_valid():
    effects = torch.randn(40, 5, 2, 3, generator=torch.Generator().manual_seed(3))
    effects[..., 2] = 0.0  # attribute 2 never moves
    found = gradient_covariance(effects, torch.tensor([-1.0, 1.0]), torch.ones(3), ["a", "b", "c"], n_boot=199)
    assert found.n_boot == 199 and (found.pvalues[2, :2] == 1).all() and (found.qvalues <= 1).all()
    assert "c" in found.graph(0.05) and not list(found.graph(0.05).neighbors("c"))
    assert bootstrap_draws_for(91, 0.05) == 3639  # a lone pair can pass BH over 91 pairs
    # in 14 dimensions the pseudo-inverse's row of a still attribute is rounding noise, not 0
    x = torch.randn(200, 14, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    moment = x.T @ x / 200
    moment[3], moment[:, 3] = 0.0, 0.0
    partial = partial_correlations(moment)
    assert (partial[3, torch.arange(14) != 3] == 0).all() and partial[3, 3] == -1
    assert partial[0, 1] != 0 and torch.isfinite(partial).all()  # the others keep theirs


@pytest.fixture(scope="module")
def toy_result():
    return run_perturbation(
        ToyAutoencoder(), ToyAttributes(), base="prior", n_base=64, deltas=[-2, -1, 1, 2], seed=0, progress=False
    )


def test_recovers_the_toys_blankets(toy_result):
    graph = build_graph(toy_result, structure="gradient_covariance")
    assert {a: graph.markov_blanket(a) for a in TRUE_BLANKETS} == TRUE_BLANKETS
    assert all(data["undirected"] for _, _, data in graph.dag.edges(data=True))
    assert (
        graph.latent_edges == build_graph(toy_result, structure="footprint").latent_edges
    )  # the latent edges do not change


def test_the_graph_keeps_every_pairs_partial_correlation_and_saves_it(toy_result, tmp_path):
    graph = build_graph(toy_result, structure="gradient_covariance")
    partial = graph.partial_correlation
    assert set(partial) == set(toy_result.attribute_names)
    for a, row in partial.items():
        assert set(row) == set(toy_result.attribute_names) - {a}
        assert all(row[b] == pytest.approx(partial[b][a]) for b in row)  # symmetric
    for a, b, data in graph.dag.edges(data=True):  # the edges carry the same numbers
        assert data["partial_correlation"] == pytest.approx(partial[a][b])
    member = sorted(TRUE_BLANKETS["count_K"])[0]
    outside = sorted(set(toy_result.attribute_names) - TRUE_BLANKETS["count_K"] - {"count_K"})[0]
    assert abs(partial["count_K"][member]) > abs(partial["count_K"][outside])
    assert AttributeGraph.load(graph.save(tmp_path)).partial_correlation == partial
    assert build_graph(toy_result, structure="footprint").partial_correlation == {}  # footprint: none


class RotatedToyAutoencoder(ToyAutoencoder):
    """The toy read in a rotated latent basis: each latent now moves two residue blocks."""

    def __init__(self):
        c, s = math.cos(math.pi / 4), math.sin(math.pi / 4)
        self.rotation = torch.eye(self.latent_dim)
        for first, second in ((0, 2), (1, 3)):
            self.rotation[first, first], self.rotation[first, second] = c, -s
            self.rotation[second, first], self.rotation[second, second] = s, c

    def decode(self, z: torch.Tensor) -> list[str]:
        return super().decode(z @ self.rotation.T)


def test_a_rotated_latent_basis_keeps_the_blankets_the_footprint_graph_loses():
    result = run_perturbation(
        RotatedToyAutoencoder(),
        ToyAttributes(),
        base="prior",
        n_base=256,
        deltas=[-2, -1, 1, 2],
        seed=0,
        progress=False,
    )
    gradient = build_graph(result, structure="gradient_covariance")
    assert {a: gradient.markov_blanket(a) for a in TRUE_BLANKETS} == TRUE_BLANKETS
    footprint = build_graph(
        result, structure="footprint"
    )  # every latent now moves K and W, or E and L: the footprints merge
    assert footprint.markov_blanket("count_K") != TRUE_BLANKETS["count_K"]


def test_bootstrap_rebuilds_the_gradient_graph_per_replicate(toy_result):
    stability = bootstrap_graph(toy_result, n_boot=5, seed=0, n_permutations=199, structure="gradient_covariance")
    frequency = stability.blanket_frequency("W_plus_L")
    assert frequency["count_W"] == frequency["count_L"] == 1.0 and frequency["count_G"] == 0.0
    assert all(graph.structure == "gradient_covariance" for graph in stability.replicates)


def test_the_graph_picture_draws_the_undirected_structure(toy_result, tmp_path):
    from latentgraph.report.graph_figures import graph_picture

    graph = build_graph(toy_result, structure="gradient_covariance")
    path = graph_picture(graph, tmp_path / "graph.png", target="K_plus_E", blanket=graph.markov_blanket("K_plus_E"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
