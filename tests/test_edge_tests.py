"""Edge-test cores: BH against scipy, sign-flip p-values, sensitivity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import false_discovery_control

from latentgraph.perturbation.edge_tests import (
    attribute_spread,
    benjamini_hochberg,
    permutations_for,
    sensitivity,
    sign_flip_pvalues,
)


@pytest.mark.parametrize("seed", range(5))
def test_bh_qvalues_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 1e-3, size=10), [1.0, 1.0, 0.5, 0.5]])  # ties too
    rng.shuffle(p)
    ours = benjamini_hochberg(torch.from_numpy(p).reshape(6, 9)).numpy().reshape(-1)
    np.testing.assert_allclose(ours, false_discovery_control(p, method="bh"), rtol=1e-12, atol=0)


def test_bh_of_nothing_and_of_one():
    assert benjamini_hochberg(torch.zeros(0)).numel() == 0
    assert float(benjamini_hochberg(torch.tensor([0.03]))[0]) == pytest.approx(0.03)


def test_sign_flip_detects_a_shift_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    n, d, k, m = 64, 3, 2, 2
    effects = torch.randn(n, d, k, m, generator=generator)
    effects[:, 0, :, 0] += 1.0  # latent 0 shifts attribute 0
    effects[:, 1, :, :] = 0.0  # latent 1 leaves everything exactly unchanged
    p = sign_flip_pvalues(effects, n_permutations=1999, generator=torch.Generator().manual_seed(1))
    assert p.shape == (d, m)
    assert float(p[0, 0]) == pytest.approx(k / 2000)  # never reached by a flip: K/(B+1) after Bonferroni
    assert (p[1] == 1.0).all()  # all-zero effects: every flip ties
    assert float(p[2].min()) > 0.01


def test_sign_flip_is_uniform_under_the_null():
    # 400 null pairs: about 5 % of p-values fall below 0.05 (binomial 95 % band: 12..29 of 400 at K=1)
    effects = torch.randn(50, 20, 1, 20, generator=torch.Generator().manual_seed(3))
    p = sign_flip_pvalues(effects, n_permutations=999, generator=torch.Generator().manual_seed(4))
    assert 8 <= int((p < 0.05).sum()) <= 32


def test_nan_effects_count_as_no_evidence():
    effects = torch.ones(20, 1, 1, 1)
    clean = sign_flip_pvalues(effects, n_permutations=999, generator=torch.Generator().manual_seed(0))
    effects[:18] = float("nan")
    two_left = sign_flip_pvalues(effects, n_permutations=999, generator=torch.Generator().manual_seed(0))
    assert float(clean[0, 0]) < 0.01 and float(two_left[0, 0]) > 0.2  # 2 of 20 rows: flips tie 1 time in 4


def test_sensitivity_is_mean_absolute_effect_over_spread():
    effects = torch.tensor([[[[2.0, 0.0]], [[-2.0, 1.0]]], [[[2.0, float("nan")]], [[2.0, 3.0]]]])  # [2, 2, 1, 2]
    base = torch.tensor([[0.0, 5.0], [4.0, 5.0]])
    spread = attribute_spread(base)
    assert spread.tolist() == [2.0, 1.0]  # a constant attribute gets spread 1
    s = sensitivity(effects, spread)
    assert s.tolist() == [[1.0, 0.0], [1.0, 2.0]]


def test_permutation_count_lets_a_lone_edge_pass_bh():
    b = permutations_for(n_tests=1792, n_steps=4, alpha=0.05)
    assert 4 / (b + 1) <= 0.05 / 1792 < 4 / b
