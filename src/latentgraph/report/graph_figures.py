"""Pictures of a perturbation result and its graph (matplotlib, written atomically as PNG)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
from matplotlib.figure import Figure

from latentgraph.graph.build import AttributeGraph
from latentgraph.perturbation.result import PerturbationResult
from latentgraph.report.figures import save_png

GRAPH_DPI = 120  # the graph pictures carry more labels than the predictor figures


def _wrapped(name: str, width: int = 11) -> str:
    """A node label broken at underscores into lines of about ``width`` characters."""
    lines, line = [], ""
    for part in name.split("_"):
        candidate = f"{line}_{part}" if line else part
        if line and len(candidate) > width:
            lines.append(line + "_")
            line = part
        else:
            line = candidate
    return "\n".join([*lines, line])


def sensitivity_heatmap(result: PerturbationResult, graph: AttributeGraph, path: str | Path) -> Path:
    """Heatmap of ``S`` (attributes × latents), latents ordered by their largest effect; edges dotted."""
    s = result.sensitivity.numpy().T  # [m, d]
    order = np.argsort(-s.max(axis=0), kind="stable")
    edges = np.zeros_like(s, dtype=bool)
    for latent, attribute in graph.latent_edges:
        edges[result.attribute_names.index(attribute), result.latent_names.index(latent)] = True
    m, d = s.shape
    figure = Figure(figsize=(min(4 + 0.12 * d, 24), 1.5 + 0.35 * m))
    axis = figure.subplots()
    image = axis.imshow(s[:, order], aspect="auto", cmap="viridis", interpolation="nearest")
    rows, columns = np.nonzero(edges[:, order])
    axis.scatter(columns, rows, s=6, c="white", marker="o", label="edge")
    axis.set_yticks(range(m), result.attribute_names)
    step = max(1, d // 40)
    axis.set_xticks(range(0, d, step), [result.latent_names[j] for j in order[::step]], rotation=90, fontsize=7)
    axis.set_xlabel("latent (ordered by largest sensitivity)")
    axis.set_title(
        f"sensitivity S[j, a] = mean|Δ| / spread; {len(graph.latent_edges)} edges "
        f"({graph.settings.get('threshold')}, α={graph.settings.get('alpha')})"
    )
    figure.colorbar(image, ax=axis, fraction=0.03, pad=0.01)
    axis.legend(loc="upper right", fontsize=7, framealpha=0.5)
    return save_png(figure, Path(path), dpi=GRAPH_DPI)


def _tie_width(edge: dict) -> float:
    """An undirected edge's line width: by |partial correlation| (gradient_covariance), else 1."""
    weight = edge.get("partial_correlation")
    return 1.0 if weight is None else 0.5 + 4 * abs(weight)


def graph_picture(
    graph: AttributeGraph, path: str | Path, *, target: str | None = None, blanket: set[str] | None = None
) -> Path:
    """Two panels: latents → attributes (latents with an edge only), and the attribute graph.

    The target is red, its blanket orange; tied (undirected) attribute edges are dashed.
    """
    blanket = blanket or set()
    colour = lambda a: "tab:red" if a == target else ("tab:orange" if a in blanket else "tab:blue")  # noqa: E731
    figure = Figure(figsize=(18, 7.5))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.35]})
    _draw_latent_edges(graph, left, colour)
    _draw_attribute_graph(graph, right, colour)
    return save_png(figure, Path(path), dpi=GRAPH_DPI)


def _draw_latent_edges(graph: AttributeGraph, ax, colour) -> None:
    """Latents (left column, those with an edge) → attributes (right column, with footprint sizes)."""
    latents = graph.latents_with_edges
    bipartite = nx.DiGraph()
    bipartite.add_nodes_from(latents)
    bipartite.add_nodes_from(graph.attribute_names)
    bipartite.add_edges_from(sorted(graph.latent_edges))  # a set: sorted, so the picture repeats byte for byte
    position = {
        **{j: (0.0, -i * 10.0 / max(len(latents), 1)) for i, j in enumerate(latents)},
        **{a: (1.0, -i * 10.0 / max(len(graph.attribute_names), 1)) for i, a in enumerate(graph.attribute_names)},
    }
    nx.draw_networkx_edges(bipartite, position, ax=ax, alpha=0.3, arrows=False)
    nx.draw_networkx_nodes(bipartite, position, nodelist=latents, node_color="lightgrey", node_size=60, ax=ax)
    nx.draw_networkx_nodes(
        bipartite,
        position,
        nodelist=graph.attribute_names,
        node_size=120,
        ax=ax,
        node_color=[colour(a) for a in graph.attribute_names],
    )
    nx.draw_networkx_labels(
        bipartite,
        {a: (x + 0.04, y) for a, (x, y) in position.items() if a in graph.footprint},
        labels={a: f"{a} ({len(graph.footprint[a])})" for a in graph.attribute_names},
        horizontalalignment="left",
        font_size=8,
        ax=ax,
    )
    if len(latents) <= 60:
        nx.draw_networkx_labels(
            bipartite,
            {j: (x - 0.04, y) for j, (x, y) in position.items() if j in latents},
            labels={j: j for j in latents},
            horizontalalignment="right",
            font_size=7,
            ax=ax,
        )
    ax.set_title(f"latent → attribute: {len(latents)} latents with an edge (footprint size in brackets)")
    ax.set_xlim(-0.2, 1.8)
    ax.axis("off")


def _attribute_layout(graph: AttributeGraph) -> dict:
    """A circle without directions; otherwise layers from the directed edges only, so a tied class
    sits side by side in one layer."""
    dag = graph.dag
    if not graph.directed:
        return nx.circular_layout(sorted(dag.nodes)) if dag.number_of_nodes() else {}
    directed_only = nx.DiGraph([(u, v) for u, v, tied in dag.edges(data="undirected") if not tied])
    directed_only.add_nodes_from(dag.nodes)
    # each layer's nodes by name: set order (PYTHONHASHSEED) must not move them
    layers = {depth: sorted(nodes) for depth, nodes in enumerate(nx.topological_generations(directed_only))}
    layout = nx.multipartite_layout(dag, subset_key=layers, align="horizontal") if dag.number_of_nodes() else {}
    return {node: (x, -y) for node, (x, y) in layout.items()}


def _draw_attribute_graph(graph: AttributeGraph, ax, colour) -> None:
    """The attribute graph: directed edges as arrows, tied ones dashed (width = |partial correlation|)."""
    dag = graph.dag
    layout = _attribute_layout(graph)
    # drawn in sorted order, so overlapping strokes and labels repeat byte for byte under any hash seed
    directed = sorted((u, v) for u, v, tied in dag.edges(data="undirected") if not tied)
    tied = sorted((u, v) for u, v, t in dag.edges(data="undirected") if t)
    nodes = sorted(dag.nodes)
    nx.draw_networkx_edges(dag, layout, edgelist=directed, ax=ax, arrows=True, arrowsize=14, node_size=1400)
    nx.draw_networkx_edges(
        dag,
        layout,
        edgelist=tied,
        ax=ax,
        arrows=True,
        arrowstyle="-",
        style="dashed",
        alpha=0.5,
        node_size=1400,
        width=[_tie_width(dag.edges[edge]) for edge in tied],
        connectionstyle="arc3,rad=0.25" if graph.directed else "arc3,rad=0.0",
    )
    nx.draw_networkx_nodes(
        dag, layout, nodelist=nodes, node_color=[colour(a) for a in nodes], node_size=1400, alpha=0.35, ax=ax
    )
    # labels wrapped at underscores and boxed, so long names neither overlap nor hide behind nodes
    nx.draw_networkx_labels(
        dag,
        layout,
        labels={a: _wrapped(a) for a in nodes},
        font_size=7.5,
        ax=ax,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
    )
    ax.margins(x=0.12, y=0.1)  # room for the outermost labels
    edges = "dashed = tie" if graph.directed else "dashed = undirected"
    if graph.structure == "gradient_covariance":
        edges = "line width = |partial correlation|"
    ax.set_title(f"attribute graph ({graph.structure}); target red, blanket orange\n{edges}")
    ax.axis("off")


def stability_picture(
    stability: dict, path: str | Path, *, top: int = 30, over: str | None = None, threshold: float = 0.5
) -> Path:
    """Two panels from :meth:`GraphStability.to_json` (or :meth:`Consensus.to_json`): the target's
    blanket frequencies, and the most frequent attribute edges (``a -> b``; ``a -- b`` a tie), with
    the ``threshold`` line marked. ``over`` says what the frequency counts (default: the resamples)."""
    over = over or f"{stability['n_boot']} bootstrap resamples of the base codes"
    blanket = sorted(stability.get("blanket_frequency", {}).items(), key=lambda item: (-item[1], item[0]))
    edges = sorted(stability["attribute_edge_frequency"].items(), key=lambda item: (-item[1], item[0]))[:top]
    figure = Figure(figsize=(14, 0.8 + 0.28 * max(len(blanket), len(edges), 4)), layout="constrained")
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    for axis, rows, title in (
        (
            left,
            blanket,
            f"in the blanket of {stability.get('target')}"
            + ("\n(numbers: chance a second ensemble keeps it)" if "inclusion_probability" in stability else ""),
        ),
        (right, edges, f"attribute edges (top {len(edges)})"),
    ):
        names = [name for name, _ in rows][::-1]
        values = [value for _, value in rows][::-1]
        axis.barh(names, values, color=["tab:orange" if v >= threshold else "tab:gray" for v in values])
        if axis is left and "inclusion_probability" in stability:
            # the chance a second ensemble keeps each member: the knife-edge ones are worth seeing
            for row, (name, value) in enumerate(zip(names, values)):
                if value > 0:
                    inside = value > 0.85  # inside the bar's end, clear of the other panel's labels
                    axis.annotate(
                        f"{stability['inclusion_probability'][name]:.2f}",
                        (value, row),
                        xytext=(-3 if inside else 3, 0),
                        textcoords="offset points",
                        ha="right" if inside else "left",
                        va="center",
                        fontsize=8,
                        color="white" if inside else "tab:blue",
                    )
        axis.axvline(threshold, color="black", linewidth=0.8, linestyle="--")
        axis.set_xlim(0, 1)
        axis.set_xlabel(f"frequency over {over}")
        axis.set_title(title)
        axis.tick_params(axis="y", labelsize=8)
    return save_png(figure, Path(path), dpi=GRAPH_DPI)
