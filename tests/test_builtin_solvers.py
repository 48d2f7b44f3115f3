"""Builtin solvers: known answers and honest stopping."""
import numpy as np
import pytest

import solverhub
from solverhub.testing import TINY_PROBLEMS

RIDGE = """
name: ridge-small
kind: minimize
variables: {x: {shape: [6]}}
data:
  A: {generate: normal, shape: [30, 6], seed: 0}
  b: {generate: normal, shape: [30], seed: 1}
objective: "0.5 * sum_squares(A @ x - b) + 0.05 * sum_squares(x)"
"""


def _closed_form(problem):
    A, b = problem.data["A"], problem.data["b"]
    return np.linalg.solve(A.T @ A + 0.1 * np.eye(6), A.T @ b)


@pytest.mark.parametrize("solver", ["gd", "lbfgs", "adam", "cvxpy"])
def test_reaches_the_closed_form(solver):
    problem = solverhub.load_problem(RIDGE)
    options = {"max_iterations": 20000, "tolerance": 1e-8}
    if solver == "adam":
        options.update(lr=0.05)
    result = solverhub.solve(problem, solver, options=options)
    np.testing.assert_allclose(result.solution["x"], _closed_form(problem), atol=1e-6)


def test_gd_reaches_tight_tolerances_at_the_rounding_floor():
    result = solverhub.solve(solverhub.load_problem(RIDGE), "gd", options={"tolerance": 1e-11, "max_iterations": 5000})
    assert result.status.value == "converged" and result.stationarity.value <= 1e-11


def test_lbfgs_stops_when_torch_makes_no_progress():
    result = solverhub.solve(solverhub.load_problem(RIDGE), "lbfgs", options={"tolerance": 1e-30, "max_iterations": 1000})
    assert result.status.value == "failed" and "no progress" in result.message
    # where torch's L-BFGS stalls depends on the CPU's kernels (1e-9 on one machine, 2.3e-8 on an EPYC):
    # it must stop early and near the optimum, i.e. within 1e-6 of the closed form
    assert result.iterations < 200 and result.stationarity.value < 1e-6
    np.testing.assert_allclose(result.solution["x"], _closed_form(solverhub.load_problem(RIDGE)), atol=1e-6)


def test_adam_with_minibatches_is_seeded():
    problem = solverhub.load_problem(TINY_PROBLEMS["finite_sum"] + "oracle: {stochastic: {batch_size: 2, seed: 0}}\n")
    a = solverhub.solve(problem, "adam", seed=3, options={"max_iterations": 50})
    b = solverhub.solve(problem, "adam", seed=3, options={"max_iterations": 50})
    c = solverhub.solve(problem, "adam", seed=4, options={"max_iterations": 50})
    assert a.solution == b.solution and a.solution != c.solution
    assert a.oracle_calls["stochastic_grad"] == 50 and a.oracle_calls["grad"] == 0


def test_a_solver_can_report_its_own_stationarity_measure():
    from dataclasses import dataclass
    from typing import Any

    import torch

    from solverhub.solver import IterState, Solver

    @dataclass(frozen=True, kw_only=True)
    class State(IterState):
        averaged_grad_norm: Any = None

    class Averaging(Solver):
        name, kinds, stationarity_measure = "averaging", ("minimize",), "averaged_grad_norm"

        def init(self, problem, oracle, x0, options):
            return State(x=x0, averaged_grad_norm=torch.tensor(1.0, dtype=x0.dtype))

        def step(self, state, oracle, options):
            g = oracle.grad(state.x)
            return State(x=state.x - 0.1 * g, averaged_grad_norm=0.5 * state.averaged_grad_norm)

    result = solverhub.solve(solverhub.load_problem(RIDGE), Averaging, options={"max_iterations": 5, "tolerance": 0})
    assert result.stationarity.name == "averaged_grad_norm" and result.stationarity.value == 0.5 ** 5
