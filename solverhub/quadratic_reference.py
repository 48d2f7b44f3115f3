"""The exact minimizer of an unconstrained strongly convex quadratic, without cvxpy.

When a ``minimize`` or ``finite_sum`` objective is a polynomial of degree <= 2 in the
variables (:func:`solverhub.problem.degree.degree`, decided exactly from the IR) and the
problem has no bounds, constraints or nonsmooth terms, f(x) = ½ xᵀHx + gᵀx + c with a
constant H: then H is the exact Hessian at 0 and ∇f(0) the gradient there (the torch
oracle's ``hessian`` and ``peek_grad``, on CPU in float64) and, when the symmetrized H is
positive definite (a Cholesky factorization exists), x* = −H⁻¹∇f(0) is the unique minimizer
(Nocedal & Wright, *Numerical Optimization*, 2nd ed., §2.1 / §16.1: a quadratic with H ≻ 0
has its only stationary point as global minimum).

This is the default reference of such problems (``compute_baseline`` without a named solver):
it is exact up to the linear solve's rounding, where cvxpy's conic solvers stop at their own
tolerances, and it spares a compare's workers the ``import cvxpy`` (~1 s). Naming a cvxpy
solver (``--cvxpy-solver``, the file's ``baseline.solver``) still solves with cvxpy. The answer
is certified with the torch oracle like any other (gradient norm against
``baseline.tolerance``). Singular or indefinite H, or more than :data:`MAX_DIM` unknowns:
None (the kind's cvxpy reference decides).
"""
from __future__ import annotations

__all__ = ["quadratic_reference", "MAX_DIM"]

import time

import numpy as np

from ._lazy import lazy_module
from .reference import Reference, ReferenceStatus

torch = lazy_module("torch")

#: The largest number of unknowns solved here: a dense d x d Hessian and its factorization.
MAX_DIM = 512
KINDS = ("minimize", "finite_sum")


def is_unconstrained_quadratic(problem) -> bool:
    """f has degree <= 2 in the variables, and nothing but f: no bounds, constraints or prox terms."""
    from .problem.degree import degree
    objective = getattr(problem.sections, "objective", None)
    if problem.kind.name not in KINDS or objective is None or problem.dim > MAX_DIM:
        return False
    if problem.has_bounds or problem.has_constraints or problem.structure.nonsmooth:
        return False
    deg = degree(objective, problem.parameters)
    return deg is not None and deg <= 2


def quadratic_reference(problem) -> Reference | None:
    """The CERTIFIED-to-be reference x* = −H⁻¹∇f(0) (the baseline certifies it), or None when
    the problem is not an unconstrained quadratic with positive definite H."""
    if not is_unconstrained_quadratic(problem):
        return None
    from .oracle import Oracle
    oracle = Oracle.for_problem(problem.lower_torch("cpu", torch.float64), problem)
    t0 = time.perf_counter()        # the solve: H, the factorization (as cvxpy's time is its solve's)
    d = problem.dim
    zero = torch.zeros(d, dtype=torch.float64)
    g0 = oracle.peek_grad(zero).numpy()
    hessian = oracle.hessian(zero).reshape(d, d).numpy()      # constant: the Hessian at 0 is H
    hessian = 0.5 * (hessian + hessian.T)
    if not np.all(np.isfinite(hessian)) or not np.all(np.isfinite(g0)):
        return None
    try:
        factor = np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return None             # singular or indefinite: not a unique minimizer here
    x = -np.linalg.solve(factor.T, np.linalg.solve(factor, g0))
    return Reference(ReferenceStatus.CERTIFIED, "closed form", x=x, backend_status="optimal",
                     solve_time_s=time.perf_counter() - t0, problem=problem.name,
                     message=f"unconstrained quadratic: x* = -H^-1 grad f(0), H positive definite (Cholesky; d = {d})")
