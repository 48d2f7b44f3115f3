"""Projection onto classified simple sets (issue 15): proxgrad/fista take simplex, l2/l1/linf
balls and constant bounds from ``constraints:`` lines as set indicators (projected gradient),
against cvxpy; the projections (Duchi et al. 2008; Condat 2016) are idempotent, nonexpansive
and land in their set; other constraint lines are refused with the line."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import solverhub
from solverhub.api import load_problem

CON = Path(__file__).resolve().parents[1] / "problems" / "constrained"

L1_BALL = """
name: l1_ball_lsq
kind: constrained
variables: {x: {shape: [15]}}
data:
  A: {generate: normal, shape: [30, 15], seed: 7, scale: 0.3}
  b: {generate: normal, shape: [30], seed: 8}
objective: "0.5 * sum_squares(A @ x - b)"
constraints:
  - "norm1(x) <= 1.5"
"""


@pytest.mark.parametrize("source", [CON / "portfolio_simplex_qp.yaml", L1_BALL, CON / "norm_ball_lsq.yaml"])
def test_fista_projected_gradient_matches_cvxpy(source):
    p = load_problem(source)
    assert p.structure.simple_sets
    ref = solverhub.solve(p, "cvxpy")
    r = solverhub.solve(p, "fista", options={"tolerance": 1e-9, "max_iterations": 5000})
    assert r.status.value == "converged", r.message
    assert r.objective == pytest.approx(ref.objective, rel=1e-7, abs=1e-10)
    x_ref = np.asarray(ref.solution["x"])
    if "norm_ball" in str(source):      # cvxpy's point is 3e-5 off here: the closed form x(l) = (A'A + l I)^-1 A'b
        from scipy.optimize import brentq
        A, b = p.data["A"], p.data["b"]
        x_of = lambda lam: np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)   # noqa: E731
        x_ref = x_of(brentq(lambda lam: np.linalg.norm(x_of(lam)) - 3.0, 0.0, 1e3, xtol=1e-15))
    np.testing.assert_allclose(r.solution["x"], x_ref, atol=1e-6)
    assert r.extras["max_violation"] <= 1e-12            # projected iterates are feasible
    if "norm1" in str(source):
        assert np.abs(r.solution["x"]).sum() == pytest.approx(1.5, rel=1e-9)    # the ball is active


def test_general_constraint_lines_are_refused_with_the_line():
    p = load_problem(CON / "hs021.yaml")
    for name in ("fista", "proxgrad"):
        verdict = solverhub.registry.get_registry().solvers[name].cls().accepts(p)
        assert not verdict and "constraints[0]" in verdict.text and "line 12" in verdict.text


def _sets():
    import torch
    from solverhub.parts.projections import project_ball
    from solverhub.problem.prox import project_l1_ball, project_simplex
    return {
        "simplex": (lambda v: project_simplex(v, 2.0),
                    lambda y: bool(torch.all(y >= -1e-12)) and abs(float(y.sum()) - 2.0) < 1e-9),
        "l1": (lambda v: project_l1_ball(v, 1.5), lambda y: float(y.abs().sum()) <= 1.5 + 1e-9),
        "l2": (lambda v: project_ball(v, 1.5)[0], lambda y: float(torch.linalg.vector_norm(y)) <= 1.5 + 1e-9),
    }


vectors = arrays(np.float64, st.integers(1, 12), elements=st.floats(-10, 10))


@settings(max_examples=60, deadline=None)
@given(u=vectors, seed=st.integers(0, 2**16))
def test_projections_are_idempotent_nonexpansive_and_feasible(u, seed):
    import torch
    v = np.random.default_rng(seed).normal(size=u.size) * 3
    a, b = torch.as_tensor(u), torch.as_tensor(v)
    for name, (P, inside) in _sets().items():
        pa, pb = P(a), P(b)
        assert inside(pa), name
        assert torch.allclose(P(pa), pa, atol=1e-10), name                      # idempotent
        assert float(torch.linalg.vector_norm(pa - pb)) <= float(torch.linalg.vector_norm(a - b)) + 1e-9, name
        # the variational inequality of a projection: <a - P(a), y - P(a)> <= 0 for y in the set
        assert float(torch.dot(a - pa, pb - pa)) <= 1e-8 * (1 + float(torch.linalg.vector_norm(a))), name
