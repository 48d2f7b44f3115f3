"""``kind: minimax`` -- min over the ``min:`` variables, max over the ``max:``
variables of a smooth objective, optionally over simple sets. The operator is
F(z) = (∇_x f, −∇_y f), derived by autograd; stationarity is ‖F(z)‖ (or the
natural-map residual with sets). The objective reported is f(x, y)."""
from __future__ import annotations

from ..._lazy import lazy_module
from ...errors import Location, ProblemError
from ..atoms import ATOMS
from ..expr import Call, Var, free_names, walk
from ..records import Field, PlainModel, dict_of, nested, optional, str_or_list, string
from .base import CompiledSections, ExpressionContext, TorchEvaluator, TorchProblem
from .operator import OperatorKind
from .sets import SetSpec, build_projection

torch = lazy_module("torch")


class MinimaxSections(PlainModel):
    """``objective``, ``min``/``max`` (a variable name or a list) and optional ``set``; plain
    records, so that ``validate`` imports no pydantic (``solverhub.problem.records``)."""

    objective = Field(string())
    min_vars = Field(str_or_list, alias="min")
    max_vars = Field(str_or_list, alias="max")
    set = Field(optional(dict_of(nested(SetSpec))), None)


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class Minimax(OperatorKind):
    name = "minimax"
    description = "smooth saddle-point problems min_x max_y f(x, y), optionally over simple sets"
    Sections = MinimaxSections

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        variables = ctx.symbols.variables
        mins, maxs = _names(sections.min_vars), _names(sections.max_vars)
        for key, names in (("min", mins), ("max", maxs)):
            for n in names:
                if n not in variables:
                    raise ProblemError(f"{key}: unknown variable {n!r}", location=Location(ctx.file, ctx.line_of((key,))),
                                       allowed=", ".join(variables))
        both = set(mins) & set(maxs)
        missing = set(variables) - set(mins) - set(maxs)
        if both or missing:
            what = f"in both min and max: {sorted(both)}" if both else f"in neither min nor max: {sorted(missing)}"
            raise ProblemError(f"min/max must split the variables; {what}",
                               location=Location(ctx.file, ctx.line_of(("max",))))
        objective = ctx.parse(sections.objective, ("objective",))
        self._check_scalar(objective, ctx, ("objective",))
        for node, _ in walk(objective):
            if isinstance(node, Call) and not ATOMS[node.atom].smooth:
                inside = free_names(node, Var)
                if inside:
                    side = "y" if inside & set(maxs) else "x"
                    raise ProblemError(f"objective: {node.atom}(...) of {', '.join(sorted(inside))} is not "
                                       f"differentiable; the operator (∇_x f, -∇_y f) needs a smooth objective "
                                       f"in {side}", location=Location(ctx.file, ctx.line_of(("objective",))),
                                       allowed="smooth atoms (no " + ", ".join(sorted(n for n, a in ATOMS.items()
                                                                                    if not a.smooth)) + ")")
        sets = self._sets(sections.set, ctx, variables)
        return CompiledSections(objective=objective, minimize_over=tuple(mins), maximize_over=tuple(maxs), sets=sets)

    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        ev = TorchEvaluator(problem, device, dtype)
        f = ev.scalar(problem.sections.objective)
        maxs = set(problem.sections.maximize_over)
        sign = torch.cat([torch.full((v.size,), -1.0 if v.name in maxs else 1.0, dtype=dtype, device=device)
                          for v in problem.variables])

        reverse = getattr(f, "value_and_grad", None)     # generated reverse mode (lower/to_torch_grad)

        def operator(z):
            if reverse is not None and not z.requires_grad:
                return sign * reverse(z)[1]
            with torch.enable_grad():
                outer = z.requires_grad          # differentiable through F (Jacobians, HVPs)
                zg = z if outer else z.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(f(zg), zg, create_graph=outer, allow_unused=True)
            return sign * (g if g is not None else torch.zeros_like(z))
        project = build_projection(problem.variables, problem.sections.sets, device, dtype)
        x0 = torch.as_tensor(problem.x0, dtype=dtype, device=device).clone()
        return TorchProblem(f, (), ev.unflatten, x0, operator=operator, project=project)

    def objective_value(self, tp, x, F, residual):
        return tp.objective(x)
