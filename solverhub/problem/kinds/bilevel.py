"""``kind: bilevel`` -- simple bilevel: minimize f (``upper``) over the minimizers
of g (``lower``), same variables.

Stationarity (solver-independent, after the DBGD note, arXiv 2507.23155):
eps_g = ‖∇g(x)‖ and eps_f = min_{λ≥0} ‖∇f(x) + λ∇g(x)‖ (the closest the upper
gradient comes to being balanced by the lower one). Reported: max(eps_f, eps_g)
as ``bilevel_eps``, and the pair in ``extras``. Baseline: cvxpy two-stage,
g* = min g, then min f s.t. g(x) <= g* + tol (tol reported).
"""
from __future__ import annotations

import time

import numpy as np

from ..._lazy import lazy_module
from ...reference import Reference, ReferenceStatus
from ..records import Field, PlainModel, nested, str_or_number
from .base import (CompiledSections, ExpressionContext, NoBaseline, ExpressionKind, TorchEvaluator, TorchProblem,
                   _solver_measure, cvxpy_reference)

torch = lazy_module("torch")
cp = lazy_module("cvxpy")


class Level(PlainModel):
    objective = Field(str_or_number)


class BilevelSections(PlainModel):
    """``upper: {objective}`` and ``lower: {objective}``; plain records, so that ``validate``
    imports no pydantic (``solverhub.problem.records``)."""

    upper = Field(nested(Level))
    lower = Field(nested(Level))


def bilevel_eps(grad_f, grad_g):
    """(eps_f, eps_g) from the two gradients (0-d tensors, no host sync)."""
    gg = torch.dot(grad_g, grad_g)
    lam = torch.where(gg > 0, torch.clamp(-torch.dot(grad_f, grad_g) / torch.where(gg > 0, gg, 1.0), min=0.0), 0.0)
    return torch.linalg.vector_norm(grad_f + lam * grad_g), torch.sqrt(gg)


class Bilevel(ExpressionKind):
    name = "bilevel"
    description = "simple bilevel: minimize an upper objective over the minimizers of a lower one"
    Sections = BilevelSections
    default_measure = "bilevel_eps"
    measures = ("bilevel_eps", "eps_f", "eps_g")
    polishable = False

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        upper = ctx.parse(sections.upper.objective, ("upper", "objective"))
        self._check_scalar(upper, ctx, ("upper", "objective"))
        lower = ctx.parse(sections.lower.objective, ("lower", "objective"))
        self._check_scalar(lower, ctx, ("lower", "objective"))
        return CompiledSections(objective=upper, functions={"lower": lower})

    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        ev = TorchEvaluator(problem, device, dtype)
        x0 = torch.as_tensor(problem.x0, dtype=dtype, device=device).clone()
        return TorchProblem(ev.scalar(problem.sections.objective), (), ev.unflatten, x0,
                            functions={"lower": ev.scalar(problem.sections.functions["lower"])})

    def measure(self, name, tp, oracle, x, known):
        value, grad_f = oracle.peek_value_and_grad(x)
        eps_f, eps_g = bilevel_eps(grad_f, oracle.peek_grad(x, of="lower"))
        if name == "eps_f":
            return value, eps_f
        if name == "eps_g":
            return value, eps_g
        if name == "bilevel_eps":
            return value, torch.maximum(eps_f, eps_g)
        return value, _solver_measure(name, known, self.measures)

    def report(self, tp, oracle, x) -> dict:
        eps_f, eps_g = bilevel_eps(oracle.peek_grad(x), oracle.peek_grad(x, of="lower"))
        return {"eps_f": float(eps_f), "eps_g": float(eps_g), "lower_objective": float(oracle.peek_value(x, of="lower"))}

    def _stage_expressions(self, problem):
        from ...lower.to_cvxpy import NoCvxpyForm, compile_cvxpy
        variables = {v.name: cp.Variable(v.shape, name=v.name) for v in problem.variables}
        env = dict(problem.data)
        env.update(variables)
        try:
            f = compile_cvxpy(problem.sections.objective, env, problem.parameters)
            g = compile_cvxpy(problem.sections.functions["lower"], env, problem.parameters)
        except NoCvxpyForm as err:
            raise NoBaseline(str(err)) from None
        except Exception as err:  # noqa: BLE001 - cvxpy's own errors
            raise NoBaseline(f"cvxpy cannot represent the problem: {err}") from None
        for label, expr in (("upper", f), ("lower", g)):
            if not cp.Minimize(expr).is_dcp():
                raise NoBaseline(f"the {label} objective is not convex by cvxpy's rules")
        return variables, f, g

    def lower_cvxpy(self, problem):
        variables, f, g = self._stage_expressions(problem)
        return cp.Problem(cp.Minimize(g)), variables, []

    def reference_solve(self, problem, solver=None) -> Reference:
        variables, f, g = self._stage_expressions(problem)
        kwargs = {"solver": solver.upper()} if solver else {}
        t0 = time.perf_counter()
        try:
            stage1 = cp.Problem(cp.Minimize(g))
            stage1.solve(**kwargs)
            if stage1.value is None or stage1.status not in ("optimal", "optimal_inaccurate"):
                return Reference(ReferenceStatus.FAILED, "cvxpy", solve_time_s=time.perf_counter() - t0,
                                 message="stage 1 (lower level) did not solve", backend_status=stage1.status)
            g_star = float(stage1.value)
            tol = 1e-9 * max(1.0, abs(g_star))   # g* is attained by stage 1, so any tol >= 0 is feasible
            stage2 = cp.Problem(cp.Minimize(f), [g <= g_star + tol])
            stage2.solve(**kwargs)
        except cp.error.SolverError as err:
            raise NoBaseline(f"cvxpy failed: {err}") from None
        used = stage2.solver_stats.solver_name if stage2.solver_stats else "cvxpy"
        x = np.zeros(problem.dim)
        for v in problem.variables:
            if variables[v.name].value is None:
                return Reference(ReferenceStatus.FAILED, used, solve_time_s=time.perf_counter() - t0,
                                 message="stage 2 gave no point", backend_status=stage2.status)
            x[v.offset:v.offset + v.size] = np.asarray(variables[v.name].value, dtype=np.float64).reshape(-1)
        return cvxpy_reference(stage2.status, x, used, time.perf_counter() - t0,
                               f"two-stage: g* = {g_star:.10g}, then min f s.t. g <= g* + {tol:.1e}",
                               extras={"g_star": g_star, "tolerance": tol})
