"""The one answer type (``Reference``): how the baseline grades cvxpy's answer, how a direct
solve maps to a run status, and how the typed structure of a problem is lowered."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from solverhub import Reference, ReferenceStatus, Status
from solverhub.baseline import compute_baseline
from solverhub.oracle import Known, Oracle
from solverhub.problem.model import load_problem
from solverhub.problem.structure import Bounds, TorchStructure
from solverhub.solver import IterState, Solver, run_loop
from solverhub.options import RunOptions

from texts import LOGREG, RIDGE


QP = """
name: qp-structure
kind: constrained
variables: {x: {shape: [3]}}
objective: "sum_squares(x)"
constraints: ["sum(x) == 1", "x >= 0", "x[0] <= 0.2"]
"""


def test_a_reference_needs_a_typed_status():
    with pytest.raises(TypeError, match="ReferenceStatus"):
        Reference("optimal", "cvxpy")


@pytest.mark.parametrize("status,answer,run", [
    (ReferenceStatus.CERTIFIED, True, Status.CONVERGED), (ReferenceStatus.INACCURATE, True, Status.CONVERGED),
    (ReferenceStatus.LOCAL, True, Status.CONVERGED), (ReferenceStatus.DECLARED, True, Status.CONVERGED),
    (ReferenceStatus.INFEASIBLE, False, Status.INFEASIBLE), (ReferenceStatus.UNBOUNDED, False, Status.UNBOUNDED),
    (ReferenceStatus.FAILED, False, Status.FAILED)])
def test_statuses_say_whether_there_is_an_answer_and_map_to_run_statuses(status, answer, run):
    assert status.has_answer is answer and status.run_status is run


def test_cvxpy_optimum_within_tolerance_is_certified():
    ref = compute_baseline(load_problem(RIDGE), solver="CLARABEL")     # cvxpy, not the closed form
    assert ref.status is ReferenceStatus.CERTIFIED and ref.backend_status == "optimal" and ref.solver == "CLARABEL"
    assert ref.certificate.value <= load_problem(RIDGE).baseline.tolerance
    assert ref.to_dict()["status"] == "certified" and len(ref.to_dict()["solution"]) == ref.x.size


def test_an_answer_over_the_certificate_tolerance_is_inaccurate_until_polished():
    problem = load_problem(LOGREG)
    raw = compute_baseline(problem, polish=False)
    assert raw.certificate.value > problem.baseline.tolerance
    assert raw.status is ReferenceStatus.INACCURATE and "above baseline.tolerance" in raw.message
    polished = compute_baseline(problem)
    assert polished.polished and polished.status is ReferenceStatus.CERTIFIED


def test_declared_optimum_is_declared():
    problem = load_problem(RIDGE + "baseline: {objective: 1.5}\n")
    ref = compute_baseline(problem)
    assert ref.status is ReferenceStatus.DECLARED and ref.objective == 1.5 and ref.x is None
    assert compute_baseline(problem, use_declared=False).status is ReferenceStatus.CERTIFIED


def test_constraint_functions_are_typed_and_match_the_constraints():
    problem = load_problem(QP)
    assert (problem.structure.n_equalities, problem.structure.n_inequalities) == (1, 2)
    tp = problem.lower_torch("cpu")
    x = torch.tensor([0.5, 0.7, -0.1], dtype=torch.float64)
    h = tp.structure.equalities(x)
    g = tp.structure.inequalities(x)
    np.testing.assert_allclose(h.numpy(), [0.5 + 0.7 - 0.1 - 1.0], atol=1e-15)
    # x >= 0 in violation form -x <= 0, then x[0] - 0.2 <= 0
    np.testing.assert_allclose(np.sort(g.numpy()), np.sort([-0.5, -0.7, 0.1, 0.5 - 0.2]), atol=1e-15)
    jac = torch.autograd.functional.jacobian(tp.structure.equalities, x)
    np.testing.assert_allclose(jac.numpy(), np.ones((1, 3)), atol=1e-15)


def test_unconstrained_problems_have_no_constraint_functions_and_bounds_project():
    tp = load_problem(RIDGE).lower_torch("cpu")
    assert tp.structure.equalities is None and tp.structure.inequalities is None and not tp.structure.bounded
    box = TorchStructure(lower=torch.tensor([0.0, -1.0]), upper=torch.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(box.project_bounds(torch.tensor([2.0, -3.0])).numpy(), [1.0, -1.0])
    with pytest.raises(ValueError, match="lower > upper"):
        Bounds(lower=np.array([1.0]), upper=np.array([0.0]))


class _Averaging(Solver):
    """Gradient steps that log their own measure (the distance moved): the run loop must hand it
    to the kind's measure through ``Known.logged``, never through the state's attributes."""

    name = "averaging-test"
    kinds = ("minimize",)
    stationarity_measure = "moved"

    def init(self, problem, oracle, x0, options):
        return IterState(x=x0)

    def step(self, state, oracle, options):
        x = state.x - 0.1 * oracle.grad(state.x)
        return IterState(x=x)

    def log(self, state):
        return {"moved": torch.linalg.vector_norm(state.x) * 0 + 0.25}


def test_solver_named_measures_come_from_log_not_from_state():
    problem = load_problem(RIDGE)
    tp = problem.lower_torch("cpu")
    oracle = Oracle.for_problem(tp, problem)
    seen = []

    def measure(x, known):
        seen.append(known)
        return problem.kind.measure("moved", tp, oracle, x, known)
    out = run_loop(_Averaging(), problem, oracle, tp.x0.clone(), None, RunOptions(max_iterations=3, tolerance=0),
                   measure)
    assert all(isinstance(k, Known) for k in seen) and out.final_stationarity == pytest.approx(0.25, abs=1e-15)
    assert not math.isnan(out.final_objective)
    with pytest.raises(KeyError, match="Solver.log"):
        problem.kind.measure("moved", tp, oracle, tp.x0, Known())


HS71_F_STAR = 17.0140173      # Hock & Schittkowski (1981), problem 71


@pytest.mark.parametrize("solver", ["trust-constr", "slsqp"])
def test_a_named_nlp_solver_gives_a_local_reference_never_certified(solver):
    """``baseline: {solver: trust-constr}`` on the nonconvex HS 71: the reference is the NLP
    solver's point, labelled LOCAL, certified by the KKT residual, at the published optimum."""
    text = (Path(__file__).parents[1] / "problems/constrained/hs071.yaml").read_text()
    ref = compute_baseline(load_problem(text + f"baseline: {{solver: {solver}, tolerance: 1.0e-7}}\n"))
    assert ref.status is ReferenceStatus.LOCAL and ref.solver == solver
    assert ref.objective == pytest.approx(HS71_F_STAR, abs=1e-6)
    assert ref.certificate.name == "kkt_residual" and ref.certificate.value <= 1e-6
    assert len(ref.duals) == 2


def test_an_unknown_baseline_solver_lists_the_local_ones(tmp_path, run_cli):
    path = tmp_path / "p.yaml"
    path.write_text(RIDGE + "baseline: {solver: ipopt}\n")
    out = run_cli("baseline", path)
    assert out.exit_code == 2 and "trust-constr" in out.stderr and "slsqp" in out.stderr
