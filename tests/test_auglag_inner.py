"""auglag's inner solver is any registered solver accepting the inner problem min L_ρ (issue 15):
fista keeps an l1 term as a prox term and reaches cvxpy's optimum, auto picks it, a bounded
problem keeps its bounds in a registered inner solver, the inner calls count against the run's
budget, and an inner solver that is not registered or refuses the inner problem is a one-line
option error naming the choices (exit 2)."""
import numpy as np
import pytest

import solverhub
from solverhub.api import load_problem
from solverhub.errors import OptionError

L1_BUDGET = """
name: l1-budget
kind: constrained
variables: {x: {shape: [6]}}
data:
  A: {generate: normal, shape: [12, 6], seed: 0}
  b: {generate: normal, shape: [12], seed: 1}
objective: "0.5 * sum_squares(A @ x - b) + 0.5 * norm1(x)"
constraints: ["sum(x) == 1"]
"""

BOX_BUDGET = """
name: box-budget
kind: constrained
variables: {x: {shape: [5], lower: 0, upper: 0.4}}
data:
  A: {generate: normal, shape: [10, 5], seed: 2}
  b: {generate: normal, shape: [10], seed: 3}
objective: "sum_squares(A @ x - b)"
constraints: ["sum(x) == 1"]
"""


@pytest.fixture(scope="module")
def l1():
    p = load_problem(L1_BUDGET)
    return p, solverhub.solve(p, "cvxpy")


@pytest.mark.parametrize("inner", ["fista", "auto"])
def test_fista_inner_reaches_cvxpy_on_an_l1_term_with_an_equality(l1, inner):
    p, ref = l1
    r = solverhub.solve(p, "auglag", options={"inner": inner, "tolerance": 1e-8})
    assert r.status.value == "converged", r.message
    assert r.extras["inner_solver"] == "fista"          # auto: the prox method for the inner composite problem
    # cvxpy's optimum f* = 3.42: to 1e-7 relative, the point to 1e-6, the budget line to 1e-8
    assert r.objective == pytest.approx(ref.objective, rel=1e-7)
    np.testing.assert_allclose(r.solution["x"], ref.solution["x"], atol=1e-6)
    assert abs(sum(r.solution["x"]) - 1) <= 1e-8
    assert r.duals["constraints[0]"][0] == pytest.approx(ref.duals["constraints[0]"][0], abs=1e-5)
    # the inner solver evaluates the smooth part (the l1 term is its prox), counted on the run's oracle
    assert r.oracle_calls["grad_smooth"] > 0 and r.oracle_calls["grad"] == 0


def test_a_registered_inner_solver_keeps_the_bounds():
    p = load_problem(BOX_BUDGET)
    ref = solverhub.solve(p, "cvxpy")
    r = solverhub.solve(p, "auglag", options={"inner": "proxgrad", "tolerance": 1e-8})
    assert r.status.value == "converged" and r.extras["inner_solver"] == "proxgrad", r.message
    x = np.asarray(r.solution["x"])
    assert x.min() >= 0 and x.max() <= 0.4          # projected by the inner solver: never outside
    assert r.objective == pytest.approx(ref.objective, rel=1e-7)
    assert solverhub.solve(p, "auglag").extras["inner_solver"] == "lbfgsb"     # auto with bounds only


def test_inner_calls_count_against_the_budget(l1):
    p, _ = l1
    r = solverhub.solve(p, "auglag", options={"inner": "fista", "max_oracle_calls": 150})
    assert r.status.value == "budget_exhausted" and sum(r.oracle_calls.values()) <= 150


@pytest.mark.parametrize("inner, why", [("nope", "is not a registered solver"),
                                        ("slsqp", "refuses the inner problem")])
def test_an_invalid_inner_solver_is_an_option_error_with_the_choices(l1, inner, why):
    p, _ = l1
    with pytest.raises(OptionError) as err:
        solverhub.solve(p, "auglag", options={"inner": inner})
    text = str(err.value)
    assert why in text and "allowed: auto, " in text and "fista" in text and "lbfgsb" in text
    assert "slsqp" not in text.split("allowed:")[1]


def test_an_invalid_inner_solver_exits_2_in_one_line(write_problem, run_cli):
    path = write_problem(L1_BUDGET)
    r = run_cli("solve", path, "--solver", "auglag", "--option", "inner=nope")
    assert r.exit_code == 2 and "Traceback" not in r.stdout + r.stderr
    lines = r.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and "option inner: 'nope'" in lines[0] and "allowed: auto, " in lines[0], r.stderr
