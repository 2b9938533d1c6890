"""Sweep aggregation: jobs labelled by overrides, missing jobs reported, not skipped."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from latentgraph.cli.aggregate import main as aggregate
from latentgraph.report.aggregate import collect


def fake_job(sweep, name: str, overrides: list[str], auroc: float | None) -> None:
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if auroc is not None:
        (job / "results").mkdir()
        pd.DataFrame(
            [
                {
                    "feature_set": fs,
                    "regime": "supervised",
                    "dataset": ds,
                    "n": 100,
                    "auroc_mean": auroc,
                    "seeds": 5,
                    "auroc_low": auroc - 0.01,
                    "auroc_high": auroc + 0.01,
                }
                for fs in ("markov_blanket", "all")
                for ds in ("id_test", "AMPvsTM")
            ]
        ).to_csv(job / "results" / "summary.csv", index=False)


def test_collects_every_job_and_reports_the_missing_one(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    fake_job(sweep, "0", ["graph.alpha=0.01"], 0.8)
    fake_job(sweep, "1", ["graph.alpha=0.05"], 0.7)
    fake_job(sweep, "2", ["graph.alpha=7"], None)  # failed: no results
    found = collect(sweep)
    assert found.missing == ["2: graph.alpha=7"]
    assert sorted(set(found.summary["overrides"])) == ["graph.alpha=0.01", "graph.alpha=0.05"]
    assert aggregate([str(sweep), "--out", str(tmp_path / "out")]) == 0
    assert "missing results: job 2: graph.alpha=7" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "out" / "aggregate.csv")) == 8
    assert (tmp_path / "out" / "missing_jobs.txt").read_text() == "2: graph.alpha=7\n"
    assert (tmp_path / "out" / "aggregate.png").read_bytes()[:4] == b"\x89PNG"
    # the failed job gone and another with results: the next aggregation lists no missing job
    shutil.rmtree(sweep / "2")
    fake_job(sweep, "3", ["graph.alpha=0.1"], 0.75)
    assert aggregate([str(sweep), "--out", str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out" / "missing_jobs.txt").exists()


def test_not_a_sweep_directory(tmp_path, capsys):
    assert aggregate([str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no Hydra job directories"):
        collect(tmp_path)
