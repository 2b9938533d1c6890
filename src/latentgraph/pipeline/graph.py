"""The graph stage: the latent→attribute graph, the attribute DAG and the target's blanket, built
once from a perturbation result, whether it came from the fit, the cache or an earlier run.

``stage=graph`` rebuilds the graph from an earlier run's ``perturbation/`` (no training), into
this job's own run directory, so a sweep over thresholds gets one graph per job.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from latentgraph.atomic import atomic_write_text, write_json
from latentgraph.config.choices import AUTO, EmptyBlanket, Threshold, with_plain_strings
from latentgraph.config.schema import GraphConfig
from latentgraph.errors import ConfigValueError
from latentgraph.graph import AttributeGraph, bootstrap_graph, build_graph
from latentgraph.perturbation import PerturbationResult
from latentgraph.progress import progress_steps, show_bars
from latentgraph.report.graph_figures import graph_picture, sensitivity_heatmap, stability_picture
from latentgraph.run_layout import GraphFiles, RunLayout
from latentgraph.runtime.lineage import declare, declared, keyed_name
from latentgraph.runtime.tracking import RunLog

log = logging.getLogger(__name__)


@dataclass
class GraphStageResult:
    """The graph and the blanket report (:func:`blanket_report`); ``features`` are what the
    ``markov_blanket`` predictors use (the blanket, the fallback's attributes, or none)."""

    graph: AttributeGraph
    blanket: dict
    stability: dict | None = None  # graph/stability.json when graph.bootstrap > 0

    @property
    def features(self) -> list[str]:
        return list(self.blanket["features"])


def target_columns(set_summary: dict) -> tuple[str | None, list[str]]:
    """The target's node in the graph (its oracle column, if the set has one) and its feature columns."""
    target = set_summary["target"]
    oracles = [name for name, prop in set_summary["oracle_for"].items() if prop == target]
    node = target if target in oracles else (oracles[0] if oracles else None)
    return node, list(set_summary["features_for_target"])


def blanket_report(graph: AttributeGraph, set_summary: dict, empty_blanket: EmptyBlanket | str) -> dict:
    """The target's Markov blanket among its feature columns, or the fallback, with the reason."""
    node, features = target_columns(set_summary)
    if node is None:
        blanket, reason = [], f"the attribute set has no oracle column for {set_summary['target']!r}"
    else:
        blanket = sorted(graph.markov_blanket(node) & set(features))  # never another oracle of the target
        reason = None if blanket else f"no attribute is in the Markov blanket of {node!r}"
    report = {
        "target": set_summary["target"],
        "target_node": node,
        "blanket": blanket,
        "empty": not blanket,
        "fallback": None,
        "features": blanket,
        "reason": reason,
        "target_footprint": sorted(graph.footprint.get(node, ())) if node else [],
    }
    if not blanket:
        policy = EmptyBlanket(empty_blanket)
        if policy == EmptyBlanket.fail:
            raise ConfigValueError("graph.empty_blanket", "fail", f"{reason}; set graph.empty_blanket=skip to go on")
        if policy == EmptyBlanket.all:
            report.update(fallback="all", features=features)
            log.warning(
                "graph: %s; falling back to all %d feature attributes (graph.empty_blanket=all): the blanket's "
                "comparison with all is not made",
                reason,
                len(features),
            )
        else:
            log.warning(
                "graph: %s; every comparison that needs a blanket is skipped (graph.empty_blanket=skip; "
                "graph.empty_blanket=all uses all attributes instead)",
                reason,
            )
    return report


def graph_settings(settings: GraphConfig) -> dict:
    """``build_graph`` keyword arguments."""
    return {
        "threshold": settings.threshold,
        "alpha": settings.alpha,
        "min_effect": settings.min_effect,
        "tau": settings.tau,
        "structure": settings.structure,
        "sem": settings.sem,
    }


def graph_stage(
    settings: GraphConfig,
    result: PerturbationResult,
    set_summary: dict,
    out_dir: Path,
    run_log: RunLog,
    built_from: str | None = None,
    bars: bool | None = None,
) -> GraphStageResult:
    """Build the graph from ``result``; write ``out_dir`` (JSON, GraphML, PNGs, blanket, SEM); log it.

    ``built_from`` names the perturbation artifact the effects came from (default: the one declared
    beside ``out_dir``, i.e. this run's own). ``bars``: the bootstrap's progress as a bar rather
    than log lines (default: :func:`latentgraph.progress.show_bars`; the pipeline passes its rule).
    """
    built = graph_settings(settings)
    if settings.threshold == Threshold.fdr and settings.min_effect == AUTO and not result.has_direction_null:
        raise ConfigValueError(
            "graph.min_effect",
            AUTO,
            "these perturbation effects have no random-direction null (they were run with "
            "perturbation.n_directions=0); give graph.min_effect a number, e.g. 0.5",
        )
    graph = build_graph(result, **built)
    report = blanket_report(graph, set_summary, settings.empty_blanket)
    files = GraphFiles(out_dir)
    graph.save(files.path)
    write_json(files.blanket, report)
    summary = {
        "latents": len(result.latent_names),
        "latents_with_edges": len(graph.latents_with_edges),
        "latent_edges": len(graph.latent_edges),
        "attribute_edges": graph.dag.number_of_edges(),
        "blanket": report["blanket"],
        "sem_r2": graph.sem_r2,
        "settings": built,
    }
    write_json(files.summary, summary)
    edges = latent_edge_table(result, graph)
    atomic_write_text(files.latent_edges, edges.to_csv(index=False))
    heatmap = sensitivity_heatmap(result, graph, files.sensitivity_heatmap)
    picture = graph_picture(graph, files.picture, target=report["target_node"], blanket=set(report["blanket"]))
    _log_graph(summary, report, graph.sem_r2, (heatmap, picture, edges), run_log)
    stability = None
    if settings.bootstrap > 0:
        stability = graph_confidence(result, settings, report, set_summary, out_dir, run_log, bars)
    source = built_from or declared(RunLayout(out_dir.parent).perturbation.path)
    declare(
        out_dir, keyed_name("graph", {"from": source, "graph": with_plain_strings(asdict(settings))}), "graph", [source]
    )
    return GraphStageResult(graph, report, stability)


def _log_graph(
    summary: dict, report: dict, sem_r2: dict, shown: tuple[Path, Path, pd.DataFrame], run_log: RunLog
) -> None:
    """The graph's counts and blanket in the log; with its heatmap, picture and edge table, to W&B."""
    heatmap, picture, edges = shown
    log.info(
        "graph: %d of %d latents have an edge; %d latent edges, %d attribute edges; blanket of %s: %s",
        summary["latents_with_edges"],
        summary["latents"],
        summary["latent_edges"],
        summary["attribute_edges"],
        report["target_node"],
        report["blanket"] or f"empty (fallback: {report['fallback'] or 'none, comparisons skipped'})",
    )
    log.info("graph: SEM R² %s", {k: round(v, 3) for k, v in sem_r2.items()})
    run_log.metrics(
        {
            "graph/latents_with_edges": summary["latents_with_edges"],
            "graph/latent_edges": summary["latent_edges"],
            "graph/blanket_size": len(report["blanket"]),
        }
    )
    run_log.image("graph/sensitivity_heatmap", heatmap)
    run_log.image("graph/graph", picture)
    run_log.table("graph/latent_edges", edges)
    run_log.summary({"graph/blanket_size": len(report["blanket"]), "graph/blanket": ", ".join(report["blanket"])})


def graph_confidence(
    result: PerturbationResult,
    settings: GraphConfig,
    report: dict,
    set_summary: dict,
    out_dir: Path,
    run_log: RunLog,
    bars: bool | None = None,
) -> dict:
    """``graph.bootstrap`` resamples of the base codes: ``graph/stability.json`` and ``stability.png``.

    The blanket frequencies are of the target's node, over the target's feature columns (other
    oracles of the target never enter its blanket, as in :func:`blanket_report`).
    """
    seed = int(result.info.get("seed", 0))
    bars = show_bars() if bars is None else bars
    with progress_steps("graph: bootstrap resamples", settings.bootstrap, log, bars=bars, lines=5) as advance:
        stability = bootstrap_graph(
            result, n_boot=settings.bootstrap, seed=seed, progress=advance, **graph_settings(settings)
        )
    node = report["target_node"]
    payload = stability.to_json(node)
    features = set(set_summary["features_for_target"])
    payload["blanket_frequency"] = {a: f for a, f in payload.get("blanket_frequency", {}).items() if a in features}
    files = GraphFiles(out_dir)
    write_json(files.stability, payload)
    picture = stability_picture(payload, files.stability_picture)
    frequent = {a: f for a, f in payload["blanket_frequency"].items() if f > 0}
    log.info(
        "graph: over %d bootstrap resamples, blanket of %s: %s",
        stability.n_boot,
        node,
        {a: round(f, 2) for a, f in sorted(frequent.items(), key=lambda item: -item[1])} or "always empty",
    )
    run_log.image("graph/stability", picture)
    run_log.summary({f"graph/blanket_frequency/{a}": f for a, f in payload["blanket_frequency"].items()})
    return payload


def latent_edge_table(result: PerturbationResult, graph: AttributeGraph) -> pd.DataFrame:
    """One row per latent edge: latent, attribute, sensitivity, p- and q-value (largest effect first)."""
    rows = []
    for latent, attribute in graph.latent_edges:
        j, a = result.latent_names.index(latent), result.attribute_names.index(attribute)
        rows.append(
            {
                "latent": latent,
                "attribute": attribute,
                "sensitivity": float(result.sensitivity[j, a]),
                "pvalue": float(result.pvalues[j, a]),
                "qvalue": float(result.qvalues[j, a]),
            }
        )
    columns = ["latent", "attribute", "sensitivity", "pvalue", "qvalue"]
    return pd.DataFrame(rows, columns=columns).sort_values("sensitivity", ascending=False, ignore_index=True)


def earlier_run_effects(run_dir: str | Path) -> tuple[PerturbationResult, dict]:
    """An earlier run's saved perturbation result and attribute-set summary (for ``stage=graph``)."""
    run = RunLayout(run_dir)
    if not run.perturbation.result.is_file():
        raise ConfigValueError("run_dir", str(run_dir), "holds no perturbation/result.npz (a finished stage=all run?)")
    return PerturbationResult.load(run.perturbation.path), json.loads(run.attributes.set.read_text())
