"""Tests of the ``dbgd`` plugin: ``dbgd`` (dynamic barrier gradient descent, arXiv 2507.23155)
and ``penalty-gd`` (the fixed-penalty reference). Tests 1-3 are the method note's
(03-dbgd-bilevel.md, section c); each compares against a number computed without the
solver (numpy closed forms: pinv, -c/|c|, an eigenvector, the penalty's fixed point).

Long runs drive ``DBGD.step`` through a closed-form torch oracle (``ClosedForm``), whose
gradients are checked against the problem file's own oracle; end-to-end solves use the
shipped YAML files through ``solverhub.solve``.
"""
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as sl
import torch

import solverhub
from solverhub.errors import SolverhubError
from solverhub.oracle import Oracle
from solverhub.problem.kinds.bilevel import bilevel_eps
from solverhub.testing import check_entry_point, check_solver, count_host_syncs, drive
from solverhub_dbgd import (DBGD, DBGDOptions, PenaltyGD, PenaltyGDOptions, barrier_direction, barrier_residual,
                            step_size)

BILEVEL = Path(__file__).resolve().parents[3] / "problems" / "bilevel"

TINY = """
name: tiny-minnorm
kind: bilevel
variables: {x: {shape: [3], x0: [1.0, 1.0, 1.0]}}
data: {A: [[1.0, 1.0, 0.0]], b: [1.0]}
upper: {objective: "0.5 * sum_squares(x)"}
lower: {objective: "0.5 * sum_squares(A @ x - b)"}
solve: {trace_every: 100, lr: 0.01}
"""


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


def load(name):
    return solverhub.load_problem(BILEVEL / f"{name}.yaml")


class ClosedForm:
    """A counting oracle with hand-written gradients (∇f, ∇g as torch callables)."""

    device = torch.device("cpu")
    dtype = torch.float64

    def __init__(self, grad_f, grad_g, g=None):
        self._gf, self._gg, self._g = grad_f, grad_g, g
        self.counts = {"grad": 0, "grad_lower": 0, "value_lower": 0}

    def grad(self, x, of=None):
        self.counts["grad" if of is None else "grad_lower"] += 1
        return self._gf(x) if of is None else self._gg(x)

    def value_and_grad(self, x, of=None):
        assert of == "lower"
        self.counts["value_lower"] += 1
        self.counts["grad_lower"] += 1
        return self._g(x), self._gg(x)


def residual(state):
    """The barrier identity's relative residual at the state's last step (0 when λ = 0)."""
    return barrier_residual(state.last_grad_f, state.last_grad_lower, state.last_direction, state.lam_last,
                            state.last_phi)


# -- the minimum-norm least-squares problem (the file) ------------------------------

def minnorm():
    p = load("minnorm_lsq")
    A, b = p.data["A"], p.data["b"]
    At, bt = torch.as_tensor(A), torch.as_tensor(b)
    oracle = ClosedForm(lambda x: x, lambda x: At.T @ (At @ x - bt))
    return p, A, b, np.linalg.pinv(A) @ b, oracle


def rel_err(x, x_star):
    return float(np.linalg.norm(np.asarray(x) - x_star) / np.linalg.norm(x_star))


def test_closed_form_oracles_match_the_problem_files():
    for name in ("minnorm_lsq", "sphere_eigen"):
        p = load(name)
        tp = p.lower_torch("cpu", torch.float64)
        real = Oracle.for_problem(tp, p)
        mine = (minnorm() if name == "minnorm_lsq" else sphere())[-1]
        x = tp.x0 + 0.3
        for of in (None, "lower"):
            torch.testing.assert_close(mine.grad(x, of=of), real.grad(x, of=of), rtol=1e-12, atol=1e-12)


def test_note_1_minnorm_lsq_reaches_pinv_to_an_eta_floor():
    p, A, b, x_star, oracle = minnorm()
    x0 = p.x0
    assert rel_err(x0, x_star) > 10                          # x0 is far, and not in the row space
    fine = drive(DBGD, oracle, DBGDOptions(eta=1e-3), 20000, x0=x0).final
    coarse = drive(DBGD, oracle, DBGDOptions(eta=1e-2), 3000, x0=x0).final
    err_fine, err_coarse = rel_err(fine.x, x_star), rel_err(coarse.x, x_star)
    assert err_fine <= 1e-2, err_fine                        # measured 3.07e-3 (note: ~3e-3)
    assert err_fine <= 0.2 * err_coarse, (err_fine, err_coarse)   # floor O(η): 3.0e-2 at η = 1e-2
    # a decaying step η_k = 1e-2 / (1 + k/1000) gets closer in the same 20000 iterations
    decayed = drive(DBGD, oracle, DBGDOptions(eta=1e-2, step_decay=1.0, decay_start=1000), 20000, x0=x0).final
    err_decay = rel_err(decayed.x, x_star)
    assert err_decay <= 0.6 * err_fine, (err_decay, err_fine)     # measured 1.46e-3
    assert decayed.eta_last == pytest.approx(1e-2 / (1 + 19999 / 1000))
    # gradient descent on the lower level alone keeps x0's null-space component
    x = x0.copy()
    for _ in range(20000):
        x -= 1e-2 * A.T @ (A @ x - b)
    assert np.linalg.norm(A @ x - b) < 1e-10 and rel_err(x, x_star) > 0.3
    # every step was barrier-tight here, and the identity held
    assert int(fine.barrier_tight) == 20000 and float(residual(fine)) < 1e-12
    assert oracle.counts["grad"] == oracle.counts["grad_lower"] == 43000 and oracle.counts["value_lower"] == 0


def test_end_to_end_solve_follows_the_same_iterates():
    p, A, b, x_star, oracle = minnorm()
    mine = drive(DBGD, oracle, DBGDOptions(eta=1e-3), 300, x0=p.x0).final
    r = solverhub.solve(p, "dbgd", options={"max_iterations": 300, "trace_every": 100})
    assert r.solver == "dbgd" and r.iterations == 300
    np.testing.assert_allclose(r.solution["x"], mine.x.numpy(), rtol=1e-11, atol=1e-13)   # eta from the file
    assert r.oracle_calls["grad"] == r.oracle_calls["grad_lower"] == 300
    assert r.stationarity.name == "bilevel_eps"
    assert r.stationarity.value == pytest.approx(max(r.extras["eps_f"], r.extras["eps_g"]))
    for key in ("lambda_max", "lambda_last", "eta", "q", "beta", "p", "barrier_tight_steps",
                "barrier_identity_rel_error", "direction_norm", "lower_objective"):
        assert key in r.extras, key
    assert r.extras["q"] == 2.0 and r.extras["eta"] == 1e-3 and r.extras["lambda_max"] >= r.extras["lambda_last"] > 0
    assert r.extras["predicted_exponent_eps_f"] == 2.0 and r.extras["predicted_exponent_eps_g"] == 2.0


def test_penalty_gd_converges_to_the_biased_penalty_point():
    p, A, b, x_star, _ = minnorm()
    lam, lr = 10.0, 1e-3
    x_lam = np.linalg.solve(np.eye(30) + lam * A.T @ A, lam * A.T @ b)    # stationary point of f + lam g
    At, bt = torch.as_tensor(A), torch.as_tensor(b)
    oracle = ClosedForm(lambda x: x, lambda x: At.T @ (At @ x - bt))
    solver, options = PenaltyGD(), PenaltyGDOptions(lam=lam, lr=lr)
    state = solver.init(None, oracle, torch.as_tensor(p.x0), options)
    for _ in range(20000):
        state = solver.step(state, oracle, options)
    np.testing.assert_allclose(state.x.numpy(), x_lam, atol=1e-6)
    assert rel_err(x_lam, x_star) > 5e-3          # bias 7.3e-3, O(1/lam); dbgd: 3.1e-3 at η = 1e-3, → 0 with η
    assert oracle.counts["grad"] == oracle.counts["grad_lower"] == 20000
    r = solverhub.solve(p, "penalty-gd", options={"lam": lam, "lr": lr, "max_iterations": 50})
    assert r.extras["lam"] == lam and r.oracle_calls["grad"] == r.oracle_calls["grad_lower"] == 50


# -- note test 2: the circle ----------------------------------------------------------------

def test_note_2_circle_reaches_minus_c_over_norm_c():
    p = load("circle_linear")
    c = p.data["c"]
    target = -c / np.linalg.norm(c)
    assert p.baseline.objective == pytest.approx(-np.linalg.norm(c), rel=1e-15)
    ct = torch.as_tensor(c)
    oracle = ClosedForm(lambda x: ct, lambda x: 4 * (x @ x - 1) * x)
    state = drive(DBGD, oracle, DBGDOptions(eta=1e-3), 20000, x0=p.x0).final
    assert np.linalg.norm(state.x.numpy() - target) <= 1e-8          # measured ~1e-15
    # end to end, with a larger step: converged in the kind's measure, at the declared optimum
    r = solverhub.solve(p, "dbgd", options={"eta": 1e-2, "tolerance": 1e-10, "trace_every": 50}, baseline=True)
    assert r.status.value == "converged", r.message
    assert r.iterations < 5000
    np.testing.assert_allclose(r.solution["x"], target, atol=1e-9)
    assert abs(r.baseline_gap) < 1e-12
    # gradient descent on g alone stops at the sphere point nearest x0, not at -c/|c|
    x = p.x0.copy()
    for _ in range(5000):
        x -= 1e-2 * 4 * (x @ x - 1) * x
    np.testing.assert_allclose(x, p.x0 / np.linalg.norm(p.x0), atol=1e-8)
    assert np.linalg.norm(x - target) > 0.5


# -- note test 3: g constant, and the barrier identity ---------------------------------------

def test_note_3_constant_lower_level_is_gradient_descent_on_f():
    base = """
name: const-lower
kind: {kind}
variables: {{x: {{shape: [4], x0: [1.0, -2.0, 0.5, 3.0]}}}}
data: {{Q: [[3.0, 1.0, 0, 0], [1.0, 2.0, 0, 0], [0, 0, 1.0, 0.5], [0, 0, 0.5, 4.0]]}}
{body}
"""
    f = "0.5 * quad_form(x, Q) + sum(x)"
    bilevel = solverhub.load_problem(base.format(kind="bilevel", body=f'upper: {{objective: "{f}"}}\nlower: {{objective: "0.0 * sum(x) + 3.0"}}'))
    plain = solverhub.load_problem(base.format(kind="minimize", body=f'objective: "{f}"'))
    opts = {"max_iterations": 100, "tolerance": 0.0, "trace_every": 25}
    r = solverhub.solve(bilevel, "dbgd", options={**opts, "eta": 0.05})
    gd = solverhub.solve(plain, "gd", options={**opts, "lr": 0.05, "backtracking": False})
    assert r.solution["x"] == gd.solution["x"]                       # bitwise the same iterates
    assert [t.objective for t in r.trace] == [t.objective for t in gd.trace]
    assert r.extras["lambda_max"] == 0.0 and r.extras["barrier_tight_steps"] == 0
    # the direction itself: v = ∇f exactly when ∇g = 0 or ‖∇g‖ <= 1e-300
    gf = torch.tensor([1.0, -2.0, 3.0])
    for gg in (torch.zeros(3), torch.tensor([1e-301, 0.0, 0.0]), torch.tensor([0.0, 5e-324, 0.0])):
        v, lam, phi, a = barrier_direction(gf, gg, 1.0, 2.0)
        assert torch.equal(v, gf) and float(lam) == 0.0 and float(phi) == 0.0


def _numpy_direction(gf, gg, beta, q, cap=None):
    a = np.linalg.norm(gg)
    if a <= 1e-300:                                  # the note's guard
        return gf, 0.0, 0.0
    phi = beta * a ** q if cap is None else min(cap, beta * a ** q)
    lam = max((phi - gf @ gg) / (a * a), 0.0)
    return gf + lam * gg, lam, phi


@pytest.mark.parametrize("q", [1.0, 1.5, 2.0, 3.0])
def test_barrier_identity_whenever_lambda_is_positive(q):
    """<v, ∇g> = φ within 1e-10 at every step with λ > 0, and v equals the formula in numpy."""
    p, M, B, _, oracle = sphere()
    options = DBGDOptions(eta=2e-3, q=q, beta=0.5)
    solver = DBGD()
    state = solver.init(None, oracle, torch.as_tensor(p.x0), options)
    tight = 0
    for _ in range(300):
        x = state.x.numpy()
        state = solver.step(state, oracle, options)
        S = 0.5 * (M + M.T)
        gf, gg = S @ x, (x @ x - 1) * x + B.T @ (B @ x)
        v_np, lam_np, phi_np = _numpy_direction(gf, gg, 0.5, q)
        v = state.last_direction.numpy()
        np.testing.assert_allclose(v, v_np, rtol=1e-10, atol=1e-12 * np.linalg.norm(v_np))
        assert float(state.lam_last) == pytest.approx(lam_np, rel=1e-10, abs=1e-300)
        if float(state.lam_last) > 0:
            tight += 1
            assert abs(v @ gg - phi_np) <= 1e-10 * max(1.0, phi_np, abs(gf @ gg)), (v @ gg, phi_np)
        else:
            assert gf @ gg >= phi_np - 1e-12        # λ = 0: f's own step already decreases g enough
        assert float(residual(state)) < 1e-12
    assert tight > 100


def test_barrier_branches_on_the_circle():
    """Near the solution and inside the unit sphere the f-step already raises |x| (λ = 0,
    <∇f,∇g> >= φ); otherwise the barrier is tight and v = P⊥∇f + β∇g (note test 2's mechanism)."""
    p = load("circle_linear")
    c = p.data["c"]
    ct = torch.as_tensor(c)
    oracle = ClosedForm(lambda x: ct, lambda x: 4 * (x @ x - 1) * x)
    options, solver = DBGDOptions(eta=0.05), DBGD()
    x0 = -0.5 * c / np.linalg.norm(c) + 0.1 * p.x0 / np.linalg.norm(p.x0)
    state = solver.init(None, oracle, torch.as_tensor(x0), options)
    branches = set()
    for _ in range(400):
        x = state.x.numpy()
        state = solver.step(state, oracle, options)
        gg = state.last_grad_lower.numpy()    # at the end |x|² − 1 ~ 1e-16: its sign is rounding, so take torch's
        np.testing.assert_allclose(gg, 4 * (x @ x - 1) * x, rtol=1e-6, atol=1e-14)
        v, lam, phi_np = _numpy_direction(c, gg, 1.0, 2.0)
        np.testing.assert_allclose(state.last_direction.numpy(), v, rtol=1e-10, atol=1e-14)
        if float(state.lam_last) > 0:
            branches.add("tight")
            assert abs(v @ gg - phi_np) <= 1e-10 * max(1.0, phi_np, abs(c @ gg))
            u = gg / np.linalg.norm(gg)                # v = P⊥∇f + β∇g: f's tangential part, a g-step along x
            np.testing.assert_allclose(state.last_direction.numpy(), c - (c @ u) * u + gg, rtol=1e-9, atol=1e-12)
        elif np.any(gg != 0):
            branches.add("free")
            assert x @ x < 1 and c @ gg >= phi_np and np.array_equal(state.last_direction.numpy(), c)
        else:
            branches.add("guard")                      # |x| = 1 exactly in floating point: ∇g = 0, v = ∇f
            assert np.array_equal(state.last_direction.numpy(), c)
    assert {"tight", "free"} <= branches
    np.testing.assert_allclose(state.x.numpy(), -c / np.linalg.norm(c), atol=1e-8)


def test_gong_barrier_uses_the_lower_value_and_keeps_the_identity():
    p, A, b, x_star, _ = minnorm()
    At, bt = torch.as_tensor(A), torch.as_tensor(b)
    oracle = ClosedForm(lambda x: x, lambda x: At.T @ (At @ x - bt), g=lambda x: 0.5 * ((At @ x - bt) ** 2).sum())
    options = DBGDOptions(eta=1e-3, alpha=0.5, g_hat=0.0)
    solver = DBGD()
    state = solver.init(None, oracle, torch.as_tensor(p.x0), options)
    for _ in range(200):
        x = state.x.numpy()
        state = solver.step(state, oracle, options)
        r = A @ x - b
        v_np, lam_np, phi_np = _numpy_direction(x, A.T @ r, 1.0, 2.0, cap=0.5 * 0.5 * r @ r)
        np.testing.assert_allclose(state.last_direction.numpy(), v_np, rtol=1e-10)
        assert float(state.last_phi) == pytest.approx(phi_np, rel=1e-12)
        assert float(residual(state)) < 1e-12
    assert oracle.counts == {"grad": 200, "grad_lower": 200, "value_lower": 200}


def test_direction_is_finite_for_tiny_and_huge_lower_gradients():
    gf = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    for scale in (1e-250, 1e-200, 1e-150, 1e150, 1e250):      # ‖∇g‖² under- or overflows float64 here
        gg = scale * torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
        v, lam, phi, a = barrier_direction(gf, gg, 1.0, 2.0)
        u = gg / a
        assert torch.isfinite(v).all() and float(lam) > 0
        # <v, u> = φ/‖∇g‖ = β‖∇g‖ (q = 2), computed without ‖∇g‖²
        assert float(v @ u) == pytest.approx(float(a), rel=1e-12, abs=1e-14)


def test_step_size_schedule():
    assert step_size(DBGDOptions(eta=0.1), 10**6) == 0.1
    o = DBGDOptions(eta=0.1, step_decay=0.5, decay_start=100)
    assert [step_size(o, k) for k in (0, 100, 300)] == [0.1, 0.1 / math.sqrt(2), 0.1 / 2]


# -- the rate check on a nonconvex instance ------------------------------------------------

def sphere():
    p = load("sphere_eigen")
    M, B = p.data["M"], p.data["B"]
    Mt, Bt = torch.as_tensor(0.5 * (M + M.T)), torch.as_tensor(B)
    oracle = ClosedForm(lambda x: Mt @ x, lambda x: (x @ x - 1) * x + Bt.T @ (Bt @ x))
    return p, M, B, None, oracle


# p, the options, and the measured (slope_f, slope_g) over k in [1000, 20000]
RATE_RUNS = {
    1.0: (dict(eta=1e-2, step_decay=1.0, decay_start=1000), (-0.43, -0.87)),
    2.0: (dict(eta=2e-3, step_decay=1.0, decay_start=5000), (-1.89, -0.48)),   # q = 3: smaller η (diverges at 1e-2)
}


@pytest.mark.parametrize("p_value", sorted(RATE_RUNS))
def test_rate_of_eps_f_and_eps_g_on_the_nonconvex_sphere_problem(p_value):
    """Paper: O(max(eps_f^{-(3+p)/(1+p)}, eps_g^{-(3+p)/2})) iterations, i.e. after k iterations
    eps_f ~ k^{-(1+p)/(3+p)} and eps_g ~ k^{-2/(3+p)}: both k^{-1/2} at p = 1; k^{-3/5} and
    k^{-2/5} at p = 2. An upper bound: the observed log-log slopes of the best-so-far eps_f and
    eps_g (decaying step) must be at least half as steep as predicted (a generous band)."""
    p, M, B, _, oracle = sphere()
    S = 0.5 * (M + M.T)
    N = sl.null_space(B)
    w, V = np.linalg.eigh(N.T @ S @ N)
    x_star = N @ V[:, 0]
    assert p.baseline.objective == pytest.approx(0.5 * w[0], rel=1e-12)
    assert np.linalg.eigvalsh(S)[0] < 0 < np.linalg.eigvalsh(S)[-1]      # f is nonconvex
    options = DBGDOptions(p=p_value, **RATE_RUNS[p_value][0])
    run = drive(DBGD, oracle, options, 20000, x0=p.x0, every=500)
    state, kept = run.final, run.kept
    ks, ef, eg = [], [], []
    for k, st in kept:
        e_f, e_g = bilevel_eps(oracle._gf(st.x), oracle._gg(st.x))
        ks.append(k)
        ef.append(float(e_f))
        eg.append(float(e_g))
    ks, ef, eg = np.array(ks), np.minimum.accumulate(ef), np.minimum.accumulate(eg)
    window = ks >= 1000
    slope_f = np.polyfit(np.log(ks[window]), np.log(ef[window]), 1)[0]
    slope_g = np.polyfit(np.log(ks[window]), np.log(eg[window]), 1)[0]
    pf, pg = (1 + options.p) / (3 + options.p), 2 / (3 + options.p)
    assert slope_f <= -0.5 * pf, (slope_f, RATE_RUNS[p_value][1])
    assert slope_g <= -0.5 * pg, (slope_g, RATE_RUNS[p_value][1])
    assert ef[-1] < 0.2 and eg[-1] < 0.03
    # and the iterate approaches the bilevel solution ±x*, with f near f*
    x = state.x.numpy()
    assert min(np.linalg.norm(x - x_star), np.linalg.norm(x + x_star)) < 0.01
    assert abs(0.5 * x @ S @ x - p.baseline.objective) < 0.02


# -- the plumbing: conformance, dispatch, refusals, options, syncs, entry point ------------

def test_conformance():
    check_solver(DBGD, problems={"bilevel": TINY}, max_iterations=1000)
    check_solver(PenaltyGD, problems={"bilevel": TINY}, max_iterations=1000)


def test_dispatch_and_refusals():
    r = solverhub.solve(TINY, None, options={"max_iterations": 10})
    assert r.solver == "dbgd" and "dbgd" in r.extras["dispatch"]
    noisy = solverhub.load_problem(TINY + "oracle: {noise: {sigma: 0.1, seed: 0}}\n")
    ok, why = DBGD().accepts(noisy)
    assert not ok and "exact gradients" in why
    assert PenaltyGD().accepts(noisy)[0]
    r = solverhub.solve(noisy, "penalty-gd", options={"max_iterations": 20})
    assert r.oracle_calls["grad_lower"] == 20
    plain = solverhub.load_problem("name: q\nkind: minimize\nvariables: {x: {shape: [2]}}\nobjective: sum_squares(x)\n")
    ok, why = DBGD().accepts(plain)
    assert not ok and "bilevel" in why


@pytest.mark.parametrize("bad", [{"eta": -1.0}, {"beta": 0.0}, {"p": -0.5}, {"q": 0.0}, {"step_decay": 1.5},
                                 {"alpha": -1.0}])
def test_bad_dbgd_options_are_errors(bad):
    with pytest.raises(SolverhubError):
        solverhub.solve(TINY, "dbgd", options=bad)


def test_bad_penalty_options_are_errors():
    for bad in ({"lam": -1.0}, {"lr": 0.0}):
        with pytest.raises(SolverhubError):
            solverhub.solve(TINY, "penalty-gd", options=bad)


@pytest.mark.parametrize("solver", ["dbgd", "penalty-gd"])
def test_no_host_syncs_per_iteration(solver, monkeypatch):
    p = solverhub.load_problem(TINY)
    syncs = count_host_syncs(monkeypatch)
    result = solverhub.solve(p, solver, options={"max_iterations": 200, "tolerance": 0.0, "trace_every": 50})
    assert result.iterations == 200 and len(result.trace) == 5
    assert syncs["n"] <= 2 * len(result.trace) + 10, syncs["n"]


def test_entry_point_loads_without_torch():
    """Registered by its entry point; loading it imports no torch."""
    check_entry_point('dbgd', solvers=('dbgd', 'penalty-gd'))
