"""From a perturbation result to the latent→attribute graph, the attribute DAG and the SEM fit."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import torch

from latentgraph.atomic import atomic_target, write_json
from latentgraph.config.choices import Sem, Structure, Threshold
from latentgraph.config.schema import GraphConfig
from latentgraph.graph.gradient_covariance import gradient_covariance
from latentgraph.graph.sem import design_rows, held_out_r2
from latentgraph.graph.structure import (
    footprint_dag,
    footprints,
    markov_blanket,
    neighbours,
    select_edges,
    shared_latent_graph,
)
from latentgraph.perturbation.result import PerturbationResult
from latentgraph.run_layout import GraphFiles

log = logging.getLogger(__name__)


@dataclass
class AttributeGraph:
    """The latent→attribute graph and the attribute graph built on it.

    Attributes:
        latent_edges: ``(latent_name, attribute_name)`` pairs.
        dag: ``networkx.DiGraph`` over the attributes; ``footprint``: strict-footprint-inclusion
            edges (``undirected=True`` marks a tie of equal footprints), ``shared_latent``: an
            ``undirected=True`` edge between attributes that share a latent,
            ``gradient_covariance``: an ``undirected=True`` edge (with its
            ``partial_correlation``) where the attributes' gradient covariance has one.
        footprint: each attribute's latent parents.
        sem_r2: held-out R² of each attribute regressed on its parents (latent and attribute).
        structure, settings: how the graph was built.
        partial_correlation: ``gradient_covariance`` only: every pair's partial correlation,
            ``{a: {b: value}}`` for ``a != b``, edges or not (how far from the test's cut a pair
            sits); empty under the other structures.
    """

    latent_names: list[str]
    attribute_names: list[str]
    latent_edges: set[tuple[str, str]]
    dag: nx.DiGraph
    footprint: dict[str, frozenset[str]]
    structure: Structure
    sem_r2: dict[str, float] = field(default_factory=dict)
    sem_parents: dict[str, list[str]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    partial_correlation: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def directed(self) -> bool:
        """Whether the attribute graph has directions (``footprint``); the others join attributes only."""
        return self.structure == Structure.footprint

    def markov_blanket(self, target: str) -> set[str]:
        """The target's Markov blanket among the attributes (undirected structures: its neighbours)."""
        if not self.directed:
            return neighbours(self.dag, target)
        return markov_blanket(self.dag, target)

    @property
    def latents_with_edges(self) -> list[str]:
        return sorted({latent for latent, _ in self.latent_edges}, key=self.latent_names.index)

    def bipartite(self) -> nx.DiGraph:
        """Latents and attributes as one graph: latent→attribute edges plus the attribute graph's edges."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.latent_names, kind="latent")
        graph.add_nodes_from(self.attribute_names, kind="attribute")
        graph.add_edges_from(self.latent_edges, kind="latent_to_attribute", undirected=False)
        for a, b, data in self.dag.edges(data=True):
            graph.add_edge(a, b, kind="attribute_to_attribute", undirected=bool(data.get("undirected")))
        return graph

    def to_json(self) -> dict:
        return {
            "structure": self.structure,
            "settings": self.settings,
            "latent_edges": sorted([list(edge) for edge in self.latent_edges]),
            "footprint": {a: sorted(latents, key=self.latent_names.index) for a, latents in self.footprint.items()},
            "attribute_edges": [
                {"source": a, "target": b, "undirected": bool(data.get("undirected"))}
                for a, b, data in sorted(self.dag.edges(data=True))
            ],
            "sem_r2": self.sem_r2,
            "sem_parents": self.sem_parents,
            **({"partial_correlation": self.partial_correlation} if self.partial_correlation else {}),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``graph.json``, ``attribute_dag.graphml`` and ``latent_attribute.graphml`` (atomically)."""
        files = GraphFiles(directory)
        write_json(files.graph, self.to_json())
        for path, graph in ((files.attribute_dag, self.dag), (files.latent_attribute, self.bipartite())):
            with atomic_target(path) as tmp:
                nx.write_graphml(_in_sorted_order(graph), tmp)
        return files.path

    @classmethod
    def load(cls, directory: str | Path) -> AttributeGraph:
        """Read a graph written by :meth:`save`."""
        files = GraphFiles(directory)
        payload = json.loads(files.graph.read_text())
        dag = nx.read_graphml(files.attribute_dag)
        latents = sorted({latent for latent, _ in payload["latent_edges"]})
        return cls(
            latent_names=payload["settings"].get("latent_names", latents),
            attribute_names=list(payload["footprint"]),
            latent_edges={tuple(edge) for edge in payload["latent_edges"]},
            dag=dag,
            footprint={a: frozenset(v) for a, v in payload["footprint"].items()},
            structure=payload["structure"],
            sem_r2=payload["sem_r2"],
            sem_parents=payload["sem_parents"],
            settings=payload["settings"],
            partial_correlation=payload.get("partial_correlation", {}),
        )


def build_graph(
    result: PerturbationResult,
    *,
    threshold: Threshold | str = GraphConfig.threshold,
    alpha: float = GraphConfig.alpha,
    min_effect: float | str = GraphConfig.min_effect,
    tau: float = GraphConfig.tau,
    structure: Structure | str = GraphConfig.structure,
    sem: Sem | str = GraphConfig.sem,
) -> AttributeGraph:
    """Edges from the tests, footprints, the attribute graph, and the SEM fit.

    Args:
        result: a perturbation result (:func:`~latentgraph.perturbation.run_perturbation`).
        threshold: ``"fdr"`` (``q < alpha`` and the effect-size rule) or ``"fixed"`` (``S ≥ tau``).
        min_effect: the effect-size rule under ``"fdr"``: ``"auto"`` (the pair must also beat the
            random-direction null, ``null q < alpha``; docs/method.md §5c) or a number, the
            floor ``S ≥ min_effect``.
        structure: ``"gradient_covariance"`` (partial correlations of the attributes' gradient
            covariance, BH at ``alpha``; :mod:`latentgraph.graph.gradient_covariance`; the default),
            ``"footprint"`` (strict footprint inclusion) or ``"shared_latent"``. The latent edges and
            footprints are the same under every structure.

    Every default is the config's (:class:`~latentgraph.config.schema.GraphConfig`).
        sem: ``"linear"`` or ``"mlp"`` structural equations.
    """
    threshold, sem, structure = Threshold(threshold), Sem(sem), Structure(structure)  # ValueError names the choices
    graph = graph_from_tests(
        result.latent_names,
        result.attribute_names,
        result.sensitivity,
        result.qvalues,
        threshold=threshold,
        alpha=alpha,
        min_effect=min_effect,
        tau=tau,
        structure=structure,
        null_qvalues=result.null_qvalues,
        effects=(result.effects, result.deltas, result.attribute_spread),
    )
    graph.settings.update(sem=sem)
    graph.sem_r2, graph.sem_parents = fit_sem(result, graph, model=sem)
    return graph


def graph_from_tests(
    latent_names: list[str],
    attribute_names: list[str],
    sensitivity: torch.Tensor,
    qvalues: torch.Tensor,
    *,
    threshold: Threshold | str = GraphConfig.threshold,
    alpha: float = GraphConfig.alpha,
    min_effect: float | str = GraphConfig.min_effect,
    tau: float = GraphConfig.tau,
    structure: Structure | str = GraphConfig.structure,
    null_qvalues: torch.Tensor | None = None,
    effects: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> AttributeGraph:
    """The latent edges, footprints and attribute graph from sensitivities and q-values (no SEM fit).

    ``null_qvalues`` are the random-direction null's, which ``min_effect="auto"`` needs.
    ``effects`` is ``(effects, deltas, attribute spread)``, from which the ``gradient_covariance``
    structure builds its attribute graph (the other structures do not read it).
    """
    threshold, structure = Threshold(threshold), Structure(structure)
    edge_matrix = select_edges(
        sensitivity.numpy(),
        qvalues.numpy(),
        threshold=threshold,
        alpha=alpha,
        min_effect=min_effect,
        tau=tau,
        null_qvalues=None if null_qvalues is None else null_qvalues.numpy(),
    )
    edges = {(latent_names[j], attribute_names[a]) for j, a in zip(*edge_matrix.nonzero())}
    footprint = footprints(edges, attribute_names)
    if structure == Structure.gradient_covariance:
        if effects is None:
            raise ValueError("structure='gradient_covariance' needs effects=(effects, deltas, spread)")
        covariance = gradient_covariance(*effects, attribute_names, alpha=alpha)
        dag = covariance.graph(alpha)
        partial = covariance.partial_correlation_by_name()
    else:
        partial = {}
        dag = footprint_dag(footprint) if structure == Structure.footprint else shared_latent_graph(footprint)
    settings = {
        "threshold": threshold,
        "alpha": alpha,
        "min_effect": min_effect,
        "tau": tau,
        "latent_names": latent_names,
    }
    return AttributeGraph(
        latent_names, attribute_names, edges, dag, footprint, structure, settings=settings, partial_correlation=partial
    )


def _in_sorted_order(graph: nx.DiGraph) -> nx.DiGraph:
    """``graph`` with its nodes and edges sorted by name, so a GraphML file repeats byte for byte: the
    graphs are built from sets, whose order follows PYTHONHASHSEED."""
    ordered = nx.DiGraph(**graph.graph)
    ordered.add_nodes_from(sorted(graph.nodes(data=True), key=lambda node: str(node[0])))
    ordered.add_edges_from(sorted(graph.edges(data=True), key=lambda edge: (str(edge[0]), str(edge[1]))))
    return ordered


def fit_sem(
    result: PerturbationResult, graph: AttributeGraph, *, model: str = "linear"
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Held-out R² per attribute, regressed on its latent parents and its attribute parents."""
    codes, values = design_rows(result.base_codes, result.perturbed_codes(), result.base_values, result.effects)
    r2, parents = {}, {}
    for a, name in enumerate(result.attribute_names):
        latent_parents = sorted(graph.footprint[name], key=result.latent_names.index)
        attribute_parents = sorted(
            p for p in graph.dag.predecessors(name) if not graph.dag.edges[p, name].get("undirected")
        )
        columns = [codes[:, result.latent_names.index(j)] for j in latent_parents]
        columns += [values[:, result.attribute_names.index(p)] for p in attribute_parents]
        x = torch.stack(columns, dim=1) if columns else torch.empty(len(values), 0, dtype=values.dtype)
        r2[name] = held_out_r2(x, values[:, a], model=model)
        parents[name] = latent_parents + attribute_parents
    return r2, parents
