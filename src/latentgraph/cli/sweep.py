"""What a sweep does when all its jobs are done: list the failed ones, run an ensemble of member jobs.

A job stopped by a user error writes ``error.txt`` into its own directory and returns, so the
other jobs go on. :class:`SweepEnd` is a Hydra callback (``conf/hydra/default.yaml``) that runs in
the process that launched the sweep, after every job, under any launcher (the basic one, joblib's
worker processes, submitit's SLURM jobs): it lists the jobs whose ``error.txt`` this sweep wrote, and
``latentgraph`` then exits with status 2 naming them. When the jobs were the members of an
ensemble (``ensemble.jobs=true``, ``experiment=ensemble_jobs``), it then runs the ensemble itself in
``<sweep dir>/ensemble``: the same command with the members' first seed and ``ensemble.size`` set to
their number, which finds every member's fit and perturbation in the shared stage cache and builds
the consensus and the predictors exactly as the in-process ``ensemble.size=R`` does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from latentgraph.report.aggregate import job_label
from latentgraph.run_layout import ERROR_FILE, SweepLayout

log = logging.getLogger(__name__)

FAILED_JOBS: list[str] = []  # filled when a sweep ends: one line per failed job, its overrides and error


def failed_jobs(sweep_dir: Path, since: float = 0.0) -> list[str]:
    """One line per job directory under ``sweep_dir`` whose ``error.txt`` was written at or after ``since``.

    ``since`` keeps a rerun into the same sweep directory from counting an earlier sweep's failures.
    """
    lines = []
    for error_file in sorted(Path(sweep_dir).glob(f"*/{ERROR_FILE}")):
        if error_file.stat().st_mtime < since:
            continue
        job = error_file.parent
        lines.append(f"job {job.name} ({job_label(job)}): {error_file.read_text().strip()}")
    return lines


class SweepEnd(Callback):
    """Collects the sweep's failed jobs from its directory once every job has finished."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time() - 1.0  # file times may be rounded down to the second
        FAILED_JOBS.clear()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        FAILED_JOBS.extend(failed_jobs(sweep, since=self.started))
        if OmegaConf.select(config, "ensemble.jobs", default=False):
            ensemble_of_member_jobs(sweep, list(config.hydra.overrides.task), since=self.started)


def member_seeds(sweep_dir: Path, since: float) -> dict[int, Path]:
    """Seed → directory of every member job of this sweep that finished its graph."""
    seeds = {}
    for job in SweepLayout(sweep_dir).jobs():
        graph = job.graph.graph
        if graph.is_file() and graph.stat().st_mtime >= since:
            seeds[int(yaml.safe_load(job.hydra_config.read_text())["seed"])] = job.path
    return seeds


def ensemble_of_member_jobs(sweep_dir: Path, task_overrides: list[str], since: float) -> int:
    """Run the ensemble over the sweep's member jobs in ``<sweep_dir>/ensemble``; its exit status.

    A failed member, or seeds that are not consecutive (the ensemble's members are ``seed …
    seed+R−1``), stop it with a failed-job line instead.
    """
    seeds = member_seeds(sweep_dir, since)
    if FAILED_JOBS or not seeds:
        FAILED_JOBS.append(f"ensemble: not built, {len(seeds)} member(s) finished and {len(FAILED_JOBS)} failed")
        return 2
    first, size = min(seeds), len(seeds)
    if sorted(seeds) != list(range(first, first + size)):
        FAILED_JOBS.append(f"ensemble: member seeds {sorted(seeds)} are not consecutive; sweep seed=range(a,b)")
        return 2
    kept = [o for o in task_overrides if not o.startswith(("seed=", "ensemble.size=", "ensemble.jobs=", "hydra."))]
    out = SweepLayout(sweep_dir).ensemble.path
    command = [
        sys.executable, "-m", "latentgraph.cli.main", *kept,
        f"seed={first}", f"ensemble.size={size}", "ensemble.jobs=false", f"hydra.run.dir={out}",
    ]  # fmt: skip
    log.info(
        "ensemble: %d member jobs finished (seeds %d-%d); building the ensemble in %s",
        size,
        first,
        first + size - 1,
        out,
    )
    done = subprocess.run(command, env=os.environ.copy(), check=False)
    if done.returncode != 0:
        FAILED_JOBS.append(f"ensemble ({' '.join(command[3:])}): exit status {done.returncode}; see {out}")
    return done.returncode
