"""Latent→attribute graph, attribute DAG, SEM fit and Markov blanket (docs/method.md §5).

from latentgraph.graph import build_graph, bootstrap_graph, consensus, AttributeGraph
"""

from latentgraph.graph.agreement import (
    chance_pairwise_jaccard,
    disjoint_ensemble_agreement,
    expected_consensus_jaccard,
    inclusion_probability,
    jaccard,
    mean_pairwise_jaccard,
)
from latentgraph.graph.bootstrap import GraphStability, bootstrap_graph
from latentgraph.graph.build import AttributeGraph, build_graph
from latentgraph.graph.consensus import Consensus, consensus
from latentgraph.graph.structure import footprint_dag, markov_blanket

__all__ = [
    "AttributeGraph",
    "Consensus",
    "GraphStability",
    "bootstrap_graph",
    "build_graph",
    "chance_pairwise_jaccard",
    "consensus",
    "disjoint_ensemble_agreement",
    "expected_consensus_jaccard",
    "footprint_dag",
    "inclusion_probability",
    "jaccard",
    "markov_blanket",
    "mean_pairwise_jaccard",
]
