"""Graph building: footprint DAG, ties, Markov blankets, and recovery of a known structure."""

from __future__ import annotations

import os

import networkx as nx
import pytest
import torch
from toy_models import TRUE_BLANKETS, TRUE_DAG_EDGES, TRUE_EDGES, ToyAttributes, ToyAutoencoder

from latentgraph.graph import AttributeGraph, build_graph, footprint_dag, markov_blanket
from latentgraph.graph.structure import shared_latent_graph
from latentgraph.perturbation import run_perturbation


def dag_of(*edges: str) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_edges_from(tuple(edge.split(">")) for edge in edges)
    return graph


@pytest.mark.parametrize(
    "edges, target, blanket",
    [
        (["a>t", "t>c", "s>c", "c>g"], "t", {"a", "c", "s"}),  # parents, children, spouses; not grandchildren
        (["a>b", "b>t"], "t", {"b"}),  # not grandparents
        (["t>c1", "t>c2", "s1>c1", "s2>c2", "s2>x"], "t", {"c1", "c2", "s1", "s2"}),
        (["a>b"], "a", {"b"}),
        (["t>c", "c>d", "e>d"], "t", {"c"}),  # the child's child's parents are not in it
    ],
)
def test_markov_blankets_of_hand_made_dags(edges, target, blanket):
    graph = dag_of(*edges)
    graph.add_node("lonely")
    assert markov_blanket(graph, target) == blanket
    assert markov_blanket(graph, "lonely") == set()
    with pytest.raises(KeyError, match="not a node"):
        markov_blanket(graph, "nowhere")


def test_footprint_dag_reduces_transitively_and_ties_equal_footprints():
    footprint = {
        "a": frozenset({"z0"}),
        "b": frozenset({"z0", "z1"}),
        "c": frozenset({"z0", "z1", "z2"}),
        "a2": frozenset({"z0"}),
        "free": frozenset(),
        "other": frozenset({"z3"}),
    }
    dag = footprint_dag(footprint)
    assert nx.is_directed_acyclic_graph(dag)
    directed = {(u, v) for u, v, tied in dag.edges(data="undirected") if not tied}
    tied = {(u, v) for u, v, t in dag.edges(data="undirected") if t}
    assert directed == {("a", "b"), ("a2", "b"), ("b", "c")}  # a → c is implied, so reduced away
    assert tied == {("a", "a2")}
    assert set(dag.nodes) == set(footprint) and dag.degree("free") == 0 and dag.degree("other") == 0
    assert markov_blanket(dag, "a") == {"a2", "b"} and markov_blanket(dag, "a2") == {"a", "b"}


def test_shared_latent_structure_joins_attributes_with_a_common_latent():
    footprint = {"a": frozenset({"z0"}), "b": frozenset({"z0", "z1"}), "c": frozenset({"z1"}), "d": frozenset({"z2"})}
    graph = shared_latent_graph(footprint)
    assert {frozenset(e) for e in graph.edges} == {frozenset("ab"), frozenset("bc")}


@pytest.fixture(scope="module")
def toy_result():
    return run_perturbation(
        ToyAutoencoder(), ToyAttributes(), base="prior", n_base=64, deltas=[-2, -1, 1, 2], seed=0, progress=False
    )


def test_recovers_the_true_edges_dag_and_blankets(toy_result):
    graph = build_graph(toy_result, alpha=0.05, structure="footprint")
    assert graph.latent_edges == TRUE_EDGES
    assert set(graph.dag.edges) == TRUE_DAG_EDGES
    assert graph.dag.edges["count_K", "twice_K"]["undirected"] is True
    assert {a: graph.markov_blanket(a) for a in TRUE_BLANKETS} == TRUE_BLANKETS
    assert graph.latents_with_edges == ["z0", "z1", "z2", "z3"]
    # sums of counts are exactly linear in their parent counts; counts are rounded latents
    assert graph.sem_r2["K_plus_E"] == pytest.approx(1.0) and graph.sem_r2["W_plus_L"] == pytest.approx(1.0)
    assert all(graph.sem_r2[a] > 0.8 for a in ("count_K", "count_E", "count_W", "count_L"))
    assert abs(graph.sem_r2["count_G"]) < 0.05  # no parents: the intercept alone
    assert graph.sem_parents["K_plus_E"] == ["z0", "z1", "count_E", "count_K", "twice_K"]


def test_shared_latent_option_on_the_toy(toy_result):
    graph = build_graph(toy_result, structure="shared_latent")
    assert graph.markov_blanket("count_K") == {"twice_K", "K_plus_E"}  # count_E shares no latent with it
    assert graph.markov_blanket("K_plus_E") == {"count_K", "twice_K", "count_E"}


def test_fixed_threshold_variant(toy_result):
    assert (
        build_graph(toy_result, threshold="fixed", tau=0.3, structure="footprint").latent_edges
        - {(f"z{j}", "count_G") for j in range(6)}
        == TRUE_EDGES
    )
    assert build_graph(toy_result, threshold="fixed", tau=100.0, structure="footprint").latent_edges == set()


def test_null_latents_get_no_edges_over_20_seeds():
    false_edges, null_latent_edges, exact = [], [], 0
    discoveries = 0
    for seed in range(20):
        result = run_perturbation(
            ToyAutoencoder(), ToyAttributes(), base="prior", n_base=64, deltas=[-2, -1, 1, 2], seed=seed, progress=False
        )
        edges = build_graph(result, alpha=0.05, structure="footprint").latent_edges
        assert TRUE_EDGES <= edges, seed  # every true edge, every seed
        false_edges += sorted(edges - TRUE_EDGES)
        null_latent_edges += [e for e in edges if e[0] in ("z4", "z5")]
        exact += edges == TRUE_EDGES
        discoveries += len(edges)
    print(f"\nfalse edges over 20 seeds: {len(false_edges)} {false_edges}; exact recoveries {exact}/20")
    assert null_latent_edges == []
    # the other false edges can only land on the noise attribute, at about the FDR level
    assert all(attribute == "count_G" for _, attribute in false_edges)
    assert len(false_edges) <= 0.05 * discoveries


def test_graph_save_load_and_graphml(toy_result, tmp_path):
    graph = build_graph(toy_result, structure="footprint")
    graph.save(tmp_path)
    for name in ("graph.json", "attribute_dag.graphml", "latent_attribute.graphml"):
        assert (tmp_path / name).is_file()
    bipartite = nx.read_graphml(tmp_path / "latent_attribute.graphml")
    assert {(u, v) for u, v, kind in bipartite.edges(data="kind") if kind == "latent_to_attribute"} == TRUE_EDGES
    again = AttributeGraph.load(tmp_path)
    assert again.latent_edges == graph.latent_edges and set(again.dag.edges) == set(graph.dag.edges)
    assert again.markov_blanket("count_K") == graph.markov_blanket("count_K")
    assert again.sem_r2 == graph.sem_r2


def test_mlp_sem_option(toy_result):
    graph = build_graph(toy_result, sem="mlp", structure="footprint")
    assert graph.sem_r2["K_plus_E"] > 0.95
    with pytest.raises(ValueError, match="'forest' is not a valid Sem choice; choose one of: linear, mlp"):
        build_graph(toy_result, sem="forest", structure="footprint")


def test_graph_from_saved_result_is_the_same(toy_result, tmp_path):
    toy_result.save(tmp_path)
    from latentgraph.perturbation import PerturbationResult

    loaded = PerturbationResult.load(tmp_path)
    assert (
        build_graph(loaded, structure="footprint").latent_edges
        == build_graph(toy_result, structure="footprint").latent_edges
    )
    assert torch.equal(loaded.effects, toy_result.effects)


def test_held_out_r2_repeats_whatever_the_arrays_memory_alignment():
    """The same rows at eight memory offsets give one R² (unrounded, it differed in the 16th digit)."""
    from latentgraph.graph.sem import held_out_r2

    generator = torch.Generator().manual_seed(0)
    n = 20000
    x = torch.randn(n, 5, generator=generator, dtype=torch.float64)
    y = x @ torch.randn(5, generator=generator, dtype=torch.float64) + torch.randn(
        n, generator=generator, dtype=torch.float64
    )
    found = set()
    for offset in range(8):
        x_buffer, y_buffer = (
            torch.empty(n * 5 + offset, dtype=torch.float64),
            torch.empty(n + offset, dtype=torch.float64),
        )
        x_buffer[offset:], y_buffer[offset:] = x.flatten(), y
        found.add(held_out_r2(x_buffer[offset:].view(n, 5), y_buffer[offset:]))
    assert len(found) == 1 and 0.8 < found.pop() < 0.9


def test_graph_files_repeat_byte_for_byte_under_any_hash_seed(toy_result, tmp_path):
    """Latent edges are a set, whose order follows PYTHONHASHSEED; the GraphML file and the picture
    written from them must not."""
    import subprocess
    import sys

    toy_result.save(tmp_path / "effects")
    script = (
        "import sys; from latentgraph.graph import build_graph;"
        "from latentgraph.report.graph_figures import graph_picture;"
        "from latentgraph.perturbation import PerturbationResult;"
        "g = build_graph(PerturbationResult.load(sys.argv[1]), structure='footprint');"
        "g.save(sys.argv[2]); graph_picture(g, sys.argv[2] + '/graph.png', target='count_K', blanket=set())"
    )
    for seed in ("1", "2"):
        (tmp_path / seed).mkdir()
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "effects"), str(tmp_path / seed)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    for name in ("graph.json", "latent_attribute.graphml", "attribute_dag.graphml", "graph.png"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
