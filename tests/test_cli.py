"""End-to-end runs of the ``latentgraph`` command, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import wandb_log
import yaml
from conftest import FAST, QUIET_SMOKE, run_cli

AA = list("ACDEFGHIKLMNPQRSTVWY")


def random_peptides(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(AA, size=rng.integers(8, 30))) for _ in range(n)]


def user_csv(tmp_path: Path, extra_rows: list[str]) -> Path:
    rows = [f"{s},{i % 2}" for i, s in enumerate(random_peptides(80))] + extra_rows
    path = tmp_path / "user.csv"
    path.write_text("sequence,amp\n" + "\n".join(rows) + "\n")
    return path


def test_smoke_run_writes_checkpoints_metrics_and_offline_wandb(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "experiment=smoke",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        env={"WANDB_MODE": "offline"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    for noise in ("GPU available", "TPU available", "Trainer(limit_", "gcsfs", "`Trainer.fit` stopped"):
        assert noise not in console, noise  # third-party lines that tell a user nothing
    assert "stage wae: fitting on cpu" in console  # where the fit ran, said once by us
    # not a terminal (a batch log): a plain line per epoch, per perturbation chunk, per feature set
    epochs = [line for line in console.splitlines() if "wae: epoch " in line]
    assert [line.split("wae: epoch ")[1].split(",")[0] for line in epochs] == ["1/2", "2/2"]
    assert all("train/loss " in line and "val/token_acc " in line and "s/epoch" in line for line in epochs)
    assert "perturbation: decode + score: 256/256" in console and "predictors: feature sets: 1/" in console
    assert "v_num" not in console and "it/s" not in console  # no fit bar drawn into the log
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
    for column in (
        "train/loss_step",
        "val/recon",
        "val/token_acc",
        "val/exact_match",
        "val/prior_valid",
        "val/prior_unique",
    ):
        assert column in metrics.columns, column
    assert metrics["val/token_acc"].dropna().between(0, 1).all()
    wae = json.loads((run_dir / "metrics" / "wae.json").read_text())
    assert wae["global_step"] == 18  # 2 epochs x 9 batches (540 corpus sequences / batch 64)
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 18  # the final model, though the periodic saves stop at step 15
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1 and list(offline_runs[0].glob("run-*.wandb"))
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    check_wandb_artifacts(next(offline_runs[0].glob("run-*.wandb")), best.name)
    assert not (run_dir / "metrics" / "classifiers.json").exists()  # the default oracle is pre-trained: none trained
    summary = json.loads((run_dir / "data" / "summary.json").read_text())
    assert summary["dropped"]["total"] == 277  # modlamp records longer than data.max_len=50
    assert len((run_dir / "data" / "dropped.csv").read_text().splitlines()) == 278
    attributes = json.loads((run_dir / "attributes" / "set.json").read_text())
    assert attributes["names"][-2:] == ["macrel_amp", "macrel_hemolysis"] and len(attributes["names"]) == 14
    assert attributes["target"] == "amp" and "macrel_amp" not in attributes["features_for_target"]
    assert attributes["target_oracle"]["column"] == "macrel_amp" and attributes["target_oracle"]["pretrained"]
    assert 10 < attributes["id_train_mean"]["length"] < 50
    check_perturbation_and_graph(run_dir, tmp_path)
    check_results(run_dir)


def check_wandb_artifacts(run_log: Path, best_checkpoint: str) -> None:
    """The offline W&B run holds each stage's output as an artifact named by its cache key, with lineage."""
    logged = {name: a for name, a in wandb_log.artifacts(run_log).items() if not name.startswith("run-")}
    by_type = {a["type"]: name for name, a in logged.items()}
    assert set(by_type) == {"model", "perturbation", "graph", "results", "report"}, logged
    built_from = {kind: logged[name]["metadata"]["built_from"] for kind, name in by_type.items()}
    assert built_from["model"] == [] and built_from["perturbation"] == [by_type["model"]]
    assert built_from["graph"] == [by_type["perturbation"]] and built_from["report"] == [by_type["results"]]
    assert set(built_from["results"]) == {by_type["graph"], by_type["model"]}  # no consensus in one run
    assert logged[by_type["model"]]["files"] == ["last.ckpt"] and logged[by_type["report"]]["files"] == ["report.html"]
    assert "graph/blanket.json" in logged[by_type["graph"]]["files"]
    assert by_type["model"].startswith("wae-") and by_type["results"].startswith("results-")  # cache keys
    summary = wandb_log.summary(run_log)
    assert summary["data/id/train"] == 2907 and summary["data/dropped"] == 277  # the data's quality
    assert wandb_log.run_name(run_log).startswith("experiment=smoke")  # named after its overrides
    assert wandb_log.exit_code(run_log) == 0  # finished, not failed
    aliases = {kind: set(logged[name]["aliases"]) for kind, name in by_type.items()}
    assert all("latest" in a and len(a) == 2 for a in aliases.values())  # the newest, and its content
    content = {kind: next(a for a in names if a.startswith("content-")) for kind, names in aliases.items()}
    pinned = {kind: logged[name]["metadata"]["built_from_versions"] for kind, name in by_type.items()}
    assert pinned["graph"] == [f"{by_type['perturbation']}:{content['perturbation']}"]  # the version logged here
    assert pinned["perturbation"] == [f"{by_type['model']}:{content['model']}"]  # the last checkpoint, which it used
    # the fit's best checkpoint is the model's other version, logged before the last one: "best"
    checkpoints = [logged for name, logged in wandb_log.artifact_versions(run_log) if name == by_type["model"]]
    assert [c["files"] for c in checkpoints] == [[best_checkpoint], ["last.ckpt"]]
    # (W&B writes "latest" into every version it logs, and moves it to the newest when it syncs)
    assert "best" in checkpoints[0]["aliases"] and "best" not in checkpoints[1]["aliases"]
    assert pinned["report"] == [f"{by_type['results']}:{content['results']}"] and pinned["model"] == []
    metrics = wandb_log.step_metrics(run_log)
    assert metrics["val/*"] == "epoch"  # the validation curves against the epoch


def test_a_run_that_raises_finishes_its_wandb_run_as_failed(tmp_path):
    crash = (
        "import latentgraph.pipeline as stages, latentgraph.cli.main as app; "
        "stages.run_all_stages = lambda *a, **k: 1 / 0; app.entry()"
    )
    command = [sys.executable, "-c", crash, "experiment=smoke", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {**os.environ, "WANDB_MODE": "offline", "LATENTGRAPH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1 and "ZeroDivisionError" in result.stderr
    (run_log,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    assert wandb_log.exit_code(run_log) == 1  # W&B shows it failed, not finished


def check_results(run_dir: Path) -> None:
    """The smoke run's results/: one row per feature set × regime × dataset × n × seed. Its blanket
    (two epochs, 16 base codes) is empty, so the sets that need one are skipped and said to be."""
    assert json.loads((run_dir / "graph" / "blanket.json").read_text())["blanket"] == []
    results = pd.read_csv(run_dir / "results" / "metrics.csv")
    assert set(results["feature_set"]) == {"all", "pc", "ges", "lingam"}  # no blanket, so no size for lasso & co.
    assert pd.read_csv(run_dir / "results" / "comparisons.csv").empty  # nothing compared with itself
    report = (run_dir / "report.html").read_text()
    assert "No blanket comparison was made" in report and "the blanket of amp is empty" in report
    assert set(results["regime"]) == {"supervised", "unsupervised", "fewshot", "limited"}
    assert set(results["dataset"]) == {"id_test", "id_val", "AMPvsTM"}
    limited = results["regime"] == "limited"
    assert set(results[~limited]["seed"]) == {0, 1}  # predictor.seeds=2
    assert set(results[limited]["seed"]) == {0, 1, 2}  # predictor.limited_subsamples=3
    assert "consensus_blanket" in json.loads((run_dir / "results" / "features.json").read_text())["notes"]
    assert set(results[results["dataset"] == "id_val"]["regime"]) == {"supervised"}
    assert results["auroc"].between(0, 1).all()
    assert not results.duplicated(["feature_set", "regime", "dataset", "n", "seed"]).any()
    features = json.loads((run_dir / "results" / "features.json").read_text())
    assert "macrel_amp" not in features["attributes"] and features["comparisons"] == {}
    assert "markov_blanket" in features["notes"] and len(features["features"]["pc/limited/16"]) == 3
    oracle = json.loads((run_dir / "results" / "oracle.json").read_text())
    assert oracle["column"] == "macrel_amp" and "no label of this run's splits" in oracle["labels_seen"]
    assert set(oracle["auroc"]) == {"id_test", "AMPvsTM"} and oracle["auroc"]["AMPvsTM"]["auroc"] > 0.9
    for name in ("metrics.json", "summary.csv", "ood_drop.csv", "limited_curve.png", "scores.npz"):
        assert (run_dir / "results" / name).is_file(), name
    # the offline W&B run, read back from its .wandb log, and the run's own mirror of its summary
    from wandb_log import config_keys, run_record
    from wandb_log import summary as wandb_summary

    [log_file] = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    logged, mirrored = wandb_summary(log_file), json.loads((run_dir / "metrics" / "summary.json").read_text())
    for key in (
        "graph/blanket_size",
        "predictors/pc/supervised/AMPvsTM/ood_auroc",
        "predictors/all/supervised/AMPvsTM/ood_auroc",
        "predictors/all/supervised/id_auroc",
    ):
        assert key in logged and key in mirrored, (key, sorted(logged)[:40])
        assert logged[key] == pytest.approx(mirrored[key])
    assert {"val/recon", "val/token_acc", "graph/latents_with_edges"} <= set(logged)
    assert {"data", "model", "graph", "predictor"} <= config_keys(log_file)
    assert run_record(log_file).job_type == "pipeline" and run_record(log_file).project == "latentgraph"


def check_perturbation_and_graph(run_dir: Path, tmp_path: Path) -> None:
    """The smoke run's perturbation/ and graph/, then a stage=graph rebuild from them."""
    for name in ("result.npz", "summary.json", "sensitivity.csv", "pvalues.csv", "qvalues.csv", "change_rate.csv"):
        assert (run_dir / "perturbation" / name).is_file(), name
    info = json.loads((run_dir / "perturbation" / "summary.json").read_text())["info"]
    # N + N·d·K + N·R·K: the base codes, the latents' steps and the random-direction null (d 8, K 2, R 16)
    assert info["n_base"] == 16 and info["decodes"] == 16 + 16 * 8 * 2 + 16 * 16 * 2
    for name in (
        "graph.json",
        "attribute_dag.graphml",
        "latent_attribute.graphml",
        "blanket.json",
        "summary.json",
        "sensitivity_heatmap.png",
        "graph.png",
    ):
        assert (run_dir / "graph" / name).is_file(), name
    assert (run_dir / "graph" / "graph.png").read_bytes()[:4] == b"\x89PNG"
    blanket = json.loads((run_dir / "graph" / "blanket.json").read_text())
    assert (
        blanket["target"] == "amp"
        and blanket["target_node"] == "macrel_amp"
        and "macrel_amp" not in blanket["features"]
    )
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
    assert "perturbation/seconds" in metrics.columns and "graph/latents_with_edges" in metrics.columns

    rebuilt = tmp_path / "rebuilt"
    result = run_cli(
        "stage=graph",
        f"run_dir={run_dir}",
        "graph.threshold=fixed",
        "graph.tau=0",
        "logger=csv_only",
        f"hydra.run.dir={rebuilt}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((rebuilt / "graph" / "summary.json").read_text())
    assert summary["settings"]["threshold"] == "fixed" and summary["latent_edges"] == 8 * 14  # tau 0: every pair
    assert json.loads((rebuilt / "graph" / "source.json").read_text())["run_dir"] == str(run_dir.resolve())
    # lineage: the rebuilt graph declares the earlier run's perturbation artifact as its input
    source = json.loads((run_dir / "perturbation" / "artifact.json").read_text())["name"]
    assert json.loads((rebuilt / "graph" / "artifact.json").read_text())["built_from"] == [source]
    assert not (rebuilt / "checkpoints").exists()  # nothing was trained


def test_bad_config_value_fails_before_training(tmp_path):
    run_dir = tmp_path / "run"
    for override, key in (
        ("model.latent_dim=-3", "model.latent_dim"),
        ("data.max_len=0", "data.max_len"),
        ("+graph.alpah=0.01", "graph.alpah"),  # a misspelt key added with +: named, not dropped
    ):
        result = run_cli("experiment=smoke", *FAST, override, f"hydra.run.dir={run_dir}", cwd=tmp_path)
        assert result.returncode == 2
        assert f"{key}=" in result.stderr and "invalid config value" in result.stderr
        assert not (run_dir / "checkpoints").exists() and not (run_dir / "data").exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["stage=graph"], "invalid config value run_dir=None: stage=graph needs run_dir="),
        (["stage=graph", "run_dir=/nowhere"], "holds no perturbation/result.npz"),
    ],
)
def test_graph_stage_needs_a_finished_run(tmp_path, overrides, message):
    result = run_cli(*overrides, "logger=csv_only", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]


def test_an_unknown_choice_fails_at_composition_naming_the_choices(tmp_path):
    result = run_cli("stage=train", "logger=csv_only", cwd=tmp_path)
    assert result.returncode == 2  # a user's bad override, not a crash
    assert (
        "Invalid value 'train', expected one of [all, graph, consensus]" in result.stderr
        and "full_key: stage" in result.stderr
    )


def test_missing_checkpoint_to_resume_from(tmp_path):
    result = run_cli("experiment=smoke", *FAST, f"ckpt_path={tmp_path / 'gone.ckpt'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid config value ckpt_path=" in result.stderr and "no such checkpoint file" in result.stderr


def test_type_error_fails_at_composition(tmp_path):
    result = run_cli("model.latent_dim=big", cwd=tmp_path)
    assert result.returncode == 2
    assert "model.latent_dim" in result.stderr


@pytest.mark.parametrize("full_error", ["0", "1"], ids=["short", "HYDRA_FULL_ERROR"])
def test_an_unknown_key_fails_at_composition_with_status_2_naming_it(tmp_path, full_error):
    """Cluster users often set HYDRA_FULL_ERROR=1, under which Hydra raises instead of exiting 1:
    a composition error is still the user's, status 2."""
    result = run_cli("model.latnt_dim=3", "logger=csv_only", cwd=tmp_path, env={"HYDRA_FULL_ERROR": full_error})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "model.latnt_dim" in result.stderr


def test_two_bad_values_are_both_named(tmp_path):
    result = run_cli("model.latent_dim=-3", "graph.alpha=2", "logger=csv_only", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid config values" in result.stderr
    assert "model.latent_dim=-3: must be > 0" in result.stderr and "graph.alpha=2.0: must be in (0, 1)" in result.stderr


def test_a_crash_in_the_app_keeps_hydras_status_1(tmp_path):
    """Only composition errors become status 2; a fault in the pipeline stays a crash."""
    crash = "import latentgraph.cli.main as app; app.run = lambda cfg: 1 / 0; app.entry()"
    command = [sys.executable, "-c", crash, "logger=csv_only", f"hydra.run.dir={tmp_path / 'run'}"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "ZeroDivisionError" in result.stderr


@pytest.mark.parametrize(
    "row, fragment",
    [
        ("ACDXZ1,1", "record 81: non-canonical character 'X' at position 4 in 'ACDXZ1'"),
        (",1", "record 81: empty sequence"),
        ("A" * 500 + ",1", "record 81: length 500 exceeds data.max_len=50"),
    ],
)
def test_bad_record_strict_exits_naming_file_and_record(tmp_path, row, fragment):
    path = user_csv(tmp_path, [row])
    result = run_cli(
        "experiment=smoke",
        *FAST,
        f"data.id_source={path}",
        "data.bad_records=strict",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert f"latentgraph: error: {path}: {fragment}" in result.stderr


def test_an_ood_csv_left_with_one_class_exits_2_before_the_fit_naming_the_set(tmp_path):
    """The four-row OOD CSV of issue 40: the bad rows are dropped and counted, then the set (one
    positive) is refused before any fit, with its class counts, instead of failing in the report."""
    path = tmp_path / "bad.csv"
    path.write_text("sequence,label\nKKLLKKLLKK,1\nKKXLLK,0\n,0\n" + "K" * 80 + ",0\n")
    result = run_cli(
        "experiment=smoke", *FAST, f"data.ood_csv=[{path}]", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "OOD set 'bad' holds 1 labelled sequences of a single class of 'amp' (1: 1)" in result.stderr
    assert "stage wae" not in result.stdout + result.stderr


def test_an_ood_set_too_small_for_a_regime_is_named_first_and_the_run_finishes(tmp_path):
    """Two of each class: the smoke run's few-shot k=8 cannot be scored on it. That is said before
    the fit, the regime is skipped for that set, and the run ends with its report."""
    path = tmp_path / "tiny.csv"
    path.write_text("sequence,label\nKKLLKKLLKK,1\nGLFDIVKKIA,1\nMSTNPKPQRK,0\nAEDLQRSWVT,0\n")
    result = run_cli(
        "experiment=smoke", *FAST, f"data.ood_csv=[{path}]", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    named = "few-shot regime on OOD set 'tiny' (4 rows; 0: 2, 1: 2): k=[8] skipped"
    assert named in output and output.index(named) < output.index("stage wae")
    summary = pd.read_csv(tmp_path / "run" / "results" / "summary.csv")
    assert not ((summary["dataset"] == "tiny") & (summary["regime"] == "fewshot")).any()
    assert ((summary["dataset"] == "tiny") & (summary["regime"] == "limited")).any()  # still scored there
    assert (tmp_path / "run" / "report.html").is_file()


def test_bad_records_dropped_counted_and_written(tmp_path):
    path = user_csv(tmp_path, ["ACDXZ1,1", ",0", "A" * 500 + ",1"])
    run_dir = tmp_path / "run"
    result = run_cli(
        "experiment=smoke",
        *FAST,
        f"data.id_source={path}",
        "trainer.max_epochs=1",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    dropped = pd.read_csv(run_dir / "data" / "dropped.csv", keep_default_na=False)
    user_rows = dropped[dropped["source"] == str(path)]
    assert sorted(user_rows["reason"]) == ["empty", "non_canonical", "too_long"]
    assert sorted(user_rows["record"]) == [81, 82, 83]
    summary = json.loads((run_dir / "data" / "summary.json").read_text())
    assert summary["dropped"]["by_source"][str(path)] == {"empty": 1, "non_canonical": 1, "too_long": 1}
    # the run log reports the total (3 from the CSV + 7 over-long AMPvsTM records) and where they went
    assert "dropped 10 bad records" in (run_dir / "latentgraph.log").read_text()


def test_fasta_missing_header_and_missing_path(tmp_path):
    fasta = tmp_path / "corpus.fasta"
    fasta.write_text("KLAKLAK\n>second\nGIGK\n")
    result = run_cli("experiment=smoke", *FAST, f"data.corpus_sources=[{fasta}]", cwd=tmp_path)
    assert result.returncode == 2
    assert f"{fasta}: line 1: sequence data before the first FASTA header" in result.stderr

    missing = tmp_path / "nowhere" / "ood.csv"
    result = run_cli("experiment=smoke", *FAST, f"data.ood_sources=[{missing}]", cwd=tmp_path)
    assert result.returncode == 2
    assert f"data file not found: '{missing}'" in result.stderr


def read_global_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def kill_after_step(command: list[str], cwd: Path, checkpoint: Path, step: int) -> None:
    """Start ``command``; SIGKILL it once ``checkpoint`` records ``step`` optimiser steps or more."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LATENTGRAPH_CACHE": str(cwd / "cache")},
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if checkpoint.is_file() and read_global_step(checkpoint) >= step:  # written atomically: never half a file
                break
            assert process.poll() is None, "the fit ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail(f"no last.ckpt with {step} steps within 240 s")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL


def test_killed_fit_resumed_with_resume_true_equals_the_uninterrupted_fit(tmp_path):
    """SIGKILL mid-epoch, rerun the same command with resume=true: the same weights and sensitivity (1e-6)."""
    # 9 steps per epoch; last.ckpt every 7 steps, so the first save to land on an epoch's end is step 63
    settings = [*QUIET_SMOKE, "trainer.max_epochs=12", "callbacks.checkpoint.every_n_train_steps=7"]
    reference_dir = tmp_path / "reference" / "run"
    (tmp_path / "reference").mkdir()
    result = run_cli(*settings, f"hydra.run.dir={reference_dir}", cwd=tmp_path / "reference")
    assert result.returncode == 0, result.stderr[-3000:]

    work = tmp_path / "killed"
    work.mkdir()
    killed_dir = work / "first"
    kill_after_step(
        [sys.executable, "-m", "latentgraph.cli.main", *settings, f"hydra.run.dir={killed_dir}"],
        cwd=work,
        checkpoint=killed_dir / "checkpoints" / "last.ckpt",
        step=21,
    )
    saved_step = read_global_step(killed_dir / "checkpoints" / "last.ckpt")
    assert saved_step % 9 != 0  # killed mid-epoch

    resumed_dir = work / "second"  # a new directory, as a rerun without hydra.run.dir gets
    result = run_cli(*settings, "resume=true", f"hydra.run.dir={resumed_dir}", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    log_text = (resumed_dir / "latentgraph.log").read_text()
    assert (
        f"resume: continuing the interrupted fit from {killed_dir / 'checkpoints' / 'last.ckpt'} (step {saved_step})"
        in log_text
    )
    assert "dataloader is not resumable" not in result.stderr  # Lightning's warning does not apply: the order resumes
    metrics = pd.read_csv(resumed_dir / "csv" / "metrics.csv")
    assert metrics["step"].min() >= saved_step  # nothing before the saved step was redone
    # the interrupted epoch's training curve still averages the whole epoch, the killed run's part too
    epoch_means = [
        frame.dropna(subset=["train/loss_epoch"]).set_index("epoch")["train/loss_epoch"]
        for frame in (pd.read_csv(reference_dir / "csv" / "metrics.csv"), metrics)
    ]
    killed_epoch = saved_step // 9
    assert epoch_means[1].loc[killed_epoch] == pytest.approx(epoch_means[0].loc[killed_epoch], abs=1e-6)

    # the final weights: the fitted WAE each run stored in its stage cache
    reference, resumed = (
        torch.load(next((cwd / "cache" / "stages" / "wae").glob("*/model.ckpt")), map_location="cpu", weights_only=True)
        for cwd in (tmp_path / "reference", work)
    )
    assert resumed["global_step"] == reference["global_step"] == 12 * 9
    for name, weight in reference["state_dict"].items():
        np.testing.assert_allclose(resumed["state_dict"][name].numpy(), weight.numpy(), rtol=0, atol=1e-6, err_msg=name)
    sensitivity = [np.load(d / "perturbation" / "result.npz")["sensitivity"] for d in (reference_dir, resumed_dir)]
    np.testing.assert_allclose(sensitivity[1], sensitivity[0], rtol=0, atol=1e-6)
    # the finished fit leaves nothing to resume: a third run reuses the cached WAE
    result = run_cli(*settings, "resume=true", f"hydra.run.dir={work / 'third'}", cwd=work)
    assert (
        result.returncode == 0
        and "stage wae: reused from cache key" in (work / "third" / "latentgraph.log").read_text()
    )


def test_resume_true_goes_on_in_the_interrupted_runs_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    settings = ["experiment=smoke", *FAST[1:], "predictor.regime=supervised", "logger.wandb.mode=offline"]
    settings += ["trainer.max_epochs=6", "callbacks.checkpoint.every_n_train_steps=7"]
    killed_dir, resumed_dir = tmp_path / "first", tmp_path / "second"
    kill_after_step(
        [sys.executable, "-m", "latentgraph.cli.main", *settings, f"hydra.run.dir={killed_dir}"],
        cwd=tmp_path,
        checkpoint=killed_dir / "checkpoints" / "last.ckpt",
        step=7,
    )
    result = run_cli(*settings, "resume=true", f"hydra.run.dir={resumed_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ids = [path.name.rsplit("-", 1)[1] for run in (killed_dir, resumed_dir) for path in run.glob("wandb/offline-run-*")]
    assert len(ids) == 2 and ids[0] == ids[1]  # one W&B run, continued (wandb sync appends the second part)
    assert f"W&B: resuming run {ids[0]}, the interrupted fit's" in (resumed_dir / "latentgraph.log").read_text()
    fresh = run_cli(*settings, f"hydra.run.dir={tmp_path / 'third'}", cwd=tmp_path)  # no resume: a new W&B run
    assert fresh.returncode == 0
    assert [path.name.rsplit("-", 1)[1] for path in (tmp_path / "third").glob("wandb/offline-run-*")] != ids[:1]


def test_ddp_cpu_trains_on_two_processes_and_shards_the_perturbation(tmp_path):
    run_dir = tmp_path / "ddp"
    result = run_cli(*QUIET_SMOKE, "trainer=ddp_cpu", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # 540 corpus sequences split over 2 ranks: 270 each, 5 batches of 64 per epoch (9 on one process)
    assert json.loads((run_dir / "metrics" / "wae.json").read_text())["global_step"] == 2 * 5
    assert json.loads((run_dir / "perturbation" / "summary.json").read_text())["info"]["processes"] == 2
    assert "rank 1 of 2 decoded 128 of 256 codes" in (run_dir / "latentgraph.rank1.log").read_text()
    assert "rank 0 of 2 decoded 128 of 256 codes" in (run_dir / "latentgraph.log").read_text()
    assert (run_dir / "report.html").is_file() and not (run_dir / "unused.ckpt").exists()

    # the same WAE (reused from the cache), the perturbation in one process: the same sensitivity
    single_dir = tmp_path / "single"
    result = run_cli(
        *QUIET_SMOKE, "trainer=ddp_cpu", "perturbation.batch_size=100", f"hydra.run.dir={single_dir}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stage wae: reused from cache key" in (single_dir / "latentgraph.log").read_text()
    assert json.loads((single_dir / "perturbation" / "summary.json").read_text())["info"]["processes"] == 1
    sharded, single = (np.load(d / "perturbation" / "result.npz") for d in (run_dir, single_dir))
    np.testing.assert_allclose(sharded["sensitivity"], single["sensitivity"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(sharded["effects"], single["effects"])

    # Lightning's DDP relaunch cannot run inside a Hydra multirun: a clear error, not a hang
    result = run_cli("-m", *QUIET_SMOKE, "trainer=ddp_cpu", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert result.returncode == 2 and "invalid config value trainer.strategy='ddp'" in result.stderr


def test_two_runs_with_the_same_seed_give_the_same_graph_blanket_and_metrics(tmp_path):
    """Separate caches, so each run computes every stage itself; other hash seeds, so no file may
    follow set order."""
    runs = []
    for name, hash_seed in (("first", "1"), ("second", "2")):
        (tmp_path / name).mkdir()
        run_dir = tmp_path / name / "run"
        result = run_cli(
            *QUIET_SMOKE,
            "trainer.max_epochs=4",
            "graph.min_effect=0.05",
            "graph.structure=footprint",
            "perturbation.base=prior",
            f"hydra.run.dir={run_dir}",
            cwd=tmp_path / name,
            env={"PYTHONHASHSEED": hash_seed},
        )  # 4 epochs: decodes valid enough for a graph with edges
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(run_dir)
    first, second = runs
    for path in sorted((first / "graph").iterdir()):  # every graph file, its pictures and SEM R² included
        assert path.read_bytes() == (second / "graph" / path.name).read_bytes(), path.name
    assert (first / "results/features.json").read_text() == (second / "results/features.json").read_text()
    graph = json.loads((first / "graph" / "graph.json").read_text())
    assert graph["latent_edges"] and graph["attribute_edges"]
    for name in ("metrics/wae.json", "metrics/summary.json"):
        a, b = (json.loads((run / name).read_text()) for run in runs)
        assert a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-6 for k in a), name
    a, b = (pd.read_csv(run / "results" / "metrics.csv") for run in runs)
    numeric = a.select_dtypes("number").columns
    pd.testing.assert_frame_equal(a.drop(columns=numeric), b.drop(columns=numeric))
    np.testing.assert_allclose(a[numeric].to_numpy(float), b[numeric].to_numpy(float), rtol=0, atol=1e-6)


def test_second_shift_acp_with_one_override(tmp_path):
    run_dir = tmp_path / "acp"
    result = run_cli(
        "experiment=smoke",
        "data=acp",
        "logger=csv_only",
        "trainer.enable_progress_bar=false",
        "predictor.regime=supervised",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    attributes = json.loads((run_dir / "attributes" / "set.json").read_text())
    assert attributes["target"] == "acp" and "acp" not in attributes["features_for_target"]
    assert "amp" in attributes["features_for_target"]
    classifiers = json.loads((run_dir / "metrics" / "classifiers.json").read_text())
    assert classifiers["acp"]["test"] == 164  # the run's own ID test split (ACPvsRandom)
    results = pd.read_csv(run_dir / "results" / "metrics.csv")
    assert set(results["dataset"]) == {"id_test", "id_val", "ACPvsTM"} and set(results["regime"]) == {"supervised"}
    assert json.loads((run_dir / "graph" / "blanket.json").read_text())["target_node"] == "acp"


def test_multirun_sweep_reuses_the_autoencoder_and_the_effects(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", *QUIET_SMOKE, "graph.alpha=0.01,0.05", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1"]
    first, second = ((job / "latentgraph.log").read_text() for job in jobs)
    assert "stage wae: computing" in first and "stage perturbation: computed" in first
    assert "stage wae: reused from cache key" in second and "stage perturbation: reused from cache key" in second
    effects = [np.load(job / "perturbation" / "result.npz")["effects"] for job in jobs]
    assert np.array_equal(effects[0], effects[1], equal_nan=True)
    alphas = [json.loads((job / "graph" / "summary.json").read_text())["settings"]["alpha"] for job in jobs]
    assert alphas == [0.01, 0.05]
    for job in jobs:
        assert (job / "results" / "metrics.csv").is_file() and (job / "checkpoints" / "last.ckpt").is_file()

    from latentgraph.cli.aggregate import main as aggregate

    assert aggregate([str(sweep)]) == 0
    table = pd.read_csv(sweep / "aggregate.csv")
    provenance = [json.loads((job / "metrics" / "wae_provenance.json").read_text()) for job in jobs]
    assert provenance[0]["reused"] is False and provenance[1]["reused"] is True
    assert provenance[1]["fit_revision"] == provenance[0]["fit_revision"] and provenance[1]["stale"] is None
    assert "training-code revision" not in second
    # a fit stored by older training code is reused, and the run says so
    (entry,) = (tmp_path / "cache" / "stages" / "wae").glob("*/provenance.json")
    entry.write_text(json.dumps({**provenance[0], "fit_revision": 0}))

    # a change downstream of the WAE only: the WAE is reused, the effects are computed on it
    third = tmp_path / "third"
    result = run_cli(*QUIET_SMOKE, "graph.alpha=0.01", "perturbation.n_base=8", f"hydra.run.dir={third}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log_text = (third / "latentgraph.log").read_text()
    assert "stage wae: reused from cache key" in log_text and "stage perturbation: computing (key" in log_text
    assert "the cached fit is reused, but it was fitted with training-code revision 0" in log_text
    assert json.loads((third / "metrics" / "wae_provenance.json").read_text())["stale"].startswith("it was fitted")
    assert np.load(third / "perturbation" / "result.npz")["effects"].shape[0] == 8
    assert (third / "graph" / "graph.png").is_file() and (third / "results" / "metrics.csv").is_file()

    # jobs are labelled by their overrides, as Hydra recorded them in .hydra/overrides.yaml
    alphas = sorted(token for label in set(table["overrides"]) for token in label.split() if token.startswith("graph."))
    assert alphas == ["graph.alpha=0.01", "graph.alpha=0.05"]
    assert all(label.startswith("experiment=smoke") for label in table["overrides"])
    assert (sweep / "aggregate.png").is_file() and not (sweep / "missing_jobs.txt").exists()


@pytest.mark.slow
def test_parallel_jobs_that_need_one_cache_key_train_it_once(tmp_path):
    sweep = tmp_path / "parallel"
    result = run_cli(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *QUIET_SMOKE,
        "graph.alpha=0.01,0.05",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [sweep / "0", sweep / "1"]
    logs = [(job / "latentgraph.log").read_text() for job in jobs]
    assert sum("stage wae: computing" in text for text in logs) == 1, logs  # one job trains, the other waits
    assert sum("stage wae: reused" in text for text in logs) == 1
    effects = [np.load(job / "perturbation" / "result.npz")["effects"] for job in jobs]
    assert np.array_equal(effects[0], effects[1], equal_nan=True)
    for stage in ("wae", "perturbation", "predictors"):
        entries = [p for p in (tmp_path / "cache" / "stages" / stage).iterdir() if p.suffix != ".lock"]
        assert len(entries) == 1 and (entries[0] / "COMPLETE").is_file(), entries  # no temporary left behind
    reuser = jobs[[("stage wae: reused" in text) for text in logs].index(True)]
    stored = next(p for p in (tmp_path / "cache" / "stages" / "wae").iterdir() if p.suffix != ".lock")
    weights = [
        torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        for path in (reuser / "checkpoints" / "last.ckpt", stored / "model.ckpt")
    ]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])  # the one fit


@pytest.mark.slow
def test_optuna_search_maximises_the_blanket_id_validation_auroc(tmp_path):
    sweep = tmp_path / "optuna"
    result = run_cli(
        *QUIET_SMOKE,
        "hparams_search=optuna_blanket",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    summaries = [json.loads((sweep / str(job) / "metrics" / "summary.json").read_text()) for job in (0, 1)]
    values = [summary["predictors/markov_blanket/supervised/id_val_auroc"] for summary in summaries]
    assert best["best_value"] == pytest.approx(max(values))  # the objective is the ID validation AUROC
    assert "stage wae: reused" in (sweep / "1" / "latentgraph.log").read_text()


def test_resume_checkpoint_from_other_settings_or_corrupt_is_a_clear_error(tmp_path):
    run_dir = tmp_path / "first"
    first = run_cli(
        "experiment=smoke",
        *FAST,
        "logger=csv_only",
        "perturbation.enabled=false",
        "predictor.regime=supervised",
        "predictor.feature_sets=[all]",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    result = run_cli("experiment=smoke", *FAST, "model.latent_dim=16", f"ckpt_path={checkpoint}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        "was trained with other model settings: model.latent_dim=8 in the checkpoint, 16 in this run" in result.stderr
    )
    result = run_cli(
        "experiment=smoke", *FAST, "data.max_len=40", "model.max_len=40", f"ckpt_path={checkpoint}", cwd=tmp_path
    )
    assert result.returncode == 2 and "model.max_len=50 in the checkpoint, 40 in this run" in result.stderr
    other_alphabet = torch.load(checkpoint, map_location="cpu", weights_only=True)
    other_alphabet["state_dict"]["embedding.weight"] = other_alphabet["state_dict"]["embedding.weight"][:-2]
    torch.save(other_alphabet, tmp_path / "other_alphabet.ckpt")
    result = run_cli("experiment=smoke", *FAST, f"ckpt_path={tmp_path / 'other_alphabet.ckpt'}", cwd=tmp_path)
    assert result.returncode == 2 and "the alphabet: 22 tokens in the checkpoint, 24 in this run" in result.stderr
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(checkpoint.read_bytes()[:1000])  # a truncated copy
    result = run_cli("experiment=smoke", *FAST, f"ckpt_path={corrupt}", cwd=tmp_path)
    assert result.returncode == 2 and "cannot be read as a latentgraph WAE checkpoint" in result.stderr


JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


@pytest.mark.parametrize("launcher", [[], JOBLIB], ids=["basic", "joblib"])
def test_a_bad_job_does_not_end_the_sweep(tmp_path, launcher):
    """The failed job is read from the sweep directory, so a launcher's worker processes report it too."""
    sweep = tmp_path / "isolated"
    result = run_cli("-m", *launcher, *QUIET_SMOKE, "graph.alpha=2,0.05", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 2  # the sweep as a whole reports the failure
    assert "invalid config value graph.alpha=2.0: must be in (0, 1)" in result.stderr
    assert "1 sweep job(s) failed; the others finished" in result.stderr
    assert "job 0 (" in result.stderr and "graph.alpha=2" in result.stderr.split("the others finished:")[1]
    assert "graph.alpha=2.0" in (sweep / "0" / "error.txt").read_text()
    assert (sweep / "1" / "results" / "metrics.csv").is_file() and (sweep / "1" / "report.html").is_file()

    from latentgraph.cli.aggregate import main as aggregate

    assert aggregate([str(sweep)]) == 0
    assert (sweep / "missing_jobs.txt").read_text().startswith("0: ")
    assert set(pd.read_csv(sweep / "aggregate.csv")["job"]) == {1}
