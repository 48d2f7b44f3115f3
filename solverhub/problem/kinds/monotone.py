"""``kind: monotone`` -- find z with F(z) = 0, or solve the variational inequality
over simple sets: find z in C with <F(z), w - z> >= 0 for all w in C.

``operator:`` is one expression with the shape of the single variable, or a list
with one expression per variable (in declaration order). Objective reported:
the residual (‖F(z)‖, or the natural-map residual ‖z − P_C(z − F(z))‖ with sets).
"""
from __future__ import annotations

from ..._lazy import lazy_module
from ...errors import Location, ProblemError
from ..records import Field, PlainModel, dict_of, nested, optional, str_or_list
from .base import CompiledSections, ExpressionContext, TorchEvaluator, TorchProblem
from .operator import OperatorKind
from .sets import SetSpec, build_projection, natural_residual

torch = lazy_module("torch")


class MonotoneSections(PlainModel):
    """``operator`` (one expression or one per variable) and optional ``set``; plain records, so
    that ``validate`` imports no pydantic (``solverhub.problem.records``)."""

    operator = Field(str_or_list)
    set = Field(optional(dict_of(nested(SetSpec))), None)


class Monotone(OperatorKind):
    name = "monotone"
    description = "monotone equations F(z) = 0 or variational inequalities over simple sets"
    Sections = MonotoneSections

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        variables = ctx.symbols.variables
        texts = sections.operator if isinstance(sections.operator, list) else [sections.operator]
        names = list(variables)
        if len(texts) != len(names):
            raise ProblemError(f"operator: {len(texts)} expression(s) for {len(names)} variable(s) ({', '.join(names)})",
                               location=Location(ctx.file, ctx.line_of(("operator",))),
                               allowed="one expression per variable, in declaration order")
        parts = []
        for i, (text, var) in enumerate(zip(texts, names)):
            path = ("operator", i) if isinstance(sections.operator, list) else ("operator",)
            node = ctx.parse(text, path)
            want = tuple(variables[var])
            if tuple(node.shape) != want and not (node.shape == () and want == ()):
                raise ProblemError(f"operator: the component for {var!r} has shape {node.shape or 'scalar'}, "
                                   f"expected {want or 'scalar'} (the shape of {var})",
                                   location=Location(ctx.file, ctx.line_of(path)), allowed=f"shape {want}")
            parts.append(node)
        sets = self._sets(sections.set, ctx, variables)
        return CompiledSections(operator=tuple(parts), sets=sets)

    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        ev = TorchEvaluator(problem, device, dtype)
        parts = [ev.array(node) for node in problem.sections.operator]

        def operator(z):
            return torch.cat([p(z).reshape(-1) for p in parts])
        project = build_projection(problem.variables, problem.sections.sets, device, dtype)

        def residual(z, rows=None):
            return natural_residual(z, operator(z), project)
        x0 = torch.as_tensor(problem.x0, dtype=dtype, device=device).clone()
        return TorchProblem(residual, (), ev.unflatten, x0, operator=operator, project=project)
