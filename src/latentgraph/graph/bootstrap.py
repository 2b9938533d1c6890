"""Confidence in a graph from one perturbation experiment: resample the base codes, rebuild (docs/method.md §5a).

Each of ``n_boot`` replicates draws the ``N`` base codes with replacement (the ``n`` axis of the
saved effects: no new decodes), recomputes the sensitivity, the sign-flip p-values and the
Benjamini–Hochberg q-values (and the random-direction null's, when the result has it), and
rebuilds the latent→attribute graph and the attribute graph with the same settings. How often an
edge or a blanket member appears over the replicates is its bootstrap confidence, as in Friedman,
Goldszmidt and Wyner (1999) and bnlearn's ``boot.strength``. Pure: tensors in, frequencies out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from latentgraph.config.choices import Structure, with_plain_strings
from latentgraph.graph.build import AttributeGraph, graph_from_tests
from latentgraph.perturbation.edge_tests import (
    attribute_spread,
    benjamini_hochberg,
    generic_response_pvalues,
    permutations_for,
    sensitivity,
    sign_flip_pvalues,
)
from latentgraph.perturbation.result import PerturbationResult

TIE = "--"  # an undirected (tied) attribute edge, "a -- b" with a < b
ARROW = "->"


def attribute_edge_names(graph: AttributeGraph) -> list[str]:
    """The attribute graph's edges as ``"a -> b"`` (directed) or ``"a -- b"`` (tied, names sorted)."""
    names = []
    for a, b, tied in graph.dag.edges(data="undirected"):
        names.append(f"{min(a, b)} {TIE} {max(a, b)}" if tied else f"{a} {ARROW} {b}")
    return names


@dataclass
class GraphStability:
    """Frequencies over bootstrap replicates of one perturbation result.

    Attributes:
        n_boot: the number of replicates.
        latent_edge_frequency: ``(latent, attribute) -> fraction`` for every latent edge seen at least once.
        attribute_edge_frequency: ``"a -> b"`` or ``"a -- b"`` (a tie) ``-> fraction``.
        replicates: the replicate graphs (no SEM fit), for any other question.
        settings: how the graphs were built, the resampling seed and the sign flips per test.
    """

    n_boot: int
    latent_edge_frequency: dict[tuple[str, str], float]
    attribute_edge_frequency: dict[str, float]
    replicates: list[AttributeGraph] = field(repr=False)
    settings: dict = field(default_factory=dict)

    def blanket_frequency(self, target: str) -> dict[str, float]:
        """How often each other attribute is in ``target``'s Markov blanket (every attribute, 0 included)."""
        counts = Counter(member for graph in self.replicates for member in graph.markov_blanket(target))
        others = [name for name in self.replicates[0].attribute_names if name != target]
        return {name: counts[name] / self.n_boot for name in others}

    def to_json(self, target: str | None = None) -> dict:
        """A JSON-ready summary (latent edges as ``"z3 -> amp"``), with ``target``'s blanket frequencies."""
        payload = {
            "n_boot": self.n_boot,
            "settings": self.settings,
            "latent_edge_frequency": {
                f"{j} {ARROW} {a}": f for (j, a), f in sorted(self.latent_edge_frequency.items())
            },
            "attribute_edge_frequency": dict(sorted(self.attribute_edge_frequency.items())),
        }
        if target is not None:
            payload["target"] = target
            payload["blanket_frequency"] = self.blanket_frequency(target)
        return payload


def bootstrap_graph(
    result: PerturbationResult,
    *,
    n_boot: int,
    seed: int = 0,
    n_permutations: int | None = None,
    progress: Callable[[], None] | None = None,
    latent_edges: bool | None = None,
    **build_graph_settings,
) -> GraphStability:
    """Edge and blanket frequencies over ``n_boot`` resamples of ``result``'s base codes.

    Args:
        result: a perturbation result (its saved effects are resampled; nothing is decoded).
        n_boot: the number of replicates (≥ 1).
        seed: seeds the resampling and the replicates' sign flips.
        n_permutations: sign flips per test in each replicate (``None``: the run's own number,
            ``result.info["n_permutations"]``, else the fewest that let one pair pass BH alone).
        progress: called once per finished replicate.
        latent_edges: whether each replicate retests the latent edges (the sign flips and the
            random-direction null, nearly all of a replicate's cost). ``None``: unless the structure is
            ``gradient_covariance``, whose attribute graph and blanket do not depend on the latent
            edges; without them, ``latent_edge_frequency`` is empty and the settings say so.
        build_graph_settings: ``threshold``, ``alpha``, ``min_effect``, ``tau``, ``structure``
            as for :func:`~latentgraph.graph.build_graph` (``sem`` is accepted and unused).
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    settings = {key: value for key, value in build_graph_settings.items() if key != "sem"}
    n, d, k, m = result.effects.shape  # d, k, m: latents, steps and attributes
    flips = n_permutations or result.info.get("n_permutations") or permutations_for(d * m, k)
    if latent_edges is None:
        latent_edges = Structure(settings.get("structure", Structure.footprint)) != Structure.gradient_covariance
    generator = torch.Generator().manual_seed(seed)
    replicates = []
    for _ in range(n_boot):
        rows = torch.randint(0, n, (n,), generator=generator)
        replicates.append(_replicate(result, rows, generator, flips if latent_edges else None, settings))
        if progress is not None:
            progress()
    latent = Counter(edge for graph in replicates for edge in graph.latent_edges)
    attribute = Counter(name for graph in replicates for name in attribute_edge_names(graph))
    return GraphStability(
        n_boot=n_boot,
        latent_edge_frequency={edge: count / n_boot for edge, count in latent.items()},
        attribute_edge_frequency={name: count / n_boot for name, count in attribute.items()},
        replicates=replicates,
        settings={
            **with_plain_strings(settings),
            "seed": seed,
            "n_permutations": flips if latent_edges else None,
            "latent_edges_resampled": latent_edges,
        },
    )


def _replicate(
    result: PerturbationResult, rows: torch.Tensor, generator: torch.Generator, flips: int | None, settings: dict
) -> AttributeGraph:
    """The graph of one resample ``rows`` of the base codes; ``flips=None``: without retesting the
    latent edges (no latent edge in it: a gradient-covariance graph does not read them)."""
    effects = result.effects[rows]
    d, m = len(result.latent_names), len(result.attribute_names)
    null_qvalues = None
    if flips is not None:
        pvalues = sign_flip_pvalues(effects, n_permutations=flips, generator=generator)
    else:
        pvalues = torch.ones(d, m)
        null_qvalues = torch.ones(d, m) if result.has_direction_null else None
    if flips is not None and result.has_direction_null:  # the same base codes' random-direction steps
        null_pvalues = generic_response_pvalues(effects, result.null_effects[rows], n_draws=flips, generator=generator)
        null_qvalues = benjamini_hochberg(null_pvalues)
    spread = attribute_spread(result.base_values[rows])
    return graph_from_tests(
        result.latent_names,
        result.attribute_names,
        sensitivity(effects, spread),
        benjamini_hochberg(pvalues),
        null_qvalues=null_qvalues,
        effects=(effects, result.deltas, spread),
        **settings,
    )
