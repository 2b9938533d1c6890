"""Latent→attribute graph, attribute DAG, SEM fit and Markov blanket (docs/method.md §5).

from latentgraph.graph import build_graph, bootstrap_graph, AttributeGraph
"""

from latentgraph.graph.bootstrap import GraphStability, bootstrap_graph
from latentgraph.graph.build import AttributeGraph, build_graph
from latentgraph.graph.structure import footprint_dag, markov_blanket

__all__ = ["AttributeGraph", "GraphStability", "bootstrap_graph", "build_graph", "footprint_dag", "markov_blanket"]
