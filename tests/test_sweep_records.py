"""A sweep's record of its jobs (pipeline/sweep.py): one record per job under every launcher, and
one exit rule: 0 all succeeded, 1 any crashed, 2 any failed on bad input only, each failed job named."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

from latentgraph.pipeline.sweep import BAD_INPUT, CRASHED, SUCCEEDED, JobRecord, SweepOutcome, read_records

# Planted in every process of the sweep (the launcher's workers too) through sitecustomize: the
# job with graph.alpha=0.05 raises an unexpected exception (crash) or returns at once (succeed);
# any other job runs the real pipeline, which refuses graph.alpha=2 as bad input.
PLANT = """
import os
import latentgraph.cli.main as app
_run = app.run
def run(cfg):
    if cfg.graph.alpha == 0.05:
        if os.environ["PLANTED_JOB"] == "crash":
            raise RuntimeError("planted crash in the pipeline")
        return {}
    return _run(cfg)
app.run = run
"""

LAUNCHERS = {
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
}


def planted_sweep(tmp_path: Path, launcher: str, planted: str) -> subprocess.CompletedProcess:
    sweep = ["-m", *LAUNCHERS[launcher], "experiment=smoke", "logger=csv_only", "graph.alpha=2,0.05"]
    env = {"PLANTED_JOB": planted, "WANDB_MODE": "disabled"}
    return run_cli(*sweep, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, env=env, plant=PLANT)


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_a_crash_and_a_bad_value_exit_1_naming_both_jobs_with_their_kinds(tmp_path, launcher):
    result = planted_sweep(tmp_path, launcher, "crash")
    assert result.returncode == 1, result.stderr[-3000:]
    listed = result.stderr.split("2 sweep job(s) failed; the others finished:")[1]
    assert "graph.alpha=2) bad input: invalid config value graph.alpha=2.0: must be in (0, 1)" in listed
    crashed = tmp_path / "sweep" / "1" / "traceback.txt"
    assert f"graph.alpha=0.05) crashed: RuntimeError: planted crash in the pipeline; traceback in {crashed}" in listed
    assert listed.index("job 0 (") < listed.index("job 1 (")
    assert "planted crash in the pipeline" in crashed.read_text() and "Traceback" in crashed.read_text()
    records = read_records(tmp_path / "sweep")
    assert [(r.num, r.status, r.overrides) for r in records] == [
        (0, BAD_INPUT, ["experiment=smoke", "logger=csv_only", "graph.alpha=2"]),
        (1, CRASHED, ["experiment=smoke", "logger=csv_only", "graph.alpha=0.05"]),
    ]
    assert records[1].run_dir == str(tmp_path / "sweep" / "1") and records[1].seed == 0
    assert (tmp_path / "sweep" / "failed_jobs.txt").read_text().splitlines() == [
        line.strip() for line in listed.strip().splitlines()
    ]


@pytest.mark.parametrize("launcher", ["basic", "submitit_local"])
def test_only_a_bad_value_exits_2_and_the_records_say_which_job_succeeded(tmp_path, launcher):
    result = planted_sweep(tmp_path, launcher, "succeed")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "1 sweep job(s) failed" in result.stderr and "graph.alpha=2) bad input" in result.stderr
    record = json.loads((tmp_path / "sweep" / "jobs" / "1.json").read_text())
    assert record["status"] == SUCCEEDED and record["error"] is None and record["traceback"] is None


def test_the_exit_rule():
    def outcome(*statuses: str) -> SweepOutcome:
        return SweepOutcome([JobRecord(i, status, [], f"/sweep/{i}") for i, status in enumerate(statuses)])

    assert outcome(SUCCEEDED, SUCCEEDED).exit_code == 0 and outcome().exit_code == 0
    assert outcome(SUCCEEDED, BAD_INPUT).exit_code == 2
    assert outcome(BAD_INPUT, CRASHED, SUCCEEDED).exit_code == 1
    assert SweepOutcome([], [(BAD_INPUT, "ensemble: not built")]).exit_code == 2
    assert SweepOutcome([], [(CRASHED, "ensemble: exit status 1")]).exit_code == 1


# Planted for the ensemble tests: a member job (ensemble.jobs=true) writes the graph file a real
# member leaves, the combining job writes what it was asked to combine; nothing is fitted.
PLANT_ENSEMBLE = """
import json, os
from hydra.core.hydra_config import HydraConfig
import latentgraph.cli.main as app
from latentgraph.run_layout import RunLayout
def run(cfg):
    run = RunLayout(HydraConfig.get().runtime.output_dir)
    if cfg.graph.alpha == 0.5:
        raise app.ConfigValueError("graph.alpha", 0.5, "planted bad value")
    if cfg.ensemble.jobs:
        run.graph.graph.parent.mkdir(parents=True, exist_ok=True)
        run.graph.graph.write_text("{}")
    else:
        (run.path / "combined.json").write_text(json.dumps(
            {"seed": cfg.seed, "size": cfg.ensemble.size, "group": cfg.logger.wandb.group, "pid": os.getpid()}))
    return {}
app.run = run
"""


def planted_ensemble(tmp_path: Path, launcher: str, *overrides: str) -> subprocess.CompletedProcess:
    """``experiment=mine`` from the user's own config folder (``--config-dir``), as ensemble_jobs."""
    user_conf = tmp_path / "user_conf" / "experiment"
    user_conf.mkdir(parents=True)
    (user_conf / "mine.yaml").write_text("# @package _global_\ndefaults:\n  - /experiment/ensemble_jobs\n")
    sweep = ["--config-dir", str(user_conf.parent), "-m", *LAUNCHERS[launcher], "experiment=mine", "logger=csv_only"]
    return run_cli(*sweep, *overrides, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, plant=PLANT_ENSEMBLE)


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_the_ensemble_is_combined_by_one_more_job_of_the_sweeps_launcher(tmp_path, launcher):
    """The combining job is a job like the members: its own record, its own process, their config search path."""
    result = planted_ensemble(tmp_path, launcher, "seed=3,4")
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "sweep"
    records = read_records(sweep)
    assert [(r.num, r.status, r.seed) for r in records] == [(0, SUCCEEDED, 3), (1, SUCCEEDED, 4), (2, SUCCEEDED, 3)]
    combining = records[2]
    assert combining.run_dir == str(sweep / "ensemble")
    assert combining.overrides == [
        "experiment=mine", "logger=csv_only", "logger.wandb.group=sweep",
        "seed=3", "ensemble.size=2", "ensemble.jobs=false",
    ]  # fmt: skip
    combined = json.loads((sweep / "ensemble" / "combined.json").read_text())
    assert combined["seed"] == 3 and combined["size"] == 2 and combined["group"] == "sweep"
    if launcher == "submitit_local":  # a job of its own, submitted like the members
        assert len(list((sweep / ".submitit").glob("*/*_submitted.pkl"))) == 3
        assert combined["pid"] != os.getpid()


def test_no_combining_job_after_a_failed_member_or_a_gap_in_the_seeds(tmp_path):
    failed = planted_ensemble(tmp_path, "basic", "seed=0,1", "graph.alpha=0.05,0.5")
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "ensemble: not built, 2 member(s) finished and 2 failed" in failed.stderr
    assert not (tmp_path / "sweep" / "ensemble").exists() and len(read_records(tmp_path / "sweep")) == 4
    (tmp_path / "gap").mkdir()
    gap = planted_ensemble(tmp_path / "gap", "basic", "seed=0,2")
    assert gap.returncode == 2 and "member seeds [0, 2] are not consecutive" in gap.stderr
