"""hparams_search=optuna_blanket resumes (hydra_plugins/latentgraph_sweeper/resumable_optuna.py): the study
is stored in the sweep folder, a rerun continues it up to n_trials, a killed trial is run again, and
a study of another search is refused."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

pytest.importorskip("optuna", reason="the optuna extra (installed with the test extra)")

# Planted in the sweep's process: a trial returns its graph.alpha as the objective without running
# the pipeline; with KILL_AT_TRIAL=k the search's process is killed (SIGKILL) while job k runs.
PLANT = """
import os
from hydra.core.hydra_config import HydraConfig
import latentgraph.cli.main as app
def run(cfg):
    if str(HydraConfig.get().job.num) == os.environ.get("KILL_AT_TRIAL"):
        os.kill(os.getpid(), 9)
    return {cfg.optimized_metric: float(cfg.graph.alpha)}
app.run = run
"""


def search(tmp_path: Path, *overrides: str, kill_at: int | None = None) -> subprocess.CompletedProcess:
    env = {"KILL_AT_TRIAL": "" if kill_at is None else str(kill_at)}
    search = ["experiment=smoke", "logger=csv_only", "hparams_search=optuna_blanket", *overrides]
    return run_cli(*search, f"hydra.sweep.dir={tmp_path / 'search'}", cwd=tmp_path, env=env, plant=PLANT)


def trial_states(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "search" / "optuna.db") as db:
        return [state for (state,) in db.execute("SELECT state FROM trials ORDER BY number")]


def test_a_rerun_continues_the_search_up_to_n_trials_in_new_folders(tmp_path):
    first = search(tmp_path, "hydra.sweeper.n_trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert trial_states(tmp_path) == ["COMPLETE", "COMPLETE"]
    first_trials = [(tmp_path / "search" / str(n) / ".hydra" / "overrides.yaml").read_text() for n in (0, 1)]

    more = search(tmp_path, "hydra.sweeper.n_trials=3")
    assert more.returncode == 0, more.stderr[-3000:]
    assert "2 of 3 trials finished, 1 to run" in more.stdout + more.stderr
    assert trial_states(tmp_path) == ["COMPLETE"] * 3
    assert [(tmp_path / "search" / str(n) / ".hydra" / "overrides.yaml").read_text() for n in (0, 1)] == first_trials
    assert (tmp_path / "search" / "2" / ".hydra" / "overrides.yaml").is_file()  # trial 2 in folder 2

    done = search(tmp_path, "hydra.sweeper.n_trials=3")  # nothing left: the best of the stored trials
    assert done.returncode == 0 and "3 of 3 trials finished, 0 to run" in done.stdout + done.stderr
    assert "best_value" in (tmp_path / "search" / "optimization_results.yaml").read_text()


def test_a_killed_search_runs_its_killed_trial_again(tmp_path):
    killed = search(tmp_path, "hydra.sweeper.n_trials=3", kill_at=1)
    assert killed.returncode != 0
    assert trial_states(tmp_path) == ["COMPLETE", "RUNNING"]
    resumed = search(tmp_path, "hydra.sweeper.n_trials=3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 of 3 trials finished, 2 to run" in resumed.stdout + resumed.stderr
    assert trial_states(tmp_path) == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]


def test_a_study_of_another_search_is_refused_naming_both(tmp_path):
    assert search(tmp_path, "hydra.sweeper.n_trials=1").returncode == 0
    other = search(tmp_path, "hydra.sweeper.n_trials=2", "data.max_len=40")
    assert other.returncode == 2
    assert "hydra.sweep.dir" in other.stderr and "data.max_len=40" in other.stderr
    assert "give a new hydra.sweep.dir to start a new search" in other.stderr
    assert trial_states(tmp_path) == ["COMPLETE"]
