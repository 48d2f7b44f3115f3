"""The closed-form reference of unconstrained strongly convex quadratics (no cvxpy)."""
import numpy as np
import pytest

from solverhub.baseline import compute_baseline
from solverhub.problem.model import load_problem
from solverhub.quadratic_reference import is_unconstrained_quadratic, quadratic_reference
from solverhub.reference import ReferenceStatus

RIDGE = """
name: ridge-cf
kind: minimize
variables: {x: {shape: [8]}, c: {shape: []}}
data:
  A: {generate: normal, shape: [30, 8], seed: 0}
  b: {generate: normal, shape: [30], seed: 1}
parameters: {lam: 0.3}
objective: "0.5 * sum_squares(A @ x + c - b) + lam * sum_squares(x) + 0.5 * square(c)"
"""


def test_ridge_minimizer_matches_the_normal_equations():
    problem = load_problem(RIDGE)
    A, b, lam = problem.data["A"], problem.data["b"], 0.3
    # written out: the gradient of 0.5|Ax + c1 - b|^2 + lam|x|^2 + 0.5c^2 vanishes at
    # [[A'A + 2 lam I, A'1], [1'A, n + 1]] [x; c] = [A'b; 1'b]
    n = A.shape[0]
    K = np.block([[A.T @ A + 2 * lam * np.eye(8), A.sum(0)[:, None]], [A.sum(0)[None, :], np.array([[n + 1.0]])]])
    z = np.linalg.solve(K, np.concatenate([A.T @ b, [b.sum()]]))
    ref = compute_baseline(problem)
    assert ref.solver == "closed form" and ref.status is ReferenceStatus.CERTIFIED
    np.testing.assert_allclose(ref.x, z, rtol=1e-10, atol=1e-12)
    r = A @ z[:8] + z[8] - b
    assert ref.objective == pytest.approx(0.5 * r @ r + lam * z[:8] @ z[:8] + 0.5 * z[8] ** 2, rel=1e-12)
    assert ref.certificate.name == "grad_norm" and ref.certificate.value < 1e-10


def test_a_named_cvxpy_solver_still_solves_with_cvxpy_and_agrees():
    problem = load_problem(RIDGE)
    exact, conic = compute_baseline(problem), compute_baseline(problem, solver="CLARABEL")
    assert conic.solver != exact.solver and conic.status is ReferenceStatus.CERTIFIED
    np.testing.assert_allclose(conic.x, exact.x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("objective,why", [
    ("0.5 * sum_squares(A @ x - b)", "singular H: A (30 x 8) has rank 8, but the free c has no curvature"),
    ("0.5 * sum_squares(A @ x - b) - square(c)", "indefinite H"),
    ("sum(exp(x)) + square(c)", "not a polynomial"),
    ("0.5 * sum_squares(A @ x - b) + norm1(x) + square(c)", "a nonsmooth term"),
])
def test_other_problems_are_left_to_cvxpy(objective, why):
    problem = load_problem(RIDGE.replace(RIDGE.splitlines()[-1], f'objective: "{objective}"'))
    assert quadratic_reference(problem) is None, why


def test_bounds_and_degree_three_are_not_quadratic_references():
    bounded = load_problem(RIDGE.replace("c: {shape: []}", "c: {shape: [], lower: 0}"))
    cubic = load_problem(RIDGE.replace("0.5 * square(c)", "0.5 * square(c) + c ** 3"))
    assert not is_unconstrained_quadratic(bounded) and not is_unconstrained_quadratic(cubic)
