"""The epigraph form for ``kind: constrained`` (issue 15): a nonsmooth objective term without a
prox beside constraint lines goes to slsqp / trust-constr / auglag in epigraph form, reported on
the original variables and objective, against cvxpy; cvxpy's point is certified by the epigraph
KKT residual with its line duals (least-squares multipliers for the epigraph rows); ``-c * min(e)``
reformulates as ``c * max(-e)``."""
import numpy as np
import pytest

import solverhub
from solverhub.api import load_problem
from solverhub.baseline import compute_baseline
from solverhub.reference import ReferenceStatus

LINF_SIMPLEX = """
name: linf-plane
kind: constrained
variables: {x: {shape: [4]}}
data:
  A: [[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 3.0, 0.0], [2.0, 0.0, 1.0, 1.0], [0.0, 1.0, -1.0, 2.0], [1.0, 1.0, 1.0, 1.0]]
  b: [1.0, -2.0, 0.5, 3.0, 1.0]
objective: "norm_inf(A @ x - b) + 0.1 * sum_squares(x)"
constraints: ["sum(x) == 1", "x[0] >= 0.1"]
"""

MAXMIN = """
name: max-min
kind: constrained
variables: {x: {shape: [4]}, y: {shape: [3]}}
objective: "max(x) - min(y)"
constraints: ["sum(x) == 1", "sum(y) == 1"]
"""


@pytest.fixture(scope="module")
def linf():
    p = load_problem(LINF_SIMPLEX)
    return p, solverhub.solve(p, "cvxpy")


def test_the_constrained_kind_gets_the_epigraph_form(linf):
    p, _ = linf
    epi = p.structure.epigraph
    assert epi is not None and p.structure.unsplit == ("norm_inf",) and p.structure.nonsmooth == ()
    assert [t.text for t in epi.terms] == ["norm_inf(A @ x - b)"] and epi.n_aux == 1
    assert p.default_measure == "kkt_residual"
    for name in ("lbfgs", "gd", "fista"):       # smooth and prox methods refuse the unsplit term
        assert not solverhub.registry.get_registry().solvers[name].cls().accepts(p), name


def test_cvxpy_reference_is_certified_by_the_epigraph_kkt(linf):
    p, _ = linf
    ref = compute_baseline(p)
    assert ref.status is ReferenceStatus.CERTIFIED and ref.certificate.name == "kkt_residual"
    assert ref.certificate.value <= 1e-8


@pytest.mark.parametrize("solver", ["slsqp", "trust-constr", "auglag"])
def test_nlp_solvers_reach_cvxpy_in_epigraph_form(linf, solver):
    p, ref = linf
    r = solverhub.solve(p, solver, options={"tolerance": 1e-8, "max_iterations": 300})
    assert r.status.value == "converged", r.message
    assert set(r.solution) == {"x"}                          # the original variables only
    assert r.objective == pytest.approx(ref.objective, rel=1e-6)
    np.testing.assert_allclose(r.solution["x"], ref.solution["x"], atol=1e-5)
    x = np.asarray(r.solution["x"])                          # the reported objective is the original f
    f = np.abs(p.data["A"] @ x - p.data["b"]).max() + 0.1 * x @ x
    assert r.objective == pytest.approx(f, rel=1e-9)
    # one multiplier per line, then the epigraph term's rows
    assert set(r.duals) == {"constraints[0]", "constraints[1]"}
    assert r.duals["constraints[0]"][0] == pytest.approx(ref.duals["constraints[0]"][0], abs=1e-4)


def test_minus_min_is_a_max_and_slsqp_solves_the_max_min_problem():
    p = load_problem(MAXMIN)
    assert [t.reduce for t in p.structure.epigraph.terms] == ["max", "max"]
    r = solverhub.solve(p, "slsqp", options={"tolerance": 1e-9})
    assert r.status.value == "converged", r.message
    np.testing.assert_allclose(r.solution["x"], np.full(4, 0.25), atol=1e-7)
    np.testing.assert_allclose(r.solution["y"], np.full(3, 1 / 3), atol=1e-7)
    assert r.objective == pytest.approx(0.25 - 1 / 3, rel=1e-8)
