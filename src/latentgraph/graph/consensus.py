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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Protocol

import networkx as nx

from latentgraph.graph.bootstrap import attribute_edge_names


class _Graph(Protocol):
    attribute_names: list[str]
    dag: nx.DiGraph

    def markov_blanket(self, target: str) -> set[str]: ...


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """``|a ∩ b| / |a ∪ b|``; two empty sets agree (1.0)."""
    a, b = set(a), set(b)
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def mean_pairwise_jaccard(sets: Sequence[Iterable[str]]) -> float:
    """The mean Jaccard index over every pair of ``sets`` (NaN for fewer than two)."""
    pairs = [jaccard(a, b) for a, b in combinations([set(s) for s in sets], 2)]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def chance_jaccard(size_a: int, size_b: int, pool: int) -> float:
    """The expected Jaccard index of two independent, uniformly random subsets of sizes
    ``size_a`` and ``size_b`` of ``pool`` items (two empty sets agree: 1.0).

    The overlap is hypergeometric, so the expectation is a finite sum. Blankets of 10 of 13
    attributes agree at 0.63 by chance alone; a Jaccard index means little without this.
    """
    if not 0 <= size_a <= pool or not 0 <= size_b <= pool:
        raise ValueError(f"subset sizes {size_a}, {size_b} must lie in [0, {pool}]")
    if size_a == size_b == 0:
        return 1.0
    total = comb(pool, size_b)
    low, high = max(0, size_a + size_b - pool), min(size_a, size_b)
    return sum(
        comb(size_a, k) * comb(pool - size_a, size_b - k) / total * k / (size_a + size_b - k)
        for k in range(low, high + 1)
    )


def chance_pairwise_jaccard(sizes: Sequence[int], pool: int) -> float:
    """:func:`mean_pairwise_jaccard` expected of random sets of these ``sizes`` (NaN for fewer than two)."""
    pairs = [chance_jaccard(a, b, pool) for a, b in combinations(sizes, 2)]
    return sum(pairs) / len(pairs) if pairs else float("nan")


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
    """

    target: str
    threshold: float
    blanket: list[str]
    blanket_frequency: dict[str, float]
    attribute_edge_frequency: dict[str, float]
    blankets: list[list[str]] = field(default_factory=list)

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

    def agreement_metrics(self) -> dict[str, float]:
        """The consensus's headline numbers under the keys the run log, W&B and ``metrics/summary.json`` use."""
        return {
            "consensus/blanket_size": float(len(self.blanket)),
            "consensus/mean_pairwise_jaccard": self.mean_jaccard,
            "consensus/chance_pairwise_jaccard": self.chance_jaccard,
        }

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "threshold": self.threshold,
            "n_graphs": self.n_graphs,
            "blanket": self.blanket,
            "blanket_frequency": dict(sorted(self.blanket_frequency.items(), key=lambda item: (-item[1], item[0]))),
            "attribute_edge_frequency": dict(sorted(self.attribute_edge_frequency.items())),
            "blankets": self.blankets,
            "mean_pairwise_jaccard": self.mean_jaccard,
            "chance_pairwise_jaccard": self.chance_jaccard,
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
    # a small tolerance, so that 3 of 6 passes 0.5 however the division rounds
    members = sorted(name for name, f in frequency.items() if f >= threshold - 1e-12)
    return Consensus(
        target=target,
        threshold=threshold,
        blanket=members,
        blanket_frequency=frequency,
        attribute_edge_frequency={name: count / len(graphs) for name, count in edges.items()},
        blankets=blankets,
    )
