"""Shared checks of the monotone methods: refuse an operator the kind proves
non-monotone, and stop a run whose residual blows up."""
from __future__ import annotations

import solverhub

__all__ = ["monotone_verdict", "MAX_CHECK_DIM"]

MAX_CHECK_DIM = 2000     # the check builds two dense d x d Jacobians
_VERDICTS: dict[tuple, tuple] = {}


def monotone_verdict(problem, solver_name: str) -> "solverhub.Acceptance | solverhub.Refusal":
    """A refusal (code ``STRUCTURE``) when the kind proves the operator non-monotone, else an
    acceptance saying what is known."""
    accept = solverhub.Acceptance
    check = getattr(problem.kind, "monotonicity", None)
    if check is None:
        return accept(f"accepts kind {problem.kind.name!r} (monotonicity not checkable for this kind)")
    if problem.dim > MAX_CHECK_DIM:
        return accept(f"accepts kind {problem.kind.name!r}; monotonicity not checked above {MAX_CHECK_DIM} "
                      "unknowns (the run stops as diverged if the residual blows up)")
    key = (problem.content_hash, problem.dim)
    if key not in _VERDICTS:
        _VERDICTS[key] = check(problem)
    monotone, why = _VERDICTS[key]
    if monotone is False:
        return solverhub.Refusal(solverhub.RefusalCode.STRUCTURE, f"{solver_name} requires a monotone operator: {why}")
    if monotone is None:
        return accept(f"accepts kind {problem.kind.name!r}; {why} (the run stops as diverged if the residual blows up)")
    return accept(f"accepts kind {problem.kind.name!r}: {why}")
