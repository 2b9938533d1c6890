"""A sweep's own record of its jobs, and what it does when they are done.

:class:`SweepEnd` is a Hydra callback (``conf/hydra/default.yaml``). ``on_job_end`` runs in each
job's own process, under any launcher (the basic one, joblib's workers, submitit's jobs), and
writes one record per job to ``<sweep dir>/jobs/<num>.json``: its status, overrides, run
directory and error. The status is ``succeeded``, ``bad_input`` (a user error: the job wrote
``error.txt`` and returned, so the other jobs went on) or ``crashed`` (any other exception: its
traceback is in the job's ``traceback.txt``). The records are the sweep's memory: ``latentgraph``
reads them when the sweep ends, even when a crash aborted it before Hydra's ``on_multirun_end``,
and exits 0 if every job succeeded, 1 if any crashed, 2 if any failed on bad input only, naming
each failed job (:func:`sweep_outcome`).

When the jobs were the members of an ensemble (``ensemble.jobs=true``, ``experiment=ensemble_jobs``),
``on_multirun_end`` (in the launching process) then runs the ensemble itself in ``<sweep
dir>/ensemble``: the same command with the members' first seed and ``ensemble.size`` set to their
number, which finds every member's fit and perturbation in the shared stage cache and builds the
consensus and the predictors exactly as the in-process ``ensemble.size=R`` does. The members are
the jobs the records say succeeded, not folders found by file times.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from latentgraph.artifacts import atomic_write_text, read_json, write_json
from latentgraph.run_layout import RunLayout, SweepLayout

log = logging.getLogger(__name__)

SUCCEEDED, BAD_INPUT, CRASHED = "succeeded", "bad_input", "crashed"
EXIT_CODES = {SUCCEEDED: 0, CRASHED: 1, BAD_INPUT: 2}


@dataclass
class JobRecord:
    """One sweep job's outcome, as the job itself wrote it when it ended."""

    num: int
    status: str  # succeeded, bad_input or crashed
    overrides: list[str]
    run_dir: str
    seed: int | None = None
    error: str | None = None  # the one-line error (bad_input) or the exception (crashed)
    traceback: str | None = None  # crashed: the file holding the full traceback

    def line(self) -> str:
        """The failed job as ``latentgraph`` lists it."""
        where = f"; traceback in {self.traceback}" if self.traceback else ""
        kind = "bad input" if self.status == BAD_INPUT else "crashed"
        label = " ".join(self.overrides) or "no overrides"
        return f"job {self.num} ({label}) {kind}: {self.error}{where}"


@dataclass
class SweepOutcome:
    """What a finished (or aborted) sweep did: its records and any line about the ensemble step."""

    records: list[JobRecord]
    extra: list[tuple[str, str]] = field(default_factory=list)  # (status, line): the ensemble's own failure

    @property
    def failed(self) -> list[tuple[str, str]]:
        jobs = [(record.status, record.line()) for record in self.records if record.status != SUCCEEDED]
        return [*jobs, *self.extra]

    @property
    def exit_code(self) -> int:
        """0 when every job succeeded, 1 when any crashed, else 2 when any failed on bad input."""
        statuses = {status for status, _ in self.failed}
        return EXIT_CODES[CRASHED] if CRASHED in statuses else EXIT_CODES[BAD_INPUT] if statuses else 0


def job_record(config: DictConfig, job_return: JobReturn) -> JobRecord:
    """The record of the job that just ended (``on_job_end``); a crash's traceback goes to its folder."""
    run = RunLayout(config.hydra.runtime.output_dir)
    common = {
        "num": int(config.hydra.job.num),
        "overrides": [str(o) for o in config.hydra.overrides.task],
        "run_dir": str(run.path),
        "seed": OmegaConf.select(config, "seed", default=None),
    }
    if job_return.status == JobStatus.FAILED:
        error = job_return._return_value  # noqa: SLF001 - Hydra's field; return_value would raise it
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        atomic_write_text(run.traceback, text)
        return JobRecord(
            status=CRASHED, error=f"{type(error).__name__}: {error}", traceback=str(run.traceback), **common
        )
    if run.error.is_file():
        return JobRecord(status=BAD_INPUT, error=run.error.read_text().strip(), **common)
    return JobRecord(status=SUCCEEDED, **common)


def read_records(sweep_dir: str | Path) -> list[JobRecord]:
    """Every job record of the sweep in ``sweep_dir``, by job number."""
    folder = SweepLayout(sweep_dir).job_records
    records = [JobRecord(**read_json(path)) for path in folder.glob("*.json")] if folder.is_dir() else []
    return sorted(records, key=lambda record: record.num)


class SweepEnd(Callback):
    """Writes each job's record when it ends; builds an ensemble of member jobs when all have ended."""

    sweep_dir: Path | None = None  # the launching process's sweep, for latentgraph's exit status
    outcome_extra: list[tuple[str, str]] = []

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = SweepLayout(config.hydra.sweep.dir)
        shutil.rmtree(sweep.job_records, ignore_errors=True)  # a rerun into this folder: earlier records are history
        SweepEnd.sweep_dir, SweepEnd.outcome_extra = sweep.path, []

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:  # Hydra calls it after a single run too: no sweep to record
            return
        record = job_record(config, job_return)
        write_json(SweepLayout(config.hydra.sweep.dir).job_record(record.num), asdict(record))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if OmegaConf.select(config, "ensemble.jobs", default=False):
            sweep = Path(config.hydra.sweep.dir)
            SweepEnd.outcome_extra = ensemble_of_member_jobs(sweep, list(config.hydra.overrides.task))


def sweep_outcome() -> SweepOutcome | None:
    """The outcome of the sweep this process launched (``None``: it launched none), its failed jobs
    also written to ``<sweep dir>/failed_jobs.txt`` (empty when none failed), even after an abort."""
    if SweepEnd.sweep_dir is None:
        return None
    outcome = SweepOutcome(read_records(SweepEnd.sweep_dir), list(SweepEnd.outcome_extra))
    atomic_write_text(SweepLayout(SweepEnd.sweep_dir).failed_jobs, "".join(f"{line}\n" for _, line in outcome.failed))
    return outcome


def ensemble_of_member_jobs(sweep_dir: Path, task_overrides: list[str]) -> list[tuple[str, str]]:
    """Run the ensemble over the sweep's member jobs in ``<sweep_dir>/ensemble``; its failure, if any.

    A failed member, or seeds that are not consecutive (the ensemble's members are ``seed …
    seed+R−1``), stop it with a failed line instead.
    """
    records = read_records(sweep_dir)
    seeds = {r.seed: r.run_dir for r in records if r.status == SUCCEEDED and RunLayout(r.run_dir).graph.graph.is_file()}
    failed = [r for r in records if r.status != SUCCEEDED]
    if failed or not seeds:
        return [(BAD_INPUT, f"ensemble: not built, {len(seeds)} member(s) finished and {len(failed)} failed")]
    first, size = min(seeds), len(seeds)
    if sorted(seeds) != list(range(first, first + size)):
        return [(BAD_INPUT, f"ensemble: member seeds {sorted(seeds)} are not consecutive; sweep seed=range(a,b)")]
    kept = [o for o in task_overrides if not o.startswith(("seed=", "ensemble.size=", "ensemble.jobs=", "hydra."))]
    if not any(o.startswith("logger.wandb.group=") for o in kept):  # W&B: in its members' group, the sweep's
        kept.append(f"logger.wandb.group={Path(sweep_dir).name}")
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
    if done.returncode == 0:
        return []
    status = BAD_INPUT if done.returncode == EXIT_CODES[BAD_INPUT] else CRASHED
    return [(status, f"ensemble ({' '.join(command[3:])}): exit status {done.returncode}; see {out}")]
