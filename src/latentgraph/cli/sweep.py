"""What a sweep learns when all its jobs are done: which failed, read from the sweep directory.

A job stopped by a user error writes ``error.txt`` into its own directory and returns, so the
other jobs go on. :class:`SweepEnd` is a Hydra callback (``conf/hydra/default.yaml``) that runs in
the process that launched the sweep, after every job, under any launcher (the basic one, joblib's
worker processes, submitit's SLURM jobs): it lists the jobs whose ``error.txt`` this sweep wrote, and
``latentgraph`` then exits with status 2 naming them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)

ERROR_FILE = "error.txt"
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
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
        error = error_file.read_text().strip()
        lines.append(f"job {job.name} ({' '.join(overrides or [])}): {error}")
    return lines


class SweepEnd(Callback):
    """Collects the sweep's failed jobs from its directory once every job has finished."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time() - 1.0  # file times may be rounded down to the second
        FAILED_JOBS.clear()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        FAILED_JOBS.extend(failed_jobs(Path(config.hydra.sweep.dir), since=self.started))
