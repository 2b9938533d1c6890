"""The crossed-bootstrap intervals: exact weighted AUROCs, and coverage of a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from latentgraph.predictors.intervals import (
    PAIRWISE_LIMIT,
    CrossedBootstrap,
    Interval,
    crossed_interval,
    holm,
    observed_auroc,
    verdict,
)
from latentgraph.predictors.synthetic import draw, truths


@pytest.mark.parametrize("pairwise", [True, False])
def test_observed_auroc_matches_sklearn_with_ties_and_missing_rows(pairwise, monkeypatch):
    if not pairwise:  # the rank path, taken for large test sets
        monkeypatch.setattr("latentgraph.predictors.intervals.PAIRWISE_LIMIT", 0)
    assert PAIRWISE_LIMIT > 0
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=60)
    scores = np.round(rng.standard_normal((3, 60)), 1)  # many ties
    scores[2, :5] = np.nan  # rows replicate 2 did not score
    got = observed_auroc(scores, y)
    for r in range(3):
        keep = np.isfinite(scores[r])
        assert got[r] == pytest.approx(roc_auc_score(y[keep], scores[r, keep]))


def test_the_rank_and_pairwise_paths_resample_alike(monkeypatch):
    experiment = draw(np.random.default_rng(3))
    fast = crossed_interval(experiment.a, experiment.labels, experiment.b, n_boot=200)
    monkeypatch.setattr("latentgraph.predictors.intervals.PAIRWISE_LIMIT", 0)
    ranked = crossed_interval(experiment.a, experiment.labels, experiment.b, n_boot=200)
    assert (fast.mean, fast.low, fast.high) == pytest.approx((ranked.mean, ranked.low, ranked.high), abs=1e-6)


def test_a_constant_predictor_has_auroc_one_half():
    y = np.array([0, 1, 0, 1, 1])
    assert observed_auroc(np.full((1, 5), 0.3), y)[0] == pytest.approx(0.5)


def test_identical_arms_give_a_zero_difference_and_p_value_one():
    experiment = draw(np.random.default_rng(1))
    interval = crossed_interval(experiment.a, experiment.labels, experiment.a, n_boot=200)
    assert (interval.mean, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert interval.pvalue == 1.0


def test_named_arms_are_resampled_once_and_stay_paired():
    experiment = draw(np.random.default_rng(2))
    draws = CrossedBootstrap(experiment.labels, experiment.a.shape[0], n_boot=200)
    first = draws.interval(experiment.a, experiment.b, names=("a", "b"))
    again = draws.interval(experiment.a, experiment.b, names=("a", "b"))
    assert first == again and set(draws._means) == {"a", "b"}
    # the paired interval is narrower than the two arms' own intervals would suggest
    a, b = draws.interval(experiment.a), draws.interval(experiment.b)
    assert first.high - first.low < (a.high - a.low) + (b.high - b.low)


@pytest.mark.parametrize("kind", ["auroc", "paired difference", "per-seed difference"])
def test_crossed_intervals_cover_a_known_truth(kind):
    """Every kind of interval the project reports covers the truth ≥ 90 % of the time at a nominal 95 %."""
    rng = np.random.default_rng({"auroc": 7, "paired difference": 8, "per-seed difference": 9}[kind])
    truth = {"auroc": truths().auroc, "paired difference": truths().difference}.get(kind, truths().seed_difference)
    experiments, covered = 120, 0
    for e in range(experiments):
        x = draw(rng)
        if kind == "auroc":
            interval = crossed_interval(x.a, x.labels, n_boot=300, seed=e)
        elif kind == "paired difference":
            interval = crossed_interval(x.a, x.labels, x.b, n_boot=300, seed=e)
        else:
            interval = crossed_interval(x.a_per_seed, x.labels, x.b, n_boot=300, seed=e)
        covered += interval.low <= truth <= interval.high
    assert covered / experiments >= 0.9, f"{kind}: coverage {covered / experiments:.3f}"


def test_holm_adjusts_step_down_and_keeps_order():
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm([0.01, float("nan")])[1])


def test_verdict_words():
    assert verdict(Interval(0.05, 0.01, 0.09, 0.01), 0.02) == "better"
    assert verdict(Interval(-0.05, -0.09, -0.01, 0.01), 0.02) == "worse"
    assert verdict(Interval(0.05, 0.01, 0.09, 0.01), 0.2) == "no detectable difference"
