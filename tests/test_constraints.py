"""General constraints (issue 15): classification, slsqp / trust-constr / auglag against the
published Hock-Schittkowski optima, multipliers against cvxpy's duals, complementarity,
Result.duals and its JSON round-trip, dispatch and refusals."""
import math
from pathlib import Path

import numpy as np
import pytest

from solverhub.api import load_problem, solve
from solverhub.registry import get_registry
from solverhub.result import Result, Status

ROOT = Path(__file__).resolve().parents[1]
CON = ROOT / "problems" / "constrained"

# Hock & Schittkowski (1981), Test Examples for Nonlinear Programming Codes (LNEMS 187)
PUBLISHED = {"hs021": -99.96, "hs035": 1 / 9, "hs071": 17.0140173, "hs076": -103 / 22}
HS71_PUBLISHED_TOL = 1e-7       # f* is published to 8 digits (17.0140173); scipy's SLSQP gives 17.01401729


def _run(name, solver, **options):
    return solve(CON / f"{name}.yaml", solver, options={"max_iterations": 300, **options}, seed=0)


def _gap(result, name):
    return abs(result.objective - PUBLISHED[name]) / max(1.0, abs(PUBLISHED[name]))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("solver", ["slsqp", "trust-constr", "auglag"])
def test_published_hs_optima(name, solver):
    result = _run(name, solver)
    # every NLP solver ends converged (trust-constr on HS21 used to stop at scipy's gtol 1.3e-6
    # from the active bound x1 >= 2: bounds' complementarity is now scaled as the lines', bound_kkt)
    assert result.status is Status.CONVERGED, result.message
    tol = 1e-6 + (HS71_PUBLISHED_TOL if name == "hs071" else 0.0)
    assert _gap(result, name) <= tol, (result.objective, PUBLISHED[name], result.status, result.message)
    assert result.extras["max_violation"] <= 1e-6      # within the run tolerance (KKT residual includes it)
    assert result.duals is not None and set(result.duals) == {
        c.label for c in load_problem(CON / f"{name}.yaml").structure.constraints}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_slsqp_converges_on_the_kkt_residual(name):
    result = _run(name, "slsqp")
    assert result.status is Status.CONVERGED or (result.status is Status.FAILED and result.stationarity.value < 1e-6)
    assert result.stationarity.name == "kkt_residual" and result.stationarity.value <= 1e-6


def test_hs71_multipliers_agree_between_methods():
    slsqp, trust = _run("hs071", "slsqp"), _run("hs071", "trust-constr")
    for label in slsqp.duals:
        assert np.allclose(slsqp.duals[label], trust.duals[label], atol=1e-6), label
    # the product constraint and the sphere are both active at x*: positive multiplier on the inequality
    assert slsqp.duals["constraints[0]"][0] > 0.1


@pytest.mark.parametrize("name,atol", [("hs035", 1e-5), ("hs076", 1e-5), ("portfolio_simplex_qp", 1e-5)])
@pytest.mark.parametrize("solver", ["trust-constr", "slsqp", "auglag"])
def test_multipliers_equal_cvxpy_duals_on_convex_problems(name, atol, solver):
    ref = solve(CON / f"{name}.yaml", "cvxpy")
    result = solve(CON / f"{name}.yaml", solver, options={"max_iterations": 300})
    assert ref.duals is not None and set(ref.duals) == set(result.duals)
    for label in ref.duals:
        assert np.allclose(result.duals[label], ref.duals[label], atol=atol), (label, result.duals[label],
                                                                               ref.duals[label])


@pytest.mark.parametrize("solver", ["slsqp", "trust-constr", "auglag", "cvxpy"])
def test_complementarity_at_solutions(solver):
    problem = load_problem(CON / "hs076.yaml")
    result = solve(problem, solver, options={"max_iterations": 300} if solver != "cvxpy" else None)
    x = np.asarray(result.solution["x"])
    slack = {"constraints[0]": x[0] + 2 * x[1] + x[2] + x[3] - 5,       # g(x) <= 0 forms of the three lines
             "constraints[1]": 3 * x[0] + x[1] + 2 * x[2] - x[3] - 4,
             "constraints[2]": 1.5 - x[1] - 4 * x[2]}
    for label, g in slack.items():
        (lam,) = result.duals[label]
        assert lam >= -1e-6 and g <= 1e-6          # dual and primal feasible within the run tolerance
        assert abs(lam * g) <= 1e-6, (label, lam, g)
    assert result.duals["constraints[0]"][0] == pytest.approx(5 / 11, abs=1e-5)   # x* = (3/11, 23/11, 0, 6/11)


def test_classification():
    info = {p: load_problem(CON / f"{p}.yaml").structure.constraints
            for p in ("portfolio_simplex_qp", "norm_ball_lsq", "min_norm_equality", "hs071", "hs035")}
    assert [(c.cls, c.detail) for c in info["portfolio_simplex_qp"]] == [
        ("simple_set", "simplex on x (with x >= 0)"), ("bound", "bound on x")]
    assert info["portfolio_simplex_qp"][1].size == 10 and info["portfolio_simplex_qp"][0].line == 19
    assert [(c.cls, c.detail) for c in info["norm_ball_lsq"]] == [("simple_set", "l2 ball on x")]
    assert [(c.cls, c.op, c.size) for c in info["min_norm_equality"]] == [("affine", "==", 5)]
    assert [c.cls for c in info["hs071"]] == ["smooth", "smooth"]
    assert [c.cls for c in info["hs035"]] == ["affine"]
    assert [c.label for c in info["hs071"]] == ["constraints[0]", "constraints[1]"]


def test_classification_of_inline_cases():
    from solverhub.testing import TINY_PROBLEMS
    text = TINY_PROBLEMS["constrained"].replace(
        'constraints: ["sum(x) == 1", "x >= 0"]',
        'constraints: ["sum(x) == 1", "x[0] <= 2", "norm1(x - 1) <= 3", "norm_inf(x) <= 1", "exp(x[0]) <= 3",'
        ' "2 * x[1] - x[2] >= -1"]')
    cls = [(c.cls, c.detail) for c in load_problem(text).structure.constraints]
    assert cls == [("affine", "affine equality"), ("bound", "bound on x"), ("simple_set", "l1 ball on x"),
                   ("simple_set", "linf ball on x"), ("smooth", "general smooth function (Jacobian by autograd)"),
                   ("affine", "affine inequality")]


def test_validate_prints_the_classification():
    from click.testing import CliRunner

    from solverhub.cli import main
    out = CliRunner().invoke(main, ["validate", str(CON / "hs071.yaml")])
    assert out.exit_code == 0, out.output
    lines = [ln for ln in out.output.splitlines() if "constraints[" in ln]
    assert len(lines) == 2
    assert lines[0].strip().endswith("'x[0] * x[1] * x[2] * x[3] >= 25': smooth (general smooth function "
                                     "(Jacobian by autograd), 1 row)")
    text = (CON / "hs071.yaml").read_text().splitlines()
    first = next(i for i, ln in enumerate(text, 1) if ln.startswith("  - ") and ">= 25" in ln)
    assert f"{CON / 'hs071.yaml'}:{first}:" in lines[0] and f":{first + 1}:" in lines[1]


def test_result_duals_round_trip_and_old_json():
    result = solve(CON / "portfolio_simplex_qp.yaml", "cvxpy")
    assert len(result.duals["constraints[1]"]) == 10
    assert Result.from_json(result.to_json()) == result
    old = result.to_dict()
    del old["duals"]
    assert Result.from_dict(old).duals is None
    unconstrained = solve(ROOT / "problems" / "smooth" / sorted(p.name for p in (ROOT / "problems" / "smooth")
                                                                 .glob("*.yaml"))[0], "lbfgs",
                          options={"max_iterations": 5})
    assert unconstrained.duals is None and "max_violation" not in unconstrained.extras


def test_dispatch_prefers_cvxpy_for_convex_and_trust_constr_otherwise():
    registry = get_registry()
    assert registry.dispatch(load_problem(CON / "hs035.yaml"))[0].name == "cvxpy"
    chosen, why = registry.dispatch(load_problem(CON / "hs071.yaml"))      # nonconvex: no DCP form
    assert chosen.name == "trust-constr" and "next: auglag" in why


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "adam", "lbfgsb"])
def test_refusal_reasons_without_constraint_support(solver):
    verdict = get_registry().solvers[solver].cls().accepts(load_problem(CON / "hs071.yaml"))
    assert not verdict and verdict.text
    assert str(verdict.code) in ("no_constraints", "wrong_kind")


def test_nlp_solvers_refuse_problems_without_constraint_functions():
    text = """
name: only-bounds
kind: minimize
variables: {x: {shape: [2], lower: 0}}
objective: "sum_squares(x - 1)"
"""
    for name in ("slsqp", "trust-constr", "auglag"):
        verdict = get_registry().solvers[name].cls().accepts(load_problem(text))
        assert not verdict and verdict.text


@pytest.mark.parametrize("solver", ["slsqp", "trust-constr", "auglag"])
def test_budget_and_iteration_limits_hold(solver):
    capped = _run("hs071", solver, max_oracle_calls=7)
    assert capped.status is Status.BUDGET_EXHAUSTED and capped.total_oracle_calls <= 7
    few = _run("hs071", solver, max_iterations=2)
    assert few.iterations <= 2 and few.status is Status.MAX_ITERATIONS


def test_auglag_makes_no_host_sync_in_its_updates():
    """The multiplier/penalty update is sync-free: all host syncs of a step come from the
    inner torch.optim.LBFGS (bounded by host_syncs_per_step)."""
    from solverhub.registry import get_registry
    from solverhub.testing import _check_step_host_syncs, tiny_problem
    _check_step_host_syncs(get_registry().solvers["auglag"].cls, tiny_problem("constrained"))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_auglag_on_cuda_matches_cpu():
    cpu = _run("hs076", "auglag", max_iterations=50)
    gpu = solve(CON / "hs076.yaml", "auglag", options={"max_iterations": 50}, device="cuda", seed=0)
    assert gpu.device.startswith("cuda") and gpu.status is cpu.status
    assert abs(gpu.objective - cpu.objective) <= 1e-8
    for label in cpu.duals:
        assert np.allclose(gpu.duals[label], cpu.duals[label], atol=1e-6)


def test_trust_constr_starts_at_the_kink_of_a_norm_ball():
    """x0 = 0 is where norm2's Hessian does not exist (double backward gives NaN): the
    constraint curvature is taken as zero there, and the run reaches the ball-constrained
    least-squares optimum (cvxpy's objective) instead of failing on NaN."""
    problem = load_problem(CON / "norm_ball_lsq.yaml")
    result = solve(problem, "trust-constr", baseline=True)
    assert result.status is Status.CONVERGED, result.message
    assert result.objective == pytest.approx(result.baseline_objective, rel=1e-6)


def test_bound_kkt_scales_bounds_as_constraint_lines():
    """The bounds' part of the KKT residual is |g| d / (1 + d) (complementarity of the implied
    bound multiplier), |g| on an open side, 0 for a zero gradient: an interior-point iterate
    1.3e-6 inside the active bound of HS21 (g = 0.04) scores 5e-8, as |λ g| of the same line."""
    import torch
    from solverhub.problem.structure import TorchStructure
    st = TorchStructure(lower=torch.tensor([2.0, -50.0, -math.inf]), upper=torch.tensor([50.0, 50.0, math.inf]))
    x = torch.tensor([2.0 + 1.28e-6, 0.0, 1.0], dtype=torch.float64)
    g = torch.tensor([0.04, 0.0, -3.0], dtype=torch.float64)
    got = st.bound_kkt(x, g)
    assert torch.allclose(got, torch.tensor([0.04 * 1.28e-6 / (1 + 1.28e-6), 0.0, 3.0], dtype=torch.float64),
                          rtol=1e-6, atol=1e-15)
    assert float(st.projected_gradient(x, g)[0]) == pytest.approx(1.28e-6, rel=1e-6)   # what failed before
    assert torch.equal(TorchStructure().bound_kkt(x, g), g)


BOX_EQ_QP = """
name: box_eq_qp
kind: constrained
variables: {x: {shape: [8], lower: 0, upper: 0.3}}
data:
  A: {generate: normal, shape: [12, 8], seed: 3}
  b: {generate: normal, shape: [12], seed: 4}
objective: "0.5 * sum_squares(A @ x - b)"
constraints:
  - {expr: "sum(x) == 1", name: budget}
"""


def test_auglag_inner_solvers_agree_on_a_bound_and_equality_qp():
    """The default inner solver with bounds is L-BFGS-B (bounds kept exactly); torch L-BFGS with the
    bounds as PHR rows reaches the same point; both match cvxpy's point and its equality dual."""
    p = load_problem(BOX_EQ_QP)
    ref = solve(p, "cvxpy")
    default = solve(p, "auglag", options={"max_iterations": 100})
    torch_inner = solve(p, "auglag", options={"max_iterations": 100, "inner": "lbfgs"})
    for r in (default, torch_inner):
        assert r.status is Status.CONVERGED, r.message
        assert r.objective == pytest.approx(ref.objective, rel=1e-6)
        np.testing.assert_allclose(r.solution["x"], ref.solution["x"], atol=1e-5)
        np.testing.assert_allclose(r.duals["budget"], ref.duals["budget"], atol=1e-5)
    x = np.asarray(default.solution["x"])
    assert x.min() >= 0 and x.max() <= 0.3 and (x == 0.3).any()      # L-BFGS-B iterates stay in the box
