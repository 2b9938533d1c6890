"""Predictors: the planted-spurious-feature check, feature-set baselines, regimes and summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from latentgraph.config.schema import PredictorConfig
from latentgraph.graph import footprint_dag, markov_blanket
from latentgraph.predictors.comparisons import compare_feature_sets
from latentgraph.predictors.feature_plan import FeatureChoice, FeaturePlan, choose_feature_sets
from latentgraph.predictors.feature_sets import adjacency_blanket, cpdag_blanket
from latentgraph.predictors.labelled import Labelled, PredictorData, fewshot_sizes, limited_sizes, stratified_sample
from latentgraph.predictors.model import AttributePredictor, evaluate_predictor, fit_predictor, fit_predictor_batch
from latentgraph.predictors.regimes import ood_drop, run_regimes

NAMES = ["c1", "c2", "spurious", "noise"]


SUPERVISED_AND_LIMITED = ("supervised", "limited")


def predictor_config(**settings) -> PredictorConfig:
    """The config's predictor settings, which the library takes as they are; one process for the selections."""
    return PredictorConfig(**{"jobs": 1, **settings})


def synthetic(n: int, spurious_sign: float, seed: int) -> Labelled:
    """Label-driven c1, c2; ``spurious`` follows the label in ID and is reversed out of distribution."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    c1 = 1.0 * y + torch.randn(n, generator=g)
    c2 = 0.8 * y + torch.randn(n, generator=g)
    spurious = spurious_sign * 2.0 * y + torch.randn(n, generator=g)
    noise = torch.randn(n, generator=g)
    return Labelled(torch.stack([c1, c2, spurious, noise], dim=1), y)


@pytest.fixture(scope="module")
def data() -> PredictorData:
    return PredictorData(
        names=NAMES,
        train=synthetic(1500, 1.0, 0),
        val=synthetic(300, 1.0, 1),
        test=synthetic(600, 1.0, 2),
        ood={"reversed": synthetic(600, -1.0, 3)},
    )


def test_blanket_excludes_a_planted_spurious_feature_and_wins_out_of_distribution(data):
    # footprints as perturbation would find them: c1 and c2 share the target's latent, spurious does not
    footprint = {
        "target": frozenset({"z0"}),
        "c1": frozenset({"z0", "z1"}),
        "c2": frozenset({"z0", "z2"}),
        "spurious": frozenset({"z3"}),
        "noise": frozenset({"z4"}),
    }
    blanket = sorted(markov_blanket(footprint_dag(footprint), "target"))
    assert blanket == ["c1", "c2"] and "spurious" not in blanket
    plan = choose_feature_sets(NAMES, ["markov_blanket", "all"], blanket=blanket)
    results = run_regimes(data, plan, predictor_config(seeds=5, regime="supervised"))
    summary = compare_feature_sets(results, plan, n_boot=200).summary.set_index(["feature_set", "dataset"])[
        "auroc_mean"
    ]
    # in distribution the spurious feature helps `all`; out of distribution it betrays it
    assert summary["all", "id_test"] > summary["markov_blanket", "id_test"]
    assert summary["markov_blanket", "reversed"] > summary["all", "reversed"] + 0.1
    assert summary["markov_blanket", "reversed"] > 0.7


def test_baselines_choose_sets_of_the_blankets_size(data):
    wanted = ["markov_blanket", "lasso", "mutual_info", "random", "pc", "ges", "lingam"]
    plan = choose_feature_sets(NAMES, wanted, blanket=["c1", "c2"])
    chosen = {name: choice.choose(data.train, 0) for name, choice in plan.choices.items()}
    assert chosen["lasso"] == ["spurious", "c1"]  # the strongest ID correlate enters the L1 path first
    assert set(chosen["mutual_info"]) == {"spurious", "c1"}
    draws = [tuple(plan.choices["random"].choose(data.train, r)) for r in range(5)]
    assert all(len(d) == 2 and set(d) <= set(NAMES) for d in draws) and len(set(draws)) > 1  # one draw per replicate
    for name in ("pc", "ges", "lingam"):  # the label's neighbours in a learned graph: never the pure noise
        assert "noise" not in chosen[name] and {"c1", "spurious"} <= set(chosen[name]), (name, chosen[name])
    assert plan.comparisons == {"markov_blanket": ["lasso", "mutual_info", "random", "pc", "ges", "lingam"]}


def test_size_matched_baselines_take_the_size_of_each_blanket_they_are_compared_with(data):
    """A run's blanket of 1 and a consensus of 3: one size-matched set per size, each compared with its own blanket."""
    wanted = ["markov_blanket", "consensus_blanket", "all", "lasso", "mutual_info", "random", "pc"]
    plan = choose_feature_sets(NAMES, wanted, blanket=["c1"], consensus_blanket=["c1", "c2", "noise"])
    assert plan.comparisons["markov_blanket"] == ["all", "lasso_k1", "mutual_info_k1", "random_k1", "pc"]
    assert plan.comparisons["consensus_blanket"] == ["all", "lasso_k3", "mutual_info_k3", "random_k3", "pc"]
    settings = predictor_config(regime="limited", limited_n=(16, 32), limited_subsamples=3, max_steps=40)
    results = run_regimes(data, plan, settings)
    for (name, regime, n), per_replicate in results.features.items():
        if name.endswith(("_k1", "_k3")):
            assert {len(f) for f in per_replicate} == {int(name[-1])}, (name, regime, n)
    one_size = choose_feature_sets(NAMES, wanted, blanket=["c1", "c2"], consensus_blanket=["c2", "noise"])
    assert one_size.comparisons["markov_blanket"] == one_size.comparisons["consensus_blanket"]
    assert "lasso" in one_size.choices and "lasso_k2" not in one_size.choices


def _selectors_plan():
    wanted = ["markov_blanket", "all", "lasso", "mutual_info", "random", "pc", "ges", "lingam"]
    return choose_feature_sets(NAMES, wanted, blanket=["c1", "c2"])


def _with_train_labels(data: PredictorData, y: torch.Tensor) -> PredictorData:
    return PredictorData(names=data.names, train=Labelled(data.train.x, y), val=data.val, test=data.test, ood=data.ood)


@pytest.mark.parametrize("selection", ["regime", "full_train"])
@pytest.mark.parametrize("outside", ["flipped", "relabelled by noise"])
def test_limited_arms_see_only_their_n_labels(data, selection, outside):
    """Change every training label outside subsample r's n rows (flip them, or relabel them by the
    pure-noise column): under the fair protocol no arm's features and no arm's AUROC at (n, r)
    change. Selecting on the whole split (the named second protocol) does see the relabelling, so
    the check can fail. (Flipping every label is invisible to lasso and mutual information, which
    are symmetric in the two classes.)"""
    n, r = 32, 1
    rows = torch.as_tensor(stratified_sample(data.train.y, n, r))
    settings = predictor_config(
        regime="limited", limited_n=(n,), limited_subsamples=2, max_steps=60, selection=selection
    )
    same_rows = lambda n_, r_: stratified_sample(data.train.y, n_, r_)  # noqa: E731
    first = run_regimes(data, _selectors_plan(), settings, subsample=same_rows)
    changed_labels = 1 - data.train.y if outside == "flipped" else (data.train.x[:, 3] > 0).long()
    changed_labels[rows] = data.train.y[rows]
    again = run_regimes(_with_train_labels(data, changed_labels), _selectors_plan(), settings, subsample=same_rows)
    changed = [key[0] for key, features in first.features.items() if features[r] != again.features[key][r]]
    pick = lambda res: res.metrics[res.metrics["seed"] == r].reset_index(drop=True)  # noqa: E731
    if selection == "regime":
        assert changed == []
        pd.testing.assert_frame_equal(pick(first), pick(again))
    elif outside == "relabelled by noise":
        assert {"lasso", "mutual_info"} <= set(changed)


def test_no_evaluation_set_chooses_a_feature_set_or_a_comparison(data):
    """Scrambling the OOD labels changes no set's features and no comparison made: the comparisons
    are the plan's, fixed before any result (there is no best baseline picked on a test set)."""
    settings = predictor_config(seeds=2, limited_n=(16,), limited_subsamples=3, max_steps=60)
    plan = _selectors_plan()
    first = run_regimes(data, plan, settings, regimes=SUPERVISED_AND_LIMITED)
    ood = data.ood["reversed"]
    scrambled = PredictorData(
        names=data.names,
        train=data.train,
        val=data.val,
        test=data.test,
        ood={
            "reversed": Labelled(ood.x, ood.y[torch.randperm(len(ood.y), generator=torch.Generator().manual_seed(0))])
        },
    )
    again = run_regimes(scrambled, plan, settings, regimes=SUPERVISED_AND_LIMITED)
    assert first.features == again.features
    made = lambda res: set(  # noqa: E731
        map(
            tuple, compare_feature_sets(res, plan, n_boot=100).comparisons[["blanket", "reference"]].to_numpy().tolist()
        )
    )
    assert made(first) == made(again) == {("markov_blanket", ref) for ref in plan.comparisons["markov_blanket"]}


def test_an_empty_blanket_makes_no_comparison_and_a_fallback_no_self_comparison(data):
    wanted = ["markov_blanket", "all", "lasso", "mutual_info", "random", "pc"]
    empty = choose_feature_sets(NAMES, wanted, blanket=[])
    assert set(empty.choices) == {"all", "pc"} and empty.comparisons == {}  # the size-free sets still run
    settings = predictor_config(seeds=2, limited_n=(16,), limited_subsamples=3, max_steps=40)
    assert compare_feature_sets(
        run_regimes(data, empty, settings, regimes=SUPERVISED_AND_LIMITED), empty, n_boot=50
    ).comparisons.empty
    fallback = choose_feature_sets(NAMES, wanted, blanket=list(NAMES))  # graph.empty_blanket=all
    analysis = compare_feature_sets(
        run_regimes(data, fallback, settings, regimes=SUPERVISED_AND_LIMITED), fallback, n_boot=50
    )
    made = analysis.comparisons
    assert not made.empty and "all" not in set(made["reference"])
    assert not ((made["diff"] == 0) & (made["low"] == 0) & (made["high"] == 0)).any()
    assert any(line.startswith("markov_blanket − all") for line in analysis.not_compared)


def test_graph_matrix_blankets():
    # causal-learn: 0 → 2 (graph[0,2] = -1, graph[2,0] = 1), 1 — 2 undirected, 2 → 3, 4 → 3
    g = np.zeros((5, 5), dtype=int)
    g[0, 2], g[2, 0] = -1, 1
    g[1, 2], g[2, 1] = -1, -1
    g[2, 3], g[3, 2] = -1, 1
    g[4, 3], g[3, 4] = -1, 1
    assert cpdag_blanket(g, 2) == {0, 1, 3, 4}
    assert cpdag_blanket(g, 0) == {2}
    # LiNGAM: adjacency[i, j] != 0 means j → i; 0 → 1 → 2 ← 3
    a = np.zeros((4, 4))
    a[1, 0], a[2, 1], a[2, 3] = 1.0, 0.5, -2.0
    assert adjacency_blanket(a, 1) == {0, 2, 3} and adjacency_blanket(a, 0) == {1}


def test_every_regime_produces_rows(data):
    prior = synthetic(500, 1.0, 9)
    full = PredictorData(names=NAMES, train=data.train, val=data.val, test=data.test, ood=data.ood, prior=prior)
    settings = predictor_config(seeds=2, fewshot_k=(8, 16), limited_n=(16, 64), limited_subsamples=3, max_steps=100)
    measured = run_regimes(full, {"markov_blanket": ["c1", "c2"], "empty": []}, settings)
    results = measured.metrics
    assert set(results["regime"]) == {"supervised", "unsupervised", "fewshot", "limited"}
    limited = results[(results["regime"] == "limited") & (results["feature_set"] == "markov_blanket")]
    assert sorted(set(limited["n"])) == [16, 64] and sorted(set(limited["seed"])) == [0, 1, 2]  # 3 subsamples
    fewshot = results[results["regime"] == "fewshot"]
    assert set(fewshot["dataset"]) == {"reversed"} and sorted(set(fewshot["n"])) == [8, 16]
    assert (results[results["feature_set"] == "empty"]["auroc"] == 0.5).all()
    summary = compare_feature_sets(measured, n_boot=100).summary
    limited = summary["regime"] == "limited"
    assert (summary.loc[~limited, "seeds"] == 2).all() and (summary.loc[limited, "seeds"] == 3).all()
    # a set that chose nothing is counted as failed on every replicate, never scored as a predictor
    empty = summary["feature_set"] == "empty"
    assert summary.loc[empty, "auroc_mean"].isna().all()
    assert (summary.loc[empty, "failed"] == summary.loc[empty, "seeds"]).all()
    scored = summary[~empty]
    assert scored["auroc_low"].notna().all() and (scored["auroc_low"] <= scored["auroc_high"]).all()
    assert (scored["failed"] == 0).all()
    drop = ood_drop(summary)
    assert set(drop["regime"]) == {"supervised", "unsupervised"}
    assert set(drop["dataset"]) == {"reversed"}  # the validation split is never an OOD set
    row = drop[(drop["feature_set"] == "markov_blanket") & (drop["regime"] == "supervised")].iloc[0]
    assert row["drop"] == pytest.approx(row["id_auroc"] - row["ood_auroc"])
    # the ID validation AUROC (a search's objective) is recorded for the supervised regime only
    validation = results[results["dataset"] == "id_val"]
    assert set(validation["regime"]) == {"supervised"} and len(validation) == 2 * 2
    from latentgraph.pipeline.predictors import validation_metrics

    metrics = validation_metrics(summary)
    assert set(metrics) == {
        "predictors/markov_blanket/supervised/id_val_auroc",
        "predictors/empty/supervised/id_val_auroc",
    }
    assert np.isnan(metrics["predictors/empty/supervised/id_val_auroc"])  # chose nothing: no AUROC
    # a run of only the limited or few-shot regime has no ID-vs-OOD rows, but keeps the columns
    only_limited = ood_drop(summary[summary["regime"] == "limited"])
    assert only_limited.empty and list(only_limited.columns) == list(drop.columns)


def test_a_limited_regime_run_finishes_with_its_report(tmp_path):
    """predictor.regime=limited alone (a job of experiment=regime_sweep) writes its results and a
    report that says why the ID-vs-OOD table is absent."""
    from conftest import QUIET_SMOKE, run_cli

    from latentgraph.predictors.regimes import read_ood_drop

    run = tmp_path / "limited"
    quiet = [o for o in QUIET_SMOKE if not o.startswith("predictor.regime=")]
    done = run_cli(*quiet, "predictor.regime=limited", f"hydra.run.dir={run}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_ood_drop(run / "results" / "ood_drop.csv").empty
    report = (run / "report.html").read_text()
    assert "No supervised or unsupervised predictors in this run" in report
    assert 'id="answer"' in report and "Fixed comparisons" in report


def test_fewshot_fine_tuning_adapts_to_the_shift(data):
    columns = [0, 1, 2, 3]
    base = fit_predictor(data.train.x[:, columns], data.train.y, val=(data.val.x, data.val.y), seed=0)
    ood = data.ood["reversed"]
    shots = stratified_sample(ood.y, 64, seed=0)
    tuned = fit_predictor(ood.x[shots], ood.y[shots], val=None, seed=0, init_from=base, max_steps=300, lr=3e-2)
    rest = np.setdiff1d(np.arange(len(ood)), shots)
    from latentgraph.predictors.model import evaluate_predictor

    before = evaluate_predictor(base, ood.x[rest], ood.y[rest])["auroc"]
    after = evaluate_predictor(tuned, ood.x[rest], ood.y[rest])["auroc"]
    assert after > before + 0.1
    assert torch.equal(tuned.mean, base.mean)  # fine-tuning keeps the ID standardisation


def test_stratified_sample_keeps_both_classes():
    y = torch.tensor([1] * 10 + [0] * 90)
    for n in (2, 8, 50):
        picked = stratified_sample(y, n, seed=0)
        assert len(picked) == n and len(set(picked)) == n and set(y[picked].tolist()) == {0, 1}


def test_predictor_module_trains_under_a_lightning_trainer():
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    x, y = synthetic(200, 1.0, 5).x, synthetic(200, 1.0, 5).y
    model = AttributePredictor(n_features=4, model="mlp")
    model.set_standardisation(x)
    loader = DataLoader(TensorDataset(x, y), batch_size=50)
    trainer = pl.Trainer(fast_dev_run=2, logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, loader, loader)
    assert "val/auroc" in trainer.callback_metrics
    with pytest.raises(ValueError, match="'logistic' or 'mlp'"):
        AttributePredictor(n_features=2, model="forest")


def test_the_limited_regime_sees_only_its_n_labels(data):
    """Limited means limited: no early stopping on the validation split, whose labels it never sees."""
    settings = predictor_config(regime="limited", limited_n=(16, 32), limited_subsamples=4, max_steps=100)
    sets = {"some": ["c1", "c2"], "all": list(NAMES)}
    flipped = Labelled(data.val.x, 1 - data.val.y)  # validation labels that would mislead any use of them
    first = run_regimes(data, sets, settings).metrics
    again = run_regimes(
        PredictorData(names=NAMES, train=data.train, val=flipped, test=data.test, ood=data.ood), sets, settings
    ).metrics
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 2 * 4 * 2 * (1 + len(data.ood))  # sets × subsamples × n × (ID test + OOD sets)


def test_a_feature_set_with_the_same_features_reuses_the_fits(data, caplog):
    """A set whose fixed list equals an earlier set's (a blanket that fell back to ``all``, GES choosing
    every attribute) gets the earlier set's rows under its own name: what its own fits would give."""
    prior = synthetic(300, 1.0, 9)
    full = PredictorData(names=NAMES, train=data.train, val=data.val, test=data.test, ood=data.ood, prior=prior)
    settings = predictor_config(seeds=2, fewshot_k=(8,), limited_n=(16,), limited_subsamples=3, max_steps=60)
    alone = run_regimes(full, {"blanket": ["c1", "c2"]}, settings).metrics
    with caplog.at_level("INFO", logger="latentgraph.predictors.regimes"):
        both = run_regimes(
            full, {"first": ["c1", "c2"], "blanket": ["c1", "c2"], "swapped": ["c2", "c1"]}, settings
        ).metrics
    assert "feature set blanket: 9 fits reused from sets with the same features on the same rows" in caplog.text
    assert "feature set swapped:" not in caplog.text  # another column order is another fit
    reused = both[both["feature_set"] == "blanket"].reset_index(drop=True)
    pd.testing.assert_frame_equal(reused, alone)
    assert len(both[both["feature_set"] == "swapped"]) == len(alone)


@pytest.mark.parametrize("model", ["logistic", "mlp"])
def test_a_batched_fit_equals_the_fits_one_at_a_time(data, model):
    """Each of the S batched fits starts from its seed's weights, keeps its own standardisation and
    sees only its own rows, so it predicts what the same fit run alone predicts."""
    rows = [torch.as_tensor(stratified_sample(data.train.y, 24, r)) for r in range(5)]
    x = torch.stack([data.train.x[r] * (1 + i) for i, r in enumerate(rows)])  # a different scale per fit
    y = torch.stack([data.train.y[r] for r in rows])
    batched = fit_predictor_batch(x, y, seeds=[3, 4, 5, 6, 7], model=model, max_steps=150, l2=0.02)
    for s, predictor in enumerate(batched):
        alone = fit_predictor(x[s], y[s], val=None, seed=3 + s, model=model, max_steps=150, l2=0.02)
        torch.testing.assert_close(predictor.std, alone.std)
        torch.testing.assert_close(
            predictor.predict_proba(data.test.x * (1 + s)),
            alone.predict_proba(data.test.x * (1 + s)),
            atol=1e-4,
            rtol=0,
        )
    # a fit that saw other rows predicts differently: the comparison above can fail
    assert not torch.allclose(batched[0].predict_proba(data.test.x), batched[1].predict_proba(data.test.x), atol=1e-3)
    with pytest.raises(ValueError, match="expected x"):
        fit_predictor_batch(x[0], y[0], seeds=[0])


@pytest.mark.parametrize("model", ["logistic", "mlp"])
def test_ragged_fits_of_their_own_rows_features_and_prior_equal_the_fits_one_at_a_time(data, model):
    """Fits of different sizes n, widths k and L2 strengths, batched (padded rows and columns),
    predict what each fit run alone predicts; a padded column's weight never moves off 0."""
    sizes, widths = [16, 40, 24, 64], [1, 3, 2, 3]
    rows = [torch.as_tensor(stratified_sample(data.train.y, n, r)) for r, n in enumerate(sizes)]
    xs = [data.train.x[r][:, :k] * (1 + i) for i, (r, k) in enumerate(zip(rows, widths))]
    ys = [data.train.y[r] for r in rows]
    l2 = [1 / (2 * n) for n in sizes]
    batched = fit_predictor_batch(xs, ys, seeds=[3, 4, 5, 6], model=model, max_steps=120, l2=l2)
    for s, predictor in enumerate(batched):
        alone = fit_predictor(xs[s], ys[s], val=None, seed=3 + s, model=model, max_steps=120, l2=l2[s])
        assert predictor.mean.shape == (widths[s],)
        torch.testing.assert_close(predictor.std, alone.std)
        test_x = data.test.x[:, : widths[s]] * (1 + s)
        torch.testing.assert_close(predictor.predict_proba(test_x), alone.predict_proba(test_x), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="expected x"):
        fit_predictor_batch(xs, ys[:3], seeds=[0, 1, 2, 3])


@pytest.mark.parametrize("model", ["logistic", "mlp"])
def test_batched_fits_stop_early_and_fine_tune_as_lone_fits_do(data, model):
    """With a validation split each batched fit stops on its own (patience, best weights kept)
    while the others step on; with ``init_from`` each starts from its own predictor, as alone."""
    x = torch.stack([data.train.x * (1 + s) for s in range(4)])  # the same rows, a different scale per fit
    y = data.train.y.expand(4, -1)
    val = (torch.stack([data.val.x * (1 + s) for s in range(4)]), data.val.y.expand(4, -1))
    batched = fit_predictor_batch(x, y, seeds=[0, 1, 2, 3], model=model, max_steps=300, patience=5, val=val)
    alone = [
        fit_predictor(x[s], y[s], val=(val[0][s], val[1][s]), seed=s, model=model, max_steps=300, patience=5)
        for s in range(4)
    ]
    for s in range(4):
        torch.testing.assert_close(
            batched[s].predict_proba(data.test.x * (1 + s)),
            alone[s].predict_proba(data.test.x * (1 + s)),
            atol=1e-4,
            rtol=0,
        )
    shots = [torch.as_tensor(stratified_sample(data.ood["reversed"].y, 16, s)) for s in range(4)]
    shot_x = torch.stack([data.ood["reversed"].x[rows] * (1 + s) for s, rows in enumerate(shots)])
    shot_y = torch.stack([data.ood["reversed"].y[rows] for rows in shots])
    tuned = fit_predictor_batch(shot_x, shot_y, seeds=[0, 1, 2, 3], max_steps=40, lr=0.05, init_from=batched)
    for s in range(4):
        lone = fit_predictor(shot_x[s], shot_y[s], val=None, seed=s, max_steps=40, lr=0.05, init_from=alone[s])
        torch.testing.assert_close(tuned[s].std, alone[s].std)  # the standardisation of the model it tunes
        torch.testing.assert_close(
            tuned[s].predict_proba(data.test.x * (1 + s)), lone.predict_proba(data.test.x * (1 + s)), atol=1e-4, rtol=0
        )
    # fine-tuning moved the models: the comparison above can fail
    assert not torch.allclose(tuned[0].predict_proba(data.test.x), batched[0].predict_proba(data.test.x), atol=1e-3)


def test_the_limited_regime_fits_each_subsample_as_a_lone_fit_would(data):
    """The batched limited regime gives, row for row, the AUROC of one fit per subsample, also for a
    feature set whose width changes with the subsample (empty for some)."""
    settings = predictor_config(regime="limited", limited_n=(16, 32), limited_subsamples=4, max_steps=80)
    varying = {0: ["c1"], 1: [], 2: ["c2", "noise"], 3: ["spurious"]}
    results = run_regimes(data, {"varying": lambda r: varying[r % 4], "all": list(NAMES)}, settings).metrics
    for (name, n, r), row in (
        results[results["dataset"] == "reversed"].set_index(["feature_set", "n", "seed"]).iterrows()
    ):
        features = varying[r] if name == "varying" else NAMES
        if not features:
            assert row["auroc"] == 0.5
            continue
        columns = [NAMES.index(f) for f in features]
        subset = data.train.rows(stratified_sample(data.train.y, n, r))
        alone = fit_predictor(subset.x[:, columns], subset.y, val=None, seed=r, max_steps=80, l2=1 / (2 * n))
        expected = evaluate_predictor(alone, data.ood["reversed"].x[:, columns], data.ood["reversed"].y)["auroc"]
        assert row["auroc"] == pytest.approx(expected, abs=1e-3), (name, n, r)


def test_comparisons_are_paired_holm_adjusted_and_worded(data):
    """The blanket beats all on the reversed shift: a paired difference with a crossed interval,
    Holm over the blanket's comparisons at each n, and the words the report prints."""
    plan = choose_feature_sets(NAMES, ["markov_blanket", "all", "lasso", "random"], blanket=["c1", "c2"])
    settings = predictor_config(seeds=3, limited_n=(64,), limited_subsamples=8, max_steps=100)
    comparisons = compare_feature_sets(
        run_regimes(data, plan, settings, regimes=SUPERVISED_AND_LIMITED), plan, n_boot=300
    ).comparisons
    versus_all = comparisons[(comparisons["dataset"] == "reversed") & (comparisons["reference"] == "all")]
    assert set(versus_all["regime"]) == {"limited", "supervised"}
    assert (versus_all["low"] > 0).all() and (versus_all["verdict"] == "better").all()
    for _, family in comparisons.groupby(["regime", "dataset", "n"]):
        assert (family["p_holm"] >= family["pvalue"] - 1e-12).all()
        assert family["p_holm"].max() <= 1
    assert set(comparisons["verdict"]) <= {"better", "worse", "no detectable difference"}


def test_the_vectorised_direct_lingam_matches_the_lingam_package():
    """The array form of DirectLiNGAM's search gives the package's causal order and adjacency."""
    from lingam import DirectLiNGAM

    from latentgraph.predictors.feature_sets import adjacency_blanket, lingam_adjacency, lingam_causal_order

    rng = np.random.default_rng(0)
    for n in (16, 40, 300):
        x = rng.uniform(-1, 1, (n, 8)) ** 3  # non-Gaussian noise, as LiNGAM assumes
        x[:, 1] += 0.8 * x[:, 0]
        x[:, 3] += 0.5 * x[:, 1] - 0.7 * x[:, 2]
        x = x[:, rng.permutation(8)]
        model = DirectLiNGAM().fit(x)
        assert lingam_causal_order(x) == list(model.causal_order_)
        np.testing.assert_allclose(lingam_adjacency(x), model.adjacency_matrix_, atol=1e-10)
        for variable in range(8):  # the rows a blanket reads are the package's; the blanket is its
            partial = lingam_adjacency(x, blanket_of=variable)
            assert adjacency_blanket(partial, variable) == adjacency_blanket(model.adjacency_matrix_, variable)


def test_greedy_equivalence_search_finds_causal_learns_cpdag():
    """The set-based GES returns causal-learn's CPDAG on random linear-Gaussian DAGs of 4–11
    variables, 16 to 1,000 rows, with a binary last column as the label's column is."""
    from causallearn.search.ScoreBased.GES import ges as causal_learn_ges

    from latentgraph.predictors.greedy_equivalence import ges

    rng = np.random.default_rng(1)
    edges_seen = 0
    for trial in range(24):
        p, n = int(rng.integers(4, 12)), int(rng.choice([16, 32, 64, 200, 1000]))
        weights = np.triu(rng.normal(size=(p, p)) * (rng.random((p, p)) < 0.4), 1)
        x = np.zeros((n, p))
        for j in range(p):
            x[:, j] = x @ weights[:, j] + rng.normal(size=n) * rng.uniform(0.3, 1.5)
        x = x[:, rng.permutation(p)]
        if trial % 2:
            x[:, -1] = (x[:, -1] > 0).astype(float)
        expected = causal_learn_ges(x)["G"].graph
        np.testing.assert_array_equal(ges(x), expected)
        edges_seen += int((expected != 0).sum())
    assert edges_seen > 100  # the graphs compared are not empty


def test_greedy_equivalence_completion_directs_v_structures_and_meeks_rules():
    """a → c ← b with a ≁ b is compelled, and c — d becomes c → d (Meek's rule 1); a chain stays undirected."""
    from latentgraph.predictors.greedy_equivalence import _completed

    collider = _completed([set(), set(), {0, 1}, {2}]).matrix()  # 0 → 2 ← 1, 2 → 3
    assert (collider[0, 2], collider[2, 0]) == (-1, 1) and (collider[2, 3], collider[3, 2]) == (-1, 1)
    chain = _completed([set(), {0}, {1}]).matrix()  # 0 → 1 → 2: its class also holds 0 ← 1 ← 2
    assert chain[0, 1] == chain[1, 0] == chain[1, 2] == chain[2, 1] == -1


def test_each_fit_is_compared_with_all_and_with_every_baseline_of_its_own_size(data):
    """The per-seed rows: every fit's own blanket − all and − each baseline (size-matched to that
    fit's blanket), averaged over the fits with the few-fit interval, in one Holm family."""
    members = {0: ["c1", "c2"], 1: ["c1"], 2: ["c1", "c2", "noise"]}
    plan = choose_feature_sets(
        NAMES, ["markov_blanket", "all", "lasso", "random"], blanket=members[0], member_blankets=members
    )
    assert plan.seed_references[1] == {"all": "all", "lasso": "lasso_k1", "random": "random_k1"}
    assert plan.seed_references[2]["lasso"] == "lasso_k3" and "lasso_k2" in plan.choices
    settings = predictor_config(regime="limited", limited_n=(32,), limited_subsamples=6, max_steps=60)
    comparisons = compare_feature_sets(run_regimes(data, plan, settings), plan, n_boot=200).comparisons
    per_seed = comparisons[comparisons["blanket"] == "per-seed blanket (3 fits)"]
    for _, family in per_seed.groupby("dataset"):
        assert list(family["reference"]) == ["all", "lasso", "random"]
        assert (family["fits"] == 3).all() and (family["p_holm"] >= family["pvalue"] - 1e-12).all()
    # the estimate is the mean over fits of each fit's own paired difference
    metrics = run_regimes(data, plan, settings).metrics
    shifted = metrics[(metrics["dataset"] == "reversed")].groupby("feature_set")["auroc"].mean()
    expected = np.mean([shifted[f"blanket_seed{s}"] - shifted[f"lasso_k{len(b)}"] for s, b in members.items()])
    row = per_seed[(per_seed["dataset"] == "reversed") & (per_seed["reference"] == "lasso")].iloc[0]
    assert row["diff"] == pytest.approx(expected, abs=1e-6)
    assert row["low"] < row["diff"] < row["high"]
    assert (comparisons.loc[comparisons["blanket"] == "markov_blanket", "fits"] == 0).all()


def test_a_selection_that_fails_is_counted_and_left_out_never_scored(data):
    """A selector that chose nothing on a replicate is not a predictor of AUROC 0.5: the replicate
    is counted as failed and left out of both arms of the comparison; a selector that failed on
    every replicate is not compared at all."""
    flaky = FeatureChoice(lambda rows, replicate: [] if replicate % 2 else ["c1", "spurious"], uses_replicate=True)
    plan = FeaturePlan(
        choices={
            "markov_blanket": FeatureChoice.fixed(["c1", "c2"]),
            "flaky": flaky,
            "never": FeatureChoice.fixed([]),
        },
        comparisons={"markov_blanket": ["flaky", "never"]},
    )
    settings = predictor_config(regime="limited", limited_n=(32,), limited_subsamples=6, max_steps=60)
    results = run_regimes(data, plan, settings)
    analysis = compare_feature_sets(results, plan, n_boot=200)
    row = analysis.comparisons[analysis.comparisons["dataset"] == "reversed"].iloc[0]
    assert row["reference"] == "flaky" and row["failed"] == 3
    metrics = results.metrics[results.metrics["dataset"] == "reversed"].set_index(["feature_set", "seed"])["auroc"]
    kept = [0, 2, 4]
    expected = np.mean([metrics["markov_blanket", r] - metrics["flaky", r] for r in kept])
    assert row["diff"] == pytest.approx(expected, abs=1e-6)
    assert any("never − " in reason or "never failed" in reason for reason in analysis.not_compared)
    summary = analysis.summary.set_index(["feature_set", "dataset"])
    assert summary.loc[("never", "reversed"), "failed"] == 6 and np.isnan(
        summary.loc[("never", "reversed"), "auroc_mean"]
    )
    assert summary.loc[("flaky", "reversed"), "failed"] == 3


@pytest.mark.parametrize(
    "positives, negatives, kept",
    [
        (2, 2, [1, 2]),  # k=3 would take both of a class; k=4 every row
        (1, 3, [1]),  # the one positive must stay in the rest: only a negative may be a shot
        (30, 30, [1, 2, 3, 4, 8, 16, 32]),
        (5, 0, []),  # one class: nothing can be scored
    ],
)
def test_fewshot_sizes_keep_both_classes_in_the_scored_rest(positives, negatives, kept):
    labels = np.array([1] * positives + [0] * negatives)
    ks = [1, 2, 3, 4, 8, 16, 32, 64]
    assert fewshot_sizes(labels, ks) == kept
    for k in kept:  # the draw itself leaves both classes, whatever the seed
        for seed in range(5):
            rest = np.delete(labels, stratified_sample(torch.tensor(labels), k, seed))
            assert len(stratified_sample(torch.tensor(labels), k, seed)) == k and set(rest) == {0, 1}


def test_limited_sizes_subsample_the_training_rows():
    assert limited_sizes(100, [16, 64, 100, 128]) == [16, 64]
    assert limited_sizes(10, [16, 32]) == []
