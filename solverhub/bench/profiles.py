"""Performance profiles (Dolan & Moré 2002) and data profiles (Moré & Wild 2009).

Pure functions over :class:`~solverhub.result.Result` lists, numpy only.

The convergence test (Moré & Wild 2009, eq. 2.2)
-------------------------------------------------
A run *solves* its instance at the first trace point ``k`` with::

    f(x_k) - f_L <= tau * (f(x_0) - f_L)

where ``f(x_0)`` is the objective at the run's first trace point and ``f_L``
is, per problem (keyed by ``problem_hash``):

* the cvxpy/declared baseline objective when any run carries one
  (``Result.baseline_objective``), else
* the lowest finite objective any run on that problem reached (every trace
  point and final objective, over every solver and seed) -- Moré & Wild's own
  choice, so at least one run solves each problem for every ``tau``.

The cost of solving is the trace point's ``oracle_calls`` (``measure=
"oracle_calls"``) or ``time_s`` (``measure="time"``); an unsolved instance
costs ``inf``. Runs that end ``failed``, ``diverged``, ``infeasible`` or
``unbounded`` never solve (they returned no valid answer, whatever their trace
says), and they are not used to choose ``f_L``. Neither does a run whose final point
is infeasible (:func:`is_infeasible`: a constrained run's ``extras["max_violation"]``,
or a bilevel run's lower-level stationarity ``extras["eps_g"]``, above
``FEASIBILITY_TOL``), whatever its status: its objective may lie below the optimum. The trace is sampled every
``trace_every`` iterations, so costs are read at that resolution.

Instances
---------
One instance is one ``(problem, seed)`` pair: seeds are repetitions of the
problem (different minibatches or gradient noise), each counted once, so a
problem run with three seeds weighs three instances. A solver with no run on
an instance (a refused or skipped pair, a missing seed) does not solve it.

Runs without a trace (non-iterative solvers such as ``cvxpy``) are tested on
their final objective, with ``f(x_0)`` borrowed from a traced run on the same
problem (same seed preferred); their cost is ``wall_time_s`` or
``total_oracle_calls``. A solver whose answered runs (any status but the four
above) all lack a trace and oracle calls does not use the oracle: it is left
out of oracle-call profiles and appears only in time profiles. (A solver whose
every run failed stays in both, solving nothing.)
"""
from __future__ import annotations

__all__ = ["Instance", "Profile", "MEASURES", "NEVER_SOLVES", "FEASIBILITY_TOL", "is_infeasible", "never_solves",
           "structure_class", "STRUCTURE_CLASSES", "solver_labels", "reference_values", "solve_costs",
           "performance_ratios", "performance_profile", "data_profile"]

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import OptionError
from ..result import Result, Status

MEASURES = ("oracle_calls", "time")
NEVER_SOLVES = frozenset({Status.FAILED, Status.DIVERGED, Status.INFEASIBLE, Status.UNBOUNDED})
FEASIBILITY_TOL = 1e-6
# extras key -> what it measures; a run whose value exceeds the tolerance is infeasible
_INFEASIBILITY_KEYS = ("max_violation", "eps_g")
STRUCTURE_CLASSES = ("smooth", "bounds", "composite", "constrained")


def is_infeasible(r: Result, tol: float = FEASIBILITY_TOL) -> bool:
    """True when the run's final point is infeasible: status ``infeasible``, or
    ``extras["max_violation"]`` (constrained: max |h(x)|, g(x)+, bound violation) or
    ``extras["eps_g"]`` (bilevel: ‖∇g(x)‖, the lower-level optimality) above ``tol``
    or not a finite number."""
    if r.status is Status.INFEASIBLE:
        return True
    for key in _INFEASIBILITY_KEYS:
        if key in r.extras:
            v = r.extras[key]
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v > tol:
                return True
    return False


def never_solves(r: Result, tol: float = FEASIBILITY_TOL) -> bool:
    """A run that solves nothing: status in :data:`NEVER_SOLVES` or an infeasible final point."""
    return r.status in NEVER_SOLVES or is_infeasible(r, tol)


def structure_class(problem) -> str:
    """The profile class of a :class:`~solverhub.problem.model.Problem`: ``constrained``
    (constraint functions), else ``composite`` (a nonsmooth term split off), else ``bounds``,
    else ``smooth``."""
    st = problem.structure
    if st.has_constraint_functions:
        return "constrained"
    if st.nonsmooth:
        return "composite"
    return "bounds" if st.has_bounds else "smooth"


class Instance(NamedTuple):
    """One profile instance: a problem (name and content hash) with one seed; ``dim`` is n_p."""

    problem: str
    problem_hash: str
    seed: int
    dim: int


@dataclass(frozen=True)
class Profile:
    """A profile: ``curves[solver][i]`` is the fraction of instances solved at ``alphas[i]``.

    The curves are right-continuous step functions, exact at every ``alpha``; with the
    default ``alphas`` these are exactly their breakpoints. ``solved[solver]`` is the
    curve's limit as alpha -> inf (the fraction solved at all).
    """

    kind: str                          # "performance" or "data"
    measure: str                       # "oracle_calls" or "time"
    tau: float | None
    alphas: np.ndarray
    curves: dict[str, np.ndarray]
    solved: dict[str, float]
    n_instances: int


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise OptionError(f"unknown profile measure {measure!r}", allowed=", ".join(MEASURES))


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


def _option_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def solver_labels(results: Sequence[Result]) -> list[str]:
    """One label per result: the solver name, plus ``:key=value,...`` for the options that
    tell two configurations of that solver apart on the same problem (``adam:lr=0.01`` vs
    ``adam:lr=0.1``). Options that differ only between problems (a problem file's
    ``solve:`` defaults such as ``max_iterations``) do not split a solver.
    """
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.solver, r.problem_hash)].append(r)
    varying: dict[str, set[str]] = defaultdict(set)
    for (solver, _), runs in groups.items():
        keys = set().union(*(r.options for r in runs))
        for k in keys:
            if len({_option_text(r.options.get(k)) for r in runs}) > 1:
                varying[solver].add(k)
    labels = []
    for r in results:
        keys = sorted(varying.get(r.solver, ()))
        if keys:
            labels.append(r.solver + ":" + ",".join(f"{k}={_option_text(r.options.get(k))}" for k in keys))
        else:
            labels.append(r.solver)
    return labels


def reference_values(results: Iterable[Result]) -> dict[str, tuple[float, str]]:
    """``{problem_hash: (f_L, source)}``, source ``"baseline"`` or ``"best found"``.

    ``f_L`` is the baseline objective when a run carries one, else the lowest finite
    objective (trace or final) of any run on that problem that can solve (:func:`never_solves`
    is false: not failed/diverged/infeasible/unbounded, final point feasible).
    Problems with neither are absent.
    """
    base: dict[str, float] = {}
    best: dict[str, float] = {}
    for r in results:
        if _finite(r.baseline_objective) and r.problem_hash not in base:
            base[r.problem_hash] = float(r.baseline_objective)
        if never_solves(r):
            continue
        values = [p.objective for p in r.trace] + [r.objective]
        finite = [v for v in values if _finite(v)]
        if finite:
            best[r.problem_hash] = min(best.get(r.problem_hash, math.inf), min(finite))
    out = {h: (v, "best found") for h, v in best.items()}
    out.update({h: (v, "baseline") for h, v in base.items()})
    return out


def _start_values(results: Sequence[Result]) -> dict[tuple[str, int | None], float]:
    """f(x_0) of traced runs, keyed by (problem_hash, seed) and (problem_hash, None)."""
    out: dict[tuple[str, int | None], float] = {}
    for r in results:
        if r.trace and _finite(r.trace[0].objective):
            out.setdefault((r.problem_hash, r.seed), r.trace[0].objective)
            out.setdefault((r.problem_hash, None), r.trace[0].objective)
    return out


def _uses_oracle(r: Result) -> bool:
    return bool(r.trace) or r.total_oracle_calls > 0


def _run_cost(r: Result, f_l: float, f0: float | None, tau: float, measure: str) -> float:
    """The Moré-Wild cost of one run: first trace point passing the test, else inf."""
    if never_solves(r):
        return math.inf
    if r.trace:
        f0 = r.trace[0].objective
        if not _finite(f0):
            return math.inf
        threshold = tau * (f0 - f_l)
        for p in r.trace:
            if _finite(p.objective) and p.objective - f_l <= threshold:
                return float(p.oracle_calls if measure == "oracle_calls" else p.time_s)
        return math.inf
    if f0 is None or not _finite(r.objective) or r.objective - f_l > tau * (f0 - f_l):
        return math.inf
    return float(r.total_oracle_calls if measure == "oracle_calls" else r.wall_time_s)


def solve_costs(results: Iterable[Result], tau: float, measure: str = "oracle_calls"
                ) -> dict[Instance, dict[str, float]]:
    """Cost for each solver to solve each instance at tolerance ``tau`` (Moré & Wild 2009).

    Returns ``{Instance(problem, problem_hash, seed, dim): {solver: cost}}`` with every
    solver of ``results`` present for every instance (``inf`` = not solved; no run, or a
    run that failed the test). Solvers are keyed by :func:`solver_labels` (configurations
    of one solver with different options are different solvers); if one label still has
    several runs on an instance, its cheapest counts. Instances are the
    ``(problem_hash, seed)`` pairs that any run covers. See the module docstring for
    ``f_L`` and the test itself.
    """
    _check_measure(measure)
    raw = tau
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        tau = math.nan
    if not 0 < tau < 1:
        raise OptionError(f"tau must be a number in (0, 1), got {raw!r}", allowed="e.g. 1e-1, 1e-3, 1e-6")
    results = list(results)
    labels = solver_labels(results)
    f_ref = reference_values(results)
    starts = _start_values(results)
    if measure == "oracle_calls":
        answered = {lab for lab, r in zip(labels, results) if not never_solves(r)}
        users = {lab for lab, r in zip(labels, results) if _uses_oracle(r)}
        keep = [i for i, lab in enumerate(labels) if lab in users or lab not in answered]
        results, labels = [results[i] for i in keep], [labels[i] for i in keep]
    solvers = sorted(set(labels))
    out: dict[Instance, dict[str, float]] = {}
    keys: dict[tuple[str, int], Instance] = {}
    for r, label in zip(results, labels):
        key = (r.problem_hash, r.seed)
        if key not in keys:
            keys[key] = Instance(r.problem, r.problem_hash, r.seed, int(r.problem_dim))
            out[keys[key]] = {s: math.inf for s in solvers}
        inst = keys[key]
        if r.problem_hash not in f_ref:
            continue
        f_l = f_ref[r.problem_hash][0]
        f0 = starts.get((r.problem_hash, r.seed), starts.get((r.problem_hash, None)))
        cost = _run_cost(r, f_l, f0, tau, measure)
        out[inst][label] = min(out[inst][label], cost)
    return dict(sorted(out.items(), key=lambda kv: (kv[0].problem, kv[0].problem_hash, kv[0].seed)))


def _matrix(costs: Mapping[Instance, Mapping[str, float]]) -> tuple[list[str], np.ndarray]:
    solvers = sorted({s for row in costs.values() for s in row})
    t = np.array([[row.get(s, math.inf) for s in solvers] for row in costs.values()], dtype=float)
    return solvers, t.reshape(len(costs), len(solvers))


def performance_ratios(costs: Mapping[Instance, Mapping[str, float]]) -> dict[Instance, dict[str, float]]:
    """Dolan & Moré's ratios r_{p,s} = t_{p,s} / min_s t_{p,s} (``inf`` when unsolved).

    A zero minimum cost (a non-iterative solver timed at 0) gives ratio 1 to every
    solver with cost 0 and ``inf`` to the others.
    """
    solvers, t = _matrix(costs)
    r = _ratios(t)
    return {inst: dict(zip(solvers, row.tolist())) for inst, row in zip(costs, r)}


def _ratios(t: np.ndarray) -> np.ndarray:
    if t.shape[1] == 0:
        return t.copy()
    best = t.min(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = t / best
    r[(t == 0) & (best == 0)] = 1.0
    r[~np.isfinite(t)] = math.inf
    return r


def _step_curves(values: np.ndarray, solvers: list[str], alphas) -> tuple[np.ndarray, dict, dict]:
    """Fraction of rows with ``values[:, s] <= alpha`` for each alpha (right-continuous)."""
    n = values.shape[0]
    if alphas is None:
        finite = values[np.isfinite(values)]
        alphas = np.unique(finite)
    alphas = np.asarray(alphas, dtype=float).reshape(-1)
    curves, solved = {}, {}
    for j, s in enumerate(solvers):
        col = np.sort(values[:, j])
        counts = np.searchsorted(col, alphas, side="right")
        curves[s] = counts / n if n else np.zeros_like(alphas)
        solved[s] = float(np.isfinite(col).sum() / n) if n else 0.0
    return alphas, curves, solved


def performance_profile(costs: Mapping[Instance, Mapping[str, float]], alphas: Sequence[float] | None = None,
                        *, tau: float | None = None, measure: str = "oracle_calls") -> Profile:
    """Dolan & Moré (2002) performance profile.

    rho_s(alpha) = |{p in P : r_{p,s} <= alpha}| / |P|, with r_{p,s} the performance
    ratio (:func:`performance_ratios`); P is every instance of ``costs``, including those
    no solver solved. ``rho_s(1)`` is the fraction where ``s`` is (one of) the cheapest,
    ``rho_s(inf)`` the fraction it solves. ``alphas`` default: every finite ratio, sorted
    (the breakpoints, starting at 1 when anything is solved). ``tau``/``measure`` only label
    the result.

    E. D. Dolan and J. J. Moré, "Benchmarking optimization software with performance
    profiles", Math. Program. 91 (2002) 201-213.
    """
    solvers, t = _matrix(costs)
    alphas_, curves, solved = _step_curves(_ratios(t), solvers, alphas)
    return Profile("performance", measure, tau, alphas_, curves, solved, t.shape[0])


def data_profile(costs: Mapping[Instance, Mapping[str, float]], alphas: Sequence[float] | None = None,
                 *, normalize: bool | None = None, tau: float | None = None,
                 measure: str = "oracle_calls") -> Profile:
    """Moré & Wild (2009) data profile.

    d_s(alpha) = |{p in P : t_{p,s} / (n_p + 1) <= alpha}| / |P|: the fraction of instances
    solved within alpha "simplex gradients" (units of n_p + 1 oracle calls, n_p the
    problem's number of unknowns, ``Instance.dim``). ``normalize`` (default: ``True``
    for ``measure="oracle_calls"``, ``False`` for ``"time"``, whose alpha is then plain
    seconds) switches the division by n_p + 1. ``alphas`` default: every finite
    (normalized) cost, sorted.

    J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization algorithms",
    SIAM J. Optim. 20(1) (2009) 172-191.
    """
    _check_measure(measure)
    solvers, t = _matrix(costs)
    if normalize is None:
        normalize = measure == "oracle_calls"
    if normalize:
        dims = np.array([inst.dim for inst in costs], dtype=float).reshape(-1, 1)
        t = t / (dims + 1.0)
    alphas_, curves, solved = _step_curves(t, solvers, alphas)
    return Profile("data", measure, tau, alphas_, curves, solved, t.shape[0])
