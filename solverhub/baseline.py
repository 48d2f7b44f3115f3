"""The cvxpy baseline: solve a problem's convex form, then certify the answer
with the torch oracle (gradient norm or KKT residual). An unconstrained baseline
that cvxpy reports ``optimal_inaccurate``, or whose certificate is above
``baseline.tolerance``, is polished by L-BFGS from cvxpy's point; the polished
point is kept only if both its objective and its certificate are no worse.

cvxpy is imported only here, and only when a baseline is asked for.
"""
from __future__ import annotations

__all__ = ["Baseline", "compute_baseline", "NoBaseline"]

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._lazy import lazy_module
from .errors import OptionError
from .problem.kinds.base import NoBaseline
from .result import Stationarity

cp = lazy_module("cvxpy")
torch = lazy_module("torch")


@dataclass(frozen=True)
class Baseline:
    problem: str
    status: str                       # cvxpy's status, or "declared" for a known optimum
    objective: float
    solver: str
    solve_time_s: float = 0.0
    x: Any = None                     # flat numpy vector, or None for a declared optimum
    duals: Any = None
    certificate: Stationarity | None = None
    polished: bool = False
    message: str = ""

    def to_dict(self) -> dict:
        return {"problem": self.problem, "status": self.status, "objective": self.objective, "solver": self.solver,
                "solve_time_s": self.solve_time_s, "polished": self.polished, "message": self.message,
                "certificate": None if self.certificate is None else
                {"name": self.certificate.name, "value": self.certificate.value},
                "solution": None if self.x is None else self.x.tolist()}


def _certify(problem, x, duals):
    """(objective, Stationarity) at x with the exact torch oracle on CPU float64."""
    from .oracle import Oracle

    tp = problem.lower_torch("cpu", torch.float64)
    oracle = Oracle.for_problem(tp, problem)
    xt = torch.as_tensor(x, dtype=torch.float64)
    state = type("S", (), {"value": None, "grad": None, "duals": duals})()
    name = problem.kind.default_measure
    value, stat = problem.kind.measure(name, tp, oracle, xt, state)
    return float(value), Stationarity(name, float(stat)), tp, oracle


def _polish(problem, x, tp, oracle, iterations: int = 100):
    """A few L-BFGS iterations from cvxpy's point (unconstrained kinds only)."""
    param = torch.as_tensor(x, dtype=torch.float64).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([param], max_iter=iterations, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-13, tolerance_change=0.0)

    def closure():
        value, grad = oracle.peek_value_and_grad(param.detach())
        param.grad = grad
        return value
    opt.step(closure)
    return param.detach().numpy()


def compute_baseline(problem, *, solver: str | None = None, polish: bool = True,
                     use_declared: bool = True) -> Baseline:
    """Solve ``problem`` with cvxpy (or return its declared optimum).

    Raises :class:`NoBaseline` with the reason when the problem is not convex in
    cvxpy's rules and declares no optimum.
    """
    spec = problem.baseline
    if use_declared and spec.objective is not None:
        return Baseline(problem.name, "declared", float(spec.objective), "declared in the problem file",
                        message="known optimal value from the problem file's baseline.objective")
    solver = solver or spec.solver
    if solver is not None and solver.upper() not in cp.installed_solvers():
        raise OptionError(f"cvxpy solver {solver!r} is not installed", allowed=cp.installed_solvers())
    sol = problem.kind.cvxpy_solve(problem, solver)
    status, used, elapsed, x, duals = sol.status, sol.solver, sol.solve_time_s, sol.x, sol.duals
    if status in ("infeasible", "unbounded", "infeasible_inaccurate", "unbounded_inaccurate"):
        return Baseline(problem.name, status, float("nan"), used, elapsed, message=f"cvxpy reports {status}")
    if x is None:
        return Baseline(problem.name, status, float("nan"), used, elapsed, message=f"cvxpy returned no point ({status})")
    objective, cert, tp, oracle = _certify(problem, x, duals)
    polished = False
    message = f"{status} by {used}; certified {cert.name} = {cert.value:.3g}"
    if sol.message:
        message += f" ({sol.message})"
    needs_polish = status == "optimal_inaccurate" or cert.value > spec.tolerance
    if polish and needs_polish and problem.kind.polishable and not problem.has_constraints:
        x_new = _polish(problem, x, tp, oracle)
        obj_new, cert_new, _, _ = _certify(problem, x_new, None)
        if np.isfinite(obj_new) and obj_new <= objective + 1e-12 * max(1.0, abs(objective)) \
                and cert_new.value <= cert.value:
            x, objective, cert, polished = x_new, obj_new, cert_new, True
            message = f"{status} by {used}; polished by L-BFGS to {cert.name} = {cert.value:.3g}"
    return Baseline(problem.name, status, objective, used, elapsed, x=x, duals=duals, certificate=cert,
                    polished=polished, message=message)
