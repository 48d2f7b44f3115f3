"""The cvxpy baseline: solve a problem's convex form (an unconstrained strongly convex
quadratic: its closed form, :mod:`solverhub.quadratic_reference`), then certify the answer
with the torch oracle (gradient norm or KKT residual). An unconstrained baseline
that cvxpy reports ``optimal_inaccurate``, or whose certificate is above
``baseline.tolerance``, is polished by L-BFGS from cvxpy's point; the polished
point is kept only if both its objective and its certificate are no worse.

cvxpy is imported only here, and only when a baseline is asked for. The answer is a
:class:`~solverhub.reference.Reference` (certified, inaccurate, local or declared).
"""
from __future__ import annotations

__all__ = ["compute_baseline", "NoBaseline", "Reference", "ReferenceStatus", "cache_dir", "cached_baseline",
           "cache_baseline"]

import json
import os
from pathlib import Path

import numpy as np

from ._lazy import lazy_module
from .errors import OptionError
from .problem.kinds.base import Known, NoBaseline, reference_takes_bounds
from .quadratic_reference import quadratic_reference
from .reference import Reference, ReferenceStatus
from .result import Stationarity

cp = lazy_module("cvxpy")
torch = lazy_module("torch")


def _certify(problem, x, duals):
    """(objective, Stationarity) at x with the exact torch oracle on CPU float64."""
    from .oracle import Oracle

    tp = problem.lower_torch("cpu", torch.float64)
    oracle = Oracle.for_problem(tp, problem)
    xt = torch.as_tensor(x, dtype=torch.float64)
    name = problem.default_measure
    value, stat = problem.kind.measure(name, tp, oracle, xt, Known(duals=duals))
    return float(value), Stationarity(name, float(stat)), tp, oracle


def _polish(problem, x, tp, oracle, iterations: int = 100):
    """A few L-BFGS iterations from cvxpy's point (unconstrained kinds only)."""
    param = torch.as_tensor(x, dtype=torch.float64).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([param], max_iter=iterations, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-13, tolerance_change=0.0)

    def closure():
        value, grad = oracle.peek_value_and_grad(param.detach())
        param.grad = grad
        return value
    opt.step(closure)
    return param.detach().numpy()


def _polish_in_box(problem, x, oracle, iterations: int = 100):
    """A few L-BFGS-B iterations (scipy) from cvxpy's point, inside the variables' bounds."""
    from scipy.optimize import Bounds, minimize
    lower, upper = problem.structure.box(problem.variables)

    def fun(z):
        value, grad = oracle.peek_value_and_grad(torch.as_tensor(z, dtype=torch.float64))
        return float(value), grad.numpy().astype(np.float64)
    res = minimize(fun, np.clip(x, lower, upper), jac=True, method="L-BFGS-B", bounds=Bounds(lower, upper),
                   options={"maxiter": iterations, "ftol": 0.0, "gtol": 1e-13})
    return np.asarray(res.x, dtype=np.float64)


def _polished(problem, x, tp, oracle):
    """(polished point, how) for the problem's structure: prox-gradient steps for a composite
    objective (they keep the exact zeros), L-BFGS-B inside the box for bounds (plain L-BFGS
    would leave it), else L-BFGS."""
    if problem.structure.nonsmooth:
        from .problem.composite import polish
        return polish(tp.structure, oracle, x), "prox-gradient"
    if problem.has_bounds:
        return _polish_in_box(problem, x, oracle), "L-BFGS-B in the box"
    return _polish(problem, x, tp, oracle), "L-BFGS"


# ``baseline: {solver: ...}`` naming one of these gives a *local* reference: the registered
# NLP solver run to ``baseline.tolerance`` (as Pyomo users get a local answer from Ipopt)
LOCAL_SOLVERS = ("trust-constr", "slsqp")


def _local_reference(problem, solver: str) -> Reference:
    """A LOCAL :class:`Reference` from a registered NLP solver (never labelled optimal: the
    problem may be nonconvex), certified at its point like a cvxpy answer."""
    from .api import solve
    run = solve(problem, solver, options={"tolerance": problem.baseline.tolerance, "max_iterations": 10_000})
    base = Reference(ReferenceStatus.LOCAL, solver, problem=problem.name, solve_time_s=run.wall_time_s,
                     backend_status=str(run.status), iterations=run.iterations)
    if run.solution is None or not np.isfinite(run.objective):
        return base.replace(status=ReferenceStatus.FAILED, message=f"{solver} gave no point: {run.message}")
    # the run already measured the kind's default stationarity (the KKT residual with its
    # multipliers) at its final point, exactly as _certify would: it is the certificate
    x = np.concatenate([np.asarray(run.solution[v.name], dtype=np.float64).reshape(-1) for v in problem.variables])
    duals = None if run.duals is None else [np.asarray(d, dtype=np.float64) for d in run.duals.values()]
    cert = run.stationarity
    return base.replace(x=x, duals=duals, objective=run.objective, certificate=cert,
                        message=f"local reference: {run.status} by {solver} ({run.message}); "
                                f"certified {cert.name} = {cert.value:.3g}")


def compute_baseline(problem, *, solver: str | None = None, polish: bool = True,
                     use_declared: bool = True) -> Reference:
    """The problem's :class:`Reference`: its declared optimum, or the kind's
    ``reference_solve`` (cvxpy for expression kinds) certified with the torch oracle.

    A *certified* answer whose certificate exceeds ``baseline.tolerance`` (after polishing)
    becomes *inaccurate*; a *local* one stays local. Raises :class:`NoBaseline` with the
    reason when the problem has no reference.
    """
    spec = problem.baseline
    if use_declared and spec.objective is not None:
        return Reference(ReferenceStatus.DECLARED, "declared in the problem file", objective=float(spec.objective),
                         problem=problem.name, message="known optimal value from the problem file's baseline.objective")
    solver = solver or spec.solver
    if solver in LOCAL_SOLVERS:
        return _local_reference(problem, solver)
    if solver is not None and solver.upper() not in cp.installed_solvers():
        raise OptionError(f"cvxpy solver {solver!r} is not installed",
                          allowed=[*cp.installed_solvers(), *LOCAL_SOLVERS])
    if problem.has_bounds and not reference_takes_bounds(problem.kind):
        raise NoBaseline(f"kind {problem.kind.name!r}'s reference does not take variable bounds")
    ref = quadratic_reference(problem) if solver is None else None     # exact, and no cvxpy import
    if ref is None:
        ref = problem.kind.reference_solve(problem, solver)
    ref = ref.replace(problem=problem.name)
    said = ref.backend_status or ref.status.value
    if not ref.status.has_answer or ref.x is None:
        return ref.replace(message=ref.message or f"{ref.solver} reports {said}")
    x = ref.x
    objective, cert, tp, oracle = _certify(problem, x, ref.duals)
    polished = False
    message = f"{said} by {ref.solver}; certified {cert.name} = {cert.value:.3g}"
    if ref.message:
        message += f" ({ref.message})"
    needs_polish = ref.status is ReferenceStatus.INACCURATE or cert.value > spec.tolerance
    if polish and needs_polish and problem.kind.polishable and not problem.has_constraints:
        x_new, how = _polished(problem, x, tp, oracle)
        obj_new, cert_new, _, _ = _certify(problem, x_new, None)
        if np.isfinite(obj_new) and obj_new <= objective + 1e-12 * max(1.0, abs(objective)) \
                and cert_new.value <= cert.value:
            x, objective, cert, polished = x_new, obj_new, cert_new, True
            message = f"{said} by {ref.solver}; polished by {how} to {cert.name} = {cert.value:.3g}"
    status = ref.status
    if status is ReferenceStatus.CERTIFIED and not cert.value <= spec.tolerance:
        status = ReferenceStatus.INACCURATE
        message += f"; above baseline.tolerance {spec.tolerance:g}"
    elif status is ReferenceStatus.INACCURATE and polished and cert.value <= spec.tolerance:
        status = ReferenceStatus.CERTIFIED
    return ref.replace(status=status, x=x, objective=objective, certificate=cert, polished=polished, message=message)


# -- the baseline cache (compare) ----------------------------------------------------------
# A baseline depends only on the problem's content (its content hash covers the YAML, the
# overrides and every data file), so compare keeps each answer in one small JSON file per
# hash, shared by every store: a second compare of the same problems, into any store,
# computes no baseline. Answers that may change on a retry (failed, time_limit) are not kept.
CACHE_FORMAT = 1
_CACHED_STATUSES = {"certified", "inaccurate", "local", "declared", "none", "infeasible", "unbounded"}


def cache_dir() -> Path:
    """``$SOLVERHUB_CACHE/baselines-v1``, default ``$XDG_CACHE_HOME/solverhub`` (``~/.cache/solverhub``)."""
    root = os.environ.get("SOLVERHUB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "solverhub")
    return Path(root) / f"baselines-v{CACHE_FORMAT}"


def cached_baseline(problem_hash: str) -> dict | None:
    """The cached answer ``{problem, status, objective, message}`` for this content hash, or None."""
    if not problem_hash.isalnum():
        return None
    try:
        data = json.loads((cache_dir() / f"{problem_hash}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("status") not in _CACHED_STATUSES:
        return None
    objective = data.get("objective")
    if objective is not None and not isinstance(objective, (int, float)):
        return None
    return data


def cache_baseline(problem_hash: str, problem: str, status: str, objective: float | None, message: str) -> bool:
    """Keep a baseline answer (atomically: a temporary file renamed into place); False when
    the status is not kept or the cache folder cannot be written (the compare goes on)."""
    if status not in _CACHED_STATUSES or not problem_hash.isalnum():
        return False
    import tempfile
    folder = cache_dir()
    text = json.dumps({"problem": problem, "status": status, "objective": objective, "message": message})
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{problem_hash}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, folder / f"{problem_hash}.json")
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return False
    return True
