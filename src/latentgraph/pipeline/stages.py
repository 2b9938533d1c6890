"""The order of the stages that turn one autoencoder into a graph, written once.

A run and every member of an ensemble go through the same steps: fit (or reuse) the autoencoder,
take (or compute) its perturbation effects, build the graph. :mod:`latentgraph.pipeline.run` runs
them for the run itself, :mod:`latentgraph.pipeline.ensemble` for each further member.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentgraph.config.schema import Config
from latentgraph.data import PreparedData
from latentgraph.models.pretrained import ShippedMember
from latentgraph.perturbation import PerturbationResult
from latentgraph.pipeline.autoencoder import AutoencoderResult, autoencoder_stage
from latentgraph.pipeline.graph import GraphStageResult, graph_stage
from latentgraph.pipeline.oracles import OracleStageResult
from latentgraph.pipeline.perturbation import perturbation_stage
from latentgraph.pipeline.shipped import CheckpointFile, CustomModel, pretrained_autoencoder
from latentgraph.progress import show_bars
from latentgraph.run_layout import RunLayout
from latentgraph.runtime.tracking import RunLog


@dataclass
class AutoencoderGraph:
    """One autoencoder's fit, effects and graph (``None`` where perturbation.enabled=false, or in a DDP worker)."""

    fit: AutoencoderResult
    effects: PerturbationResult | None
    graph: GraphStageResult | None


def autoencoder_to_graph(
    settings: Config,
    data: PreparedData,
    oracles: OracleStageResult,
    run_dir: Path,
    run_log: RunLog,
    shipped: ShippedMember | CheckpointFile | CustomModel | None = None,
) -> AutoencoderGraph:
    """autoencoder_stage (or the ``shipped`` member's weights, or a loaded checkpoint) →
    perturbation_stage → graph_stage, into ``run_dir``."""
    if shipped is not None:
        fit = pretrained_autoencoder(shipped, run_dir, run_log)
    else:
        fit = autoencoder_stage(settings, data, oracles, run_dir, run_log)
    if fit.worker:  # a DDP process Lightning launched: its job was its share of the fit and perturbation
        return AutoencoderGraph(fit, None, None)
    model_key = fit.key if shipped is not None else None
    effects = perturbation_stage(settings, fit.model, fit.effects, oracles, data, run_dir, model_key)
    graph = (
        graph_stage(
            settings.graph,
            effects,
            oracles.summary,
            RunLayout(run_dir).graph.path,
            run_log,
            bars=show_bars(settings.trainer.enable_progress_bar),
        )
        if effects is not None
        else None
    )
    return AutoencoderGraph(fit, effects, graph)
