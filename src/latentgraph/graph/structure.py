"""Pure graph cores (docs/method.md §5): edges, footprints, the footprint DAG, Markov blankets.

Everything here works on plain sets, dicts and networkx graphs; nothing knows about models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np

from latentgraph.config.choices import AUTO


def select_edges(
    sensitivity: np.ndarray,
    qvalues: np.ndarray,
    *,
    threshold: str,
    alpha: float,
    min_effect: float | str,
    tau: float,
    null_qvalues: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean ``[d, m]`` edge matrix.

    ``threshold="fdr"``: an edge needs ``q < alpha`` and, with ``min_effect="auto"``, a response
    larger than random directions give (``null_qvalues < alpha``, docs/method.md §5c), or with
    a number, ``S ≥ min_effect``.
    ``threshold="fixed"``: an edge iff ``S ≥ tau`` (no test).
    """
    if threshold == "fdr" and min_effect == AUTO:
        if null_qvalues is None:
            raise ValueError(
                "min_effect='auto' needs the random-direction null, which this perturbation result lacks "
                "(run it with n_directions > 0, or give min_effect a number)"
            )
        return (qvalues < alpha) & (null_qvalues < alpha)
    if threshold == "fdr":
        return (qvalues < alpha) & (sensitivity >= float(min_effect))
    if threshold == "fixed":
        return sensitivity >= tau
    raise ValueError(f"threshold must be 'fdr' or 'fixed', got {threshold!r}")


def footprints(edges: Iterable[tuple[str, str]], attributes: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each attribute's latent parents ``L_a`` (empty for an attribute no latent moves)."""
    found: dict[str, set[str]] = {a: set() for a in attributes}
    for latent, attribute in edges:
        found[attribute].add(latent)
    return {a: frozenset(latents) for a, latents in found.items()}


def footprint_dag(footprint: Mapping[str, frozenset[str]]) -> nx.DiGraph:
    """The attribute DAG of strict footprint inclusion, transitively reduced, with ties.

    ``a → b`` when ``∅ ≠ L_a ⊊ L_b``; the transitive reduction then keeps only the covering
    relations. Attributes with equal non-empty footprints are *tied*: they get one edge, in name
    order, marked ``undirected=True``, and share every parent and child of their class. An
    attribute with an empty footprint is an isolated node. The result is acyclic.
    """
    dag = nx.DiGraph()
    dag.add_nodes_from(sorted(footprint))
    classes: dict[frozenset[str], list[str]] = {}
    for attribute in sorted(footprint):
        if footprint[attribute]:
            classes.setdefault(footprint[attribute], []).append(attribute)
    order = nx.DiGraph()
    order.add_nodes_from(classes)
    for small in classes:
        for large in classes:
            if small < large:  # strict subset
                order.add_edge(small, large)
    for small, large in nx.transitive_reduction(order).edges:
        for a in classes[small]:
            for b in classes[large]:
                dag.add_edge(a, b, undirected=False)
    for members in classes.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                dag.add_edge(a, b, undirected=True)
    return dag


def shared_latent_graph(footprint: Mapping[str, frozenset[str]]) -> nx.DiGraph:
    """Attributes joined when their footprints share a latent (every edge ``undirected=True``)."""
    graph = nx.DiGraph()
    names = sorted(footprint)
    graph.add_nodes_from(names)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if footprint[a] & footprint[b]:
                graph.add_edge(a, b, undirected=True)
    return graph


def markov_blanket(dag: nx.DiGraph, target: str) -> set[str]:
    """Parents, children and the children's other parents of ``target`` in ``dag``."""
    if target not in dag:
        raise KeyError(f"{target!r} is not a node of the graph (nodes: {sorted(dag.nodes)})")
    parents = set(dag.predecessors(target))
    children = set(dag.successors(target))
    spouses = {p for child in children for p in dag.predecessors(child)}
    return (parents | children | spouses) - {target}


def neighbours(graph: nx.DiGraph, target: str) -> set[str]:
    """Every node joined to ``target`` by an edge, in either direction."""
    if target not in graph:
        raise KeyError(f"{target!r} is not a node of the graph (nodes: {sorted(graph.nodes)})")
    return set(graph.predecessors(target)) | set(graph.successors(target))
