"""``kind: constrained`` -- an objective with a list of constraints."""
from __future__ import annotations

import re

from ..._lazy import lazy_module
from ...errors import ProblemError
from ..records import Field, PlainModel, list_of, str_or, str_or_number, string
from .base import CompiledSections, ExpressionContext, ExpressionKind

torch = lazy_module("torch")


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


class NamedConstraint(PlainModel):
    """A ``constraints:`` entry written ``{expr: "sum(x) == 1", name: budget}``: the name keys
    ``Result.duals`` (and ``solverhub validate``'s label) instead of ``constraints[i]``."""

    expr = Field(string())
    name = Field(string())

    def __str__(self) -> str:
        return self.expr


class ConstrainedSections(PlainModel):
    """``objective`` and ``constraints`` (at least one: a string, or ``{expr, name}``); plain records,
    so that ``validate`` imports no pydantic (``solverhub.problem.records``)."""

    objective = Field(str_or_number)
    constraints = Field(list_of(str_or(NamedConstraint), min_length=1))


class Constrained(ExpressionKind):
    """minimize f(x) s.t. each ``constraints:`` line (``<=``, ``>=`` or ``==``).

    Stationarity is the KKT residual max(||∇f + Σλ∇g||, primal violation,
    |complementarity|), computed with the multipliers a solver reports in
    ``Known.duals`` (one tensor per constraint, cvxpy's sign convention). A solver without
    multipliers on simple sets (proxgrad, fista) is measured by the projected-gradient norm
    ||x - P(x - ∇f(x))|| onto them (zero exactly at the stationary points on the set).
    """

    name = "constrained"
    description = "minimization subject to equality and inequality constraints"
    Sections = ConstrainedSections
    default_measure = "kkt_residual"
    measures = ("kkt_residual",)
    # nonsmooth objective terms (no prox split here): the epigraph form for the NLP solvers (problem.epigraph)
    epigraph_form = True

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        objective = ctx.parse(sections.objective, ("objective",))
        self._check_scalar(objective, ctx, ("objective",))
        _check_names(sections.constraints, ctx)
        constraints = tuple(ctx.parse(str(entry), ("constraints", i) if isinstance(entry, str)
                                      else ("constraints", i, "expr"), allow_compare=True)
                            for i, entry in enumerate(sections.constraints))
        return CompiledSections(objective=objective, constraints=constraints)

    def measure(self, name, tp, oracle, x, known):
        if tp.structure.epigraph is not None:          # nonsmooth terms in epigraph form: its KKT residual
            from ..epigraph import epigraph_kkt
            return oracle.peek_value(x), epigraph_kkt(tp, oracle, x, known.duals)
        value, grad = oracle.peek_value_and_grad(x)
        if known.duals is None and tp.structure.sets is not None:    # projected gradient on the simple sets
            from ..composite import prox_grad_mapping                  # (proxgrad/fista: no multipliers)
            return value, torch.linalg.vector_norm(prox_grad_mapping(tp.structure, x, grad))
        return value, kkt_residual(tp, x, grad, known.duals)


def _check_names(entries, ctx: ExpressionContext) -> None:
    """Constraint names are identifiers (letters, digits, ``_``, ``-``; a letter first), unique."""
    seen = {}
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            continue
        where = ctx.location("constraints", i, "name")
        if not _NAME.match(entry.name):
            raise ProblemError(f"constraints.{i}.name: bad constraint name {entry.name!r}", location=where,
                               allowed="a letter, then letters, digits, _ or - (e.g. budget, cap_2)")
        if entry.name in seen:
            raise ProblemError(f"constraints.{i}.name: duplicate constraint name {entry.name!r} "
                               f"(also constraints.{seen[entry.name]})", location=where,
                               allowed="one name per constraint")
        seen[entry.name] = i


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
    # with variable bounds, implicit bound multipliers scaled as the lines' (TorchStructure.bound_kkt)
    dual_res = tp.structure.bound_kkt(x, grad + (glagr if glagr is not None else 0))
    parts.append(torch.linalg.vector_norm(dual_res))
    return torch.max(torch.stack(parts))
