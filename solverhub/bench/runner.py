"""Compare: plan problems x solvers x seeds against a result store, compute the
baselines once per problem, and execute the missing runs in local worker
processes or on a Dask distributed cluster."""
from __future__ import annotations

__all__ = ["Plan", "plan_compare", "run_compare", "ensure_baselines"]

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import OptionError
from ..result import Result
from .problemset import ProblemEntry, SolverSpec
from .store import ResultStore, run_key
from .tasks import RunTask


@dataclass
class Plan:
    tasks: list[RunTask] = field(default_factory=list)        # runs still to do
    done: list[str] = field(default_factory=list)             # keys already in the store
    skipped: list[tuple[str, str, str]] = field(default_factory=list)   # (problem, solver, reason)
    problems: dict = field(default_factory=dict)               # problem_hash -> Problem

    @property
    def keys(self) -> list[str]:
        return self.done + [t.key for t in self.tasks]


def plan_compare(entries: Sequence[ProblemEntry], solvers: Sequence[SolverSpec], seeds: int, done: set[str],
                 *, common_options: dict | None = None, time_limit_s: float | None = None) -> Plan:
    """Load every problem and check every option *before* any run starts (bad input fails
    fast, before the store is created). ``done``: keys already in the store."""
    from ..api import split_options
    from ..options import RunOptions, option_names
    from ..problem.model import load_problem
    from ..registry import get_registry

    registry = get_registry()
    classes = {spec.name: registry.solver(spec.name) for spec in solvers}
    common = dict(common_options or {})
    run_names = set(option_names(RunOptions))
    for key in common:
        if not any(key.replace("-", "_") in run_names | set(option_names(c.Options)) for c in classes.values()):
            raise OptionError(f"--option {key}: no selected solver has this option",
                              allowed=", ".join(sorted(run_names.union(*(option_names(c.Options)
                                                                         for c in classes.values())))))
    plan = Plan()
    for entry in entries:
        problem = load_problem(entry.path, overrides=entry.overrides)
        plan.problems[problem.content_hash] = problem
        for spec in solvers:
            cls = classes[spec.name]
            ok, why = cls().accepts(problem)
            if not ok:
                plan.skipped.append((problem.name, spec.label, why))
                continue
            known = run_names | set(option_names(cls.Options))
            options = {k: v for k, v in common.items() if k.replace("-", "_") in known}
            options.update(spec.options)
            split_options(cls, options)                 # unknown names / bad values fail now
            version = registry.solvers[spec.name].version
            for seed in range(seeds):
                key = run_key(problem.content_hash, spec.name, version, options, seed)
                if key in done:
                    plan.done.append(key)
                    continue
                plan.tasks.append(RunTask(key=key, problem_path=str(entry.path), problem_name=problem.name,
                                          problem_hash=problem.content_hash, solver=spec.name, seed=seed,
                                          options=options, overrides=dict(entry.overrides),
                                          time_limit_s=time_limit_s, label=spec.label))
    return plan


def ensure_baselines(plan: Plan, store: ResultStore, on_baseline: Callable | None = None) -> None:
    """Compute each problem's baseline once and cache it in the store."""
    from ..baseline import NoBaseline, compute_baseline
    for problem_hash, problem in plan.problems.items():
        if store.baseline(problem_hash) is not None:
            continue
        try:
            base = compute_baseline(problem)
            store.put_baseline(problem_hash, problem.name, base.status, base.objective, base.message)
        except NoBaseline as err:
            store.put_baseline(problem_hash, problem.name, "none", None, f"no convex baseline: {err}")
        except Exception as err:  # noqa: BLE001 - a baseline failure must not stop the compare
            store.put_baseline(problem_hash, problem.name, "failed", None, f"{type(err).__name__}: {err}")
        if on_baseline is not None:
            on_baseline(problem.name)


def _with_gap(result: Result, store: ResultStore) -> Result:
    base = store.baseline(result.problem_hash)
    if base is None or base[1] is None or not math.isfinite(base[1]):
        return result
    objective = base[1]
    gap = (result.objective - objective) / max(1.0, abs(objective))
    return result.replace(baseline_objective=objective, baseline_gap=gap)


def run_compare(plan: Plan, store: ResultStore, *, jobs: int = 1, scheduler: str | None = None,
                on_result: Callable[[Result], None] | None = None) -> None:
    """Execute ``plan.tasks``; each finished run is committed to the store at once."""
    def record(task: RunTask, result_json: str) -> None:
        result = _with_gap(Result.from_json(result_json), store)
        result = result.replace(extras={**result.extras, "label": task.label or task.solver})
        store.put(task.key, result, task.problem_path, options=task.options)
        if on_result is not None:
            on_result(result)

    if not plan.tasks:
        return
    if scheduler:
        from .dask_runner import run_on_dask
        run_on_dask(plan.tasks, scheduler, record)
    else:
        from .pool import WorkerPool
        WorkerPool(jobs).run(plan.tasks, record)
