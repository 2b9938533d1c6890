"""Shipped members join a run's own fit where they serve it (docs/method.md §3b): the same corpus,
the same recipe, no OOD sequence seen; then the run's verdict and consensus are over all the fits,
and a damaged member file stops the run naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import FAST, run_cli, settings_for

from latentgraph.models import pretrained
from latentgraph.models.wae import SequenceWAE
from latentgraph.pipeline.autoencoder import model_kwargs
from latentgraph.pipeline.data import data_stage
from latentgraph.pipeline.shipped import NOT_RECIPE, joining_members, recipe
from latentgraph.report.figures import fits_strip_figure
from latentgraph.report.verdict import Verdict, per_fit_differences

SMOKE_MEMBER_SEEDS = (7, 8)


def test_recipe_differences_name_the_fit_settings_and_not_the_hardware():
    recorded = {"model": {"latent_dim": 128, "recurrence": "auto"}, "trainer": {"max_epochs": 60, "accelerator": "cpu"}}
    same = {"model": {"latent_dim": 128, "recurrence": "nn"}, "trainer": {"max_epochs": 60, "accelerator": "gpu"}}
    assert pretrained.recipe_differences(recorded, same, NOT_RECIPE) == []
    other = {"model": {"latent_dim": 64}, "trainer": {"max_epochs": 60}}
    assert pretrained.recipe_differences(recorded, other, NOT_RECIPE) == [("model.latent_dim", 128, 64)]


def test_the_package_members_serve_the_default_recipe_and_corpus_only():
    settings = settings_for()
    record = pretrained.manifest()
    assert pretrained.recipe_differences(record["settings"], recipe(settings), NOT_RECIPE) == []
    # the recipe the members recorded; they were exported before the data settings held the alphabet
    # (recorded beside them) and the stereo policy (molecules only)
    data, recorded = recipe(settings)["data"], record["settings"]["data"]
    assert {k: v for k, v in data.items() if k in recorded} == recorded
    assert set(data) - set(recorded) == {"alphabet", "stereo"} and data["alphabet"] == record["settings"]["alphabet"]
    smaller = settings_for("model.latent_dim=64", "trainer.max_epochs=30")
    differences = pretrained.recipe_differences(record["settings"], recipe(smaller), NOT_RECIPE)
    refused = pretrained.why_not_served({}, "peptides", 50, differences=differences, corpus=["GLFDIVKKVVGALGSL"])
    assert "model.latent_dim: 128 in the shipped members, 64 in this run" in refused
    assert "trainer.max_epochs: 60 in the shipped members, 30 in this run" in refused
    assert "fitted on another corpus (5321 sequences; this run's has 1)" in refused


def _smoke_members(folder: Path, *overrides: str) -> None:
    """Members for the smoke recipe (untrained: what is tested is how they join, not what they learnt)."""
    settings = settings_for("experiment=smoke", *overrides)
    data = data_stage(settings.data, folder / "scratch")
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for seed in SMOKE_MEMBER_SEEDS:
        torch.manual_seed(seed)
        model = SequenceWAE(**model_kwargs(settings.model, settings.data.alphabet))
        pretrained.save_member(model, folder / f"wae-seed{seed}.pt")
        entries.append(
            {
                "seed": seed,
                "file": f"wae-seed{seed}.pt",
                "fit": {"val/token_acc": 0.1, "epochs": 0},
                "held_out": {"token_acc": 0.1, "exact_match": 0.0, "n": 1},
                "fit_provenance": {"fit_revision": 1},
            }
        )
    pretrained.write_manifest(folder, entries, recipe(settings), [*data.corpus_train, *data.corpus_val])


def test_joining_members_are_those_that_serve_and_are_not_the_runs_own_seeds(tmp_path):
    members = tmp_path / "members"
    _smoke_members(members)
    settings = settings_for("experiment=smoke", f"ensemble.shipped_dir={members}")
    data = data_stage(settings.data, tmp_path / "run")
    assert joining_members(settings, data).seeds == list(SMOKE_MEMBER_SEEDS)
    own_seven = settings_for("experiment=smoke", f"ensemble.shipped_dir={members}", "seed=6", "ensemble.size=2")
    assert joining_members(own_seven, data).seeds == [8]  # seed 7 is the run's own fit
    off = settings_for("experiment=smoke", f"ensemble.shipped_dir={members}", "ensemble.shipped=false")
    assert joining_members(off, data).reason == "ensemble.shipped=false"
    longer = settings_for("experiment=smoke", f"ensemble.shipped_dir={members}", "trainer.max_epochs=3")
    assert "trainer.max_epochs" in joining_members(longer, data).reason


@pytest.mark.parametrize("damage", [False, True], ids=["joined", "damaged"])
def test_a_smoke_run_joins_its_shipped_members_and_a_damaged_file_stops_it(tmp_path, damage):
    members = tmp_path / "members"
    _smoke_members(members)
    if damage:
        raw = bytearray((members / "wae-seed8.pt").read_bytes())
        raw[-50] ^= 0xFF
        (members / "wae-seed8.pt").write_bytes(bytes(raw))
    run = tmp_path / "run"
    # an untrained member's blanket is empty: its per-seed predictors then use every attribute
    overrides = ["experiment=smoke", "graph.empty_blanket=all", f"ensemble.shipped_dir={members}", *FAST]
    done = run_cli(*overrides, f"paths.run_dir={run}", cwd=tmp_path)
    output = done.stdout + done.stderr
    if damage:  # a broken install, not the user's input: status 1, the file named, nothing fitted
        assert done.returncode == 1, output[-3000:]
        assert "wae-seed8.pt does not match its recorded SHA-256" in output
        assert "stage wae: computing" not in output  # stopped before any fit
        return
    assert done.returncode == 0, output[-3000:]
    assert output.count("stage wae: computing") == 1  # the run's own fit; the members are loaded
    stability = json.loads((run / "consensus" / "stability.json").read_text())
    assert stability["seeds"] == [0, *SMOKE_MEMBER_SEEDS] and stability["shipped_seeds"] == list(SMOKE_MEMBER_SEEDS)
    member = run / "ensemble" / "seed-7"
    loaded = SequenceWAE.load_from_checkpoint(member / "checkpoints" / "last.ckpt", weights_only=True)
    shipped = pretrained.load_weights(members / "wae-seed7.pt")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), shipped.state_dict().values()))
    provenance = json.loads((member / "metrics" / "wae_provenance.json").read_text())
    assert provenance["shipped"] == "wae-seed7.pt" and provenance["sha256"] == pretrained.sha256_of(
        members / "wae-seed7.pt"
    )
    comparisons = pd.read_csv(run / "results" / "comparisons.csv")
    assert comparisons["blanket"].str.contains("3 fits").any()  # the per-seed rows are over all three fits
    # the report's answer names the fits, marks the run's own, and draws each fit's difference
    report = (run / "report.html").read_text()
    answer = report[: report.index("<h2>Data</h2>")]
    assert "the verdict is over 3 fits: this run&#x27;s fit (seed 0), the shipped pre-trained members (seeds 7, 8" in (
        answer
    )
    assert "each fit&#x27;s own blanket − all at n=16: 0 (this run)" in answer
    assert "<ul><li>AMPvsTM: per-seed blanket (3 fits) − all: n=16" in answer  # the answer over the fits first
    assert 'alt="each fit&#x27;s blanket − all"' in answer
    assert "the verdict is over 3 fits" in output  # and the console's verdict says so too


def test_per_fit_differences_are_each_fits_blanket_minus_all_on_the_same_rows():
    summary = pd.DataFrame(
        [
            ("all", "limited", "AMPvsTM", 16, 0.70),
            ("blanket_seed0", "limited", "AMPvsTM", 16, 0.75),
            ("blanket_seed100", "limited", "AMPvsTM", 16, 0.66),
            ("all", "supervised", "AMPvsTM", 2907, 0.90),
            ("blanket_seed0", "supervised", "AMPvsTM", 2907, 0.85),
            ("lasso_k3", "limited", "AMPvsTM", 16, 0.99),
        ],
        columns=["feature_set", "regime", "dataset", "n", "auroc_mean"],
    )
    per_fit = per_fit_differences(summary, [0, 100])
    got = {(r.seed, r.regime): round(r.diff, 6) for r in per_fit.itertuples()}
    assert got == {(0, "limited"): 0.05, (100, "limited"): -0.04, (0, "supervised"): -0.05}
    verdict = Verdict("amp", [], {}, "", None, {}, pd.DataFrame(), fit_seeds=[0, 100], shipped_seeds=[100])
    verdict.per_fit = per_fit
    assert (
        verdict.per_fit_line("AMPvsTM")
        == "AMPvsTM: each fit's own blanket − all at n=16: 0 (this run) +0.050; 100 -0.040"
    )
    assert verdict.fits_line().startswith("the verdict is over 2 fits: this run's fit (seed 0), the shipped")
    assert fits_strip_figure(per_fit, own_seed=0) is not None and fits_strip_figure(per_fit.iloc[:0]) is None


def test_over_several_fits_the_per_seed_rows_come_first_and_one_fit_is_marked_alone():
    columns = ["blanket", "reference", "regime", "dataset", "n", "diff", "low", "high", "verdict"]
    comparisons = pd.DataFrame(
        [
            ("markov_blanket", "all", "limited", "AMPvsTM", 16, 0.108, 0.054, 0.163, "better"),
            ("consensus_blanket", "all", "limited", "AMPvsTM", 16, 0.024, -0.007, 0.059, "no detectable difference"),
            (
                "per-seed blanket (2 fits)",
                "all",
                "limited",
                "AMPvsTM",
                16,
                0.056,
                -0.003,
                0.115,
                "no detectable difference",
            ),
        ],
        columns=columns,
    )
    lines = Verdict("amp", [], {}, "", None, {}, comparisons, fit_seeds=[0, 100]).dataset_lines("AMPvsTM")
    assert [line.split(" − ")[0] for line in lines] == [
        "AMPvsTM: per-seed blanket (2 fits)",
        "AMPvsTM: consensus_blanket",
        "AMPvsTM: markov_blanket (this run's fit alone)",
    ]
    one_fit = Verdict("amp", [], {}, "", None, {}, comparisons.iloc[:1]).dataset_lines("AMPvsTM")
    assert one_fit[0].startswith("AMPvsTM: markov_blanket − all: n=16 +0.108")  # one fit: no per-seed rows to lead


def test_model_pretrained_fits_nothing_and_its_members_are_the_runs_fits(tmp_path):
    members = tmp_path / "members"
    _smoke_members(members)
    run = tmp_path / "run"
    overrides = ["experiment=smoke", "model=pretrained", "graph.empty_blanket=all", f"ensemble.shipped_dir={members}"]
    done = run_cli(*overrides, *FAST, f"paths.run_dir={run}", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "stage wae: computing" not in output and "stage wae: the shipped member wae-seed7.pt" in output
    stability = json.loads((run / "consensus" / "stability.json").read_text())
    assert stability["seeds"] == stability["shipped_seeds"] == list(SMOKE_MEMBER_SEEDS)
    assert json.loads((run / "metrics" / "wae_provenance.json").read_text())["shipped"] == "wae-seed7.pt"
    assert "the verdict is over 2 fits, the shipped pre-trained members (seeds 7, 8" in output
    assert "nothing fitted by this run" in output


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("model.latent_dim=64", "model.latent_dim=64: model=pretrained loads the shipped members as they were fitted"),
        ("data=acp", "invalid config value model='pretrained': the shipped members cannot serve this run"),
    ],
)
def test_model_pretrained_refuses_a_run_its_members_cannot_serve(tmp_path, override, named):
    done = run_cli("model=pretrained", override, *FAST, f"paths.run_dir={tmp_path / 'run'}", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert named in output and "stage wae" not in output
