"""solverhub_mmd_prior.metrics: LPS (arXiv 2510.11953, reconstructed), unbiased MMD^2, KS to a prior.

The LPS sanity numbers are the method note's (T1, checked there with numpy): independent
N(0, I) scores about 0; z2 = z1^2 + 0.1 noise scores > 0.7 on z2 and about 0 on z1 (the
sign of z1 is lost). The MMD checks are T2: zero mean under P = Q, positive under a shift,
and the numpy and torch forms are the same number.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from solverhub_mmd_prior.metrics import (GaussianPrior, MixturePrior, UniformPrior, factor_recovery, ks_distance,
                                         ks_to_prior, lps, lps_summary, mmd2, mmd2_torch, rbf_bandwidths)


def test_import_is_lazy():
    code = ("import sys, solverhub_mmd_prior.metrics as m; assert 'torch' not in sys.modules; "
            "assert 'scipy' not in sys.modules; m.lps; assert 'torch' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    import solverhub_mmd_prior.metrics as m
    assert {"lps", "mmd2"} <= set(m.__all__) and callable(m.lps)


# -- T1: LPS sanity ----------------------------------------------------------------
def test_lps_independent_gaussian_is_zero():
    z = np.random.default_rng(0).standard_normal((2000, 4))
    scores = lps(z)
    assert scores.shape == (4,) and np.all(scores >= 0)
    assert np.all(scores < 0.02), scores


def test_lps_detects_a_dependent_dimension():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 4))
    z[:, 1] = z[:, 0] ** 2 + 0.1 * rng.standard_normal(2000)
    scores = lps(z)
    assert scores[1] > 0.7, scores             # z2 is a function of z1
    assert scores[0] < 0.1, scores             # z1 from z2: the sign is lost
    assert scores[2] < 0.02 and scores[3] < 0.02
    summary = lps_summary(z)
    assert summary["max"] == pytest.approx(scores[1]) and 0.15 < summary["mean"] < 0.3   # the note: ~0.21


def test_lps_exact_functional_dependence_and_invariances():
    rng = np.random.default_rng(1)
    s = rng.uniform(-1, 1, (1500, 2))
    z = np.column_stack([s, s[:, 0] + s[:, 1]])          # the third is a linear function of the others
    scores = lps(z)
    assert np.all(scores > 0.9), scores
    # standardisation: scaling and shifting a dimension changes nothing
    z2 = z * np.array([10.0, 0.1, 3.0]) + 5.0
    np.testing.assert_allclose(lps(z2), scores, atol=1e-9)
    # one dimension: nothing to predict from; a constant dimension scores 0
    assert lps(z[:, :1]).tolist() == [0.0]
    zc = np.column_stack([z[:, :2], np.full(1500, 2.0)])
    assert lps(zc)[2] == 0.0
    with pytest.raises(ValueError, match="shape"):
        lps(np.zeros(10))


def test_lps_misses_dependence_without_a_mean_effect():
    """The note's caveat: a rotated uniform square is dependent but E[z_i | z_j] is nearly constant."""
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, (2000, 2))
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    assert lps(u @ np.array([[c, -s], [s, c]]).T).max() < 0.1


# -- T2: MMD ------------------------------------------------------------------------
def test_mmd_equal_distributions_within_three_standard_errors():
    rng = np.random.default_rng(0)
    draws = np.array([mmd2(rng.standard_normal((300, 2)), rng.standard_normal((300, 2))) for _ in range(30)])
    se = draws.std(ddof=1) / np.sqrt(draws.size)
    assert abs(draws.mean()) < 3 * se, (draws.mean(), se)
    assert abs(draws[0]) < 3 * draws.std(ddof=1)
    assert (draws < 0).any()                      # unbiased: negative values happen under P = Q


def test_mmd_positive_under_a_shift_and_zero_on_identical_samples():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 2))
    shifted = mmd2(x, 0.5 + rng.standard_normal((500, 2)))
    null = mmd2(x, rng.standard_normal((500, 2)))
    assert shifted > 0.02 and shifted > 5 * abs(null), (shifted, null)
    # the same sample on both sides: the unbiased estimate is minus the mean off-diagonal... exactly
    # sum_h 2 (mean_{i != j} k - mean_{i, j} k) = -2 * sum_h (n - mean_i k_ii ...) / n; check the closed form
    n = 50
    y = x[:n]
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    expected = 0.0
    for h in rbf_bandwidths(2):
        k = np.exp(-d / (2 * h * h))
        off = (k.sum() - n) / (n * (n - 1))
        expected += 2 * off - 2 * k.mean()
    assert mmd2(y, y) == pytest.approx(expected, rel=1e-12)


def test_mmd_numpy_equals_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((64, 3)), rng.uniform(-1, 1, (80, 3))
    t = mmd2_torch(torch.as_tensor(x), torch.as_tensor(y))
    assert float(t) == pytest.approx(mmd2(x, y), rel=1e-12, abs=1e-15)
    scales = (0.5, 3.0)
    assert float(mmd2_torch(torch.as_tensor(x), torch.as_tensor(y), scales=scales)) == pytest.approx(
        mmd2(x, y, scales=scales), rel=1e-12)
    xt = torch.as_tensor(x).requires_grad_(True)
    mmd2_torch(xt, torch.as_tensor(y)).backward()
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0


def test_bandwidths_scale_with_sqrt_dim():
    assert rbf_bandwidths(4) == pytest.approx((0.4, 1.0, 2.0, 4.0, 10.0))
    with pytest.raises(ValueError):
        rbf_bandwidths(0)


# -- KS and priors ----------------------------------------------------------------------
def test_ks_distance_exact_values():
    # sample {0.5} against U[0, 1]: F_n jumps 0 -> 1 at 0.5, F(0.5) = 0.5
    assert ks_distance([0.5], lambda t: np.clip(t, 0, 1)) == pytest.approx(0.5)
    # sample {0.25, 0.75}: D = 0.25
    assert ks_distance([0.25, 0.75], lambda t: np.clip(t, 0, 1)) == pytest.approx(0.25)


@pytest.mark.parametrize("prior", [GaussianPrior(2, mean=[0.0, 1.0], std=[1.0, 0.5]), UniformPrior(2, -1.0, 2.0),
                                   MixturePrior([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]], std=0.5, weights=[1, 1, 2])])
def test_ks_of_prior_samples_is_small_and_moments_match(prior):
    rng = np.random.default_rng(0)
    z = prior.sample(20000, rng)
    ks = ks_to_prior(z, prior)
    assert ks.shape == (2,) and np.all(ks < 0.02), ks
    mean, var = prior.moments()
    np.testing.assert_allclose(z.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(z.var(0), var, rtol=0.05)
    assert ks_to_prior(z + 1.0, prior).max() > 0.2


def test_factor_recovery():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (1000, 2))
    z = np.column_stack([3 * s[:, 1] + 1, -s[:, 0], rng.standard_normal(1000)])
    np.testing.assert_allclose(factor_recovery(z, s), [1.0, 1.0], atol=1e-12)
    assert factor_recovery(rng.standard_normal((1000, 2)), s).max() < 0.15
