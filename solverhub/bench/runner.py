"""Compare: plan problems x solvers x seeds against a result store, then execute the
missing runs and baselines in persistent local worker processes (``bench/pool.py``) or
on a Dask distributed cluster. Baselines come from the cache when known
(``solverhub.baseline.cache_dir``), else they are computed by the workers alongside the
runs; a run that finishes before its problem's baseline gets its gap when it arrives."""
from __future__ import annotations

__all__ = ["Plan", "plan_compare", "run_compare", "ensure_baselines", "baseline_tasks"]

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import OptionError
from ..options import canonical_json
from ..result import Result
from ..solver import Refusal, verdict_of
from .problemset import ProblemEntry, SolverSpec
from .store import ResultStore, canonical_options, run_key
from .tasks import BaselineTask, RunTask, result_of, with_gap


@dataclass
class Plan:
    tasks: list[RunTask] = field(default_factory=list)        # runs still to do
    done: list[str] = field(default_factory=list)             # keys already in the store
    skipped: list[tuple[str, str, Refusal]] = field(default_factory=list)   # (problem, solver label, refusal)
    problems: dict = field(default_factory=dict)               # problem_hash -> Problem
    versions: dict[str, str] = field(default_factory=dict)     # run key -> the solver version in that key
    option_texts: dict[str, str] = field(default_factory=dict)  # run key -> its options' canonical text
    resolved: dict[str, dict] = field(default_factory=dict)    # run key -> every option the run uses
    entries: dict = field(default_factory=dict)                # problem_hash -> ProblemEntry

    @property
    def keys(self) -> list[str]:
        return self.done + [t.key for t in self.tasks]


@dataclass(frozen=True)
class _Config:
    """One solver configuration of a compare: typed canonical options (common ``--option``
    values the solver has, overridden by its own ``--solver name:k=v``), and its label."""

    name: str
    cls: type
    version: str
    options: dict
    label: str


def _configs(solvers: Sequence[SolverSpec], common: dict) -> list[_Config]:
    """Type every option of every solver spec now: an unknown name or a bad value is an
    :class:`OptionError` before any problem is loaded or any run starts. Specs that are one
    configuration once typed (``gd:lr=0.01`` and ``gd:lr=1e-2``) are kept once."""
    from ..options import RunOptions, canonical_label, canonical_options, option_names
    from ..registry import get_registry

    registry = get_registry()
    classes = {spec.name: registry.solver(spec.name) for spec in solvers}
    run_names = set(option_names(RunOptions))
    for key in common:
        if not any(key.replace("-", "_") in run_names | set(option_names(c.Options)) for c in classes.values()):
            raise OptionError(f"--option {key}: no selected solver has this option",
                              allowed=", ".join(sorted(run_names.union(*(option_names(c.Options)
                                                                         for c in classes.values())))))
    out: list[_Config] = []
    seen: set[tuple[str, str]] = set()
    for spec in solvers:
        cls = classes[spec.name]
        known = run_names | set(option_names(cls.Options))
        shared = canonical_options(cls, {k: v for k, v in common.items() if k.replace("-", "_") in known})
        own = canonical_options(cls, spec.options)
        options = canonical_options(cls, {**shared, **own})     # the whole set checked together
        identity = (spec.name, canonical_json(options))
        if identity in seen:
            continue
        seen.add(identity)
        out.append(_Config(spec.name, cls, registry.solvers[spec.name].version, options,
                           canonical_label(spec.name, own)))
    return out


def _resolved_options(cls, problem, options: dict, time_limit_s: float | None) -> dict:
    """Every option the run will use, as ``solve`` reports them in ``Result.options``: class
    defaults, the problem file's ``solve:`` defaults, then the given options (this also checks
    the problem's defaults before any run)."""
    from ..api import _jsonable, split_options
    from ..options import RunOptions, option_names, options_dict
    known = set(option_names(RunOptions)) | set(option_names(cls.Options))
    given = dict(options)
    if time_limit_s is not None:                # as run_task: the compare's limit caps a given one
        mine = given.get("time_limit_s")
        given["time_limit_s"] = min(float(mine), time_limit_s) if mine is not None else time_limit_s
    merged = {**{k: v for k, v in problem.solve_defaults.items() if k != "solver" and k.replace("-", "_") in known},
              **given}
    run_opts, solver_opts = split_options(cls, merged)
    out = {**_jsonable(options_dict(run_opts)), **_jsonable(options_dict(solver_opts))}
    return out


def plan_compare(entries: Sequence[ProblemEntry], solvers: Sequence[SolverSpec], seeds: int, done: set[str],
                 *, common_options: dict | None = None, time_limit_s: float | None = None,
                 device: str = "cpu") -> Plan:
    """Check every option, then load every problem, *before* any run starts (bad input fails
    fast, before the store is created). ``done``: keys already in the store.

    Run keys and labels are built from typed canonical options (see
    :func:`~solverhub.options.canonical_options`), so one configuration is one run however
    its options are spelled. ``device``: what the runs solve on (``cpu``/``cuda``; a GPU
    worker pins its own ``cuda:i``). An error in a problem-set entry names the set's line."""
    from .problemset import load_entry

    configs = _configs(solvers, dict(common_options or {}))
    plan = Plan()
    for entry in entries:
        problem = load_entry(entry)
        plan.problems[problem.content_hash] = problem
        plan.entries.setdefault(problem.content_hash, entry)
        for config in configs:
            verdict = verdict_of(config.cls(), problem)
            if not verdict:
                plan.skipped.append((problem.name, config.label, verdict))
                continue
            resolved = _resolved_options(config.cls, problem, config.options, time_limit_s)
            text = canonical_options(config.options)        # once per configuration, not per seed
            for seed in range(seeds):
                key = run_key(problem.content_hash, config.name, config.version, text, seed)
                plan.versions[key] = config.version
                plan.option_texts[key] = text
                plan.resolved[key] = resolved
                if key in done:
                    plan.done.append(key)
                    continue
                plan.tasks.append(RunTask(key=key, problem_path=str(entry.path), problem_name=problem.name,
                                          problem_hash=problem.content_hash, solver=config.name, seed=seed,
                                          options=dict(config.options), overrides=dict(entry.overrides),
                                          time_limit_s=time_limit_s, label=config.label, device=device))
    return plan


_RETRIED = ("time_limit",)      # stored baseline answers that a later compare computes again


def _known_baseline(store: ResultStore, problem_hash: str, name: str) -> str | None:
    """Where this problem's baseline is known: ``"store"``, ``"cache"`` (copied into the store
    now) or None."""
    from ..baseline import cached_baseline
    stored = store.baseline(problem_hash)
    if stored is not None and stored[0] not in _RETRIED:
        return "store"
    cached = cached_baseline(problem_hash)
    if cached is None:
        return None
    store.put_baseline(problem_hash, name, cached["status"], cached.get("objective"),
                       (cached.get("message") or "") + " (from the baseline cache)")
    return "cache"


def baseline_tasks(plan: Plan, store: ResultStore, time_limit_s: float | None = None,
                   on_baseline: Callable | None = None) -> list[BaselineTask]:
    """The baselines still to compute for the plan's problems; those in the cache are copied
    into the store now (``on_baseline(name, status, cached=True)`` for each)."""
    out = []
    for problem_hash, problem in plan.problems.items():
        known = _known_baseline(store, problem_hash, problem.name)
        if known:
            if on_baseline is not None and known == "cache":
                on_baseline(problem.name, store.baseline(problem_hash)[0], True)
            continue
        entry = plan.entries.get(problem_hash)
        out.append(BaselineTask(problem_path=str(entry.path) if entry else str(problem.source),
                                problem_name=problem.name, problem_hash=problem_hash,
                                overrides=dict(entry.overrides) if entry else {}, time_limit_s=time_limit_s))
    return out


def record_baseline(store: ResultStore, task: BaselineTask, answer_json: str) -> tuple[str, float | None]:
    """Store (and cache) a worker's baseline answer; ``(status, objective)``."""
    import json

    from ..baseline import cache_baseline
    answer = json.loads(answer_json)
    status, objective, message = answer.get("status", "failed"), answer.get("objective"), answer.get("message", "")
    store.put_baseline(task.problem_hash, task.problem_name, status, objective, message)
    cache_baseline(task.problem_hash, task.problem_name, status, objective, message)
    return status, objective


def ensure_baselines(plan: Plan, store: ResultStore, on_baseline: Callable | None = None,
                     time_limit_s: float | None = None) -> None:
    """Compute each problem's missing baseline now (in a worker, under the time limit), before
    any run; :func:`run_compare` with ``baselines=True`` does it alongside the runs instead."""
    from .pool import WorkerPool
    tasks = baseline_tasks(plan, store, time_limit_s)
    if not tasks:
        return

    def record(task, answer):
        record_baseline(store, task, answer)
        if on_baseline is not None:
            on_baseline(task.problem_name)
    WorkerPool(1, problems=plan.problems).run(tasks, record)


def _objective(store: ResultStore, problem_hash: str) -> float | None:
    """The problem's finite baseline objective in the store, else None."""
    base = store.baseline(problem_hash)
    return base[1] if base is not None and base[1] is not None and math.isfinite(base[1]) else None


def _with_gap(result: Result, store: ResultStore) -> Result:
    return with_gap(result, _objective(store, result.problem_hash))


def with_gaps(store: ResultStore, results: list[Result]) -> list[Result]:
    """The results, each with its problem's baseline gap when the store has the baseline (a run
    stored before its baseline, by a compare killed in between, has none in the store)."""
    return [_with_gap(r, store) if r.baseline_objective is None else r for r in results]


def run_compare(plan: Plan, store: ResultStore, *, jobs: int = 1, scheduler: str | None = None,
                on_result: Callable[[Result], None] | None = None, baselines: bool = False,
                time_limit_s: float | None = None, devices: list[str] | None = None,
                on_baseline: Callable | None = None, tick: Callable[[], None] | None = None,
                decoded: dict | None = None) -> None:
    """Execute ``plan.tasks`` (and, with ``baselines``, the missing baselines alongside them);
    the runs that finish together (one wake-up of the pool: a worker's chunk of tiny runs, or one
    run) are committed to the store at once, in one transaction, then reported.
    ``on_baseline(name, status, cached)`` for each baseline, ``on_result(result)`` for each run,
    ``tick()`` now and then. ``decoded``: filled with key -> Result of the runs stored exactly as
    their workers sent them (``ResultStore.records(known=...)`` need not decode them again)."""
    waiting: dict[str, list] = {}           # problem hash -> runs stored before its baseline arrived
    unsaved: list[tuple] = []               # (store row, Result) of the runs answered since the last commit
    extra = baseline_tasks(plan, store, time_limit_s, on_baseline) if baselines else []
    objectives = {h: _objective(store, h) for h in {t.problem_hash for t in plan.tasks}}   # finite, or None
    pending = {t.problem_hash for t in extra}

    def record_run(task: RunTask, payload: bytes | str) -> None:
        result = result_of(payload)
        blob = payload if isinstance(payload, bytes) else None     # stored as it came when nothing changes
        version = plan.versions.get(task.key)
        changes = {}
        if version is not None and result.solver_version != version and result.solver_version == "0":
            changes["solver_version"] = version       # a run that never reached the solver (killed, crashed)
        resolved = plan.resolved.get(task.key)
        if resolved is not None and not set(resolved) <= set(result.options):
            changes["options"] = {**result.options, **resolved}   # ...reports every option, as a solved one does
        label = task.label or task.solver
        if result.extras.get("label") != label:
            changes["extras"] = {**result.extras, "label": label}
        if result.baseline_objective is None and objectives.get(task.problem_hash) is not None:
            result = with_gap(result, objectives[task.problem_hash])   # it arrived after the task left
            blob = None
        if changes:
            result, blob = result.replace(**changes), None
        options = plan.option_texts.get(task.key, task.options)
        unsaved.append(((task.key, result, task.problem_path, options, version, blob), result))
        if task.problem_hash in pending:
            waiting.setdefault(task.problem_hash, []).append((task, result, version))

    def commit(report: bool = True) -> None:
        if not unsaved:
            return
        done = unsaved[:]
        store.put_many([row for row, _ in done])
        del unsaved[:len(done)]
        if decoded is not None:
            decoded.update((row[0], result) for row, result in done if row[5] is not None)
        if report and on_result is not None:
            for _, result in done:
                on_result(result)

    def record(task, payload: bytes | str) -> None:
        if not isinstance(task, BaselineTask):
            return record_run(task, payload)
        commit()                                # the runs it updates below are in the store first
        status, objective = record_baseline(store, task, payload)
        objectives[task.problem_hash] = _objective(store, task.problem_hash)
        pending.discard(task.problem_hash)
        for run, result, version in waiting.pop(task.problem_hash, []):
            updated = _with_gap(result, store)
            if updated is not result:
                store.put(run.key, updated, run.problem_path, options=run.options, solver_version=version)
                if decoded is not None:
                    decoded.pop(run.key, None)
        if on_baseline is not None:
            on_baseline(task.problem_name, status, False)

    runs = [t if objectives[t.problem_hash] is None else dataclasses.replace(t, baseline_objective=objectives[
        t.problem_hash]) for t in plan.tasks]         # the worker fills the gap of a known baseline
    tasks = [*extra, *runs]
    if not tasks:
        return
    try:
        if scheduler:
            from .dask_runner import run_on_dask
            run_on_dask(tasks, scheduler, lambda task, payload: (record(task, payload), commit()))
        else:
            from .pool import WorkerPool
            WorkerPool(jobs, devices=devices, problems=plan.problems).run(tasks, record, tick=tick, settle=commit)
    finally:
        commit(report=False)                    # answered before an interruption: kept, not shown
