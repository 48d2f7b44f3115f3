"""``kind: constrained`` -- an objective with a list of constraints."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..._lazy import lazy_module
from .base import CompiledSections, ExpressionContext, ExpressionKind

torch = lazy_module("torch")


class ConstrainedSections(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    objective: str | float
    constraints: list[str] = Field(min_length=1)


class Constrained(ExpressionKind):
    """minimize f(x) s.t. each ``constraints:`` line (``<=``, ``>=`` or ``==``).

    Stationarity is the KKT residual max(||∇f + Σλ∇g||, primal violation,
    |complementarity|), computed with the multipliers a solver reports in
    ``Known.duals`` (one tensor per constraint, cvxpy's sign convention).
    """

    name = "constrained"
    description = "minimization subject to equality and inequality constraints"
    Sections = ConstrainedSections
    default_measure = "kkt_residual"
    measures = ("kkt_residual",)

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        objective = ctx.parse(sections.objective, ("objective",))
        self._check_scalar(objective, ctx, ("objective",))
        constraints = tuple(ctx.parse(text, ("constraints", i), allow_compare=True)
                            for i, text in enumerate(sections.constraints))
        return CompiledSections(objective=objective, constraints=constraints)

    def measure(self, name, tp, oracle, x, known):
        value, grad = oracle.peek_value_and_grad(x)
        return value, kkt_residual(tp, x, grad, known.duals)


def kkt_residual(tp, x, grad, duals):
    """max(dual residual, primal violation, complementarity) at ``x``; NaN without duals."""
    if duals is None:
        return torch.full((), float("nan"), dtype=x.dtype, device=x.device)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        lagr = torch.zeros((), dtype=x.dtype, device=x.device)
        parts = []
        for (op, g), lam in zip(tp.constraints, duals):
            gv = g(xg)
            lam = torch.as_tensor(lam, dtype=x.dtype, device=x.device).reshape(gv.shape)
            lagr = lagr + torch.sum(lam * gv)
            gd = gv.detach()
            if op == "==":
                parts.append(torch.max(torch.abs(gd)).reshape(()))
            else:
                parts.append(torch.max(torch.relu(gd)).reshape(()))
                parts.append(torch.max(torch.abs(lam * gd)).reshape(()))
                parts.append(torch.max(torch.relu(-lam)).reshape(()))
        (glagr,) = torch.autograd.grad(lagr, xg, allow_unused=True)
    # with variable bounds, the projected gradient of the Lagrangian (bound multipliers implicit)
    dual_res = tp.structure.projected_gradient(x, grad + (glagr if glagr is not None else 0))
    parts.append(torch.linalg.vector_norm(dual_res))
    return torch.max(torch.stack(parts))
