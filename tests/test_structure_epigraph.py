"""Epigraph form of nonsmooth terms without a prox (issue 15, solverhub/problem/epigraph.py):
the forms it takes and refuses, its torch side against the objective, the Chebyshev fit
reaching cvxpy's optimum with slsqp / trust-constr / auglag, the nonconvex exponential fit,
refusals of smooth methods, dispatch, and the epigraph KKT residual."""
from pathlib import Path

import numpy as np
import pytest

import solverhub
from solverhub.api import load_problem
from solverhub.errors import SolverRefused
from solverhub.registry import get_registry

ROOT = Path(__file__).resolve().parents[1]
CHEB = ROOT / "problems" / "composite" / "chebyshev_fit.yaml"
EXPFIT = ROOT / "problems" / "composite" / "exp_minimax_fit.yaml"

TEMPLATE = """
name: epi
kind: minimize
variables: {{x: {{shape: [4]}}}}
data:
  A: [[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 3.0, 0.0], [2.0, 0.0, 1.0, 1.0], [0.0, 1.0, -1.0, 2.0], [1.0, 1.0, 1.0, 1.0]]
  b: [1.0, -2.0, 0.5, 3.0, 1.0]
objective: "{objective}"
"""


def load(objective):
    return load_problem(TEMPLATE.format(objective=objective))


@pytest.mark.parametrize("objective, reduce, n_pieces, n_aux", [
    ("max(abs(A @ x - b))", "max", 2, 1),
    ("2 * norm1(A @ x - b) + sum_squares(x)", "sum", 2, 5),
    ("norm_inf(A @ x - b) / 3", "max", 2, 1),
    ("sum(pos(A @ x - b)) + 0.1 * sum_squares(x)", "sum", 2, 5),
    ("mean(maximum(A @ x - b, 0.5 - A @ x)) + sum_squares(x)", "sum", 2, 5),
    ("abs(x[0] - 1) + sum_squares(x)", "sum", 2, 1),
])
def test_forms_that_reformulate_and_their_torch_value(objective, reduce, n_pieces, n_aux):
    import torch
    p = load(objective)
    epi = p.structure.epigraph
    assert epi is not None and p.structure.nonsmooth == () and p.default_measure == "kkt_residual"
    (term,) = epi.terms
    assert (term.reduce, len(term.pieces), epi.n_aux) == (reduce, n_pieces, n_aux)
    tp = p.lower_torch()
    x = torch.as_tensor(np.random.default_rng(0).normal(size=4))
    te = tp.structure.epigraph
    t = te.tight(x)
    # smooth rest + w · t(x) is the objective; the tight t is feasible with an active row per auxiliary
    assert float(tp.smooth(x) + te.value(x)) == pytest.approx(float(tp.objective(x)), rel=1e-12)
    rows = te.rows(x, t)
    assert float(rows.max()) == pytest.approx(0.0, abs=1e-12) and rows.numel() == sum(te.row_counts)
    assert float(te.rows(x, t - 1e-3).max()) > 0


@pytest.mark.parametrize("objective, why", [
    ("sum_squares(x) - norm1(A @ x)", "weight <= 0"),
    ("norm2(A @ x - b)", "norm2"),
    ("sum_squares(x) * norm1(A @ x)", "norm1"),
])
def test_forms_without_an_epigraph_are_refused_with_the_reason(objective, why):
    p = load(objective)
    assert p.structure.epigraph is None and why in p.structure.no_epigraph
    verdict = get_registry().solvers["slsqp"].cls().accepts(p)
    assert not verdict and why in verdict.text


def test_smooth_methods_refuse_with_the_term_and_line():
    p = load_problem(CHEB)
    for name in ("lbfgs", "gd", "adam", "bfgs-wolfe", "lbfgsb", "fista"):
        verdict = get_registry().solvers[name].cls().accepts(p)
        assert not verdict and verdict.code.value == "structure", name
        assert "max(abs(V @ c - y)), line 16" in verdict.text and "auglag/slsqp/trust-constr" in verdict.text
    with pytest.raises(SolverRefused):
        solverhub.solve(p, "lbfgs")
    for name in ("slsqp", "trust-constr", "auglag", "cvxpy", "o2nc"):
        assert get_registry().solvers[name].cls().accepts(p), name


def test_dispatch_picks_a_solver_that_reaches_the_optimum():
    registry = get_registry()
    assert registry.dispatch(load_problem(CHEB))[0].name == "cvxpy"            # DCP: the convex solver
    assert registry.dispatch(load_problem(EXPFIT))[0].name == "trust-constr"   # not DCP: epigraph NLP
    r = solverhub.solve(CHEB)
    assert r.status.value == "converged" and r.stationarity.name == "kkt_residual"


@pytest.fixture(scope="module")
def cheb_cvxpy():
    return solverhub.solve(CHEB, "cvxpy")


def test_chebyshev_fit_slsqp_reaches_cvxpy(cheb_cvxpy):
    r = solverhub.solve(CHEB, "slsqp", options={"tolerance": 1e-10})
    assert r.status.value == "converged", r.message
    assert r.objective == pytest.approx(cheb_cvxpy.objective, rel=1e-6)      # f* = 4.47e-5
    np.testing.assert_allclose(r.solution["c"], cheb_cvxpy.solution["c"], atol=1e-5)
    assert set(r.solution) == {"c"} and r.oracle_calls["grad_smooth"] > 0 and r.oracle_calls["grad"] == 0
    # the reported objective is the original f at the original variables
    p = load_problem(CHEB)
    c = np.asarray(r.solution["c"])
    assert r.objective == pytest.approx(np.abs(p.data["V"] @ c - p.data["y"]).max(), rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("solver, options, rel", [
    ("trust-constr", {"tolerance": 1e-9}, 1e-6),
    # PHR on an LP: the objective is reached to 1e-4 relative (4.5e-9 absolute) in 25 outer
    # iterations with gamma = 100, its own multipliers' KKT residual stalls near 1e-4 (docs/methods/auglag.md)
    ("auglag", {"tolerance": 1e-10, "max_iterations": 25, "gamma": 100.0}, 1e-4),
])
def test_chebyshev_fit_trust_constr_and_auglag_reach_cvxpy(cheb_cvxpy, solver, options, rel):
    r = solverhub.solve(CHEB, solver, options=options)
    assert not r.status.is_failure, r.message
    assert r.objective == pytest.approx(cheb_cvxpy.objective, rel=rel)


@pytest.mark.parametrize("solver", ["slsqp", "trust-constr", "auglag"])
def test_nonconvex_exponential_fit_against_scipy_slsqp(solver):
    from scipy.optimize import minimize
    p = load_problem(EXPFIT)
    t, y = p.data["t"], p.data["y"]
    # the same epigraph NLP over (a, b, s) in scipy directly
    cons = [{"type": "ineq", "fun": lambda z: z[2] - (z[0] * np.exp(z[1] * t) - y)},
            {"type": "ineq", "fun": lambda z: z[2] + (z[0] * np.exp(z[1] * t) - y)}]
    ref = minimize(lambda z: z[2], np.r_[1.0, 0.0, 2.0], constraints=cons, method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 500})
    assert ref.success
    r = solverhub.solve(p, solver, options={"max_iterations": 300})
    assert r.status.value == "converged", r.message
    assert r.objective == pytest.approx(ref.fun, rel=2e-4)
    np.testing.assert_allclose(r.solution["p"], ref.x[:2], atol=1e-4)
    err = r.solution["p"][0] * np.exp(r.solution["p"][1] * t) - y
    assert np.sum(np.abs(np.abs(err) - r.objective) < 1e-4 * r.objective) >= 3    # equioscillation at n + 1 points


def test_epigraph_kkt_is_zero_at_the_optimum_and_not_elsewhere(cheb_cvxpy):
    import torch
    from solverhub.oracle import Known
    p = load_problem(CHEB)
    tp = p.lower_torch()
    oracle = solverhub.oracle.Oracle.for_problem(tp, p)
    x = torch.as_tensor(np.asarray(cheb_cvxpy.solution["c"], dtype=np.float64))
    _, at_opt = p.kind.measure("kkt_residual", tp, oracle, x, Known())
    _, off = p.kind.measure("kkt_residual", tp, oracle, x + 1e-3, Known())
    assert float(at_opt) < 1e-8 and float(off) > 1e-3


def test_a_term_no_solver_can_take_is_bad_input_at_its_line(tmp_path, monkeypatch):
    from solverhub.errors import ProblemError
    path = tmp_path / "bad.yaml"
    path.write_text(TEMPLATE.format(objective="sum_squares(x) * norm1(A @ x)"))
    p = load_problem(path)
    registry = get_registry()
    everyone = type(registry).accepting
    nonsmooth_methods = ("o2nc", "odog", "oqn-o2nc")     # the Goldstein methods take any nonsmooth f
    monkeypatch.setattr(type(registry), "accepting",
                        lambda self, problem: [(n, v) for n, v in everyone(self, problem) if n not in nonsmooth_methods])
    with pytest.raises(ProblemError) as err:
        registry.dispatch(p)
    line = str(err.value).splitlines()[0]
    assert line.startswith(f"{path}:8: ") and "has no prox and cannot be reformulated" in line and "allowed:" in line
