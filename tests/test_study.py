"""The positive control (a planted label with a known blanket and a reversed spurious attribute)
and the study command's tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST, compose_config, run_cli

from latentgraph.attributes.planted import PLANTED_COLUMN, PlantedBlock
from latentgraph.attributes.sets import SequenceBatch
from latentgraph.data.alphabet import PEPTIDES
from latentgraph.data.planted import planted_labels, spurious_selection
from latentgraph.errors import ConfigValueError
from latentgraph.report.study import (
    BEGIN,
    END,
    StudyJob,
    control_baselines_table,
    control_table,
    results_table,
    write_study,
)


def test_planted_labels_follow_the_logit_and_the_spurious_selection_reverses():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=20_000) * 2
    labels = planted_labels(logits, 0.5, rng)
    assert abs(labels[logits > 1].mean() - 1) < 0.05 and labels[logits < -1].mean() < 0.05
    spurious = rng.normal(size=20_000)  # independent of the label before selection
    inside = spurious_selection(labels, spurious, 0.0, 0.85, rng)
    outside = spurious_selection(labels, spurious, 0.0, 0.15, rng)
    agree = (spurious > 0) == (labels == 1)
    assert 0.83 < agree[inside].mean() < 0.87 and 0.13 < agree[outside].mean() < 0.17
    assert 0.45 < inside.mean() < 0.55  # about half of the rows stay on each side


def test_the_planted_block_is_the_targets_oracle_and_its_known_function():
    sequences = ["GIGKFLHSAKKFGKAFVGEIMNS", "KWKLFKKIEK", "AAAAAGGGGGWWW"]
    block = PlantedBlock(["charge_density", "aromaticity"], [1.5, -1.0], [0.1, 0.05], [0.2, 0.1], target="planted")
    assert block.names == [PLANTED_COLUMN] and block.oracle_for == {PLANTED_COLUMN: "planted"}
    from latentgraph.attributes.descriptors import compute_descriptors

    batch = SequenceBatch(50, sequences, None, PEPTIDES)
    values = compute_descriptors(batch.tokens, ["charge_density", "aromaticity"]).float()
    expected = torch.sigmoid(
        ((values - torch.tensor([0.1, 0.05])) / torch.tensor([0.2, 0.1])) @ torch.tensor([1.5, -1.0])
    )
    torch.testing.assert_close(block(batch)[:, 0], expected)
    assert expected[1] > expected[2]  # the charged peptide scores above the aromatic one: the check can fail


@pytest.mark.parametrize(
    "override, key",
    [
        ("control.members=[charge_density,nonsense]", "control.members"),
        ("control.weights=[1.0]", "control.weights"),
        ("control.spurious=charge_density", "control.spurious"),
        ("control.agreement=0.4", "control.agreement"),
    ],
)
def test_bad_control_settings_name_their_key(override, key):
    from latentgraph.config import validate_config

    with pytest.raises(ConfigValueError) as info:
        validate_config(compose_config(["control=planted", override]))
    assert info.value.key == key


def _job(tmp_path: Path, shift: str, comparisons: list[dict], control: dict | None = None) -> StudyJob:
    job = tmp_path / shift
    (job / "results").mkdir(parents=True)
    (job / "consensus").mkdir()
    (job / "attributes").mkdir()
    (job / "data").mkdir()
    (job / ".hydra").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text(f"- study={shift}\n")
    pd.DataFrame(comparisons).to_csv(job / "results" / "comparisons.csv", index=False)
    (job / "results" / "summary.csv").write_text("feature_set\n")
    stability = {
        "n_graphs": 2,
        "blankets": [["a", "b", "x"], ["a"]],
        "seeds": [0, 1],
        "blanket": ["a", "b"],
        "mean_pairwise_jaccard": 1 / 3,
        "chance_pairwise_jaccard": 0.2,
        "expected_reproducibility": 0.5,
    }
    (job / "consensus" / "stability.json").write_text(json.dumps(stability))
    oracle = {"target_oracle": {"column": "planted_score", "pretrained": True}}
    (job / "attributes" / "set.json").write_text(json.dumps(oracle))
    if control is not None:
        (job / "data" / "control.json").write_text(json.dumps(control))
    return StudyJob(shift, job)


def _row(blanket, reference, regime, n, diff, verdict, dataset="ood", failed=0):
    return dict(
        blanket=blanket, reference=reference, regime=regime, dataset=dataset, n=n,
        diff=diff, low=diff - 0.01, high=diff + 0.01, verdict=verdict, failed=failed,
    )  # fmt: skip


def test_study_tables_read_each_jobs_comparisons_and_the_planted_members(tmp_path):
    arm = "per-seed blanket (10 fits)"
    rows = [
        _row(arm, "all", "limited", 16, 0.05, "better"),
        _row(arm, "all", "supervised", 900, -0.02, "worse"),
        _row(arm, "lasso", "limited", 16, 0.01, "no detectable difference"),
        _row(arm, "pc", "limited", 16, 0.04, "better", failed=7),
        _row("markov_blanket", "all", "limited", 16, 0.5, "better"),  # seed 0's: not reported beside a consensus
        _row("consensus_blanket", "all", "limited", 16, 0.03, "better"),
        _row("consensus_blanket", "lasso_k2", "limited", 16, 0.03, "better"),
    ]
    job = _job(tmp_path, "control", rows, control={"members": ["a", "b", "c"]})
    table = results_table([job])
    per_seed = table[table["blanket"] == "per-seed (10 fits)"].iloc[0]
    assert per_seed["n=16"] == "+0.050 [+0.040, +0.060] ▲"
    assert per_seed["all labels"] == "-0.020 [-0.030, -0.010] ▼" and per_seed["labels"] == 900
    # counted from the rows that carry the fits' variance, failed selections said
    assert per_seed["vs baselines ▲/▼/="] == "1/0/1 (7 failed selections left out)"
    assert set(table["blanket"]) == {"per-seed (10 fits)", "consensus"}
    assert set(table["oracle"]) == {"planted_score (the planted function, the known truth)"}
    consensus = table.set_index("blanket").loc["consensus"]
    # the consensus holds its ensemble fixed: no word, no count
    assert consensus["n=16"] == "+0.030 [+0.020, +0.040] ·" and consensus["vs baselines ▲/▼/="] == "—"
    recovered = control_table([job]).set_index("blanket")
    assert recovered.loc["consensus", "planted members found"] == "2 of 3"
    assert recovered.loc["consensus", "missed"] == "c"
    assert recovered.loc["seed 0", "extras"] == "x"


def test_the_control_is_compared_with_each_baseline_with_intervals(tmp_path):
    arm = "per-seed blanket (10 fits)"
    rows = [
        _row(arm, "all", "limited", 16, 0.03, "better"),
        _row(arm, "lasso", "limited", 16, 0.04, "better"),
        _row(arm, "lasso", "supervised", 900, -0.01, "no detectable difference"),
        _row(arm, "pc", "limited", 16, -0.02, "worse"),
        _row(arm, "pc", "limited", 16, 0.5, "better", dataset="id_test"),  # in distribution: not here
        _row("consensus_blanket", "ges", "limited", 16, 0.2, "better"),  # the consensus: not here
    ]
    table = control_baselines_table([_job(tmp_path, "control", rows, control={"members": ["a"]})])
    table = table.set_index("per-seed −")
    assert list(table.index) == ["lasso", "pc"]  # every baseline, not `all` (the results table has it)
    assert table.loc["lasso", "n=16"] == "+0.040 [+0.030, +0.050] ▲"
    assert table.loc["lasso", "all labels"] == "-0.010 [-0.020, +0.000] ="
    assert table.loc["pc", "n=16"] == "-0.020 [-0.030, -0.010] ▼"
    assert control_baselines_table([_job(tmp_path / "other", "acp", rows)]).empty  # only the control


def test_study_command_smoke_runs_the_shifts_and_writes_the_tables_into_the_docs(tmp_path):
    """The study command on smoke settings: the sweep over two shifts (an ensemble of two each),
    then latentgraph-aggregate writing study.md and the docs' marked block."""
    sweep = tmp_path / "study"
    result = run_cli(
        "-m",
        "experiment=smoke",
        "study=amp_macrel,control",
        "ensemble.size=2",
        *FAST,
        f"hydra.sweep.dir={sweep}",
        "hydra.sweep.subdir=${hydra:runtime.choices.study}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((sweep / "control" / "data" / "control.json").read_text())["members"]
    docs = tmp_path / "results.md"
    docs.write_text(f"# Results\nfindings\n{BEGIN}\nold tables\n{END}\nlimitations\n")
    aggregate = subprocess.run(
        [sys.executable, "-m", "latentgraph.cli.aggregate", str(sweep), "--docs", str(docs)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert aggregate.returncode == 0, aggregate.stderr
    study = (sweep / "study.md").read_text()
    assert "| amp_macrel | 2 |" in study and "| control | 2 |" in study  # the stability table, one row a shift
    assert "| control | consensus |" in study  # the planted members against the consensus
    written = docs.read_text()
    assert "old tables" not in written and study in written
    assert written.startswith("# Results\nfindings\n") and written.endswith("limitations\n")
    docs.write_text("# Results without markers\n")
    failed = subprocess.run(
        [sys.executable, "-m", "latentgraph.cli.aggregate", str(sweep), "--docs", str(docs)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert failed.returncode == 2 and "no study markers" in failed.stderr


def test_write_study_without_docs_markers_is_refused(tmp_path):
    job = _job(tmp_path, "control", [_row("markov_blanket", "all", "limited", 16, 0.05, "better")])
    docs = tmp_path / "plain.md"
    docs.write_text("no markers\n")
    with pytest.raises(ValueError, match="no study markers"):
        write_study(job.path.parent, docs=docs)


def test_an_archived_study_gives_the_same_tables_and_keeps_other_shifts(tmp_path):
    """``latentgraph-aggregate SWEEP --archive DIR`` copies what the tables read, so the tables
    survive the run folders and shifts run at different times join one set of tables."""
    from latentgraph.cli.aggregate import main as aggregate
    from latentgraph.report.study import archive_study, study_jobs

    sweep, archive = tmp_path / "sweep", tmp_path / "archive"
    arm = "per-seed blanket (5 fits)"
    _job(sweep, "control", [_row(arm, "all", "limited", 16, 0.05, "better")], control={"members": ["a", "b", "c"]})
    earlier = _job(tmp_path / "earlier", "acp", [_row(arm, "all", "limited", 16, -0.02, "worse")])
    archive_study(earlier.path.parent, archive)  # a shift archived in an earlier session
    (sweep / "control" / "latentgraph.log").write_text("not a table's input\n")
    assert aggregate([str(sweep), "--archive", str(archive)]) == 0
    assert not (archive / "control" / "latentgraph.log").exists()
    archived = {job.shift: job for job in study_jobs(archive)}
    assert set(archived) == {"acp", "control"}
    pd.testing.assert_frame_equal(
        results_table([archived["control"]]), results_table([StudyJob("control", sweep / "control")])
    )
    assert control_table([archived["control"]]).equals(control_table([StudyJob("control", sweep / "control")]))
    study = (archive / "study.md").read_text()
    assert "| acp |" in study and "| control |" in study
