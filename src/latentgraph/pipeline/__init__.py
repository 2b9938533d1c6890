"""The pipeline's stages, one module each, in the order a run calls them.

Each stage is a function of the validated settings (:class:`latentgraph.config.Config`) and the
upstream stages' results, in memory; it returns its own result and writes its files for people
and for the stage cache (:mod:`latentgraph.runtime.cache`), never to be read back by the run.

    data_stage → control_stage (control=planted) → oracle_stage → run_autoencoders (shipped.py:
    fitted, or the shipped pre-trained members, and which of those join the run) → autoencoder_to_graph
    (stages.py: autoencoder_stage → perturbation_stage → graph_stage, the order every ensemble member
    follows too) → ensemble_stage (ensemble.size > 1, or shipped members joining) → predictor_stage
    → run_summary, report_stage → log_artifacts

run.py holds that order once (``run_all_stages``), for the command and for ``run_pipeline``, the
same run from Python on an autoencoder object of the caller's. The machinery the stages share (the
stage cache, loggers and run log, W&B lineage, the console) is :mod:`latentgraph.runtime`.
"""

from latentgraph.pipeline.autoencoder import AutoencoderResult, autoencoder_stage, wandb_run_to_resume
from latentgraph.pipeline.control import control_stage
from latentgraph.pipeline.data import data_stage
from latentgraph.pipeline.ensemble import ConsensusStageResult, consensus_stage, ensemble_stage, finished_run_graphs
from latentgraph.pipeline.graph import GraphStageResult, earlier_run_effects, graph_stage
from latentgraph.pipeline.oracles import OracleStageResult, classifier_quality, oracle_stage
from latentgraph.pipeline.perturbation import perturbation_stage
from latentgraph.pipeline.predictors import announce_skipped_regimes, predictor_stage
from latentgraph.pipeline.report import report_stage, run_summary
from latentgraph.pipeline.run import RunResults, run_all_stages, run_pipeline
from latentgraph.pipeline.shipped import joining_members, run_autoencoders
from latentgraph.pipeline.stages import AutoencoderGraph, autoencoder_to_graph

__all__ = [
    "announce_skipped_regimes",
    "AutoencoderGraph",
    "AutoencoderResult",
    "ConsensusStageResult",
    "GraphStageResult",
    "OracleStageResult",
    "autoencoder_stage",
    "autoencoder_to_graph",
    "wandb_run_to_resume",
    "classifier_quality",
    "consensus_stage",
    "control_stage",
    "data_stage",
    "earlier_run_effects",
    "ensemble_stage",
    "finished_run_graphs",
    "graph_stage",
    "joining_members",
    "oracle_stage",
    "perturbation_stage",
    "predictor_stage",
    "run_autoencoders",
    "run_all_stages",
    "run_pipeline",
    "RunResults",
    "report_stage",
    "run_summary",
]
