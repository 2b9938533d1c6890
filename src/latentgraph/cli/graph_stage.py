"""The perturbation and graph stages: the callback for the fit, and the graph built from its result.

``stage=all`` attaches :class:`PerturbationCallback` to the autoencoder fit; when it has saved
``perturbation/``, :func:`write_graph_outputs` builds the graph into ``graph/``. ``stage=graph``
rebuilds the graph from an earlier run's ``perturbation/`` (no training), into this job's own
run directory, so a sweep over thresholds gets one graph per job.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger, WandbLogger

from latentgraph.artifacts import atomic_write_text, write_json
from latentgraph.attributes.sets import AttributeSet
from latentgraph.cli.tracking import build_loggers
from latentgraph.config import ConfigValueError
from latentgraph.data import PreparedData
from latentgraph.graph import AttributeGraph, build_graph
from latentgraph.graph.plots import graph_picture, sensitivity_heatmap
from latentgraph.perturbation.callback import PerturbationCallback
from latentgraph.perturbation.result import PerturbationResult

log = logging.getLogger(__name__)


def target_columns(set_summary: dict) -> tuple[str | None, list[str]]:
    """The target's node in the graph (its oracle column, if the set has one) and its feature columns."""
    target = set_summary["target"]
    oracles = [name for name, prop in set_summary["oracle_for"].items() if prop == target]
    node = target if target in oracles else (oracles[0] if oracles else None)
    return node, list(set_summary["features_for_target"])


def blanket_report(graph: AttributeGraph, set_summary: dict, empty_blanket: str) -> dict:
    """The target's Markov blanket among its feature columns, or the fallback, with the reason."""
    node, features = target_columns(set_summary)
    if node is None:
        blanket, reason = [], f"the attribute set has no oracle column for {set_summary['target']!r}"
    else:
        blanket = sorted(graph.markov_blanket(node) & set(features))  # never another oracle of the target
        reason = None if blanket else f"no attribute is in the Markov blanket of {node!r}"
    report = {"target": set_summary["target"], "target_node": node, "blanket": blanket, "empty": not blanket,
              "fallback": None, "features": blanket, "reason": reason,
              "target_footprint": sorted(graph.footprint.get(node, ())) if node else []}
    if not blanket:
        if empty_blanket == "fail":
            raise ConfigValueError("graph.empty_blanket", "fail", f"{reason}; set graph.empty_blanket=all to fall back")
        report.update(fallback="all", features=features)
        log.warning("graph: %s; falling back to all %d feature attributes (graph.empty_blanket=all)", reason,
                    len(features))
    return report


def read_blanket_report(run_dir: Path) -> dict | None:
    """The run's ``graph/blanket.json`` (see :func:`blanket_report`), or ``None`` when no graph was built."""
    path = run_dir / "graph" / "blanket.json"
    return json.loads(path.read_text()) if path.is_file() else None


def write_graph_outputs(result: PerturbationResult, graph_cfg: DictConfig, set_summary: dict, out_dir: Path,
                        loggers: list[Logger] = (), step: int = 0) -> tuple[AttributeGraph, dict]:
    """Build the graph from ``result``; write ``graph/`` (JSON, GraphML, PNGs, blanket, SEM); log it."""
    settings = OmegaConf.to_container(graph_cfg, resolve=True)
    empty_blanket = settings.pop("empty_blanket")
    graph = build_graph(result, **settings)
    report = blanket_report(graph, set_summary, empty_blanket)
    graph.save(out_dir)
    write_json(out_dir / "blanket.json", report)
    summary = {
        "latents": len(result.latent_names), "latents_with_edges": len(graph.latents_with_edges),
        "latent_edges": len(graph.latent_edges), "attribute_edges": graph.dag.number_of_edges(),
        "blanket": report["blanket"], "sem_r2": graph.sem_r2, "settings": settings,
    }
    write_json(out_dir / "summary.json", summary)
    atomic_write_text(out_dir / "latent_edges.csv", latent_edge_table(result, graph).to_csv(index=False))
    heatmap = sensitivity_heatmap(result, graph, out_dir / "sensitivity_heatmap.png")
    picture = graph_picture(graph, out_dir / "graph.png", target=report["target_node"], blanket=set(report["blanket"]))
    log.info("graph: %d of %d latents have an edge; %d latent edges, %d attribute edges; blanket of %s: %s",
             summary["latents_with_edges"], summary["latents"], summary["latent_edges"], summary["attribute_edges"],
             report["target_node"], report["blanket"] or f"empty (fallback: {report['fallback']})")
    log.info("graph: SEM R² %s", {k: round(v, 3) for k, v in graph.sem_r2.items()})
    metrics = {"graph/latents_with_edges": summary["latents_with_edges"], "graph/latent_edges": summary["latent_edges"],
               "graph/blanket_size": len(report["blanket"])}
    for logger in loggers:
        logger.log_metrics(metrics, step=step)
        if isinstance(logger, WandbLogger):
            logger.log_image("graph/sensitivity_heatmap", images=[str(heatmap)], step=step)
            logger.log_image("graph/graph", images=[str(picture)], step=step)
            logger.log_table("graph/latent_edges", dataframe=latent_edge_table(result, graph), step=step)
            logger.experiment.summary["graph/blanket_size"] = len(report["blanket"])
            logger.experiment.summary["graph/blanket"] = ", ".join(report["blanket"])
    return graph, report


def latent_edge_table(result: PerturbationResult, graph: AttributeGraph) -> pd.DataFrame:
    """One row per latent edge: latent, attribute, sensitivity, p- and q-value (largest effect first)."""
    rows = []
    for latent, attribute in graph.latent_edges:
        j, a = result.latent_names.index(latent), result.attribute_names.index(attribute)
        rows.append({"latent": latent, "attribute": attribute, "sensitivity": float(result.sensitivity[j, a]),
                     "pvalue": float(result.pvalues[j, a]), "qvalue": float(result.qvalues[j, a])})
    columns = ["latent", "attribute", "sensitivity", "pvalue", "qvalue"]
    return pd.DataFrame(rows, columns=columns).sort_values("sensitivity", ascending=False, ignore_index=True)


def perturbation_settings(cfg: DictConfig) -> dict:
    """``run_perturbation`` keyword arguments from ``cfg.perturbation``."""
    settings = OmegaConf.to_container(cfg.perturbation, resolve=True)
    settings.pop("enabled")
    return settings


def perturbation_callback(cfg: DictConfig, attributes: AttributeSet, data: PreparedData, run_dir: Path
                          ) -> PerturbationCallback | None:
    """The callback for ``cfg.perturbation`` (``None`` when disabled); it writes ``graph/`` too."""
    if not cfg.perturbation.enabled:
        log.info("perturbation: disabled (perturbation.enabled=false)")
        return None
    settings = perturbation_settings(cfg)
    set_summary = json.loads((run_dir / "attributes" / "set.json").read_text())

    def on_result(result: PerturbationResult, trainer: pl.Trainer) -> None:
        write_graph_outputs(result, cfg.graph, set_summary, run_dir / "graph", trainer.loggers, trainer.global_step)

    return PerturbationCallback(attributes=attributes, out_dir=run_dir / "perturbation", on_result=on_result,
                                sequences=list(data.corpus_val), seed=cfg.seed, **settings)


def rebuild_graph(cfg: DictConfig, run_dir: Path) -> dict:
    """``stage=graph``: the graph from ``cfg.run_dir``'s saved effects, written to ``run_dir/graph``."""
    source = Path(cfg.run_dir)
    if not (source / "perturbation" / "result.npz").is_file():
        raise ConfigValueError("run_dir", cfg.run_dir, "holds no perturbation/result.npz (a finished stage=all run?)")
    result = PerturbationResult.load(source / "perturbation")
    set_summary = json.loads((source / "attributes" / "set.json").read_text())
    loggers = build_loggers(cfg, run_dir)
    _, report = write_graph_outputs(result, cfg.graph, set_summary, run_dir / "graph", loggers)
    for logger in loggers:
        logger.save()
    write_json(run_dir / "graph" / "source.json", {"run_dir": str(source.resolve())})
    return {"graph/blanket_size": float(len(report["blanket"]))}
