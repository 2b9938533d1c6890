"""``latentgraph``: one Hydra command runs every pipeline stage that exists.

Stages so far: data → attribute classifiers (trained or reloaded from the cache) and the
attribute set → autoencoder fit → perturbation experiment (a callback at fit end) → graph →
predictors (every feature set × regime × seed) → results/.
``stage=graph run_dir=PATH`` rebuilds only the graph from an earlier run's saved effects.
Errors in the user's input (a bad config value, a missing file, a bad record under ``strict``)
are reported in one line naming the key, file or record, and the process exits with status 2.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from latentgraph.artifacts import atomic_write_text, write_json
from latentgraph.cli.cached_stages import autoencoder_and_perturbation, predictors
from latentgraph.cli.graph_stage import read_blanket_report, rebuild_graph
from latentgraph.cli.tracking import finish_wandb
from latentgraph.cli.train_autoencoder import prepare_run_data
from latentgraph.cli.train_classifiers import build_run_attribute_set, train_attribute_classifiers
from latentgraph.config import ConfigValueError, register_configs, validate_config
from latentgraph.data import DataError
from latentgraph.report.html import write_report

log = logging.getLogger("latentgraph")

register_configs()

USER_ERRORS = (ConfigValueError, DataError)
EXIT_USER_ERROR = 2
FAILED_JOBS: list[str] = []  # sweep jobs stopped by a user error (the sweep goes on without them)


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the pipeline for a composed config; returns the metrics a sweeper could optimise."""
    validate_config(cfg)  # range checks before any work, naming the full key
    if cfg.ckpt_path not in (None, "last") and not Path(cfg.ckpt_path).is_file():
        raise ConfigValueError("ckpt_path", cfg.ckpt_path, "no such checkpoint file")
    if str(cfg.trainer.strategy).startswith("ddp") and _in_multirun():
        raise ConfigValueError("trainer.strategy", cfg.trainer.strategy,
                               "Lightning's DDP relaunches the command once per process, which cannot run inside a "
                               "Hydra multirun; run the DDP jobs one by one (or one per SLURM job)")
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        if cfg.stage == "graph":
            metrics = rebuild_graph(cfg, run_dir)
        else:
            data = prepare_run_data(cfg, run_dir)
            classifiers = train_attribute_classifiers(cfg, data, run_dir)
            attributes = build_run_attribute_set(cfg, classifiers, data, run_dir)
            metrics, autoencoder = autoencoder_and_perturbation(cfg, run_dir, data, attributes, classifiers)
            if rank_zero_only.rank > 0:  # a DDP process Lightning launched: its job was the fit and its perturbation share
                log.info("DDP rank %d: fit and perturbation share done", rank_zero_only.rank)
                return metrics
            metrics.update(predictors(cfg, run_dir, data, attributes, autoencoder, classifiers))
            write_run_summary(metrics, run_dir)
        log.info("report: %s", write_report(run_dir, OmegaConf.to_yaml(cfg, resolve=False)))
    finally:
        finish_wandb()
    log.info("done in %.1f s; run directory: %s", time.perf_counter() - started, run_dir)
    return metrics


def write_run_summary(metrics: dict[str, float], run_dir: Path) -> None:
    """``metrics/summary.json``: the run's headline numbers under the keys the W&B summary uses."""
    report = read_blanket_report(run_dir)
    if report is not None:
        metrics["graph/blanket_size"] = float(len(report["blanket"]))
    write_json(run_dir / "metrics" / "summary.json", metrics)


@hydra.main(version_base="1.3", config_path="pkg://latentgraph.conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = run(cfg)
    except USER_ERRORS as error:
        log.error("%s", error)
        print(f"latentgraph: error: {error}", file=sys.stderr)
        if not _in_multirun():
            sys.exit(EXIT_USER_ERROR)
        # one bad job must not end the sweep: record it, let Hydra start the next job
        job = f"job {HydraConfig.get().job.num} ({' '.join(HydraConfig.get().overrides.task)})"
        FAILED_JOBS.append(f"{job}: {error}")
        atomic_write_text(Path(HydraConfig.get().runtime.output_dir) / "error.txt", f"{error}\n")
        return None
    value = metrics.get(cfg.optimized_metric)
    if value is None:
        log.warning("optimized_metric=%s is not among this run's metrics; returning nothing to the sweeper",
                    cfg.optimized_metric)
    return value


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def entry() -> None:
    """The console script: run the app; after a sweep, exit with status 2 if any job failed."""
    main()
    if FAILED_JOBS:
        print(f"latentgraph: {len(FAILED_JOBS)} sweep job(s) failed; the others finished:", file=sys.stderr)
        for line in FAILED_JOBS:
            print(f"  {line}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


if __name__ == "__main__":
    entry()
