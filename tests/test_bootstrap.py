"""Bootstrap confidence of the graph: resampled base codes recover a known structure, stably."""

from __future__ import annotations

import pytest
from toy_models import TRUE_BLANKETS, TRUE_DAG_EDGES, TRUE_EDGES, ToyAttributes, ToyAutoencoder

from latentgraph.graph import bootstrap_graph
from latentgraph.perturbation import run_perturbation


@pytest.fixture(scope="module")
def toy_result():
    return run_perturbation(
        ToyAutoencoder(), ToyAttributes(), base="prior", n_base=64, deltas=[-2, -1, 1, 2], seed=0, progress=False
    )


@pytest.fixture(scope="module")
def stability(toy_result):
    return bootstrap_graph(toy_result, n_boot=20, seed=0, n_permutations=999, alpha=0.05, structure="footprint")


def test_true_edges_are_found_in_nearly_every_replicate_and_null_edges_almost_never(stability):
    latent = stability.latent_edge_frequency
    assert all(latent.get(edge, 0.0) >= 0.9 for edge in TRUE_EDGES), latent
    assert all(freq <= 0.1 for edge, freq in latent.items() if edge not in TRUE_EDGES), latent
    assert all(freq <= 0.1 for (j, _), freq in latent.items() if j in ("z4", "z5"))  # the null latents
    attribute = stability.attribute_edge_frequency
    true_names = {f"{a} -> {b}" for a, b in TRUE_DAG_EDGES if (a, b) != ("count_K", "twice_K")} | {"count_K -- twice_K"}
    assert all(attribute.get(name, 0.0) >= 0.9 for name in true_names), attribute
    assert all(freq <= 0.1 for name, freq in attribute.items() if name not in true_names), attribute


@pytest.mark.parametrize("target", ["count_K", "K_plus_E", "count_W", "count_G"])
def test_blanket_frequency_separates_the_true_blanket(stability, target):
    frequency = stability.blanket_frequency(target)
    assert set(frequency) == set(ToyAttributes.names) - {target}
    for name, freq in frequency.items():
        if name in TRUE_BLANKETS[target]:
            assert freq >= 0.9, (name, freq)
        else:
            assert freq <= 0.1, (name, freq)


def test_same_seed_same_frequencies_and_json(toy_result, stability):
    first, again = (bootstrap_graph(toy_result, n_boot=3, seed=7, n_permutations=499, alpha=0.05) for _ in range(2))
    assert again.latent_edge_frequency == first.latent_edge_frequency
    assert again.to_json("count_K") == first.to_json("count_K")
    payload = stability.to_json("count_K")
    assert payload["n_boot"] == 20 and payload["settings"]["n_permutations"] == 999
    assert payload["latent_edge_frequency"]["z0 -> count_K"] >= 0.9
    assert payload["blanket_frequency"]["K_plus_E"] >= 0.9


def test_a_lenient_threshold_shows_up_as_unstable_edges(toy_result):
    """With no effect floor, the noise attribute's weak responses come and go between replicates."""
    loose = bootstrap_graph(toy_result, n_boot=5, seed=1, n_permutations=499, alpha=0.5, min_effect=0.0)
    strict = bootstrap_graph(toy_result, n_boot=5, seed=1, n_permutations=499, alpha=0.05)
    unstable = lambda s: sum(0 < f < 1 for f in s.latent_edge_frequency.values())  # noqa: E731
    assert unstable(loose) > unstable(strict)


def test_bootstrap_needs_a_replicate(toy_result):
    with pytest.raises(ValueError, match="n_boot must be >= 1"):
        bootstrap_graph(toy_result, n_boot=0)


def test_graph_stage_writes_stability_and_the_report_shows_it(toy_result, tmp_path):
    import json

    from latentgraph.config.schema import GraphConfig
    from latentgraph.pipeline.graph import graph_stage
    from latentgraph.report.html import write_report
    from latentgraph.runtime.tracking import RunLog

    features = [name for name in ToyAttributes.names if name != "count_K"]
    set_summary = {"target": "count_K", "oracle_for": {"count_K": "count_K"}, "features_for_target": features}
    stage = graph_stage(GraphConfig(bootstrap=4), toy_result, set_summary, tmp_path / "graph", RunLog([]))
    payload = json.loads((tmp_path / "graph" / "stability.json").read_text())
    assert stage.stability == payload and payload["n_boot"] == 4 and payload["target"] == "count_K"
    assert set(payload["blanket_frequency"]) == set(features)
    frequency = payload["blanket_frequency"]
    assert all(frequency[a] == 1.0 for a in TRUE_BLANKETS["count_K"])
    assert all(4 * f == int(4 * f) for f in frequency.values())  # fractions of 4 resamples
    assert (tmp_path / "graph" / "stability.png").stat().st_size > 10_000
    text = write_report(tmp_path).read_text()
    assert 'id="blanket-frequency"' in text and "4 bootstrap resamples of the base codes" in text
    assert 'alt="bootstrap frequencies"' in text


def test_no_bootstrap_is_said_in_the_report(toy_result, tmp_path):
    from latentgraph.config.schema import GraphConfig
    from latentgraph.pipeline.graph import graph_stage
    from latentgraph.report.html import write_report
    from latentgraph.runtime.tracking import RunLog

    set_summary = {"target": "count_K", "oracle_for": {"count_K": "count_K"}, "features_for_target": ["count_E"]}
    stage = graph_stage(GraphConfig(bootstrap=0), toy_result, set_summary, tmp_path / "graph", RunLog([]))
    assert stage.stability is None
    assert not (tmp_path / "graph" / "stability.json").exists()
    assert "no bootstrap of this graph (graph.bootstrap=0)" in write_report(tmp_path).read_text()
