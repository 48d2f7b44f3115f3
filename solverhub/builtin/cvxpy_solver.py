"""The cvxpy baseline exposed as an ordinary solver (``--solver cvxpy``)."""
from __future__ import annotations

__all__ = ["CvxpySolver", "CvxpyOptions"]

from ..options import SolverOptions, option
from ..reference import Reference, ReferenceStatus
from ..solver import Acceptance, Capabilities, Refusal, RefusalCode, Solver


class CvxpyOptions(SolverOptions):
    solver: str = option("", "a cvxpy solver name (CLARABEL, SCS, OSQP, ...); empty: cvxpy's choice")


class CvxpySolver(Solver):
    name = "cvxpy"
    paper = "Diamond & Boyd (2016), JMLR 17(83); doi:10.48550/arXiv.1603.00943"
    kinds = ("minimize", "constrained", "finite_sum", "bilevel", "monotone", "minimax")
    capabilities = Capabilities(constraints=True, bounds=True, stochastic_ok=True, devices=("cpu", "cuda"),
                                nonsmooth=True)
    priority = 5
    Options = CvxpyOptions
    description = "the convex baseline: the problem's DCP form solved by cvxpy (CPU)"

    def priority_for(self, problem):
        # constraints, or nonsmooth terms without a prox (its epigraph form is cvxpy's own): the convex solver first
        return 50 if problem.has_constraints or problem.structure.unsplit else self.priority

    def accepts_problem(self, problem):
        from ..problem.kinds.base import NoBaseline, reference_takes_bounds
        if problem.has_bounds and not reference_takes_bounds(problem.kind):
            return Refusal(RefusalCode.NO_BOUNDS, f"kind {problem.kind.name!r}'s convex form does not take variable bounds")
        try:
            problem.kind.lower_cvxpy(problem)
        except NoBaseline as err:
            return Refusal(RefusalCode.STRUCTURE, f"no convex form: {err}")
        return Acceptance("the problem is DCP")

    @staticmethod
    def solve_direct(problem, options) -> Reference:
        from ..baseline import compute_baseline
        from ..problem.kinds.base import NoBaseline
        try:
            ref = compute_baseline(problem, solver=options.solver or None, polish=False, use_declared=False)
        except NoBaseline as err:
            return Reference(ReferenceStatus.FAILED, "cvxpy", message=str(err))
        return ref.replace(extras={"cvxpy_status": ref.backend_status, "cvxpy_solver": ref.solver,
                                   "reference_status": ref.status.value})
