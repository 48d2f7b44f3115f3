"""Shared machinery of the operator kinds (``monotone``, ``minimax``): the
operator's stationarity measure, its affine form (for the cvxpy baseline and the
monotonicity check), and the sets section."""
from __future__ import annotations

__all__ = ["OperatorKind", "affine_form"]

import math

import numpy as np

from ..._lazy import lazy_module
from ...errors import Location, ProblemError
from ...reference import Reference
from .base import NoBaseline, ExpressionKind, cvxpy_reference, solve_cvxpy
from .sets import natural_residual

torch = lazy_module("torch")
cp = lazy_module("cvxpy")


def affine_form(problem, tol: float = 1e-9):
    """``(J, q)`` with F(z) = J z + q if the operator is affine (checked at two points), else None."""
    tp = problem.lower_torch("cpu", torch.float64)
    z0 = torch.zeros(problem.dim, dtype=torch.float64)
    z1 = torch.as_tensor(np.random.default_rng(0).normal(size=problem.dim))
    J0 = torch.autograd.functional.jacobian(tp.operator, z0)
    J1 = torch.autograd.functional.jacobian(tp.operator, z1)
    scale = max(1.0, float(J0.abs().max()))
    if float((J0 - J1).abs().max()) > tol * scale:
        return None
    q = tp.operator(z0).detach()
    return J0.numpy(), q.numpy()


class OperatorKind(ExpressionKind):
    """Base of kinds solved through an operator F(z) (``oracle.operator``)."""

    measures = ("operator_residual",)
    default_measure = "operator_residual"
    polishable = False

    def _sets(self, raw_sets, ctx, variables) -> dict:
        sets = {}
        for name, spec in (raw_sets or {}).items():
            if name not in variables:
                raise ProblemError(f"set: unknown variable {name!r}", location=Location(ctx.file, ctx.line_of(("set", name))),
                                   allowed=", ".join(variables))
            size = math.prod(variables[name])
            try:
                spec.check_size(size)
            except ValueError as err:
                raise ProblemError(f"set.{name}.{err}", location=Location(ctx.file, ctx.line_of(("set", name))),
                                   allowed=f"a number, or a list of {size} numbers") from None
            sets[name] = spec
        return sets

    def measure(self, name, tp, oracle, x, known):
        F = oracle.peek_operator(x)
        residual = natural_residual(x, F, tp.project)
        return self.objective_value(tp, x, F, residual), residual

    def objective_value(self, tp, x, F, residual):
        return residual

    def monotonicity(self, problem) -> tuple[bool | None, str]:
        """(True, ...) / (False, why) for an affine operator; (None, ...) when unknown."""
        form = affine_form(problem)
        if form is None:
            return None, "operator is not affine: monotonicity not checked"
        J, _ = form
        sym = 0.5 * (J + J.T)
        smallest = float(np.linalg.eigvalsh(sym).min())
        if smallest < -1e-10 * max(1.0, float(np.abs(J).max())):
            return False, f"the operator is not monotone: its Jacobian's symmetric part has eigenvalue {smallest:.3g} < 0"
        return True, f"affine and monotone (smallest eigenvalue of the symmetric part {smallest:.3g})"

    def lower_cvxpy(self, problem):
        """The affine operator as cvxpy data; raises NoBaseline otherwise."""
        form = affine_form(problem)
        if form is None:
            raise NoBaseline("the operator is not affine (cvxpy baselines cover linear systems and monotone LCPs)")
        sets = problem.sections.sets
        for name, spec in sets.items():
            if spec.ball is not None or spec.upper is not None or spec.lower not in (0, 0.0):
                raise NoBaseline(f"set of {name!r}: only the nonnegative orthant (lower: 0) has a cvxpy baseline (LCP)")
        return form

    def reference_solve(self, problem, solver=None) -> Reference:
        J, q = self.lower_cvxpy(problem)
        sets = problem.sections.sets
        z = cp.Variable(problem.dim)
        F = J @ z + q
        if not sets:
            prob = cp.Problem(cp.Minimize(cp.sum_squares(F)))
            how = "least squares on F(z) = Jz + q"
        else:
            sym = 0.5 * (J + J.T)
            if np.linalg.eigvalsh(sym).min() < -1e-10 * max(1.0, np.abs(J).max()):
                raise NoBaseline("the LCP is not monotone (Jacobian's symmetric part not PSD)")
            nonneg = np.zeros(problem.dim, dtype=bool)
            for v in problem.variables:
                if v.name in sets:
                    nonneg[v.offset:v.offset + v.size] = True
            idx = np.flatnonzero(nonneg)
            free = np.flatnonzero(~nonneg)
            cons = [z[idx] >= 0, F[idx] >= 0] + ([F[free] == 0] if len(free) else [])
            prob = cp.Problem(cp.Minimize(cp.quad_form(z, cp.psd_wrap(sym)) + q @ z), cons)
            how = "monotone LCP as the QP min z'(Jz+q) s.t. z >= 0, Jz+q >= 0"
        seconds, used = solve_cvxpy(prob, solver)
        x = None if z.value is None else np.asarray(z.value, dtype=np.float64)
        return cvxpy_reference(prob.status, x, used, seconds, how)
