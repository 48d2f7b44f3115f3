"""The cvxpy baseline: statuses, certificates, polishing, KKT residuals, declared optima."""
import numpy as np
import pytest

from solverhub.baseline import ReferenceStatus, compute_baseline
from solverhub.problem.model import load_problem

from texts import LOGREG


def test_inaccurate_baseline_is_polished_and_certified():
    problem = load_problem(LOGREG)
    raw = compute_baseline(problem, polish=False)
    assert raw.solver == "SCS" and raw.certificate.name == "grad_norm"
    assert raw.certificate.value > 1e-7          # SCS alone is not that accurate
    polished = compute_baseline(problem)
    assert polished.polished and polished.certificate.value <= 1e-8
    assert polished.objective <= raw.objective


def test_constrained_baseline_kkt_residual_and_feasibility():
    problem = load_problem("""
name: simplex-qp
kind: constrained
variables: {x: {shape: [5]}}
data:
  Q: {generate: normal, shape: [5, 5], seed: 3}
  c: [1.0, -2.0, 0.5, 0.0, 1.5]
objective: "0.5 * sum_squares(Q @ x) + c @ x"
constraints: ["sum(x) == 1", "x >= 0", "norm2(x) <= 0.9"]
""")
    base = compute_baseline(problem)
    assert base.status is ReferenceStatus.CERTIFIED and base.backend_status == "optimal" and base.certificate.name == "kkt_residual"
    assert base.certificate.value < 1e-6
    x = base.x
    assert abs(x.sum() - 1) < 1e-7 and x.min() > -1e-8 and np.linalg.norm(x) <= 0.9 + 1e-7
    # a wrong sign convention for the multipliers would blow the residual up
    from solverhub.problem.kinds.constrained import kkt_residual
    import torch
    tp = problem.lower_torch("cpu", torch.float64)
    xt = torch.as_tensor(x)
    grad = torch.autograd.functional.jacobian(lambda z: tp.objective(z), xt)
    flipped = [-np.asarray(d) for d in base.duals]
    assert float(kkt_residual(tp, xt, grad, flipped)) > 1e-3


def test_declared_optimum_is_used_for_non_dcp_problems():
    problem = load_problem("""
name: rosen
kind: minimize
variables: {x: {shape: [2]}}
objective: "100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2"
baseline: {objective: 0.0}
""")
    base = compute_baseline(problem)
    assert base.status is ReferenceStatus.DECLARED and base.objective == 0.0


def test_infeasible_problem_is_reported():
    problem = load_problem("""
name: infeasible
kind: constrained
variables: {x: {shape: [2]}}
objective: "sum_squares(x)"
constraints: ["sum(x) >= 3", "norm2(x) <= 1"]
""")
    assert compute_baseline(problem).status == "infeasible"
    import solverhub
    assert solverhub.solve(problem, "cvxpy").status.value == "infeasible"
