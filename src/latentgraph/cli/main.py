"""``latentgraph``: compose the config, validate it, run the pipeline's stages, map errors to exit codes.

``stage=all`` runs every stage (with ``ensemble.size=R``, for R autoencoders and their consensus);
``stage=graph run_dir=PATH`` rebuilds only the graph from an earlier run's saved effects;
``stage=consensus runs=[DIR,...]`` combines finished runs' graphs. Errors in the user's input (a
bad config value, a missing file, a bad record under ``strict``) are reported in one line naming
the key, file or record, and the process exits with status 2; in a sweep the failed job is
recorded and the others go on. A full disk is reported in one line naming the file, status 1.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.latentgraph_sweeper.ensemble_sweeper import EnsembleSweeper
from hydra_plugins.latentgraph_sweeper.resumable_optuna import ResumableOptunaSweeper
from latentgraph import pipeline
from latentgraph.atomic import DiskFullError, atomic_write_text, write_json
from latentgraph.config import Config, register_configs, validate_config
from latentgraph.config.choices import Stage
from latentgraph.errors import USER_ERRORS, ConfigValueError
from latentgraph.pipeline.sweep import SweepEnd, sweep_outcome, write_failed_jobs
from latentgraph.progress import show_bars
from latentgraph.run_layout import RunLayout
from latentgraph.runtime import console, lineage, tracking

log = logging.getLogger("latentgraph")

register_configs()
# hydra/sweeper=latentgraph (the default) and hparams_search's resumable Optuna sweeper: Hydra's scan
# of hydra_plugins misses an editable install's modules
Plugins.instance().register(EnsembleSweeper)
Plugins.instance().register(ResumableOptunaSweeper)

EXIT_USER_ERROR = 2
EXIT_HYDRA_ERROR = 1  # what Hydra exits with on any error, its own (composition) or the app's
_app_failed = False  # set when the app itself raised: Hydra's exit status 1 is then the app's


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the pipeline for a composed config; returns the metrics a sweeper could optimise."""
    settings = validate(cfg)
    run_dir = Path(settings.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    exit_code = 1  # until the run ends well: W&B marks a run that raised as failed
    try:
        resumed = pipeline.wandb_run_to_resume(settings)  # resume=true: the interrupted fit's W&B run
        run_log = tracking.RunLog(tracking.build_loggers(settings, run_dir, wandb_id=resumed))
        if settings.stage == Stage.graph:
            metrics = rebuild_graph(settings, run_dir, run_log)
        elif settings.stage == Stage.consensus:
            metrics = consensus_of_runs(settings, run_dir, run_log)
        else:
            metrics, whole = pipeline.run_all_stages(settings, run_dir, run_log)
            if not whole:  # a DDP worker or one member job of an ensemble: the rest is done elsewhere
                if settings.ensemble.jobs:  # a member job logs what it made, in the job that made it
                    lineage.log_artifacts(run_log, run_dir)
                exit_code = 0
                return metrics
        run_log.save()
        log.info("done in %.1f s; run directory: %s", time.perf_counter() - started, run_dir)
        pipeline.report_stage(run_dir, OmegaConf.to_yaml(cfg, resolve=False))
        lineage.declare_report(run_dir)
        lineage.log_artifacts(run_log, run_dir)  # W&B Artifacts of every declared output, with lineage
        exit_code = 0
    finally:
        tracking.finish_wandb(exit_code)
    return metrics


def rebuild_graph(settings: Config, run_dir: Path, run_log: tracking.RunLog) -> dict[str, float]:
    """``stage=graph``: the graph from ``run_dir=``'s saved effects, written to this job's ``graph/``."""
    run = RunLayout(run_dir)
    result, set_summary = pipeline.earlier_run_effects(settings.run_dir)
    source = lineage.declared(RunLayout(settings.run_dir).perturbation.path)  # None: that run wrote no record of it
    bars = show_bars(settings.trainer.enable_progress_bar)
    graph = pipeline.graph_stage(
        settings.graph, result, set_summary, run.graph.path, run_log, built_from=source, bars=bars
    )
    write_json(run.graph.source, {"run_dir": str(Path(settings.run_dir).resolve())})
    return {"graph/blanket_size": float(len(graph.blanket["blanket"]))}


def consensus_of_runs(settings: Config, run_dir: Path, run_log: tracking.RunLog) -> dict[str, float]:
    """``stage=consensus``: the consensus of ``runs=``' graphs, written to this job's ``consensus/``."""
    graphs, set_summary = pipeline.finished_run_graphs(settings.runs)
    runs = [str(Path(run).resolve()) for run in settings.runs]
    result = pipeline.consensus_stage(
        graphs, set_summary, settings, RunLayout(run_dir).consensus.path, run_log, member_dirs=runs
    )
    return result.consensus.agreement_metrics()


def validate(cfg: DictConfig) -> Config:
    """The typed settings: every range check (naming the full key), then what needs the file system."""
    settings = validate_config(cfg)
    if settings.ckpt_path not in (None, "last") and not Path(settings.ckpt_path).is_file():
        raise ConfigValueError("ckpt_path", settings.ckpt_path, "no such checkpoint file")
    if str(settings.trainer.strategy).startswith("ddp") and _in_multirun():
        raise ConfigValueError(
            "trainer.strategy",
            settings.trainer.strategy,
            "Lightning's DDP relaunches the command once per process, which cannot run inside a "
            "Hydra multirun; run the DDP jobs one by one (or one per SLURM job)",
        )
    return settings


@hydra.main(version_base="1.3", config_path="pkg://latentgraph.conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    global _app_failed
    console.quiet_third_party_messages()
    if _in_multirun():  # a rerun into an old sweep directory: this job's earlier failure is history
        RunLayout(HydraConfig.get().runtime.output_dir).error.unlink(missing_ok=True)
    try:
        metrics = run(cfg)
    except USER_ERRORS as error:
        log.error("%s", error)
        print(f"latentgraph: error: {error}", file=sys.stderr)
        if not _in_multirun():
            sys.exit(EXIT_USER_ERROR)
        # one bad job must not end the sweep: record it in its directory (its job record says bad_input when
        # the sweep ends, in whichever process launched it), let Hydra start the next job
        atomic_write_text(RunLayout(HydraConfig.get().runtime.output_dir).error, f"{error}\n")
        return None
    except DiskFullError as error:  # a named failure, not a traceback: the path, and what to do
        _app_failed = True
        if _in_multirun():  # the sweep records it as the job's crash
            raise
        log.error("%s", error)
        print(f"latentgraph: error: {error}", file=sys.stderr)
        sys.exit(EXIT_HYDRA_ERROR)
    except BaseException:
        _app_failed = True
        raise
    value = metrics.get(cfg.optimized_metric)
    if value is None:  # a sweeper would miss it; a single run (stage=graph, stage=consensus) has none to tell
        log.log(
            logging.WARNING if _in_multirun() else logging.DEBUG,
            "optimized_metric=%s is not among this run's metrics; returning nothing to the sweeper",
            cfg.optimized_metric,
        )
    return value


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def entry() -> None:
    """The console script: run the app; exit 2 on a composition error; after a sweep, the sweep's rule.

    Hydra reports an override it cannot compose (an unknown key, a wrong type, a missing option)
    with the key in its message and exits 1, the status it also gives an app's crash; a user's
    bad override is a user error, status 2. A sweep exits by its job records (pipeline/sweep.py),
    under every launcher: 0 if every job succeeded, 1 if any crashed, 2 if any failed on bad input.
    """
    try:
        main()
    except SystemExit as stop:
        _end_sweep()  # a crashed job aborted a sweep: its records decide
        if stop.code == EXIT_HYDRA_ERROR and not _app_failed:
            sys.exit(EXIT_USER_ERROR)
        raise
    except Exception:
        if SweepEnd.sweep_dir is not None:
            traceback.print_exc()
            _end_sweep()
        if _app_failed:  # the app's own crash: Hydra's status 1, with its traceback
            raise
        traceback.print_exc()  # HYDRA_FULL_ERROR=1: Hydra raised its composition error instead of exiting 1
        sys.exit(EXIT_USER_ERROR)
    _end_sweep()


def _end_sweep() -> None:
    """Name the sweep's failed jobs and exit by its rule (nothing to say when all succeeded or no sweep ran)."""
    outcome = sweep_outcome()
    if outcome is None:
        return
    write_failed_jobs(outcome)
    failed = outcome.failed
    if not failed:
        return
    print(f"latentgraph: {len(failed)} sweep job(s) failed; the others finished:", file=sys.stderr)
    for _, line in failed:
        print(f"  {line}", file=sys.stderr)
    sys.exit(outcome.exit_code)


if __name__ == "__main__":
    entry()
