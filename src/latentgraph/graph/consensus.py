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
from functools import cached_property
from itertools import combinations
from math import ceil, comb
from typing import Protocol

import networkx as nx
import numpy as np

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


def votes_needed(threshold: float, n_graphs: int) -> int:
    """How many of ``n_graphs`` blankets must hold a member for its frequency to reach
    ``threshold`` (a small tolerance, so that 3 of 6 passes 0.5 however the product rounds)."""
    return max(ceil(threshold * n_graphs - 1e-9), 0)


def inclusion_probability(frequency: float, n_graphs: int, threshold: float) -> float:
    """The chance that a member seen in a fraction ``frequency`` of ``n_graphs`` blankets enters
    the consensus of a fresh ensemble of the same size: ``P(Binomial(n_graphs, frequency) ≥ k)``
    with ``k`` the :func:`votes_needed`. The plug-in (bootstrap) estimate, exact: a member at 3 of
    5 with threshold 0.5 gets 0.68, so a second ensemble drops it one time in three.
    """
    if not 0 <= frequency <= 1:
        raise ValueError(f"frequency must lie in [0, 1], got {frequency}")
    needed = votes_needed(threshold, n_graphs)
    return sum(
        comb(n_graphs, j) * frequency**j * (1 - frequency) ** (n_graphs - j) for j in range(needed, n_graphs + 1)
    )


def _membership(blankets: Sequence[set[str]], candidates: Sequence[str]) -> np.ndarray:
    """``fits × candidates``: 1 where the fit's blanket holds the candidate."""
    return np.array([[name in blanket for name in candidates] for blanket in blankets], dtype=np.int64)


def _row_jaccard(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """:func:`jaccard` of each row pair of two boolean ``draws × candidates`` arrays (empty rows agree)."""
    union = (first | second).sum(axis=1)
    overlap = (first & second).sum(axis=1)
    return np.where(union > 0, overlap / np.maximum(union, 1), 1.0)


def expected_consensus_jaccard(
    blankets: Sequence[Iterable[str]],
    candidates: Sequence[str],
    threshold: float,
    *,
    n_resamples: int = 4000,
    seed: int = 0,
) -> float:
    """The Jaccard index expected between the consensus blankets of two independent ensembles of
    ``len(blankets)`` fits, estimated from this one ensemble: draw two ensembles of the same size
    from its fits with replacement (the bootstrap over autoencoders; Friedman, Goldszmidt and
    Wyner, 1999, resample data instead), take each one's consensus at ``threshold``, and average
    their Jaccard index over ``n_resamples`` pairs (two empty consensus blankets agree, as in
    :func:`jaccard`). NaN for fewer than two blankets.

    Resampling keeps the members' dependence (fits that hold one attribute tend to hold
    another). With few fits it is optimistic: a member no fit holds can never appear.
    """
    blankets = [set(b) for b in blankets]
    n_graphs = len(blankets)
    if n_graphs < 2:
        return float("nan")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    held = _membership(blankets, candidates)
    needed = votes_needed(threshold, n_graphs)
    rng = np.random.default_rng(seed)

    def resampled_consensus() -> np.ndarray:
        draws = rng.integers(0, n_graphs, size=(n_resamples, n_graphs))
        return held[draws].sum(axis=1) >= needed

    first, second = resampled_consensus(), resampled_consensus()
    return float(_row_jaccard(first, second).mean())


def disjoint_ensemble_agreement(
    blankets: Sequence[Iterable[str]],
    candidates: Sequence[str],
    threshold: float,
    size: int,
    *,
    n_splits: int = 300,
    seed: int = 0,
) -> np.ndarray:
    """The consensus Jaccard of two disjoint ensembles of ``size`` fits, drawn at random from
    ``blankets`` (one per fit) ``n_splits`` times: how well two ensembles of that size agree when
    the pooled fits stand for the population of autoencoders. Needs ``2 * size`` fits or more;
    with exactly that many the two ensembles are complements, so their counts are tied.
    """
    blankets = [set(b) for b in blankets]
    if size < 1 or 2 * size > len(blankets):
        raise ValueError(f"two disjoint ensembles of {size} need at least {2 * size} fits, got {len(blankets)}")
    held = _membership(blankets, candidates)
    needed = votes_needed(threshold, size)
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(len(blankets)) for _ in range(n_splits)]).reshape(n_splits, len(blankets))
    first = held[orders[:, :size]].sum(axis=1) >= needed
    second = held[orders[:, size : 2 * size]].sum(axis=1) >= needed
    return _row_jaccard(first, second)


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
