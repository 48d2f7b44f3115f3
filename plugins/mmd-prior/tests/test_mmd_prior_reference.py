"""Independent references for mmd-prior (issue 17): plain numpy/torch written out from arXiv 2510.11953
(App. A.3) and Adam (Kingma & Ba 2015, Algorithm 1), calling no function of the plugin.

* MMD^2, biased (V-statistic) and unbiased, fixed and median-heuristic bandwidths, by double loops;
* three mmd-prior steps (Adam with bias correction, recon + lambda * MMD^2 on separate minibatches by
  default, on one shared minibatch under ``preset: paper``) against the solver's iterates, 1e-10;
* the defaults: lr 1e-3 (the page's option tables match the code), the paper preset's values;
* LPS: unclipped R^2 can be negative, clipped is 0; HGB / MLP see a nonlinear dependence.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import solverhub
from solverhub.testing import make_oracle
from solverhub_mmd_prior import Autoencoder, KLVAE, MMDPrior
from solverhub_mmd_prior.metrics import lps, mmd2, mmd2_torch

pytestmark = pytest.mark.usefixtures("single_thread")
ROOT = Path(__file__).resolve().parents[3]


# -- MMD^2 written out ------------------------------------------------------------------------------
def ref_mmd2(x, y, *, biased, median, scales):
    """Double loops over k(a, b) = sum_s exp(-|a - b|^2 / (2 h_s^2)); h_s = s * sqrt(d) (fixed) or
    s * (lower) median of the pairwise distances of [x; y] (median)."""
    z = np.concatenate([x, y])
    if median:
        dists = sorted(math.dist(z[i], z[j]) for i in range(len(z)) for j in range(i + 1, len(z)))
        base = dists[(len(dists) - 1) // 2]
    else:
        base = math.sqrt(x.shape[1])
    hs = [s * base for s in scales]
    k = lambda a, b: sum(math.exp(-math.dist(a, b) ** 2 / (2 * h * h)) for h in hs)  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if biased or i != j)
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if biased or i != j)
    sxy = sum(k(a, b) for a in x for b in y)
    if biased:
        return sxx / m ** 2 + syy / n ** 2 - 2 * sxy / (m * n)
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("bandwidth", ["fixed", "median"])
def test_mmd2_matches_a_written_out_double_loop(estimator, bandwidth):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((9, 2)), 0.3 + 1.5 * rng.standard_normal((7, 2))
    scales = (0.2, 0.5, 1.0, 2.0, 5.0) if bandwidth == "fixed" else (0.5, 1.0, 2.0)   # the defaults, written out
    want = ref_mmd2(x, y, biased=estimator == "biased", median=bandwidth == "median", scales=scales)
    assert mmd2(x, y, estimator=estimator, bandwidth=bandwidth) == pytest.approx(want, rel=1e-10)
    got = mmd2_torch(torch.as_tensor(x), torch.as_tensor(y), estimator=estimator, bandwidth=bandwidth)
    assert float(got) == pytest.approx(want, rel=1e-10)
    assert mmd2(x, y, estimator=estimator, bandwidth=bandwidth, scales=(0.7,)) == pytest.approx(
        ref_mmd2(x, y, biased=estimator == "biased", median=bandwidth == "median", scales=(0.7,)), rel=1e-10)
    if estimator == "biased":      # the V-statistic is >= 0 and exceeds the U-statistic on the same sample
        assert want > 0 and want > mmd2(x, y, bandwidth=bandwidth)


# -- three training steps written out -------------------------------------------------------------------
TEXT = """
name: tiny
kind: latent_prior
dataset: {factors: {n: 40, dim_factors: 2, dim_x: 3, noise: 0.01, seed: 0}}
latent_dim: 2
prior: uniform
encoder: [4]
decoder: [5]
batch_size: 6
epochs: 5
"""


def ref_unpack(w, dx=3, d=2, he=4, hd=5):
    """The flat layout: enc0 (W, b), enc_mu, enc_logvar, dec0, dec_out; W is (fan_out, fan_in)."""
    shapes = [(he, dx), (he,), (d, he), (d,), (d, he), (d,), (hd, d), (hd,), (dx, hd), (dx,)]
    out, i = [], 0
    for s in shapes:
        size = math.prod(s)
        out.append(w[i:i + size].reshape(s))
        i += size
    return out


def ref_loss_terms(w, X, rows_recon, rows_mmd, prior_draw, lam, *, biased, median):
    W1, b1, Wm, bm, _, _, W2, b2, Wo, bo = ref_unpack(w)
    enc = lambda A: torch.tanh(A @ W1.T + b1) @ Wm.T + bm            # noqa: E731
    dec = lambda Z: torch.tanh(Z @ W2.T + b2) @ Wo.T + bo            # noqa: E731
    Xr = X[rows_recon]
    recon = ((Xr - dec(enc(Xr))) ** 2).sum(1).mean()
    mu = enc(X[rows_mmd])
    z = torch.cat([mu, prior_draw])
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    if median:
        iu = torch.triu_indices(len(z), len(z), 1)
        h0 = d2.detach()[iu[0], iu[1]].sqrt().sort().values[(iu.shape[1] - 1) // 2]
        hs = [s * h0 for s in (0.5, 1.0, 2.0)]
    else:
        hs = [s * math.sqrt(2) for s in (0.2, 0.5, 1.0, 2.0, 5.0)]
    K = sum(torch.exp(-d2 / (2 * h ** 2)) for h in hs)
    m = len(mu)
    kxx, kyy, kxy = K[:m, :m], K[m:, m:], K[:m, m:]
    if biased:
        mmd = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    else:
        mmd = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1)) \
            - 2 * kxy.mean()
    return recon + lam * mmd


def ref_adam_run(x0, X, lam, lr, steps, seed, *, shared, biased, median, n_train, batch):
    """Adam (beta 0.9, 0.999, eps 1e-8) with bias correction: m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps).
    Draws in the solver's order from torch's default generator: rows (recon), [rows (mmd)], prior U[-1,1]."""
    torch.manual_seed(seed)
    w, m, v, out = x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0), []
    for t in range(1, steps + 1):
        rows_r = torch.randint(n_train, (batch,))
        rows_m = rows_r if shared else torch.randint(n_train, (batch,))
        draw = -1.0 + 2.0 * torch.rand((batch, 2), dtype=torch.float64)
        wg = w.detach().requires_grad_(True)
        g, = torch.autograd.grad(ref_loss_terms(wg, X, rows_r, rows_m, draw, lam, biased=biased, median=median), wg)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - lr * (m / (1 - 0.9 ** t)) / ((v / (1 - 0.999 ** t)).sqrt() + 1e-8)
        out.append(w.clone())
    return out


@pytest.mark.parametrize("preset", ["plugin", "paper"])
def test_three_mmd_prior_steps_match_written_out_adam(preset):
    text = TEXT + ("preset: paper\n" if preset == "paper" else "lambda: 2.5\n")
    p = solverhub.load_problem(text)
    oracle = make_oracle(p)
    spec = p.sections.model
    X = torch.as_tensor(spec.data.X_train)
    x0 = oracle.x0.clone()
    paper = preset == "paper"
    lr = 5e-4 if paper else 1e-3       # the defaults: the paper's 5e-4 under the preset, ours 1e-3
    lam = 0.3 if paper else 2.5
    want = ref_adam_run(x0, X, lam, lr, 3, 11, shared=paper, biased=paper, median=paper, n_train=X.shape[0], batch=6)
    solver = MMDPrior()
    opts = MMDPrior.Options(**({"lr": p.solve_defaults["lr"]} if paper else {}))
    assert opts.lr == lr
    state = solver.init(p, oracle, x0, opts)
    torch.manual_seed(11)
    for t in range(3):
        state = solver.step(state, oracle, opts)
        scale = want[t].abs().max()
        assert float((state.x - want[t]).abs().max()) <= 1e-10 * float(scale), (preset, t)
    # the steps move the weights by about lr per coordinate (Adam's bias-corrected first step is lr * sign(g))
    assert float((want[0] - x0).abs().max()) == pytest.approx(lr, rel=1e-3)
    key = "grad_recon_mmd" if paper else "grad_mmd"
    assert oracle.calls[key] == 3 if hasattr(oracle, "calls") else True


def test_lam_option_is_refused_with_a_shared_batch():
    p = solverhub.load_problem(TEXT + "preset: paper\n")
    from solverhub.errors import OptionError
    with pytest.raises(OptionError, match="with batch: shared the weight is the problem's lambda"):
        MMDPrior().init(p, make_oracle(p), make_oracle(p).x0, MMDPrior.Options(lam=1.0))


# -- defaults and the preset ----------------------------------------------------------------------------
def test_defaults_are_pinned_and_the_page_tables_match_the_code():
    assert MMDPrior.Options().lr == 1e-3 and MMDPrior.Options().lam is None
    assert Autoencoder.Options().lr == 1e-3 and KLVAE.Options().lr == 1e-3 and KLVAE.Options().beta == 1.0
    from solverhub.options import options_table
    page = (ROOT / "docs/methods/mmd-prior.md").read_text()
    for cls in (MMDPrior, KLVAE, Autoencoder):
        block = re.search(rf"<!-- options: {re.escape(cls.name)} -->\n(.*?)\n<!-- /options -->", page, re.S).group(1)
        assert block == options_table(cls.Options), cls.name


def test_paper_preset_fills_only_what_the_file_omits():
    base = TEXT.replace("batch_size: 6\n", "")
    spec = solverhub.load_problem(base + "preset: paper\nbatch_size: 6\n").sections.model   # 32 rows < 512
    assert (spec.lam, spec.batch_size, spec.shared_batch, spec.estimator, spec.bandwidth, spec.scales,
            spec.lps_regressor, spec.lps_clip) == (0.3, 6, True, "biased", "median", (0.5, 1.0, 2.0), "hgb", False)
    spec = solverhub.load_problem(base + "preset: paper\nbatch_size: 6\nlambda: 2\nkernel: {estimator: unbiased}\n"
                                  "lps: {clip: true}\nbatch: separate\n").sections.model
    assert (spec.lam, spec.estimator, spec.bandwidth, spec.lps_regressor, spec.lps_clip, spec.shared_batch) == (
        2.0, "unbiased", "median", "hgb", True, False)
    plain = solverhub.load_problem(TEXT)
    spec = plain.sections.model       # today's defaults
    assert (spec.lam, spec.batch_size, spec.shared_batch, spec.estimator, spec.bandwidth, spec.scales,
            spec.lps_regressor, spec.lps_clip) == (10.0, 6, False, "unbiased", "fixed", (0.2, 0.5, 1.0, 2.0, 5.0),
                                                   "knn", True)
    assert "lr" not in plain.solve_defaults
    with pytest.raises(solverhub.errors.ProblemError, match="exceeds the 32 training rows"):
        solverhub.load_problem(base + "preset: paper\n")          # the paper's batch 512


# -- LPS --------------------------------------------------------------------------------------------------
def test_lps_unclipped_is_negative_on_independent_codes_and_mlp_sees_dependence():
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (300, 2))
    assert lps(z, regressor="knn").tolist() == [0.0, 0.0]                 # clipped (ours)
    raw = lps(z, regressor="knn", clip=False)
    assert (raw < 0).all() and raw.min() > -0.3                          # the paper's unclipped R^2
    # the paper's LPS-mlp sees z_2 = z_1^2 (z_1 from z_2 only up to its sign: about 0)
    dep = np.column_stack([z[:, 0], z[:, 0] ** 2 + 0.01 * rng.standard_normal(300)])
    scores = lps(dep, regressor="mlp", clip=False)
    assert scores[1] > 0.9 and scores[0] < 0.2, scores


@pytest.mark.slow          # scikit-learn's gradient boosting: ~1.5 s per fit on a busy core
def test_lps_hgb_is_negative_on_independent_codes_and_sees_dependence():
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (300, 2))
    hgb = lps(z, regressor="hgb", clip=False)                            # the paper's LPS-lgbm
    assert (hgb < 0.02).all() and hgb.min() > -0.3
    dep = np.column_stack([z[:, 0], z[:, 0] ** 2 + 0.01 * rng.standard_normal(300)])
    scores = lps(dep, regressor="hgb", clip=False)
    assert scores[1] > 0.9 and scores[0] < 0.2, scores


def test_sklearn_regressor_without_scikit_learn_is_a_file_line_error(monkeypatch, tmp_path):
    import solverhub_mmd_prior.kind as kind
    monkeypatch.setattr(kind, "_have_sklearn", lambda: False)
    path = tmp_path / "p.yaml"
    path.write_text(TEXT + "lps: {regressor: hgb}\n")
    with pytest.raises(solverhub.errors.ProblemError) as err:
        solverhub.load_problem(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("lps:"))
    assert f"p.yaml:{line}: lps.regressor: hgb needs scikit-learn" in str(err.value), str(err.value)
    assert "lps: {regressor: knn}" in str(err.value)
    assert solverhub.load_problem(TEXT).sections.model.lps_regressor == "knn"     # kNN needs nothing
