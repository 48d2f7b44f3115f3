"""``kind: finite_sum`` -- f(x) = mean_i l_i(x) + r(x) over the rows of data.

The objective contains ``mean(...)`` of a per-row loss vector; data entries
whose first axis has the number of rows (or those listed in ``rows:``) are the
sample data. A minibatch oracle (``oracle: {stochastic: {batch_size, seed}}``)
evaluates the same objective on a random subset of rows, which is unbiased
because the row data may only appear inside ``mean(...)`` (checked here).
"""
from __future__ import annotations

from ...errors import Location, ProblemError
from ..expr import Call, Data, walk
from ..records import Field, PlainModel, list_of, optional, string
from .base import CompiledSections, ExpressionContext, ExpressionKind


class FiniteSumSections(PlainModel):
    """``objective: <expression>`` and optional ``rows: [data names]``; a plain record, so that
    ``validate`` imports no pydantic (``solverhub.problem.records``)."""

    objective = Field(string())
    rows = Field(optional(list_of(string())), None)


class FiniteSum(ExpressionKind):
    name = "finite_sum"
    description = "mean of per-sample losses over the rows of data (+ a regularizer); minibatch oracles"
    Sections = FiniteSumSections
    composite = True     # smooth + prox-able terms split on load (solverhub.problem.composite)

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        objective = ctx.parse(sections.objective, ("objective",))
        self._check_scalar(objective, ctx, ("objective",))
        loc = Location(ctx.file, ctx.line_of(("objective",)))
        means = [n for n, _ in walk(objective) if isinstance(n, Call) and n.atom == "mean"]
        if not means:
            raise ProblemError("objective: a finite_sum objective needs mean(...) of per-row losses",
                               location=loc, allowed="e.g. mean(logistic(-y * (X @ x))) + 0.5*lam*sum_squares(x)")
        n_rows = means[0].args[0].shape[0] if means[0].args[0].shape else None
        if n_rows is None:
            raise ProblemError("objective: mean(...) must be taken over a vector of per-row losses", location=loc)
        data_shapes = ctx.symbols.data
        if sections.rows is not None:
            rows = tuple(sections.rows)
            for name in rows:
                if name not in data_shapes:
                    raise ProblemError(f"rows: unknown data {name!r}", location=Location(ctx.file, ctx.line_of(("rows",))),
                                       allowed=", ".join(data_shapes))
                if not data_shapes[name] or data_shapes[name][0] != n_rows:
                    raise ProblemError(f"rows: data {name!r} has shape {data_shapes[name]}, expected {n_rows} rows",
                                       location=Location(ctx.file, ctx.line_of(("rows",))))
        else:
            rows = tuple(n for n, s in data_shapes.items() if s and s[0] == n_rows)
        for node, ancestors in walk(objective):
            if isinstance(node, Data) and node.name in rows and not any(
                    isinstance(a, Call) and a.atom == "mean" for a in ancestors):
                raise ProblemError(f"objective: row data {node.name!r} appears outside mean(...)", location=loc,
                                   allowed="row data inside mean(...) only, so minibatches are unbiased")
        return CompiledSections(objective=objective, rows=rows, n_rows=n_rows)
