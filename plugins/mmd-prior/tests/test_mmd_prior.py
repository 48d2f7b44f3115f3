"""The mmd-prior plugin: kind latent_prior, solvers mmd-prior / kl-vae / autoencoder (arXiv 2510.11953).

* T3 (method note): on the synthetic factor set, mmd-prior to a Uniform prior ends with per-dim KS
  distance < 0.1 and a lower LPS than the plain autoencoder from the same start (true for init
  seed 0 here; the 5-init picture, where it does not always hold, is in docs/methods/mmd-prior.md);
* the loss terms are what model.py says (closed-form KL, MMD = the numpy estimator, the objective),
  the data generator is the note's, the oracle counts one gradient per term per step;
* conformance of the three solvers; bad input is file:line and CLI exit 2; no host syncs per step.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import solverhub
from solverhub.cli import main
from solverhub.errors import ProblemError
from solverhub_mmd_prior.metrics import mmd2
from solverhub.testing import check_solver, count_host_syncs
from solverhub_mmd_prior import KLVAE, Autoencoder, MMDPrior, factor_dataset


def yaml(prior="uniform", latent=2, hidden=16, lam=30, epochs=250, n=1000, batch=100, init=0):
    return f"""
name: t3-factors
kind: latent_prior
dataset: {{factors: {{n: {n}, dim_factors: 2, dim_x: 10, noise: 0.01, seed: 0}}}}
latent_dim: {latent}
prior: {prior}
encoder: [{hidden}]
decoder: [{hidden}]
lambda: {lam}
batch_size: {batch}
epochs: {epochs}
init: {{seed: {init}}}
solve: {{max_iterations: 1000000, trace_every: 1000}}
"""


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


# -- T3: the training claim (about 40-80 s: slow; the steps themselves are pinned in test_mmd_prior_reference.py) --
@pytest.mark.slow
def test_t3_mmd_prior_matches_the_uniform_prior_and_lowers_lps():
    p = solverhub.load_problem(yaml())
    mmd = solverhub.solve(p, "mmd-prior", seed=0)
    ae = solverhub.solve(p, "autoencoder", seed=0)
    assert mmd.status.value == "budget_exhausted" and "250 epochs" in mmd.message
    assert mmd.extras["ks_max"] < 0.1, mmd.extras["ks_per_dim"]
    assert ae.extras["ks_max"] > 0.2                       # the plain AE does not match the prior
    assert mmd.extras["mmd2_to_prior"] < 0.25 * ae.extras["mmd2_to_prior"]
    assert mmd.extras["lps_mean"] < 0.05 < ae.extras["lps_mean"] - 0.1, (mmd.extras["lps_mean"], ae.extras["lps_mean"])
    # both still reconstruct (held-out, per element; the data have variance ~0.2 per element)
    assert mmd.extras["test_recon_mse"] < 0.01 and ae.extras["test_recon_mse"] < 0.01
    assert mmd.extras["factor_recovery_min"] > 0.9


# -- the kind's pieces ------------------------------------------------------------------------------
def test_factor_generator_is_the_notes():
    x, s = factor_dataset(500, 2, 10, 0.0, seed=3)
    rng = np.random.default_rng(3)
    m1, m2 = rng.standard_normal((10, 2)), rng.standard_normal((10, 10)) / np.sqrt(10)
    s_ref = rng.uniform(-1, 1, (500, 2))
    np.testing.assert_allclose(s, s_ref)
    np.testing.assert_allclose(x, np.tanh(np.tanh(s_ref @ m1.T) @ m2.T))
    assert s.min() >= -1 and s.max() <= 1


@pytest.mark.parametrize("prior", ["gaussian", "{gaussian: {mean: 0.5, std: 2.0}}", "uniform",
                                   "{mixture: {components: 3, radius: 2.0, std: 0.5}}"])
def test_loss_terms(prior):
    p = solverhub.load_problem(yaml(prior=prior, n=200, batch=50))
    tp = p.lower_torch("cpu")
    model = tp.model
    x = tp.x0
    rows = torch.arange(50)
    X = model.X[:50]
    mu, logvar = model.encode(x, X)
    # recon and the objective on the same rows: the same number
    assert float(tp.functions["recon"](x, rows)) == pytest.approx(float(tp.objective(x, rows)), rel=1e-14)
    full = float(((model.X - model.decode(x, model.encode(x, model.X)[0])) ** 2).sum(1).mean())
    assert float(tp.objective(x)) == pytest.approx(full, rel=1e-14)
    # mmd: the numpy estimator on the same encodings and the same prior draw
    torch.manual_seed(7)
    got = float(tp.functions["mmd"](x, rows))
    torch.manual_seed(7)
    draw = model.sample_prior(50)
    assert got == pytest.approx(mmd2(mu.detach().numpy(), draw.numpy()), rel=1e-10)
    # kl: closed form against a Gaussian, Monte Carlo (unbiased) against a mixture
    prior_obj = p.sections.model.prior
    mean, var = prior_obj.moments()
    s2, m = logvar.exp().detach().numpy(), mu.detach().numpy()
    closed = np.mean(0.5 * np.sum((s2 + (m - mean) ** 2) / var - 1 - np.log(s2) + np.log(var), axis=1))
    if "mixture" in prior:
        torch.manual_seed(0)
        est = np.mean([float(tp.functions["kl"](x, rows)) for _ in range(400)])
        from scipy.stats import multivariate_normal
        rng = np.random.default_rng(0)
        ref = []
        for i in range(50):
            z = m[i] + np.sqrt(s2[i]) * rng.standard_normal((4000, 2))
            log_q = multivariate_normal(m[i], np.diag(s2[i])).logpdf(z)
            log_p = np.log(sum(w * multivariate_normal(mc, prior_obj.std[c] ** 2 * np.eye(2)).pdf(z)
                               for c, (w, mc) in enumerate(zip(prior_obj.weights, prior_obj.means))))
            ref.append(np.mean(log_q - log_p))
        assert est == pytest.approx(np.mean(ref), rel=0.05)
    else:
        assert float(tp.functions["kl"](x, rows)) == pytest.approx(closed, rel=1e-12)
    # vae_recon with sigma -> 0 is recon: check by zeroing the log-variance head's bias to -60
    x2 = x.clone()
    u = tp.unflatten(x2)
    u["enc_logvar_W"].zero_()
    u["enc_logvar_b"].fill_(-60.0)
    assert float(tp.functions["vae_recon"](x2, rows)) == pytest.approx(float(tp.functions["recon"](x2, rows)), rel=1e-9)


def test_prior_samples_follow_the_prior():
    from solverhub_mmd_prior.metrics import ks_to_prior
    for prior in ("uniform", "{gaussian: {mean: 1.0, std: 0.5}}", "{mixture: {components: 4, radius: 2.0}}"):
        p = solverhub.load_problem(yaml(prior=prior, n=200, batch=50))
        model = p.lower_torch("cpu").model
        torch.manual_seed(0)
        z = model.sample_prior(20000).numpy()
        assert ks_to_prior(z, p.sections.model.prior).max() < 0.015, prior


def test_oracle_counts_one_gradient_per_term_per_step():
    p = solverhub.load_problem(yaml(n=200, batch=50, epochs=2))      # 160 training rows: 4 steps per epoch
    expected = {"mmd-prior": {"grad_recon": 8, "grad_mmd": 8}, "kl-vae": {"grad_vae_recon": 8, "grad_kl": 8},
                "autoencoder": {"grad_recon": 8}}
    for solver, counts in expected.items():
        r = solverhub.solve(p, solver)
        assert r.iterations == 8 and r.extras["training_steps"] == 8
        assert {k: v for k, v in r.oracle_calls.items() if v} == counts, (solver, r.oracle_calls)


def test_options_beta_and_lam_change_the_training():
    p = solverhub.load_problem(yaml(n=200, batch=50, epochs=40))
    a = solverhub.solve(p, "kl-vae", options={"beta": 0.5})
    b = solverhub.solve(p, "kl-vae", options={"beta": 4.0})
    # a stronger KL weight trades reconstruction for posteriors closer to the prior
    assert b.extras["test_recon_mse"] > 1.1 * a.extras["test_recon_mse"], (a.extras, b.extras)
    assert b.extras["sampled_mmd2_to_prior"] < a.extras["sampled_mmd2_to_prior"]
    zero = solverhub.solve(p, "mmd-prior", options={"lam": 0.0})
    default = solverhub.solve(p, "mmd-prior")
    assert default.options["lam"] is None and default.extras["lambda_of_problem"] == 30.0
    assert zero.extras["mmd2_to_prior"] > 2 * default.extras["mmd2_to_prior"]   # lam = 0: nothing pulls to the prior
    assert zero.oracle_calls["grad_mmd"] == zero.iterations                     # ... but the MMD gradient is paid for


# -- conformance, bad input, syncs ------------------------------------------------------------------
# check_solver(cls) with its defaults runs on every registered solver in tests/test_conformance.py


@pytest.mark.parametrize("change, message", [
    (("prior: uniform", "prior: laplace"), "unknown prior 'laplace'; allowed: gaussian, uniform, mixture"),
    (("latent_dim: 2", "latent_dim: 0"), "latent_dim"),
    (("prior: uniform", "prior: {uniform: {low: 1, high: -1}}"), "low < high"),
    (("batch_size: 100", "batch_size: 5000"), "exceeds the 800 training rows"),
])
def test_bad_input_is_file_line(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml().replace(*change))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if change[1] in text)
    with pytest.raises(ProblemError) as err:
        solverhub.load_problem(path)
    assert f"{path}:{line}:" in str(err.value) and message in str(err.value), str(err.value)


def test_bad_input_through_the_cli(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml().replace("prior: uniform", "prior: laplace"))
    out = CliRunner().invoke(main, ["solve", str(path)])
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output and "unknown prior" in lines[0], out.output


def test_missing_scikit_learn_is_a_file_line_error(monkeypatch):
    """Without scikit-learn, a digits problem fails at its `sklearn:` line with the fix, exit 2."""
    import solverhub_mmd_prior.data as data
    from solverhub.datasets.sklearn_sets import SklearnMissing

    def missing(name):
        raise SklearnMissing("scikit-learn is not installed (No module named 'sklearn')")
    monkeypatch.setattr(data, "load_sklearn_set", missing)
    path = Path(__file__).resolve().parents[3] / "problems/training/latent_prior/digits-mixture.yaml"
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "sklearn: digits" in text)
    out = CliRunner().invoke(main, ["validate", str(path)])
    assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    assert f"digits-mixture.yaml:{line}: dataset.sklearn: scikit-learn is not installed" in out.output
    assert "pip install 'solverhub[sklearn]'" in out.output


def test_no_host_syncs_in_step(monkeypatch):
    from solverhub.oracle import Oracle
    p = solverhub.load_problem(yaml(prior="{mixture: {components: 3}}", n=200, batch=50, epochs=100))
    tp = p.lower_torch("cpu")
    for cls in (MMDPrior, KLVAE, Autoencoder):
        oracle = Oracle.for_problem(tp, p)
        solver = cls()
        state = solver.init(p, oracle, tp.x0.clone(), cls.Options())
        with monkeypatch.context() as mp:
            syncs = count_host_syncs(mp, ("__float__", "item", "__bool__", "cpu", "numpy", "tolist", "__int__"))
            for _ in range(20):
                state = solver.step(state, oracle, cls.Options())
        assert syncs["n"] == 0, (cls.name, syncs["n"])
        assert state.moments.t == 20 and math.isfinite(float(tp.objective(state.x)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_runs_and_reports():
    p = solverhub.load_problem(yaml(n=400, batch=50, epochs=5))
    r = solverhub.solve(p, "mmd-prior", device="cuda")
    assert r.device.startswith("cuda") and r.status.value == "budget_exhausted" and math.isfinite(r.extras["ks_max"])


def test_plugin_and_kind_modules_do_not_import_torch():
    import subprocess
    import sys
    code = ("import sys, solverhub_mmd_prior.plugin, solverhub_mmd_prior.kind, solverhub_mmd_prior.solvers; "
            "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_digits_dataset_and_subsample():
    text = """
name: digits-small
kind: latent_prior
dataset: {sklearn: digits, n: 300, test_fraction: 0.25}
latent_dim: 2
prior: {mixture: {components: 4, radius: 2.0, std: 0.5}}
encoder: [6]
decoder: [6]
batch_size: 64
epochs: 2
"""
    p = solverhub.load_problem(text)
    data = p.sections.model.data
    assert data.X_train.shape == (225, 64) and data.X_test.shape == (75, 64) and data.factors_train is None
    X = np.concatenate([data.X_train, data.X_test])
    assert X.min() == 0.0 and X.max() == 1.0                     # pixels / 16
    from sklearn.datasets import load_digits
    full = load_digits().data / 16.0
    assert all((full == row).all(axis=1).any() for row in X[:20])   # rows of the real dataset
    r = solverhub.solve(p, "mmd-prior")
    assert r.iterations == 2 * 4 and "factor_recovery_mean" not in r.extras and math.isfinite(r.extras["ks_max"])
    with pytest.raises(ProblemError, match="digits has 1797 rows"):
        solverhub.load_problem(text.replace("n: 300", "n: 5000"))
