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


# -- an independent written-out reference (numpy from the raw samples; no plugin function) ------
def _official_linear_steps(pl, x0, outer, inner=10, lr_in=0.003, lr_out=0.03):
    """The official linear code's loop (jacob-block/peft-ml, linear/learners.py) in numpy: each outer
    step takes `inner` GD steps on every U_t with grad (X_t R_tᵀ + R_t X_tᵀ) U_t / N, R_t = (A + U_tU_tᵀ)X_t − Y_t
    (all tasks at once), then one GD step on A with grad Σ_t R_t X_tᵀ / (N T)."""
    T, d, N = pl.X.shape
    A, U = x0[:d * d].reshape(d, d).copy(), x0[d * d:].reshape(T, d, -1).copy()
    out = []
    for _ in range(outer):
        for _ in range(inner):
            R = (A[None] + U @ U.transpose(0, 2, 1)) @ pl.X - pl.Y
            U = U - lr_in * (pl.X @ R.transpose(0, 2, 1) + R @ pl.X.transpose(0, 2, 1)) @ U / N
        R = (A[None] + U @ U.transpose(0, 2, 1)) @ pl.X - pl.Y
        A = A - lr_out * (R @ pl.X.transpose(0, 2, 1)).sum(0) / (N * T)
        out.append((A.copy(), U.copy()))
    return out


def test_lora_ml_iterates_match_the_official_linear_loop_written_out():
    """Inner (adapter) and outer (base) steps pinned to 1e-10 against numpy from the raw X_t, Y_t:
    a wrong inner-step scaling (e.g. without the per-task factor T), a wrong outer normalization
    or a stale A in the inner steps fails here."""
    p = solverhub.load_problem(planted(T=3, n=200))
    pl = p.sections.model.tasks
    x0 = np.zeros(p.dim)
    x0[100:] = 0.1 * np.random.default_rng(0).standard_normal(30)        # the kind's start: A = 0, U ~ N(0, 0.1²)
    ref = _official_linear_steps(pl, x0, 3)
    for t in (1, 3):
        r = solverhub.solve(p, "lora-ml", options={"max_iterations": t, "tolerance": 0.0})
        A, U = ref[t - 1]
        np.testing.assert_allclose(np.asarray(r.solution["A"]), A, rtol=0, atol=1e-10 * max(1, np.abs(A).max()))
        np.testing.assert_allclose(np.asarray(r.solution["U"]), U, rtol=0, atol=1e-10 * max(1, np.abs(U).max()))
    assert np.abs(ref[2][0]).max() > 1e-2                                    # A moved


def test_retrain_standard_iterates_written_out():
    """SR (official: the same A-step on the pooled tasks, no adapters): A ← A − 0.03 Σ_t (A X_t − Y_t) X_tᵀ/(N T)."""
    p = solverhub.load_problem(planted(T=3, n=200))
    pl = p.sections.model.tasks
    T, d, N = pl.X.shape
    A = np.zeros((d, d))
    for _ in range(4):
        A = A - 0.03 * ((A[None] @ pl.X - pl.Y) @ pl.X.transpose(0, 2, 1)).sum(0) / (N * T)
    r = solverhub.solve(p, "retrain-standard", options={"max_iterations": 4, "tolerance": 0.0})
    np.testing.assert_allclose(np.asarray(r.solution["A"]), A, rtol=0, atol=1e-10 * np.abs(A).max())
    assert not np.asarray(r.solution["U"]).any()


def test_symmetric_base_draw():
    """planted.symmetric: A* = (G + Gᵀ)/2 with G the same first draw (the official code's A*)."""
    p, q = (solverhub.load_problem(planted(d=4, T=2, n=20).replace("seed: 0}", f"seed: 0{s}}}"))
            for s in ("", ", symmetric: true"))
    G, S = p.sections.model.tasks.A_true, q.sections.model.tasks.A_true
    np.testing.assert_allclose(S, 0.5 * (G + G.T), atol=0)
    G2 = np.random.default_rng(0).standard_normal((4, 4))
    np.testing.assert_allclose(G, G2, atol=0)


def test_method_page_option_tables_match_the_code():
    """Changing a default without regenerating docs/methods/lora-ml.md's tables fails here."""
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parents[3]
    spec = importlib.util.spec_from_file_location("option_tables", root / "scripts" / "option_tables.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = (root / "docs/methods/lora-ml.md").read_text()
    assert set(script.marked(page)) == {"lora-ml", "retrain-standard"}
    assert script.render(page) == page, "run `python scripts/option_tables.py`"


PAPER = __import__("pathlib").Path(__file__).resolve().parents[1] / "problems" / "paper_synthetic.yaml"


@pytest.mark.slow
def test_paper_synthetic_experiment_reproduces():
    """arXiv 2410.22264's synthetic experiment with the official settings (plugins/lora-ml/problems/
    paper_synthetic.yaml; ~1 min): LoRA-ML recovers A* and adapts to the new task; SR does not."""
    p = solverhub.load_problem(PAPER)
    ml = solverhub.solve(p, "lora-ml", options={"tolerance": 0.0})
    sr = solverhub.solve(p, "retrain-standard", options={"tolerance": 0.0})
    assert ml.iterations == 3000 and ml.oracle_calls["grad"] == 33000
    assert ml.extras["shared_error"] < 5e-3 and sr.extras["shared_error"] > 3.0
    assert ml.extras["post_finetune_loss"] < 1e-4 and sr.extras["post_finetune_loss"] > 10.0
    assert ml.objective < 1.01 * ml.extras["truth_meta_loss"]
