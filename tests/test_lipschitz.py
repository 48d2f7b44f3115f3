"""The shared Lipschitz estimate (solverhub/parts/lipschitz.py) and the safe default steps built
on it (issue 15, "Defaults that do not diverge"): gda, extragradient, sgd and gd."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import solverhub  # noqa: E402
from solverhub.oracle import Oracle  # noqa: E402
from solverhub.plugin import lipschitz_estimate, monotonicity_estimate  # noqa: E402

F64 = torch.float64
RNG = np.random.default_rng(7)
# a symmetric matrix with a known spectrum (top eigenvalue 50, gap 50 -> 30) and an affine operator
Q, _ = np.linalg.qr(RNG.normal(size=(6, 6)))
H = Q @ np.diag([50.0, -30.0, 10.0, 3.0, 1.0, 0.5]) @ Q.T
J = RNG.normal(size=(6, 6)) + 4 * np.eye(6)


def quadratic_oracle():
    Ht = torch.tensor(H, dtype=F64)
    return Oracle(lambda x, rows=None: 0.5 * x @ (Ht @ x), x0=torch.ones(6, dtype=F64))


def affine_oracle(M=J):
    Mt = torch.tensor(M, dtype=F64)
    return Oracle(lambda x, rows=None: x.sum(), x0=torch.zeros(6, dtype=F64),
                  operator=lambda z: Mt @ z - 1.0)


def test_hessian_estimate_matches_the_largest_eigenvalue_and_counts_hvps():
    oracle = quadratic_oracle()
    L = lipschitz_estimate(oracle, oracle.x0, iterations=60)
    assert L.ndim == 0
    assert abs(float(L) - np.abs(np.linalg.eigvalsh(H)).max()) <= 1e-6 * 50
    assert oracle.counts["hvp"] == 60 and oracle.total_calls == 60


def test_operator_estimate_matches_the_operator_norm_and_counts_operator_calls():
    oracle = affine_oracle()
    L = lipschitz_estimate(oracle, oracle.x0, iterations=200)
    sigma = np.linalg.svd(J, compute_uv=False)
    assert sigma[0] / sigma[1] < 1.5          # a gap power iteration resolves in 200 steps to 1e-6
    assert abs(float(L) - sigma[0]) <= 1e-6 * sigma[0]
    assert oracle.counts["operator"] == 400 and oracle.total_calls == 400
    mu = monotonicity_estimate(oracle, oracle.x0, L, iterations=400)
    assert abs(float(mu) - np.linalg.eigvalsh(0.5 * (J + J.T)).min()) <= 1e-4 * sigma[0]
    assert oracle.counts["operator"] == 1200


def test_default_iterations_are_a_close_lower_bound():
    oracle = quadratic_oracle()
    L = float(lipschitz_estimate(oracle, oracle.x0))
    assert oracle.counts["hvp"] == 10 and 0.99 * 50 <= L <= 50 * (1 + 1e-12)


# -- the defaults on problems where the old constants diverged -------------------------------------
SCSC = """
name: scsc-stiff
kind: minimax
variables: {x: {shape: [2], x0: [1.0, -1.0]}, y: {shape: [2], x0: [0.5, 2.0]}}
data: {B: [[8.0, 3.0], [-2.0, 9.0]]}
min: x
max: y
objective: "0.5 * (x @ x) + x @ (B @ y) - 0.5 * (y @ y)"
"""
LINEAR = """
name: stiff-monotone
kind: monotone
variables: {z: {shape: [3], x0: [1.0, 1.0, 1.0]}}
data: {M: [[1.0, 10.0, 0.0], [-10.0, 1.0, 0.0], [0.0, 0.0, 2.0]], q: [1.0, -2.0, 0.5]}
operator: "M @ z + q"
"""
OPTS = {"max_iterations": 20000, "tolerance": 1e-8}


@pytest.mark.parametrize("text", [SCSC, LINEAR], ids=["scsc-game", "monotone-linear"])
@pytest.mark.parametrize("solver,old", [("gda", {"step": 0.1}),
                                        ("extragradient", {"step": 1.0, "adaptive": False})])
def test_defaults_converge_where_the_old_constants_diverged(text, solver, old):
    problem = solverhub.load_problem(text)
    adaptive = {"adaptive": False} if solver == "extragradient" else {}
    new = solverhub.solve(problem, solver, options={**OPTS, **adaptive})
    assert new.status == solverhub.Status.CONVERGED, new.message
    assert new.stationarity.value <= 1e-8
    assert new.oracle_calls["operator"] > 20           # the estimate's products are counted
    before = solverhub.solve(problem, solver, options={**OPTS, **old})
    assert before.status == solverhub.Status.DIVERGED, before.message


STOCHASTIC_LS = """
name: stiff-least-squares
kind: finite_sum
variables: {x: {shape: [5]}}
data:
  A: {generate: normal, shape: [200, 5], seed: 3}
  s: [30.0, 10.0, 3.0, 1.0, 0.3]
  b: {generate: normal, shape: [200], seed: 4}
objective: "mean(square((A * s) @ x - b))"
oracle:
  stochastic: {batch_size: 10, seed: 0}
"""


@pytest.mark.parametrize("solver", ["sgd", "gd"])
def test_stochastic_least_squares_with_a_large_L_stays_stable(solver):
    problem = solverhub.load_problem(STOCHASTIC_LS)
    opts = {"max_iterations": 3000, "tolerance": 0.0}
    r = solverhub.solve(problem, solver, options=opts, seed=0)
    assert not r.status.is_failure, r.message
    exact = solverhub.load_problem(STOCHASTIC_LS.split("oracle:")[0])
    f_star = solverhub.solve(exact, "lbfgs", options={"tolerance": 1e-10}).objective     # ≈ 0.987
    assert np.isfinite(r.objective) and r.objective <= f_star + 0.1     # SGD noise floor; f(0) ≈ 0.997
    assert r.oracle_calls["hvp"] == 10
    old = solverhub.solve(problem, solver, options={**opts, "lr": 0.01 if solver == "sgd" else 1.0}, seed=0)
    assert old.status.is_failure or not np.isfinite(old.objective) or old.objective > 1e3
