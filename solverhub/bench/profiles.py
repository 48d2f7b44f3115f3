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

__all__ = ["Instance", "Profile", "MEASURES", "NEVER_SOLVES", "FEASIBILITY_TOL", "RUN_OPTIONS", "is_infeasible",
           "never_solves", "structure_class", "STRUCTURE_CLASSES", "solver_labels", "option_defaults",
           "deterministic_groups", "collapse_repeats", "reference_values", "CostFrame", "solve_costs",
           "performance_ratios", "performance_profile", "data_profile", "matrix_profile"]

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import OptionError
from ..result import Result, Status
from .codec import trace_columns

MEASURES = ("oracle_calls", "time")
NEVER_SOLVES = frozenset({Status.FAILED, Status.DIVERGED, Status.INFEASIBLE, Status.UNBOUNDED})
FEASIBILITY_TOL = 1e-6
# extras key -> what it measures; a run whose value exceeds the tolerance is infeasible
_INFEASIBILITY_KEYS = ("max_violation", "eps_g")
STRUCTURE_CLASSES = ("smooth", "bounds", "composite", "nonsmooth", "constrained")


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
    (constraint functions), else ``nonsmooth`` (nonsmooth atoms no prox splits), else ``composite``
    (a nonsmooth term split off), else ``bounds``,
    else ``smooth``."""
    st = problem.structure
    if st.has_constraint_functions:
        return "constrained"
    if st.unsplit:
        return "nonsmooth"       # nonsmooth atoms no prox splits (epigraph form or cvxpy)
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


def _option_key(value):
    """A hashable stand-in for an option value (cheap for scalars)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return (type(value).__name__, value)
    return ("json", json.dumps(value, sort_keys=True, default=str))


# Options of the run, not of the method: never part of a label (see solverhub.options.RunOptions).
RUN_OPTIONS = frozenset({"max_iterations", "max_oracle_calls", "time_limit_s", "tolerance", "trace_every",
                         "device", "dtype", "seed", "jobs"})


def _run_option_names() -> frozenset[str]:
    try:
        from ..options import RunOptions, option_names
        return RUN_OPTIONS | set(option_names(RunOptions))
    except Exception:  # noqa: BLE001 - the fixed list is enough to label
        return RUN_OPTIONS


def option_defaults(solvers: Iterable[str]) -> dict[str, dict[str, object]]:
    """``{solver: {option: default}}`` from the installed registry; a solver that is not
    installed (or a registry that does not load) gives ``{}`` (its options then all show)."""
    out: dict[str, dict[str, object]] = {}
    try:
        from ..options import option_names
        from ..registry import get_registry
        entries = get_registry().solvers
    except Exception:  # noqa: BLE001 - labels still work, only less short
        return out
    for name in solvers:
        entry = entries.get(name)
        try:
            cls = entry.cls.Options
            fields = getattr(cls, "model_fields", None)
            out[name] = ({k: f.default for k, f in fields.items()} if fields is not None else
                         {k: getattr(cls(), k) for k in option_names(cls)})
        except Exception:  # noqa: BLE001 - a missing or odd plugin: no defaults
            continue
    return out


def solver_labels(results: Sequence[Result], defaults: Mapping[str, Mapping[str, object]] | None = None
                  ) -> list[str]:
    """One label per result: the solver's name plus the options the user set, as
    ``name:key=value,...``: the solver's own options (never run options such as
    ``max_iterations``, ``time_limit_s`` or ``trace_every``) whose values tell two
    configurations of that solver apart on one problem (``adam:lr=0.01`` vs
    ``adam:lr=0.1``), each shown only where it is not the solver's default (``defaults``:
    ``{solver: {option: value}}``, default :func:`option_defaults` of the installed
    solvers), so ``gd`` and ``gd:lr=<its default>`` are one label. Options that differ only
    between problems (a problem file's ``solve:`` defaults) do not split a solver.
    """
    skip = _run_option_names()
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.solver, r.problem_hash)].append(r)
    varying: dict[str, set[str]] = defaultdict(set)
    for (solver, _), runs in groups.items():
        if len(runs) < 2:
            continue
        first = runs[0].options
        keys = set().union(*(r.options for r in runs)) - skip - varying[solver]
        for k in keys:
            v0 = _option_key(first.get(k))
            if any(_option_key(r.options.get(k)) != v0 for r in runs):
                varying[solver].add(k)
    if varying and defaults is None:
        defaults = option_defaults(varying)
    defaults = defaults or {}
    cache: dict[tuple, str] = {}
    labels = []
    for r in results:
        keys = sorted(varying.get(r.solver, ()))
        if not keys:
            labels.append(r.solver)
            continue
        mine = defaults.get(r.solver, {})
        shown = tuple((k, _option_key(r.options.get(k))) for k in keys
                      if not (k in mine and _option_key(mine[k]) == _option_key(r.options.get(k))))
        key = (r.solver, shown)
        if key not in cache:
            cache[key] = r.solver + (":" + ",".join(f"{k}={_option_text(r.options.get(k))}" for k, _ in shown)
                                     if shown else "")
        labels.append(cache[key])
    return labels


def _same_run(a: Result, b: Result, rel: float = 1e-12) -> bool:
    if a.status is not b.status or a.iterations != b.iterations:
        return False
    fa, fb = a.objective, b.objective
    if not (_finite(fa) and _finite(fb)):
        return str(fa) == str(fb)
    return abs(fa - fb) <= rel * max(abs(fa), abs(fb), 1e-300)


def _flag(r: Result):
    flag = getattr(r, "deterministic", None)
    return r.extras.get("deterministic") if flag is None else flag


def deterministic_groups(results: Sequence[Result], labels: Sequence[str]) -> dict[tuple[str, str], bool]:
    """``{(problem_hash, label): deterministic}`` for the groups run with several seeds.

    A group is deterministic when no run says it is not (``Result.deterministic`` or
    ``extras["deterministic"]`` false: a stochastic oracle, a seeded start, a solver that drew
    random numbers) and every seed's run is the same run: equal status and iterations, and
    final objectives equal to 1e-12 relative (the same non-finite value counts as equal; a run
    cut by the time limit at another iteration is not the same run). Runs written before the
    flag are judged by the second test alone."""
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r, lab in zip(results, labels):
        groups[(r.problem_hash, lab)].append(r)
    out = {}
    for key, runs in groups.items():
        if len({r.seed for r in runs}) < 2:
            continue
        flags = {_flag(r) for r in runs}
        out[key] = False not in flags and all(_same_run(runs[0], r) for r in runs[1:])
    return out


def collapse_repeats(results: Sequence[Result], labels: Sequence[str],
                     deterministic: Mapping[tuple[str, str], bool] | None = None
                     ) -> tuple[list[Result], list[str]]:
    """Results for the profiles with deterministic repeats counted once: on a problem where
    every solver's runs are deterministic (:func:`deterministic_groups`; a solver run with one
    seed only counts as deterministic), and at least one solver ran several seeds, each keeps
    one run, the one of median wall time, as the instance of the problem's smallest seed (one
    instance instead of one per seed). A problem with a stochastic solver keeps all its seeds
    (a deterministic solver then solves each seed's instance alike)."""
    if deterministic is None:
        deterministic = deterministic_groups(results, labels)
    by_problem: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        by_problem[r.problem_hash].append(i)
    keep: list[int] = []
    reseed: dict[int, int] = {}
    for phash, idx in by_problem.items():
        labs = {labels[i] for i in idx}
        flags = [deterministic.get((phash, lab)) for lab in labs]            # None: one seed only
        if False in flags or True not in flags:
            keep += idx
            continue
        seed0 = min(results[i].seed for i in idx)
        for lab in sorted(labs):
            mine = sorted((i for i in idx if labels[i] == lab), key=lambda i: (results[i].wall_time_s, i))
            chosen = mine[(len(mine) - 1) // 2]
            keep.append(chosen)
            reseed[chosen] = seed0
    keep.sort()
    out = [results[i] if i not in reseed or results[i].seed == reseed[i] else results[i].replace(seed=reseed[i])
           for i in keep]
    return out, [labels[i] for i in keep]


def reference_values(results: Iterable[Result]) -> dict[str, tuple[float, str]]:
    """``{problem_hash: (f_L, source)}``, source ``"baseline"`` or ``"best found"``.

    ``f_L`` is the baseline objective when a run carries one, else the lowest finite
    objective (trace or final) of any run on that problem that can solve (:func:`never_solves`
    is false: not failed/diverged/infeasible/unbounded, final point feasible).
    Problems with neither are absent.
    """
    results = list(results)
    cols = [trace_columns(r.trace) for r in results]
    return _references(results, [never_solves(r) for r in results], cols)


def _problem_codes(results: Sequence[Result]) -> tuple[np.ndarray, dict[str, int]]:
    """Each run's problem as an integer (by first appearance), and ``{problem_hash: code}``."""
    code: dict[str, int] = {}
    problem = np.array([code.setdefault(r.problem_hash, len(code)) for r in results], dtype=np.int64).reshape(-1)
    return problem, code


def _references(results: Sequence[Result], never: Sequence[bool], cols: Sequence | None,
                lens: np.ndarray | None = None, objectives: np.ndarray | None = None,
                codes: tuple[np.ndarray, dict[str, int]] | None = None) -> dict[str, tuple[float, str]]:
    """:func:`reference_values` with each run's never-solves flag and trace columns given
    (vectorized over the concatenated traces; ``lens`` and ``objectives``, the trace lengths and
    the concatenated trace objectives, stand for ``cols`` when given, ``codes`` is
    :func:`_problem_codes` of ``results``)."""
    base: dict[str, float] = {}
    problem, code = codes if codes is not None else _problem_codes(results)
    for r in results:
        if r.problem_hash not in base and _finite(r.baseline_objective):
            base[r.problem_hash] = float(r.baseline_objective)
    low = np.array([r.objective for r in results], dtype=float).reshape(-1)
    if lens is None:
        lens = np.array([len(c) for c in cols], dtype=np.int64).reshape(-1)
        objectives = np.concatenate([c.objective for c in cols]) if lens.sum() else None
    if lens.sum():
        traced = np.flatnonzero(lens > 0)
        obj = np.where(np.isfinite(objectives), objectives, math.inf)
        starts = np.concatenate([[0], np.cumsum(lens[traced])[:-1]])
        low[traced] = np.fmin(low[traced], np.minimum.reduceat(obj, starts))
    low[~np.isfinite(low) | np.asarray(never, dtype=bool)] = math.inf
    best = np.full(len(code), math.inf)
    np.minimum.at(best, problem, low)
    names = list(code)
    out = {names[k]: (float(v), "best found") for k, v in enumerate(best) if v < math.inf}
    out.update({h: (v, "baseline") for h, v in base.items()})
    return out


def _uses_oracle(r: Result) -> bool:
    return bool(r.trace) or r.total_oracle_calls > 0


def _check_tau(tau) -> float:
    raw = tau
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        tau = math.nan
    if not 0 < tau < 1:
        raise OptionError(f"tau must be a number in (0, 1), got {raw!r}", allowed="e.g. 1e-1, 1e-3, 1e-6")
    return tau


class CostFrame:
    """The runs of one profile group as numpy columns (built once, then costed for every tau
    and measure without a Python loop over trace points): per run its instance and solver
    index, final values and flags, and every trace concatenated with per-run offsets.

    ``refused``: ``(problem name, solver)`` pairs the solver refused (``ResultStore.skipped()``);
    their instances are *not applicable* to that solver (cost ``nan``), not failures.
    """

    def __init__(self, results: Sequence[Result], labels: Sequence[str] | None = None,
                 refused: Iterable[tuple[str, str]] = ()):
        results = list(results)
        self.results = results
        self.labels = list(labels) if labels is not None else solver_labels(results)
        n = len(results)
        self.solvers = sorted(set(self.labels))
        sidx = {s: j for j, s in enumerate(self.solvers)}
        problem, pcode = codes = _problem_codes(results)
        seeds = np.array([r.seed for r in results], dtype=np.int64).reshape(-1)
        _, first, inst_of = np.unique(np.stack([problem, seeds], axis=1), axis=0, return_index=True,
                                      return_inverse=True)             # an instance: (problem, seed)
        inst_of = inst_of.reshape(-1)
        instances = [Instance(r.problem, r.problem_hash, r.seed, int(r.problem_dim))
                     for r in (results[i] for i in first.tolist())]
        order = sorted(range(len(instances)), key=lambda k: (instances[k].problem, instances[k].problem_hash,
                                                             instances[k].seed))
        rank = np.empty(len(instances), dtype=np.int64)
        rank[order] = np.arange(len(instances))
        self.instances = [instances[k] for k in order]
        self.inst = rank[inst_of] if n else inst_of
        self.solver = np.array([sidx[lab] for lab in self.labels], dtype=np.int64).reshape(-1)
        self.never = np.array([never_solves(r) for r in results], dtype=bool).reshape(-1)
        cols = [trace_columns(r.trace) for r in results]
        lens = np.array([c.iteration.shape[0] for c in cols], dtype=np.int64).reshape(-1)
        self.final = np.array([r.objective for r in results], dtype=float).reshape(-1)
        self.wall = np.array([r.wall_time_s for r in results], dtype=float).reshape(-1)
        self.calls = np.array([r.total_oracle_calls for r in results], dtype=float).reshape(-1)
        self.uses_oracle = (lens > 0) | (self.calls > 0)            # a trace, or oracle calls counted
        self.starts = np.cumsum(lens) - lens
        self.lens = lens
        cat = (lambda name: np.concatenate([getattr(c, name) for c in cols]).astype(float)) if n else \
            (lambda name: np.zeros(0))
        self.t_obj, self.t_calls, self.t_time = cat("objective"), cat("oracle_calls"), cat("time_s")
        refs = _references(results, self.never, None, lens, self.t_obj, codes)
        self.f_l = np.array([refs[h][0] if h in refs else math.nan for h in pcode], dtype=float)[problem] if n \
            else np.zeros(0)
        # f(x_0): a traced run's own first point; an untraced run borrows one: the first traced run's
        # (in results order) on its instance (same seed), else on its problem
        f0 = np.full(n, math.nan)
        traced = lens > 0
        f0[traced] = self.t_obj[self.starts[traced]]
        untraced = np.flatnonzero(~traced)
        if untraced.size:
            lender = np.flatnonzero(traced & np.isfinite(f0))             # ascending: first = earliest
            for key, size in ((self.inst, len(self.instances)), (problem, len(pcode))):
                first = np.full(size, -1, dtype=np.int64)
                keys, at = np.unique(key[lender], return_index=True)
                first[keys] = lender[at]
                src = first[key[untraced]]
                fill = (src >= 0) & np.isnan(f0[untraced])
                f0[untraced[fill]] = f0[src[fill]]
        self.f0 = f0
        names = {(p, s.split(":")[0]) for p, s in refused}
        self.na = np.zeros((len(self.instances), len(self.solvers)), dtype=bool)
        if names:
            for k, inst in enumerate(self.instances):
                for j, s in enumerate(self.solvers):
                    if (inst.problem, s.split(":")[0]) in names:
                        self.na[k, j] = True
        self.dims = np.array([inst.dim for inst in self.instances], dtype=float)

    def costs(self, tau: float, measure: str = "oracle_calls") -> tuple[list[str], np.ndarray]:
        """``(solvers, t)``: ``t[instance, solver]`` the Moré-Wild cost (``inf`` unsolved, ``nan``
        not applicable: refused); with ``measure="oracle_calls"`` the solvers that never use the
        oracle are left out (see the module docstring)."""
        _check_measure(measure)
        tau = _check_tau(tau)
        n = len(self.results)
        cost = np.full(n, math.inf)
        thr = tau * (self.f0 - self.f_l)
        ok_run = ~self.never & np.isfinite(self.f_l) & np.isfinite(self.f0)
        traced = self.lens > 0
        if self.t_obj.size:
            run_of = np.repeat(np.arange(n), self.lens)
            with np.errstate(invalid="ignore"):
                passing = np.isfinite(self.t_obj) & (self.t_obj - self.f_l[run_of] <= thr[run_of])
            hits = np.flatnonzero(passing)
            pos = np.searchsorted(hits, self.starts)
            first = hits[np.minimum(pos, max(hits.size - 1, 0))] if hits.size else np.zeros(n, dtype=np.int64)
            found = traced & ok_run & (pos < hits.size)
            found &= np.where(found, first < self.starts + self.lens, False)
            values = self.t_calls if measure == "oracle_calls" else self.t_time
            cost[found] = values[first[found]]
        with np.errstate(invalid="ignore"):
            plain = ~traced & ok_run & np.isfinite(self.final) & (self.final - self.f_l <= thr)
        cost[plain] = (self.calls if measure == "oracle_calls" else self.wall)[plain]
        cols = np.arange(len(self.solvers))
        if measure == "oracle_calls":
            answered = np.zeros(len(self.solvers), bool)
            users = np.zeros(len(self.solvers), bool)
            np.logical_or.at(answered, self.solver, ~self.never)
            np.logical_or.at(users, self.solver, self.uses_oracle)
            cols = np.flatnonzero(users | ~answered)
        t = np.full((len(self.instances), len(self.solvers)), math.inf)
        np.minimum.at(t, (self.inst, self.solver), cost)
        t[self.na & np.isinf(t)] = math.nan
        return [self.solvers[j] for j in cols], t[:, cols]


def solve_costs(results: Iterable[Result], tau: float, measure: str = "oracle_calls", *,
                refused: Iterable[tuple[str, str]] = ()) -> dict[Instance, dict[str, float]]:
    """Cost for each solver to solve each instance at tolerance ``tau`` (Moré & Wild 2009).

    Returns ``{Instance(problem, problem_hash, seed, dim): {solver: cost}}`` with every
    solver of ``results`` present for every instance (``inf`` = not solved; no run, or a
    run that failed the test; ``nan`` = not applicable: the pair is in ``refused``, as
    ``(problem name, solver)``). Solvers are keyed by :func:`solver_labels` (configurations
    of one solver with different options are different solvers); if one label still has
    several runs on an instance, its cheapest counts. Instances are the
    ``(problem_hash, seed)`` pairs that any run covers. See the module docstring for
    ``f_L`` and the test itself. (:class:`CostFrame` is the same, for many taus at once.)
    """
    _check_measure(measure)
    _check_tau(tau)
    frame = CostFrame(list(results), refused=refused)
    solvers, t = frame.costs(tau, measure)
    return {inst: dict(zip(solvers, row.tolist())) for inst, row in zip(frame.instances, t)}


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
    filled = np.where(np.isnan(t), math.inf, t)        # nan: not applicable (a refused pair)
    best = filled.min(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = t / best
    r[(t == 0) & (best == 0)] = 1.0
    r[np.isinf(t)] = math.inf
    r[np.isnan(t)] = math.nan
    return r


def _step_curves(values: np.ndarray, solvers: list[str], alphas) -> tuple[np.ndarray, dict, dict]:
    """Fraction of rows with ``values[:, s] <= alpha`` for each alpha (right-continuous),
    over the rows where ``values[:, s]`` is not ``nan`` (instances the solver accepts)."""
    if alphas is None:
        finite = values[np.isfinite(values)]
        alphas = np.unique(finite)
    alphas = np.asarray(alphas, dtype=float).reshape(-1)
    curves, solved = {}, {}
    for j, s in enumerate(solvers):
        col = values[:, j]
        col = np.sort(col[~np.isnan(col)])
        n = col.size
        counts = np.searchsorted(col, alphas, side="right")
        curves[s] = counts / n if n else np.zeros_like(alphas)
        solved[s] = float(np.isfinite(col).sum() / n) if n else 0.0
    return alphas, curves, solved


def performance_profile(costs: Mapping[Instance, Mapping[str, float]], alphas: Sequence[float] | None = None,
                        *, tau: float | None = None, measure: str = "oracle_calls") -> Profile:
    """Dolan & Moré (2002) performance profile.

    rho_s(alpha) = |{p in P_s : r_{p,s} <= alpha}| / |P_s|, with r_{p,s} the performance
    ratio (:func:`performance_ratios`); P_s is every instance of ``costs`` that ``s``
    accepts (cost not ``nan``), including those no solver solved. ``rho_s(1)`` is the fraction where ``s`` is (one of) the cheapest,
    ``rho_s(inf)`` the fraction it solves. ``alphas`` default: every finite ratio, sorted
    (the breakpoints, starting at 1 when anything is solved). ``tau``/``measure`` only label
    the result.

    E. D. Dolan and J. J. Moré, "Benchmarking optimization software with performance
    profiles", Math. Program. 91 (2002) 201-213.
    """
    solvers, t = _matrix(costs)
    return matrix_profile("performance", solvers, t, None, alphas, tau=tau, measure=measure)


def data_profile(costs: Mapping[Instance, Mapping[str, float]], alphas: Sequence[float] | None = None,
                 *, normalize: bool | None = None, tau: float | None = None,
                 measure: str = "oracle_calls") -> Profile:
    """Moré & Wild (2009) data profile.

    d_s(alpha) = |{p in P_s : t_{p,s} / (n_p + 1) <= alpha}| / |P_s|: the fraction of instances
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
    dims = np.array([inst.dim for inst in costs], dtype=float)
    return matrix_profile("data", solvers, t, dims, alphas, normalize=normalize, tau=tau, measure=measure)


def matrix_profile(kind: str, solvers: list[str], t: np.ndarray, dims: np.ndarray | None,
                   alphas: Sequence[float] | None = None, *, normalize: bool | None = None,
                   tau: float | None = None, measure: str = "oracle_calls") -> Profile:
    """:func:`performance_profile` (``kind="performance"``) or :func:`data_profile`
    (``"data"``, ``dims``: n_p per row) of a cost matrix ``t[instance, solver]``
    (:meth:`CostFrame.costs`)."""
    if kind == "performance":
        alphas_, curves, solved = _step_curves(_ratios(t), solvers, alphas)
        return Profile("performance", measure, tau, alphas_, curves, solved, t.shape[0])
    if normalize is None:
        normalize = measure == "oracle_calls"
    if normalize:
        t = t / (np.asarray(dims, dtype=float).reshape(-1, 1) + 1.0)
    alphas_, curves, solved = _step_curves(t, solvers, alphas)
    return Profile("data", measure, tau, alphas_, curves, solved, t.shape[0])
