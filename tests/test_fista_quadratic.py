"""fista's affine-gradient path (quadratic smooth part, solverhub/problem/degree.py): the same
iterates as the generic path, one value_and_grad per accepted step, the generic path elsewhere;
the exact-curvature backtracking test and the default step growth of fista/proxgrad on a quadratic."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import solverhub
from solverhub.builtin.fista import FISTA
from solverhub.problem.model import load_problem

pytestmark = pytest.mark.usefixtures("single_thread")

COMPOSITE = Path(__file__).resolve().parents[1] / "problems" / "composite"


@pytest.mark.parametrize("options", [{"lr": 1.0, "grow": 1.0}, {"lr": 1.0, "grow": 1.5},
                                     {"lr": 1.0, "grow": 1.0, "restart": False}])
def test_same_iterates_as_the_generic_path(drive, options):
    p = load_problem(COMPOSITE / "lasso.yaml")
    fast = drive(FISTA, p, {**options, "affine_gradient": True}, steps=30)
    slow = drive(FISTA, p, {**options, "affine_gradient": False}, steps=30)
    assert fast.states[0].smooth_grad is not None and slow.states[0].smooth_grad is None
    assert fast.states[-1].backtracks == slow.states[-1].backtracks >= 5      # lr = 1 is ~70x 1/L: backtracking
    if options.get("restart", True):
        assert int(fast.states[-1].restarts) == int(slow.states[-1].restarts)
    for a, b in zip(fast.states, slow.states):
        assert a.lr == b.lr and a.step_size == b.step_size and abs(float(a.t - b.t)) <= 1e-10 * float(b.t)
        assert torch.allclose(a.x, b.x, rtol=0, atol=1e-10)
        assert abs(float(a.smooth - b.smooth)) <= 1e-10 * max(1.0, abs(float(b.smooth)))


def test_one_value_and_grad_per_accepted_step(drive):
    p = load_problem(COMPOSITE / "lasso.yaml")
    L = np.linalg.norm(p.data["A"], 2) ** 2
    run = drive(FISTA, p, {"lr": 1 / L, "grow": 1.0}, steps=20)     # 1/L: every first trial is accepted
    assert run.states[-1].backtracks == 0
    assert run.oracle.counts["value_smooth"] == run.oracle.counts["grad_smooth"] == 21
    run = drive(FISTA, p, {"lr": 1.0}, steps=20)            # each failed trial: one more value_and_grad
    bt = run.states[-1].backtracks
    assert bt > 0 and run.oracle.counts["value_smooth"] == run.oracle.counts["grad_smooth"] == 21 + bt


def test_generic_path_when_not_quadratic(drive):
    p = load_problem(COMPOSITE / "l1_logreg.yaml")
    run = drive(FISTA, p, {"lr": 1e-3}, steps=5)
    assert run.states[-1].smooth_grad is None
    bt = run.states[-1].backtracks
    # a value at each trial point and a value_and_grad at each extrapolated point
    assert run.oracle.counts["grad_smooth"] == 6 and run.oracle.counts["value_smooth"] == 6 + 5 + bt


LARGE_RESIDUAL = """
name: ls
kind: minimize
variables: {x: {shape: [5]}}
data:
  A: {generate: normal, shape: [20, 5], seed: 1}
  b: {generate: normal, shape: [20], seed: 2, scale: 10000.0}
objective: "0.5 * sum_squares(A @ x - b)"
"""


def test_exact_curvature_test_near_the_optimum(make_oracle):
    """s ~ 1e9 at the optimum: s(z) - s(x) is lost in rounding for a step 1e-9 long, so the value test
    accepts a step 100x 1/L; the curvature test dᵀ(∇s(z) - ∇s(x)) <= ‖d‖²/t keeps t <= 1/λ_min."""
    from solverhub.builtin.proxgrad import ProxGradOptions, prox_gradient_step, structure_of
    p = load_problem(LARGE_RESIDUAL)
    oracle = make_oracle(p)
    A, b = p.data["A"], p.data["b"]
    eig = np.linalg.eigvalsh(A.T @ A)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    x = torch.as_tensor(x_star + 1e-9 * np.arange(1, 6))
    s, g = oracle.value_and_grad(x)
    lr = 100 / eig[-1]
    options = ProxGradOptions()
    exact = prox_gradient_step(oracle, structure_of(oracle), x, s, g, lr, options, quadratic=True)
    assert exact[3] <= 1 / eig[0] and exact[4] >= 1
    value_test = prox_gradient_step(oracle, structure_of(oracle), x, s, g, lr, options, quadratic=False)
    assert value_test[3] == lr                                   # accepted on rounding


def test_proxgrad_grows_its_step_on_a_quadratic():
    p = load_problem(COMPOSITE / "lasso.yaml")
    f_star = solverhub.solve(p, "fista", options={"tolerance": 1e-12, "max_iterations": 20000}).objective
    common = {"tolerance": 0.0, "max_iterations": 300}
    grown = solverhub.solve(p, "proxgrad", options=common)
    fixed = solverhub.solve(p, "proxgrad", options={**common, "grow": 1.0})
    # measured: gaps 1e-3 vs 5e-2 after 300 steps; final steps 0.019 vs 0.0039
    assert grown.objective - f_star < 0.1 * (fixed.objective - f_star)
    assert grown.extras["final_step_size"] > 2 * fixed.extras["final_step_size"]


def test_growing_step_keeps_the_accelerated_bound(drive):
    """Scheinberg, Goldfarb & Bai (2014): with θ_k = μ_k/μ_{k+1}, f(x_k) - f* <= ‖x_0 - x*‖² / (2 μ_k t_k²)
    and μ_k t_k² >= (Σ_{i<=k} √μ_i)²/4 (steps grown 1.5x and backtracked, no restart)."""
    p = load_problem(COMPOSITE / "lasso.yaml")
    best = solverhub.solve(p, "fista", options={"tolerance": 1e-12, "max_iterations": 20000})
    f_star, x_star = best.objective, np.asarray(best.solution["x"])
    run = drive(FISTA, p, {"lr": 1.0, "grow": 1.5, "restart": False}, steps=200)
    r2 = float(np.sum((x_star - p.x0) ** 2))
    steps = np.array([st.step_size for st in run.states[1:]])
    assert steps.max() > 4 * steps.min()                    # the step does move both ways
    for k in (10, 30, 100, 200):
        st = run.states[k]
        gap = float(st.value) - f_star
        assert gap <= r2 / (2 * st.step_size * float(st.t) ** 2) + 1e-12
        assert st.step_size * float(st.t) ** 2 >= np.sum(np.sqrt(steps[:k])) ** 2 / 4 * (1 - 1e-12)


@pytest.mark.parametrize("solver", ["fista", "proxgrad"])
def test_the_measure_reuses_the_held_smooth_gradient_and_equals_a_hand_written_one(solver, monkeypatch):
    """The prox-gradient mapping measured with the solver's own ∇s(x) (Known.smooth_grad, no
    extra gradient at sampled points) equals ||x - soft(x - A^T(Ax - b), lam)|| written in numpy."""
    from solverhub.oracle import Oracle
    p = load_problem(COMPOSITE / "lasso.yaml")
    A, b = np.asarray(p.data["A"], float), np.asarray(p.data["b"], float)
    lam = 2.0                                    # the file's parameter
    peeks = []
    real = Oracle.peek_grad
    monkeypatch.setattr(Oracle, "peek_grad", lambda self, *a, **k: peeks.append(k.get("of")) or real(self, *a, **k))
    result = solverhub.solve(p, solver, options={"max_iterations": 40, "tolerance": 1e-300}, device="cpu")
    assert "smooth" not in peeks                 # every sample read the held gradient
    x = np.asarray(result.solution["x"], float).ravel()
    z = x - A.T @ (A @ x - b)
    mapping = x - np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)
    assert result.stationarity.name == "prox_grad_norm"
    assert abs(result.stationarity.value - np.linalg.norm(mapping)) <= 1e-9 * max(1.0, np.linalg.norm(mapping))
