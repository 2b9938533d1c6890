"""Confidence across autoencoders: how often each attribute edge and blanket member recurs over
graphs built from different fits (docs/method.md §5b).

Latents cannot be matched across models (each fit has its own coordinates), so only what is
named by attributes is compared: attribute edges and the target's blanket. The consensus blanket
is every attribute whose blanket frequency reaches ``threshold``, the way bnlearn's
``averaged.network`` keeps the edges whose bootstrap strength passes a threshold (Scutari and
Nagarajan, 2013), here over independently trained models rather than resampled data. Pure:
graphs in, frequencies out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import networkx as nx
import numpy as np

from latentgraph.graph.agreement import (
    chance_pairwise_jaccard,
    expected_consensus_jaccard,
    inclusion_probability,
    mean_pairwise_jaccard,
    votes_needed,
)
from latentgraph.graph.bootstrap import attribute_edge_names


class _Graph(Protocol):
    attribute_names: list[str]
    dag: nx.DiGraph

    def markov_blanket(self, target: str) -> set[str]: ...


@dataclass
class Consensus:
    """Attribute-edge and blanket frequencies over ``n_graphs`` graphs, and the consensus blanket.

    Attributes:
        target: the attribute whose blanket is counted.
        threshold: the frequency a member needs to enter the consensus blanket.
        blanket: the consensus blanket (sorted).
        blanket_frequency: every candidate attribute's frequency in the graphs' blankets (0 included).
        attribute_edge_frequency: ``"a -> b"`` or ``"a -- b"`` (a tie) ``-> fraction`` of graphs.
        blankets: each graph's own blanket (restricted to the candidates), in input order.
        partial_correlation: each candidate's partial correlation with the target in every graph,
            in input order (``gradient_covariance`` graphs); empty when any graph lacks them.
    """

    target: str
    threshold: float
    blanket: list[str]
    blanket_frequency: dict[str, float]
    attribute_edge_frequency: dict[str, float]
    blankets: list[list[str]] = field(default_factory=list)
    partial_correlation: dict[str, list[float]] = field(default_factory=dict)

    @property
    def n_graphs(self) -> int:
        return len(self.blankets)

    @property
    def mean_jaccard(self) -> float:
        """Mean pairwise Jaccard index of the graphs' own blankets: how much single fits agree."""
        return mean_pairwise_jaccard(self.blankets)

    @property
    def chance_jaccard(self) -> float:
        """:attr:`mean_jaccard` expected of random blankets of the same sizes from the same candidates."""
        return chance_pairwise_jaccard([len(b) for b in self.blankets], len(self.blanket_frequency))

    @cached_property
    def inclusion_probability(self) -> dict[str, float]:
        """Every candidate's chance of entering a fresh ensemble's consensus (:func:`inclusion_probability`)."""
        return {
            name: inclusion_probability(f, self.n_graphs, self.threshold) for name, f in self.blanket_frequency.items()
        }

    @cached_property
    def expected_reproducibility(self) -> float:
        """:func:`expected_consensus_jaccard`: how well a second ensemble of this size should agree with a first."""
        return expected_consensus_jaccard(self.blankets, list(self.blanket_frequency), self.threshold)

    @cached_property
    def partial_correlation_summary(self) -> dict[str, dict[str, float]]:
        """Each candidate's partial correlation with the target over the graphs: ``mean``, ``sd``
        (ddof 1) and ``same_sign``, the fraction of graphs on the mean's side of 0.

        It says why a member flips: a consistent but small dependence (every graph on one side,
        the test passing in some) or a dependence that changes sign from fit to fit. Empty when the
        graphs hold no partial correlations (``footprint`` and ``shared_latent`` structures).
        """
        summary = {}
        for name, values in self.partial_correlation.items():
            array = np.asarray(values, dtype=float)
            mean = float(array.mean())
            summary[name] = {
                "mean": mean,
                "sd": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
                "same_sign": float(np.mean(np.sign(array) == np.sign(mean))) if mean != 0 else 0.0,
            }
        return summary

    def agreement_metrics(self) -> dict[str, float]:
        """The consensus's headline numbers under the keys the run log, W&B and ``metrics/summary.json`` use."""
        return {
            "consensus/blanket_size": float(len(self.blanket)),
            "consensus/mean_pairwise_jaccard": self.mean_jaccard,
            "consensus/chance_pairwise_jaccard": self.chance_jaccard,
            "consensus/expected_reproducibility": self.expected_reproducibility,
        }

    def to_json(self) -> dict:
        frequency = dict(sorted(self.blanket_frequency.items(), key=lambda item: (-item[1], item[0])))
        inclusion = self.inclusion_probability
        return {
            "target": self.target,
            "threshold": self.threshold,
            "n_graphs": self.n_graphs,
            "blanket": self.blanket,
            "blanket_frequency": frequency,
            "attribute_edge_frequency": dict(sorted(self.attribute_edge_frequency.items())),
            "blankets": self.blankets,
            "mean_pairwise_jaccard": self.mean_jaccard,
            "chance_pairwise_jaccard": self.chance_jaccard,
            "inclusion_probability": {name: inclusion[name] for name in frequency},
            "expected_reproducibility": self.expected_reproducibility,
            **(
                {"target_partial_correlation": {name: self.partial_correlation_summary[name] for name in frequency}}
                if self.partial_correlation
                else {}
            ),
        }


def consensus(
    graphs: Sequence[_Graph],
    target: str,
    threshold: float = 0.5,
    *,
    candidates: Sequence[str] | None = None,
) -> Consensus:
    """Frequencies of attribute edges and of ``target``'s blanket members over ``graphs``.

    Args:
        graphs: attribute graphs from different fits (anything with ``attribute_names``, ``dag``
            and ``markov_blanket(target)``, such as :class:`~latentgraph.graph.AttributeGraph`).
        target: the attribute whose blanket is counted; every graph must have it.
        threshold: a member's frequency must be at least this (in ``(0, 1]``) to be in the
            consensus blanket.
        candidates: the attributes that may be blanket members (default: every attribute but the
            target); blanket members outside it are ignored, as the pipeline ignores other oracles
            of the target.
    """
    if not graphs:
        raise ValueError("consensus needs at least one graph")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    for index, graph in enumerate(graphs):
        if target not in graph.attribute_names:
            raise ValueError(f"graph {index} has no attribute {target!r} (its attributes: {graph.attribute_names})")
    pool = list(candidates) if candidates is not None else [a for a in graphs[0].attribute_names if a != target]
    allowed = set(pool)
    blankets = [sorted(graph.markov_blanket(target) & allowed) for graph in graphs]
    counts = Counter(member for blanket in blankets for member in blanket)
    frequency = {name: counts[name] / len(graphs) for name in pool}
    edges = Counter(name for graph in graphs for name in set(attribute_edge_names(graph)))
    members = sorted(name for name in pool if counts[name] >= votes_needed(threshold, len(graphs)))
    partial = [getattr(graph, "partial_correlation", None) or {} for graph in graphs]
    if all(target in p and all(name in p[target] for name in pool) for p in partial):
        partial_correlation = {name: [p[target][name] for p in partial] for name in pool}
    else:
        partial_correlation = {}
    return Consensus(
        target=target,
        threshold=threshold,
        blanket=members,
        blanket_frequency=frequency,
        attribute_edge_frequency={name: count / len(graphs) for name, count in edges.items()},
        blankets=blankets,
        partial_correlation=partial_correlation,
    )
