"""Tests of the ``lora-ml`` plugin (arXiv 2410.22264), its reference ``retrain-standard`` and
the kind ``lora_meta``, after the method note /work/shared/methods/09-meta-learning-lora.md (c).

Answers are computed without the solvers: the meta loss from the raw samples in numpy, the
pooled least-squares solution of standard retraining in closed form, the optimal rank-r
adapter by reduced-rank regression. float64, single-threaded torch.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import solverhub  # noqa: E402
from solverhub.errors import ProblemError  # noqa: E402
from solverhub.testing import check_solver, count_host_syncs  # noqa: E402
from solverhub_lora_ml import LoraML, RetrainStandard  # noqa: E402
from solverhub_lora_ml.planted import best_adapter, finetune, meta_loss_and_grad_numpy, meta_loss_numpy  # noqa: E402


def planted(d=10, T=3, k=1, n=500, sigma=0.1, seed=0, extra=""):
    return (f"name: t\nkind: lora_meta\nplanted: {{d: {d}, tasks: {T}, rank: {k}, n: {n}, sigma: {sigma}, "
            f"seed: {seed}}}\nnew_task: {{n: 100, seed: 1}}\n{extra}")


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


@functools.lru_cache(maxsize=None)
def run(solver, T=3, iterations=1500):
    p = solverhub.load_problem(planted(T=T))
    return solverhub.solve(p, solver, options={"max_iterations": iterations, "trace_every": 100}, baseline=True)


# check_solver(cls) with its defaults runs on every registered solver in tests/test_conformance.py


def test_objective_is_the_meta_loss_from_raw_samples():
    p = solverhub.load_problem(planted(T=3, n=200))
    pl = p.sections.model.tasks
    tp = p.lower_torch()
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.standard_normal(p.dim)
        A, U = x[:100].reshape(10, 10), x[100:].reshape(3, 10, 1)
        assert float(tp.objective(torch.as_tensor(x))) == pytest.approx(meta_loss_numpy(A, U, pl.X, pl.Y),
                                                                        rel=1e-10)
        # numpy gradient of the baseline = torch autograd
        xt = torch.as_tensor(x).requires_grad_(True)
        g, = torch.autograd.grad(tp.objective(xt), xt)
        _, g_np = meta_loss_and_grad_numpy(x, pl.S, pl.C, pl.s, 10, 3, 1)
        np.testing.assert_allclose(g.numpy(), g_np, rtol=1e-9, atol=1e-9)
    # default start: A = 0, U ~ 0.1 N(0, 1)
    assert np.all(tp.x0[:100].numpy() == 0) and 0.03 < tp.x0[100:].std() < 0.3


def test_T1_recovery_lora_ml_recovers_A_and_sr_does_not():
    ml, sr = run("lora-ml"), run("retrain-standard")
    assert ml.extras["shared_error"] < 0.05, ml.extras
    assert sr.extras["shared_error"] > 1.0, sr.extras
    # SR lands on the pooled least-squares A (closed form), i.e. about A* + mean_t u_t u_tᵀ
    p = solverhub.load_problem(planted())
    pl = p.sections.model.tasks
    A_sr = np.linalg.solve(pl.S.sum(0), pl.C.sum(0).T).T     # sum_t (A S_t - C_t) = 0
    np.testing.assert_allclose(np.asarray(sr.solution["A"]), A_sr, atol=1e-5)
    mean = pl.A_true + np.mean(pl.U_true @ pl.U_true.transpose(0, 2, 1), axis=0)
    assert np.linalg.norm(A_sr - mean) < 0.1 * np.linalg.norm(A_sr - pl.A_true)


def test_T2_adaptability_post_finetune_loss_100x_lower():
    ml, sr = run("lora-ml"), run("retrain-standard")
    assert ml.extras["finetune_rank"] == 1
    assert ml.extras["post_finetune_loss"] < 1e-2 * sr.extras["post_finetune_loss"], (ml.extras, sr.extras)
    assert ml.extras["post_finetune_loss"] < 0.05
    # SR's residual W_new - A_SR has rank > 1: even the best rank-1 adapter leaves a large error
    assert sr.extras["post_finetune_loss_rrr"] > 1.0


def test_sr_stops_at_a_saddle_of_the_meta_loss():
    """SR converges (meta-loss gradient -> 0 at U = 0) far above LoRA-ML's loss, and a rank-1
    adapter direction decreases the meta loss from there (negative curvature)."""
    ml, sr = run("lora-ml"), run("retrain-standard")
    assert sr.status.value == "converged" and sr.stationarity.value <= 1e-6
    assert sr.objective > 100 * ml.objective
    p = solverhub.load_problem(planted())
    tp = p.lower_torch()
    x = torch.cat([torch.as_tensor(np.asarray(sr.solution["A"])).reshape(-1), torch.zeros(30, dtype=torch.float64)])
    f0 = float(tp.objective(x))
    # direction: top eigenvector of sym(residual correlation) of each task
    pl = p.sections.model.tasks
    A = np.asarray(sr.solution["A"])
    dirs = []
    for t in range(3):
        G = pl.C[t] - A @ pl.S[t]
        w, V = np.linalg.eigh(G + G.T)
        dirs.append(V[:, -1])
    step = torch.as_tensor(np.concatenate(dirs))
    assert float(tp.objective(x + torch.cat([torch.zeros(100, dtype=torch.float64), 0.3 * step]))) < f0


def test_lora_ml_reaches_the_baseline_and_truth_level_loss():
    r = run("lora-ml")
    assert abs(r.baseline_gap) < 1e-4, (r.objective, r.baseline_objective)
    assert r.extras["baseline"]["status"] == "local"           # L-BFGS-B on a nonconvex loss: no certificate
    assert r.objective <= r.extras["truth_meta_loss"]          # fits noise at least as well as the truth
    assert r.oracle_calls["grad"] == 1500 * 11
    assert r.extras["inner_steps_total"] == 15000 and r.extras["outer_steps"] == 1500


def test_T3_two_tasks_non_identifiable_but_adaptable():
    ml, sr = run("lora-ml", T=2, iterations=1000), run("retrain-standard", T=2, iterations=1000)
    assert ml.extras["finetune_rank"] == 3               # 3k for T = 2, as the official code
    assert ml.extras["shared_error"] > 0.2                # A* not recovered from two tasks
    assert ml.objective < 2 * ml.extras["truth_meta_loss"]   # yet the tasks are fitted
    assert ml.extras["post_finetune_loss"] < 0.05 and sr.extras["post_finetune_loss"] < 0.05


def test_finetune_gd_matches_reduced_rank_regression():
    """The GD fine-tune's train loss is never below the optimal rank-r fit, and is close to it."""
    p = solverhub.load_problem(planted())
    pl = p.sections.model.tasks
    A = pl.A_true + 0.01
    delta = best_adapter(A, pl.X_new, pl.Y_new, 1)
    assert np.linalg.matrix_rank(delta, tol=1e-8) == 1
    d_gd, train = finetune(torch.as_tensor(A), torch.as_tensor(pl.X_new), torch.as_tensor(pl.Y_new),
                           1, 2000, 0.005, 0.1, 0)
    R = pl.Y_new - (A + delta) @ pl.X_new
    best = 0.5 * np.sum(R ** 2) / 100
    assert float(train) >= best - 1e-12 and float(train) == pytest.approx(best, rel=1e-6)
    # the optimum beats every rank-1 perturbation of itself
    u = np.random.default_rng(0).standard_normal((10, 1))
    R2 = pl.Y_new - (A + delta + 1e-2 * u @ u.T) @ pl.X_new
    assert 0.5 * np.sum(R2 ** 2) / 100 > best


def test_bad_input_points_at_the_line():
    with pytest.raises(ProblemError) as err:
        solverhub.load_problem(planted(d=3, k=4))
    assert "rank" in str(err.value)
    with pytest.raises(ProblemError):
        solverhub.load_problem(planted(d=10) .replace("new_task: {n: 100", "new_task: {n: 5"))
    with pytest.raises(ProblemError):
        solverhub.load_problem(planted(extra="data: {X: [1.0, 2.0]}\n"))


def test_no_host_syncs_in_step(monkeypatch):
    p = solverhub.load_problem(planted(d=4, T=3, n=50))
    syncs = count_host_syncs(monkeypatch)
    for solver in ("lora-ml", "retrain-standard"):
        syncs["n"] = 0
        r = solverhub.solve(p, solver, options={"max_iterations": 200, "tolerance": 0.0, "trace_every": 50})
        # report() (end of run) adds a fixed number of syncs for the extras
        assert r.iterations == 200 and len(r.trace) == 5
        assert syncs["n"] <= 2 * len(r.trace) + 10, (solver, syncs["n"])
