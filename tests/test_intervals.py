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
from latentgraph.predictors.synthetic import draw, draw_study, fit_truths, truths


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


def test_fits_that_share_their_scores_are_compared_once_with_the_same_intervals(monkeypatch):
    """Six fits of three distinct blankets (one with a row it did not score): the pairwise path
    compares each distinct replicate once and gives the rank path's interval."""
    rng = np.random.default_rng(1)
    labels = np.repeat([1, 0], 40)
    per_fit = (rng.standard_normal((3, 8, 80)) + labels)[[0, 1, 0, 2, 1, 0]]
    per_fit[2, 3, 5] = np.nan
    reference = rng.standard_normal((8, 80)) + labels
    fast = crossed_interval(per_fit, labels, reference, n_boot=200)
    monkeypatch.setattr("latentgraph.predictors.intervals.PAIRWISE_LIMIT", 0)
    ranked = crossed_interval(per_fit, labels, reference, n_boot=200)
    assert (fast.mean, fast.low, fast.high, fast.pvalue) == pytest.approx(
        (ranked.mean, ranked.low, ranked.high, ranked.pvalue), abs=1e-9
    )


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
    """Within-fit intervals, and the few-fit t interval where the fits differ only by a small
    shift, cover the truth ≥ 90 % of the time at a nominal 95 %."""
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


@pytest.mark.parametrize("fits", [5, 10])
def test_few_fit_intervals_cover_when_fits_differ_in_blanket_membership(fits):
    """The per-seed comparisons' interval (blanket − all, and − a baseline size-matched to each
    fit's blanket) covers the expected difference over fits ≥ 93 % at a nominal 95 %, in a
    simulation where each fit draws its own blanket members and the fit-to-fit variance dominates."""
    truths = {"all": fit_truths().versus_all, "size-matched baseline": fit_truths().versus_matched}
    rng = np.random.default_rng(100 + fits)
    experiments, covered, fit_share = 500, dict.fromkeys(truths, 0), []
    for e in range(experiments):
        study = draw_study(rng, fits=fits)
        draws = CrossedBootstrap(study.labels, study.per_fit.shape[1], n_boot=200, seed=e)
        intervals = {}
        for reference, other in (("all", study.everything), ("size-matched baseline", study.matched)):
            intervals[reference] = draws.across_fits(study.per_fit, other, names=("blanket", reference))
            assert intervals[reference].fits == fits
            covered[reference] += intervals[reference].low <= truths[reference] <= intervals[reference].high
        per_fit = observed_auroc(study.per_fit, study.labels).mean(axis=1) - observed_auroc(
            study.everything, study.labels
        ).mean(axis=-1)
        _, blanket = draws.means(study.per_fit, "blanket")
        _, everything = draws.means(study.everything, "all")
        fit_share.append(per_fit.var(ddof=1) / fits / (per_fit.var(ddof=1) / fits + np.var(blanket - everything)))
    assert np.median(fit_share) > 0.5, "the simulation must let the fits dominate the variance"
    assert len({tuple(m) for m in study.members}) > 1, "the fits must differ in membership"
    for reference, count in covered.items():
        assert count / experiments >= 0.93, f"{reference}: coverage {count / experiments:.3f}"


def test_the_few_fit_interval_widens_with_the_fits_disagreement():
    rng = np.random.default_rng(5)
    study = draw_study(rng, fits=5)
    draws = CrossedBootstrap(study.labels, study.per_fit.shape[1], n_boot=200)
    agreeing = np.repeat(study.per_fit[:1], 5, axis=0)  # five fits with the same blanket
    same = draws.across_fits(agreeing, study.everything)
    differing = draws.across_fits(study.per_fit, study.everything)
    assert same.high - same.low < differing.high - differing.low
    # with no fit-to-fit variance the interval's variance is the rows' and subsamples' alone
    rows = np.std(draws.means(agreeing)[1] - draws.means(study.everything)[1], ddof=1)
    assert same.high - same.mean == pytest.approx(2.776 * rows, rel=1e-3)  # t(4)


def test_a_fit_without_scores_is_left_out_of_the_few_fit_interval():
    study = draw_study(np.random.default_rng(6), fits=4)
    per_fit = study.per_fit.copy()
    per_fit[3] = np.nan  # a fit whose arm was not scored
    draws = CrossedBootstrap(study.labels, per_fit.shape[1], n_boot=100)
    assert draws.across_fits(per_fit, study.everything).fits == 3
    assert draws.across_fits(per_fit[:1], study.everything).fits == 1  # one fit: no interval
    assert np.isnan(draws.across_fits(per_fit[:1], study.everything).low)


def test_holm_adjusts_step_down_and_keeps_order():
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm([0.01, float("nan")])[1])


def test_verdict_words():
    assert verdict(Interval(0.05, 0.01, 0.09, 0.01), 0.02) == "better"
    assert verdict(Interval(-0.05, -0.09, -0.01, 0.01), 0.02) == "worse"
    assert verdict(Interval(0.05, 0.01, 0.09, 0.01), 0.2) == "no detectable difference"
