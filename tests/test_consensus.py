"""Confidence across fits: the consensus of several graphs, the random-direction null behind
``min_effect=auto``, and both on a noisy synthetic truth whose single fits sometimes err."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from itertools import combinations, product
from pathlib import Path

import networkx as nx
import pytest
import torch
from conftest import FAST, QUIET_SMOKE, run_cli, settings_for
from toy_models import TRUE_BLANKETS, TRUE_DAG_EDGES, TRUE_EDGES, NoisyToyAutoencoder, ToyAttributes

from latentgraph.errors import ConfigValueError
from latentgraph.graph import (
    bootstrap_graph,
    build_graph,
    chance_pairwise_jaccard,
    consensus,
    disjoint_ensemble_agreement,
    expected_consensus_jaccard,
    inclusion_probability,
    jaccard,
    mean_pairwise_jaccard,
)
from latentgraph.graph.agreement import chance_jaccard, votes_needed
from latentgraph.graph.structure import select_edges
from latentgraph.perturbation import run_perturbation
from latentgraph.perturbation.edge_tests import generic_response_pvalues
from latentgraph.run_layout import RunLayout

STUDY_SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "study"


def run_script(name: str, *args: object, check: bool = False) -> subprocess.CompletedProcess:
    """``scripts/study/<name>`` run by this Python with ``args``, its output captured."""
    command = [sys.executable, str(STUDY_SCRIPTS / name), *(str(a) for a in args)]
    return subprocess.run(command, capture_output=True, text=True, check=check)


@dataclass
class FixedBlanketGraph:
    """A stand-in graph with a given blanket for ``amp`` and given attribute edges."""

    members: set[str]
    edges: list[tuple[str, str]]
    attribute_names: tuple[str, ...] = ("amp", "a", "b", "c", "oracle2")

    @property
    def dag(self) -> nx.DiGraph:
        dag = nx.DiGraph()
        dag.add_nodes_from(self.attribute_names)
        dag.add_edges_from(self.edges, undirected=False)
        return dag

    def markov_blanket(self, target: str) -> set[str]:
        return set(self.members)


FOUR = [
    FixedBlanketGraph({"a", "b"}, [("a", "amp"), ("b", "amp")]),
    FixedBlanketGraph({"a", "b", "oracle2"}, [("a", "amp"), ("b", "amp")]),
    FixedBlanketGraph({"a", "c"}, [("a", "amp"), ("amp", "c")]),
    FixedBlanketGraph({"a"}, [("a", "amp")]),
]


def test_jaccard_of_sets():
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0
    assert mean_pairwise_jaccard([{"a"}, {"a"}, {"b"}]) == pytest.approx(1 / 3)


def test_chance_jaccard_is_the_expectation_over_random_subsets():
    # exact by enumeration: every pair of subsets of sizes 2 and 3 of 5 items
    items = range(5)
    pairs = [(set(a), set(b)) for a in combinations(items, 2) for b in combinations(items, 3)]
    enumerated = sum(jaccard(a, b) for a, b in pairs) / len(pairs)
    assert chance_jaccard(2, 3, 5) == pytest.approx(enumerated)
    assert chance_jaccard(3, 2, 5) == pytest.approx(enumerated)
    # the limits: full sets always agree, two empty ones agree, one empty one never does
    assert chance_jaccard(13, 13, 13) == 1.0 and chance_jaccard(0, 0, 13) == 1.0
    assert chance_jaccard(0, 4, 13) == 0.0
    # large blankets agree by chance: 10 of 13 twice
    assert 0.6 < chance_jaccard(10, 10, 13) < 0.65
    assert chance_pairwise_jaccard([2, 3, 3], 5) == pytest.approx(
        (chance_jaccard(2, 3, 5) * 2 + chance_jaccard(3, 3, 5)) / 3
    )
    with pytest.raises(ValueError, match="must lie in"):
        chance_jaccard(6, 1, 5)


def test_consensus_counts_members_and_edges_over_graphs():
    result = consensus(FOUR, "amp", 0.5, candidates=["a", "b", "c"])  # oracle2 is not a candidate
    assert result.blanket_frequency == {"a": 1.0, "b": 0.5, "c": 0.25}
    assert result.blanket == ["a", "b"]  # 0.5 reaches the default threshold
    assert result.blankets == [["a", "b"], ["a", "b"], ["a", "c"], ["a"]]
    assert result.attribute_edge_frequency == {"a -> amp": 1.0, "b -> amp": 0.5, "amp -> c": 0.25}
    assert consensus(FOUR, "amp", 0.75, candidates=["a", "b", "c"]).blanket == ["a"]
    assert result.mean_jaccard == pytest.approx(mean_pairwise_jaccard(result.blankets))
    assert result.chance_jaccard == pytest.approx(chance_pairwise_jaccard([2, 2, 2, 1], 3))
    payload = result.to_json()
    assert payload["chance_pairwise_jaccard"] == pytest.approx(result.chance_jaccard)
    assert result.agreement_metrics() == {
        "consensus/blanket_size": 2.0,
        "consensus/mean_pairwise_jaccard": result.mean_jaccard,
        "consensus/chance_pairwise_jaccard": result.chance_jaccard,
        "consensus/expected_reproducibility": result.expected_reproducibility,
    }
    assert payload["n_graphs"] == 4 and list(payload["blanket_frequency"]) == ["a", "b", "c"]
    # a fresh ensemble of four keeps a member seen in k of four when it sees it twice or more
    assert payload["inclusion_probability"] == pytest.approx({"a": 1.0, "b": 11 / 16, "c": 1 - 0.75**4 - 0.75**3})
    assert payload["expected_reproducibility"] == result.expected_reproducibility < 1


@dataclass
class GraphWithPartialCorrelations(FixedBlanketGraph):
    """A stand-in ``gradient_covariance`` graph: it also holds its pairs' partial correlations."""

    partial_correlation: dict = None


def test_consensus_summarises_the_members_partial_correlations_over_the_graphs():
    values = {"a": [0.2, 0.3, 0.25, 0.25], "b": [-0.05, -0.02, -0.04, -0.01], "c": [0.05, -0.05, 0.04, -0.02]}
    graphs = [
        GraphWithPartialCorrelations(
            fixed.members, fixed.edges, partial_correlation={"amp": {a: values[a][k] for a in "abc"}}
        )
        for k, fixed in enumerate(FOUR)
    ]
    result = consensus(graphs, "amp", candidates=["a", "b", "c"])
    assert result.partial_correlation == values
    summary = result.partial_correlation_summary
    assert summary["a"]["mean"] == pytest.approx(0.25) and summary["a"]["same_sign"] == 1.0
    assert summary["b"]["sd"] == pytest.approx(float(torch.tensor(values["b"]).std()))  # ddof 1
    assert summary["b"]["same_sign"] == 1.0  # in half the blankets, but on one side of 0 in every fit
    assert summary["c"]["same_sign"] == 0.5  # changes sign with the fit
    assert result.to_json()["target_partial_correlation"] == {name: summary[name] for name in ["a", "b", "c"]}
    # a graph without them (a footprint graph) leaves the summary out rather than guessing
    mixed = consensus([*graphs[:3], FOUR[3]], "amp", candidates=["a", "b", "c"])
    assert mixed.partial_correlation == {} and "target_partial_correlation" not in mixed.to_json()


def test_inclusion_probability_is_the_binomial_tail_of_a_fresh_ensemble():
    # by enumeration: five fits, each holding the member with probability 0.6; three pass 0.5
    enumerated = sum(
        0.6 ** sum(votes) * 0.4 ** (5 - sum(votes)) for votes in product((0, 1), repeat=5) if sum(votes) >= 3
    )
    assert inclusion_probability(0.6, 5, 0.5) == pytest.approx(enumerated) == pytest.approx(0.68256)
    assert inclusion_probability(1.0, 5, 0.5) == 1.0 and inclusion_probability(0.0, 5, 0.5) == 0.0
    assert votes_needed(0.5, 6) == 3 and votes_needed(0.5, 5) == 3 and votes_needed(1.0, 5) == 5
    assert inclusion_probability(0.5, 6, 0.5) == pytest.approx(sum(math.comb(6, j) for j in range(3, 7)) / 64)
    with pytest.raises(ValueError, match="frequency"):
        inclusion_probability(1.2, 5, 0.5)


def test_disjoint_ensembles_drawn_from_pooled_fits():
    assert (disjoint_ensemble_agreement([{"a"}] * 6, ["a", "b"], 0.5, 3, n_splits=20) == 1.0).all()
    # a member in 3 of 6 fits: two complementary ensembles of 3 hold it k and 3 - k times, so
    # exactly one reaches 2 of 3 and the consensus blankets never agree
    half = [{"a"}] * 3 + [set()] * 3
    assert (disjoint_ensemble_agreement(half, ["a"], 0.5, 3, n_splits=50) == 0.0).all()
    # from 12 such fits, ensembles of 3 can also agree
    agreement = disjoint_ensemble_agreement(half * 2, ["a"], 0.5, 3, n_splits=200, seed=1)
    assert 0 < agreement.mean() < 1 and set(agreement) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="at least 8 fits"):
        disjoint_ensemble_agreement(half, ["a"], 0.5, 4)


def test_expected_consensus_jaccard_resamples_the_fits():
    assert expected_consensus_jaccard([{"a", "b"}] * 5, ["a", "b", "c"], 0.5) == 1.0  # every fit agrees
    # one candidate in 3 of 5 fits: two resampled consensus blankets agree when both keep it or
    # both drop it, q² + (1 - q)² with q its inclusion probability
    q = inclusion_probability(0.6, 5, 0.5)
    three_of_five = [{"a"}, {"a"}, {"a"}, set(), set()]
    estimate = expected_consensus_jaccard(three_of_five, ["a"], 0.5, n_resamples=20_000)
    assert estimate == pytest.approx(q**2 + (1 - q) ** 2, abs=0.015)
    # a member near the threshold makes a consensus less reproducible than one far from it
    clear = [{"a"}] * 4 + [{"a", "b"}]
    knife_edge = [{"a", "b"}] * 3 + [{"a"}] * 2
    assert expected_consensus_jaccard(clear, ["a", "b"], 0.5) > expected_consensus_jaccard(knife_edge, ["a", "b"], 0.5)
    assert expected_consensus_jaccard(knife_edge, ["a", "b"], 0.5, seed=3) == expected_consensus_jaccard(
        knife_edge, ["a", "b"], 0.5, seed=3
    )
    assert math.isnan(expected_consensus_jaccard([{"a"}], ["a"], 0.5))
    with pytest.raises(ValueError, match="n_resamples"):
        expected_consensus_jaccard(clear, ["a", "b"], 0.5, n_resamples=0)


def test_consensus_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one graph"):
        consensus([], "amp")
    with pytest.raises(ValueError, match="threshold"):
        consensus(FOUR, "amp", 0.0)
    with pytest.raises(ValueError, match="no attribute 'hemolysis'"):
        consensus(FOUR, "hemolysis")


def test_a_latent_beyond_the_random_directions_is_detected_and_one_like_them_is_not():
    generator = torch.Generator().manual_seed(0)
    n, r, k = 200, 16, 2
    control = torch.rand(n, r, k, 1, generator=generator)  # generic responses in [0, 1)
    like = torch.rand(n, 1, k, 1, generator=generator)  # a latent that is one more random direction
    strong = 0.5 + torch.rand(n, 1, k, 1, generator=generator)  # a latent with a larger response
    effects = torch.cat([like, strong, -strong], dim=1)  # the sign of a change does not matter
    p = generic_response_pvalues(effects, control, n_draws=1999, generator=generator)
    assert p.shape == (3, 1)
    assert p[0, 0] > 0.05 and p[1, 0] == p[2, 0] == pytest.approx(1 / 2000)
    with pytest.raises(ValueError, match="do not match"):
        generic_response_pvalues(effects, control[:10])


def test_auto_needs_the_control():
    s, q = torch.ones(2, 2).numpy(), torch.zeros(2, 2).numpy()
    with pytest.raises(ValueError, match="random-direction null"):
        select_edges(s, q, threshold="fdr", alpha=0.05, min_effect="auto", tau=0.1)
    control = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).numpy()
    edges = select_edges(s, q, threshold="fdr", alpha=0.05, min_effect="auto", tau=0.1, null_qvalues=control)
    assert edges.tolist() == [[True, False], [False, True]]


# --- the noisy synthetic truth: 20 "fits" whose decoders sample -----------------------------------


@pytest.fixture(scope="module")
def noisy_results():
    return [
        run_perturbation(
            NoisyToyAutoencoder(seed),
            ToyAttributes(),
            base="prior",
            deltas=[-2, -1, 1, 2],
            seed=seed,
            n_permutations=999,
            progress=False,
        )
        for seed in range(20)
    ]


@pytest.fixture(scope="module")
def noisy_graphs(noisy_results):
    return [build_graph(result, structure="footprint") for result in noisy_results]  # FDR 0.05, min_effect=auto


def test_single_noisy_fits_sometimes_err(noisy_graphs):
    wrong = [graph for graph in noisy_graphs if graph.latent_edges != TRUE_EDGES]
    assert 1 <= len(wrong) < len(noisy_graphs)


@pytest.mark.parametrize("target", ["count_K", "K_plus_E", "count_W", "count_G"])
def test_consensus_over_noisy_fits_recovers_the_true_blanket(noisy_graphs, target):
    result = consensus(noisy_graphs, target)
    assert result.blanket == sorted(TRUE_BLANKETS[target])
    for name, frequency in result.blanket_frequency.items():
        if name in TRUE_BLANKETS[target]:
            assert frequency >= 0.9, (name, frequency)
        else:
            assert frequency <= 0.1, (name, frequency)


@pytest.mark.parametrize("target", ["count_K", "K_plus_E", "count_W", "count_G"])
def test_gradient_covariance_consensus_over_noisy_fits_recovers_the_true_blanket(noisy_results, target):
    graphs = [build_graph(result, structure="gradient_covariance") for result in noisy_results]
    result = consensus(graphs, target)
    assert result.blanket == sorted(TRUE_BLANKETS[target])
    for name, frequency in result.blanket_frequency.items():
        assert frequency >= 0.9 if name in TRUE_BLANKETS[target] else frequency <= 0.1, (name, frequency)


def test_null_attribute_edges_are_rare_over_noisy_fits(noisy_graphs):
    frequency = consensus(noisy_graphs, "count_K").attribute_edge_frequency
    true_names = {f"{a} -> {b}" for a, b in TRUE_DAG_EDGES if (a, b) != ("count_K", "twice_K")} | {"count_K -- twice_K"}
    assert all(frequency.get(name, 0.0) >= 0.9 for name in true_names), frequency
    assert all(f <= 0.1 for name, f in frequency.items() if name not in true_names), frequency


def test_bootstrap_of_one_noisy_fit_keeps_null_latent_edges_rare(noisy_results):
    stability = bootstrap_graph(noisy_results[0], n_boot=20, seed=0, n_permutations=999)
    latent = stability.latent_edge_frequency
    assert all(latent.get(edge, 0.0) >= 0.9 for edge in TRUE_EDGES), latent
    assert all(f <= 0.1 for edge, f in latent.items() if edge not in TRUE_EDGES), latent


# --- settings and the pipeline --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("ensemble.size=0", "ensemble.size"),
        ("ensemble.threshold=0", "ensemble.threshold"),
        ("stage=consensus", "runs"),
        ("graph.min_effect=-1", "graph.min_effect"),
        ("graph.min_effect=big", "graph.min_effect"),
        ("perturbation.n_directions=0", "graph.min_effect"),  # auto needs the control
        ("perturbation.n_directions=-1", "perturbation.n_directions"),
    ],
)
def test_bad_ensemble_and_threshold_settings_name_their_key(override, key):
    with pytest.raises(ConfigValueError, match=key.replace(".", r"\.")):
        settings_for(override)


def test_numeric_floor_and_no_control_compose():
    settings = settings_for("graph.min_effect=0.5", "perturbation.n_directions=0")
    assert settings.graph.min_effect == 0.5 and settings.perturbation.n_directions == 0


@pytest.mark.parametrize(("oracles", "structure"), [("shared", "footprint"), ("per_member", "gradient_covariance")])
def test_smoke_ensemble_writes_the_consensus_and_stage_consensus_rebuilds_it(tmp_path, oracles, structure):
    run = tmp_path / "run"
    done = run_cli(
        "experiment=smoke",
        "attributes=trained",  # per-member oracles are classifiers trained at each member's seed
        # prior base codes, as when this test was written: with posterior ones the script's partial
        # correlations and the pipeline's disagree (0.054 against 0.177), not yet explained
        "perturbation.base=prior",
        "ensemble.size=3",
        f"ensemble.oracles={oracles}",
        f"graph.structure={structure}",
        f"paths.run_dir={run}",
        # the gradient-covariance run logs to an offline W&B run, read back below
        *(FAST if structure == "footprint" else ["logger.wandb.mode=offline", "trainer.enable_progress_bar=false"]),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    blanket = json.loads((run / "consensus" / "blanket.json").read_text())
    stability = json.loads((run / "consensus" / "stability.json").read_text())
    assert blanket["n_graphs"] == 3 and stability["seeds"] == [0, 1, 2]
    assert set(blanket["frequency"]) == set(
        json.loads((run / "attributes" / "set.json").read_text())["features_for_target"]
    )
    members = [run / "ensemble" / "seed-1", run / "ensemble" / "seed-2"]
    assert all((m / "graph" / "graph.json").is_file() and (m / "checkpoints").is_dir() for m in members)
    own = json.loads((run / "graph" / "blanket.json").read_text())["blanket"]
    assert stability["blankets"][0] == own  # the run's own fit is the ensemble's first member
    features = json.loads((run / "results" / "features.json").read_text())
    assert features["consensus_blanket"] == blanket["features"]
    report = (run / "report.html").read_text()
    assert "Consensus over 3 autoencoders" in report and "A second ensemble of 3 should give" in report
    # the run layout names every file the ensemble wrote, its members' included
    assert [f for f in run.rglob("*") if f.is_file() and not RunLayout(run).owns(f)] == []
    table = report[report.index('id="consensus-frequency"') :].split("</table>")[0]
    shown = re.findall(r"<tr>\s*<td>(\w+)</td>", table)
    assert shown == sorted(stability["blanket_frequency"], key=lambda a: (-stability["blanket_frequency"][a], a))
    assert set(stability["inclusion_probability"]) == set(stability["blanket_frequency"])
    assert 0 <= stability["expected_reproducibility"] <= 1
    assert stability["chance_pairwise_jaccard"] == pytest.approx(
        chance_pairwise_jaccard([len(b) for b in stability["blankets"]], len(blanket["frequency"]))
    )
    own_keys = {n: c["cache_key"] for n, c in json.loads((run / "metrics" / "classifiers.json").read_text()).items()}
    for member in members:
        if oracles == "shared":  # the run's classifiers scored every member; none trained its own
            assert not (member / "metrics" / "classifiers.json").exists()
            continue
        trained = json.loads((member / "metrics" / "classifiers.json").read_text())
        assert set(trained) == set(own_keys) == {"amp", "acp"}
        assert all(trained[n]["cache_key"] != own_keys[n] for n in own_keys)  # each at the member's seed
        assert f"acp-{trained['acp']['cache_key']}" in trained["acp"]["checkpoint"]
        names = json.loads((member / "attributes" / "set.json").read_text())["names"]
        assert names == json.loads((run / "attributes" / "set.json").read_text())["names"]

    again = tmp_path / "again"
    runs = ",".join(str(p) for p in [run, *members])
    rebuilt = run_cli("stage=consensus", f"runs=[{runs}]", f"paths.run_dir={again}", *FAST, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert "consensus over 3 autoencoders" in rebuilt.stdout + rebuilt.stderr  # the log reaches the console
    assert "returning nothing to the sweeper" not in rebuilt.stdout + rebuilt.stderr  # no sweeper, no warning
    from_runs = json.loads((again / "consensus" / "stability.json").read_text())
    assert from_runs["blankets"] == stability["blankets"]
    assert from_runs["blanket_frequency"] == stability["blanket_frequency"]
    assert from_runs["attribute_edge_frequency"] == stability["attribute_edge_frequency"]
    # lineage: both consensus artifacts declare the three members' graphs, and have one name
    graphs = sorted(json.loads((d / "graph" / "artifact.json").read_text())["name"] for d in [run, *members])
    declared = [json.loads((d / "consensus" / "artifact.json").read_text()) for d in (run, again)]
    assert all(d["built_from"] == graphs for d in declared) and declared[0]["name"] == declared[1]["name"]
    assert json.loads((run / "results" / "artifact.json").read_text())["built_from"].count(declared[0]["name"]) == 1
    if structure == "footprint":
        assert "target_partial_correlation" not in stability and "partial correlation with" not in report
        done = run_script("target_partial_correlations.py", run)
        assert done.returncode == 0 and "built a footprint graph" in done.stdout, done.stderr[-3000:]
        return
    # gradient_covariance: every candidate's partial correlation with the target, over the fits,
    # in stability.json and the report, and the same when rebuilt from the members' graph.json
    partial = stability["target_partial_correlation"]
    assert set(partial) == set(blanket["frequency"])
    assert all(0 <= p["same_sign"] <= 1 and p["sd"] >= 0 and -1 <= p["mean"] <= 1 for p in partial.values())
    assert from_runs["target_partial_correlation"] == partial
    assert "partial correlation with the target (mean ± sd)" in report
    from wandb_log import summary as wandb_summary

    [log_file] = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    logged = wandb_summary(log_file)
    for name, values in partial.items():
        assert logged[f"consensus/partial_correlation/{name}"] == pytest.approx(values["mean"])
        assert logged[f"consensus/blanket_frequency/{name}"] == pytest.approx(blanket["frequency"][name])
    _check_target_partial_correlations_script(run, stability)


def _check_target_partial_correlations_script(run, stability) -> None:
    """scripts/study/target_partial_correlations.py recomputes, from the members' saved effects, the same
    partial correlations and per-fit blankets as the pipeline (floor 0 is the pipeline's rule)."""
    out = run / "partial-correlations.png"
    done = run_script("target_partial_correlations.py", run, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert out.read_bytes()[:4] == b"\x89PNG"
    rows = dict(re.findall(r"^(\w+)\s+([+-]\d\.\d{3})\s+\d\.\d{3}\s+\d+/3", done.stdout, flags=re.M))
    assert set(rows) == set(stability["target_partial_correlation"])
    for name, mean in rows.items():
        assert float(mean) == pytest.approx(stability["target_partial_correlation"][name]["mean"], abs=5e-4)
    jaccard_line = re.search(r"mean pairwise Jaccard per run: (\S+)", done.stdout).group(1)
    assert float(jaccard_line) == pytest.approx(stability["mean_pairwise_jaccard"], abs=5e-3)
    # the goal table: one line per floor; a larger floor never grows the blankets, and one run has
    # no consensus pairs to count
    floors = run_script("target_partial_correlations.py", run, "--floor", "0", "0.05", "1")
    table = re.findall(r"^\s+(\d\.\d\d)\s+(\d+\.\d)\s+(\d\.\d\d), (\d\.\d\d)\s+(\d)/1\s+-\s+-$", floors.stdout, re.M)
    assert [row[0] for row in table] == ["0.00", "0.05", "1.00"], floors.stdout[-2000:]
    sizes = [float(row[1]) for row in table]
    assert sizes[0] >= sizes[1] >= sizes[2] == 0.0
    assert float(table[0][2]) == pytest.approx(stability["mean_pairwise_jaccard"], abs=5e-3)
    assert table[0][4] == str(int(stability["mean_pairwise_jaccard"] >= 0.7))
    assert table[2][2:] == ("1.00", "1.00", "1")  # every blanket empty: "agreeing", trivially
    odds = run_script("target_partial_correlations.py", run, "--log-odds", "acp")
    assert odds.returncode == 0 and "acp: " in odds.stdout and "log-odds of acp" in odds.stdout, odds.stderr[-3000:]
    bad = run_script("target_partial_correlations.py", run, "--log-odds", "molecular_weight")
    assert bad.returncode != 0 and "no probabilities" in bad.stderr


def test_per_member_oracles_refuse_a_fixed_classifier_seed():
    with pytest.raises(ConfigValueError, match=r"ensemble\.oracles='per_member'.*attributes\.classifier\.seed=0"):
        settings_for("ensemble.size=2", "ensemble.oracles=per_member", "attributes.classifier.seed=0")
    assert settings_for("ensemble.oracles=per_member").ensemble.oracles == "per_member"


def test_stage_consensus_names_a_directory_that_is_no_run(tmp_path):
    done = run_cli(
        "stage=consensus", f"runs=[{tmp_path},{tmp_path}]", f"paths.run_dir={tmp_path / 'c'}", *FAST, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "runs" in done.stderr and "graph/graph.json" in done.stderr


def test_compare_ensembles_script_reports_the_consensus_jaccard(tmp_path):
    """scripts/study/compare_ensembles.py on two ensemble runs: the consensus Jaccard, a warning when the
    seeds overlap, and the vacuous agreement of two empty consensus blankets named as such."""

    def run_dir(name: str, seeds: list[int], blankets: list[list[str]], consensus: list[str]) -> Path:
        frequency = {a: sum(a in b for b in blankets) / len(blankets) for a in ("a", "b", "c", "d")}
        payload = {
            "target": "t",
            "seeds": seeds,
            "threshold": 0.5,
            "n_graphs": len(blankets),
            "blanket": consensus,
            "blankets": blankets,
            "blanket_frequency": frequency,
            "mean_pairwise_jaccard": 0.0,
        }
        (tmp_path / name / "consensus").mkdir(parents=True)
        (tmp_path / name / "consensus" / "stability.json").write_text(json.dumps(payload))
        return tmp_path / name

    first = run_dir("first", [0, 1], [["a", "b"], ["a", "c"]], ["a", "b", "c"])
    second = run_dir("second", [1, 2], [["a", "b"], ["b"]], ["a", "b"])
    out = run_script("compare_ensembles.py", first, second, "--out", tmp_path / "f.png", check=True).stdout
    # consensus blankets of 3 and 2 of 4 candidates overlap in 1 or 2, each with probability 1/2:
    # chance (1/4 + 2/3) / 2; per-seed sizes [2, 2] and [2, 1]
    assert "Jaccard of the two consensus blankets: 0.667; random blankets of the same sizes: 0.458" in out
    assert "random blankets of the same sizes: A 0.389, B 0.250" in out
    assert "classifiers" not in out  # neither run kept metrics/classifiers.json
    assert "share seeds [1]" in out and (tmp_path / "f.png").stat().st_size > 0
    assert "consensus of all fits at 0.5: ['a', 'b']" in out  # a 3/4, b 3/4, c 1/4
    # resampling two fits, one vote enters: A gives {a,b}, {a,c} or {a,b,c} (1/4, 1/4, 1/2), so two
    # draws agree at 3/4 on average; B gives {a,b} or {b} (3/4, 1/4), 13/16
    predicted = re.search(r"from A ([\d.]+), from B ([\d.]+); observed 0\.667", out)
    assert predicted is not None, out
    assert float(predicted[1]) == pytest.approx(0.75, abs=0.03)
    assert float(predicted[2]) == pytest.approx(13 / 16, abs=0.03)
    for run, key in ((first, "k0"), (second, "k5")):
        (run / "metrics").mkdir()
        (run / "metrics" / "classifiers.json").write_text(json.dumps({"amp": {"cache_key": key}}))
    out = run_script("compare_ensembles.py", first, second).stdout
    assert "warning: the runs' classifiers ['amp'] differ" in out
    empty = run_dir("empty", [5], [[]], [])
    out = run_script("compare_ensembles.py", empty, empty).stdout
    assert "both empty: they agree on nothing" in out


def test_ensemble_size_script_pools_runs_and_refuses_sizes_it_cannot_split(tmp_path):
    """scripts/study/ensemble_size.py: agreement of disjoint ensembles by size, from pooled runs."""

    def run_dir(name: str, blankets: list[list[str]]) -> Path:
        payload = {
            "target": "t",
            "seeds": None,
            "threshold": 0.5,
            "n_graphs": len(blankets),
            "blanket": [],
            "blankets": blankets,
            "blanket_frequency": {a: sum(a in b for b in blankets) / len(blankets) for a in ("a", "b")},
        }
        (tmp_path / name / "consensus").mkdir(parents=True)
        (tmp_path / name / "consensus" / "stability.json").write_text(json.dumps(payload))
        return tmp_path / name

    # a is in every fit, b in none: any two ensembles agree exactly
    runs = [str(run_dir(f"r{k}", [["a"]] * 3)) for k in range(2)]
    done = run_script("ensemble_size.py", *runs, "--sizes", 2, 3, "--splits", 20, "--out", tmp_path / "s.png")
    assert done.returncode == 0, done.stderr
    assert "6 fits pooled from 2 runs" in done.stdout
    assert "   2  1.00 [1.00, 1.00]     1.00" in done.stdout
    assert "   3  1.00 [1.00, 1.00]     1.00  (the two are complements)" in done.stdout
    assert (tmp_path / "s.png").stat().st_size > 0
    refused = run_script("ensemble_size.py", *runs, "--sizes", 4)
    assert refused.returncode != 0 and "--sizes [4]" in refused.stderr
    other = run_dir("other", [["a"]])
    (tmp_path / "other" / "consensus" / "stability.json").write_text(
        json.dumps({**json.loads((tmp_path / "other" / "consensus" / "stability.json").read_text()), "target": "u"})
    )
    mixed = run_script("ensemble_size.py", runs[0], other)
    assert mixed.returncode != 0 and "pool like with like" in mixed.stderr


@pytest.mark.slow
def test_an_ensemble_on_submitit_local_combines_in_a_job_of_its_own_as_in_process(tmp_path):
    """Two members as submitit jobs, the combining step a third job, against ensemble.size=2 in one process."""
    jobs = run_cli(
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=20",
        *QUIET_SMOKE,
        "ensemble.jobs=true",
        "seed=0,1",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert jobs.returncode == 0, jobs.stderr[-3000:]
    sweep = tmp_path / "sweep"
    for job in ("0", "1"):  # each job fitted and graphed its member, and ran no predictors
        assert "stage wae: computing" in (sweep / job / "latentgraph.log").read_text()
        assert (sweep / job / "graph" / "graph.json").is_file() and not (sweep / job / "results").exists()
    combining = json.loads((sweep / "jobs" / "2.json").read_text())  # the combining job's own record
    assert combining["status"] == "succeeded" and combining["run_dir"] == str(sweep / "ensemble")
    assert len(list((sweep / ".submitit").glob("*/*_submitted.pkl"))) == 3  # three submitted jobs
    ensemble_log = (sweep / "ensemble" / "latentgraph.log").read_text()
    assert ensemble_log.count("stage wae: reused") == 2 and "stage wae: computing" not in ensemble_log

    (tmp_path / "alone").mkdir()  # its own cache: the in-process ensemble fits its members itself
    alone = tmp_path / "alone" / "run"
    done = run_cli(*QUIET_SMOKE, "ensemble.size=2", f"hydra.run.dir={alone}", cwd=tmp_path / "alone")
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("consensus/blanket.json", "consensus/stability.json"):
        ours, theirs = (json.loads((run / name).read_text()) for run in (sweep / "ensemble", alone))
        ours.pop("runs", None), theirs.pop("runs", None)  # the members' directories differ
        assert ours == theirs, name
    assert (sweep / "ensemble" / "results" / "metrics.csv").read_text() == (
        alone / "results" / "metrics.csv"
    ).read_text()
