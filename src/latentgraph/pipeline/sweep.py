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
latentgraph's sweeper (``hydra/sweeper=latentgraph``, :mod:`hydra_plugins.latentgraph_sweeper`)
then launches one more job on the sweep's own launcher, the combining job, in ``<sweep
dir>/ensemble``: the members' overrides with their first seed and ``ensemble.size`` set to their
number (:func:`combining_overrides`). It finds every member's fit and perturbation in the shared
stage cache and builds the consensus and the predictors exactly as the in-process
``ensemble.size=R`` does. Under ``submitit_slurm`` it is a SLURM job like the members, with their
resources and config search path; nothing heavy runs on the submitting node. The members are the
jobs the records say succeeded, not folders found by file times, and the combining job writes its
own record (number R).
"""

from __future__ import annotations

import logging
import shutil
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from latentgraph.atomic import atomic_write_text, read_json, write_json
from latentgraph.run_layout import RunLayout, SweepLayout

log = logging.getLogger(__name__)

SUCCEEDED, BAD_INPUT, CRASHED = "succeeded", "bad_input", "crashed"
ENSEMBLE_SWEEPER = "hydra_plugins.latentgraph_sweeper.ensemble_sweeper.EnsembleSweeper"
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


class NoEnsemble(Exception):
    """The member jobs cannot make an ensemble (a member failed, or their seeds have a gap)."""


class SweepEnd(Callback):
    """Writes each job's record when it ends; says when an ensemble's members had no combining job."""

    sweep_dir: Path | None = None  # the launching process's sweep, for latentgraph's exit status
    outcome_extra: list[tuple[str, str]] = []  # (status, line): an ensemble that was not built

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
        sweeper = OmegaConf.select(config, "hydra.sweeper._target_", default=None)
        if OmegaConf.select(config, "ensemble.jobs", default=False) and sweeper != ENSEMBLE_SWEEPER:
            SweepEnd.outcome_extra.append(
                (
                    BAD_INPUT,
                    f"ensemble: not built: hydra/sweeper={sweeper} has no combining job (use the default, latentgraph)",
                )
            )


def sweep_outcome() -> SweepOutcome | None:
    """The outcome of the sweep this process launched (``None``: it launched none)."""
    if SweepEnd.sweep_dir is None:
        return None
    return SweepOutcome(read_records(SweepEnd.sweep_dir), list(SweepEnd.outcome_extra))


def write_failed_jobs(outcome: SweepOutcome) -> None:
    """``<sweep dir>/failed_jobs.txt``: the failed jobs' lines (empty when none failed), even after an abort."""
    assert SweepEnd.sweep_dir is not None
    atomic_write_text(SweepLayout(SweepEnd.sweep_dir).failed_jobs, "".join(f"{line}\n" for _, line in outcome.failed))


def combining_job(sweep_dir: str | Path) -> list[str] | None:
    """The combining job's overrides (:func:`combining_overrides`), or ``None`` when the member jobs make
    no ensemble: the reason is then one bad-input line of the sweep's outcome."""
    try:
        return combining_overrides(read_records(sweep_dir), Path(sweep_dir))
    except NoEnsemble as reason:
        SweepEnd.outcome_extra.append((BAD_INPUT, f"ensemble: not built, {reason}"))
        return None


def combining_overrides(records: list[JobRecord], sweep_dir: Path) -> list[str]:
    """The overrides of the job that builds the ensemble from the member jobs in ``records``.

    They are the members' own overrides with the first member's seed, ``ensemble.size`` set to the
    number of members and ``ensemble.jobs=false``, written to ``<sweep_dir>/ensemble``, in the members'
    W&B group (the sweep's name unless one was given). A failed member, or seeds that are not
    consecutive (the ensemble's members are ``seed … seed+R−1``), raise :class:`NoEnsemble`.
    """
    members = [r for r in records if r.status == SUCCEEDED and RunLayout(r.run_dir).graph.graph.is_file()]
    failed = [r for r in records if r.status != SUCCEEDED]
    if failed or not members:
        raise NoEnsemble(f"{len(members)} member(s) finished and {len(failed)} failed")
    seeds = sorted(r.seed for r in members)
    first, size = seeds[0], len(seeds)
    if seeds != list(range(first, first + size)):
        raise NoEnsemble(f"member seeds {seeds} are not consecutive; sweep seed=range(a,b)")
    own = ("seed=", "ensemble.size=", "ensemble.jobs=", "hydra.sweep.subdir=")
    kept = [o for o in members[0].overrides if not o.startswith(own)]
    if not any(o.startswith("logger.wandb.group=") for o in kept):  # W&B: in its members' group, the sweep's
        kept.append(f"logger.wandb.group={sweep_dir.name}")
    log.info(
        "ensemble: %d member jobs finished (seeds %d-%d); launching the combining job in %s",
        size,
        first,
        first + size - 1,
        SweepLayout(sweep_dir).ensemble.path,
    )
    subdir = SweepLayout(sweep_dir).ensemble.path.name
    return [*kept, f"seed={first}", f"ensemble.size={size}", "ensemble.jobs=false", f"hydra.sweep.subdir={subdir}"]
