"""A whole run's stage order, written once: the ``latentgraph`` command and :func:`run_pipeline` call it.

:func:`run_all_stages` goes data → control → oracles → autoencoders → perturbation → graph →
ensemble → predictors → summary. :func:`run_pipeline` is the same run from Python, on an
autoencoder object (and, if given, an attribute set) of the caller's: it writes the same run
directory as the command and returns the blanket, the comparisons and the verdict.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from latentgraph.atomic import read_json
from latentgraph.attributes.sets import AttributeSet
from latentgraph.config.schema import Config
from latentgraph.perturbation import Autoencoder
from latentgraph.pipeline.control import control_stage
from latentgraph.pipeline.data import data_stage
from latentgraph.pipeline.ensemble import ensemble_stage
from latentgraph.pipeline.oracles import classifier_quality, oracle_stage
from latentgraph.pipeline.predictors import announce_skipped_regimes, predictor_stage
from latentgraph.pipeline.report import report_stage, run_summary
from latentgraph.pipeline.shipped import JoiningMembers, checked_custom_model, run_autoencoders
from latentgraph.pipeline.stages import autoencoder_to_graph
from latentgraph.report.verdict import read_verdict
from latentgraph.run_layout import RunLayout
from latentgraph.runtime.tracking import RunLog, build_loggers, finish_wandb, log_input_quality

log = logging.getLogger(__name__)


def run_all_stages(
    settings: Config,
    run_dir: Path,
    run_log: RunLog,
    autoencoder: Autoencoder | None = None,
    attributes: AttributeSet | None = None,
) -> tuple[dict[str, float], bool]:
    """``stage=all``: every stage in order; the metrics, and whether this process ran the whole run.

    ``autoencoder``/``attributes``: objects of the caller's, used as they are instead of what the
    settings describe (:func:`run_pipeline`)."""
    started = time.perf_counter()
    data = data_stage(settings.data, run_dir)
    data, planted = control_stage(settings, data, run_dir)  # the run's data unless control=planted
    announce_skipped_regimes(settings, data)  # a set too small for a regime is named before any work
    oracles = oracle_stage(settings, data, run_dir, extra=(planted,) if planted else (), given=attributes)
    log_input_quality(run_log, data.summary, classifier_quality(run_dir))
    if autoencoder is None:
        settings, own_member, shipped = run_autoencoders(settings, data)  # before any fit
    else:  # each call its own key: an object's weights are not in any setting, so nothing is reused
        own_member = checked_custom_model(autoencoder, f"object-{uuid.uuid4().hex[:16]}", settings)
        shipped = JoiningMembers([], "run_pipeline: the caller's autoencoder")
    one = autoencoder_to_graph(settings, data, oracles, run_dir, run_log, shipped=own_member)
    fit, graph = one.fit, one.graph
    if fit.worker:  # a DDP process Lightning launched: its job was its share of the fit and perturbation
        return fit.metrics, False
    if settings.ensemble.jobs:  # one member of an ensemble on the launcher: the sweep's end does the rest
        run_log.save()
        log.info("ensemble member (seed %d) done in %.1f s: %s", settings.seed, time.perf_counter() - started, run_dir)
        return fit.metrics, False
    ensemble = (
        ensemble_stage(
            settings, data, oracles, graph, run_dir, run_log, shipped.members, own_shipped=own_member is not None
        )
        if graph is not None and (settings.ensemble.size > 1 or shipped.members)
        else None
    )
    results = predictor_stage(
        settings,
        data,
        oracles,
        fit.model,
        graph.features if graph is not None else None,  # the blanket, the fallback's, or []
        run_dir,
        run_log,
        consensus_blanket=ensemble.features if ensemble is not None else None,
        member_blankets=ensemble.member_features if ensemble is not None else None,
        model_key=fit.key if own_member is not None else None,
    )
    return run_summary({**fit.metrics, **results}, graph, run_dir, ensemble), True


@dataclass
class RunResults:
    """What :func:`run_pipeline` found: the blanket, the comparisons table and the verdict's lines."""

    run_dir: Path
    blanket: list[str]
    comparisons: pd.DataFrame
    verdict: list[str]


def run_pipeline(
    autoencoder: Autoencoder,
    run_dir: str | Path,
    overrides: Sequence[str] = (),
    attributes: AttributeSet | None = None,
) -> RunResults:
    """The ``latentgraph`` run on your autoencoder object, from Python, into ``run_dir``.

    ``overrides`` are the command line's (``["experiment=smoke", "data.target=amp"]``), composed
    and checked as the command does; ``attributes`` (optional) replaces the configured attribute
    set. The autoencoder is checked first (:func:`~latentgraph.perturbation.check_autoencoder`) and
    used as it is, nothing fitted. Writes the same files as the command, ``report.html`` included;
    W&B is off unless ``overrides`` turn it on.
    """
    from hydra import compose, initialize_config_module

    from latentgraph.config import validate_config

    run_dir = Path(run_dir)
    with initialize_config_module("latentgraph.conf", version_base="1.3"):
        cfg = compose("config", overrides=["logger.wandb.enabled=false", *overrides, f"paths.run_dir={run_dir}"])
    settings = validate_config(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    job_log = logging.FileHandler(RunLayout(run_dir).log)  # the run's latentgraph.log, as Hydra writes it
    job_log.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    package = logging.getLogger("latentgraph")
    package.addHandler(job_log)
    level, package.level = package.level, min(package.getEffectiveLevel(), logging.INFO)
    exit_code = 1
    try:
        run_log = RunLog(build_loggers(settings, run_dir))
        run_all_stages(settings, run_dir, run_log, autoencoder=autoencoder, attributes=attributes)
        run_log.save()
        report_stage(run_dir, OmegaConf.to_yaml(cfg, resolve=False))
        exit_code = 0
    finally:
        finish_wandb(exit_code)
        package.removeHandler(job_log)
        package.setLevel(level)
        job_log.close()
    run = RunLayout(run_dir)
    verdict = read_verdict(run_dir)
    return RunResults(
        run_dir=run_dir,
        blanket=list(read_json(run.graph.blanket)["blanket"]) if run.graph.blanket.is_file() else [],
        comparisons=pd.read_csv(run.results.comparisons) if run.results.comparisons.is_file() else pd.DataFrame(),
        verdict=verdict.lines() if verdict is not None else [],
    )
