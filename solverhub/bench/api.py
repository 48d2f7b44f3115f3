"""``solverhub.compare``: problems x solvers x seeds into a resumable result store, as a
Python call (the ``solverhub compare`` command is a thin layer over it).

Runs and baselines execute in persistent worker processes (``bench/pool.py``): forked
from this process on CPU, so torch, the plugins and the loaded problems are shared
rather than imported and loaded again; spawned, one per GPU, for ``device="cuda"``.
"""
from __future__ import annotations

__all__ = ["compare", "resolve_compare_device", "CompareEvents"]

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import OptionError
from ..result import Result

_DEVICES = ("auto", "cpu", "cuda")


@dataclass
class CompareEvents:
    """Callbacks a compare calls as it goes (all optional): ``planned(plan)`` once the plan is
    made (before any run), ``baseline(problem, status, cached)``, ``result(result)`` per
    finished run, ``tick()`` at least every half second while runs are in flight."""

    planned: Callable | None = None
    baseline: Callable | None = None
    result: Callable | None = None
    tick: Callable | None = None


def resolve_compare_device(device: str, jobs: int) -> list[str]:
    """The device of each worker for ``device`` (``auto``: CUDA when available, else CPU);
    see :func:`solverhub.bench.pool.assign_devices`."""
    from .pool import assign_devices
    device = str(device)
    if device not in _DEVICES and not device.startswith("cuda:"):
        raise OptionError(f"unknown device {device!r}", allowed="auto, cpu, cuda, cuda:N")
    if device == "cpu":
        return assign_devices("cpu", jobs, 0)
    import torch
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        device = "cuda" if gpus else "cpu"
    if device.startswith("cuda") and not gpus:
        raise OptionError(f"device {device!r} requested but CUDA is not available", allowed="auto, cpu")
    if device.startswith("cuda:"):
        index = device.split(":", 1)[1]
        if not index.isdigit() or int(index) >= gpus:
            raise OptionError(f"device {device!r}: there are {gpus} GPU(s)",
                              allowed=", ".join(f"cuda:{i}" for i in range(gpus)))
    return assign_devices(device, jobs, gpus)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, Path)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def compare(problems: str | Path | Sequence[str | Path], solvers: str | Sequence[str] | None = None, *,
            seeds: int = 1, store: str | Path = "runs.sqlite", jobs: int = 1, device: str = "cpu",
            options: Mapping[str, Any] | None = None, time_limit_s: float = 300.0, scheduler: str | None = None,
            baseline: bool = True, allow_outside_set: bool = False,
            events: CompareEvents | None = None) -> list[Result]:
    """Run every (problem, solver, seed) not already in ``store`` and return the Results of all
    of them (those found in the store included), sorted by problem, solver label and seed.

    ``problems``: problem files, folders (searched recursively) or problem-set files.
    ``solvers``: registered names or ``name:k=v,...`` specs (default: every registered
    solver); ``options``: options for every solver that has them (run options go to all).
    ``jobs`` worker processes (``device="cuda"``: at least one per GPU); ``time_limit_s``:
    per run and per baseline, a run past it is killed and recorded ``time_limit``.
    ``scheduler``: a Dask address (``tcp://host:port``) instead of local workers.
    ``baseline``: compute (or take from the cache) each problem's reference objective, so
    the Results carry ``baseline_gap``. Raises :class:`~solverhub.errors.SolverhubError`
    for bad input before any run starts.
    """
    from .problemset import SolverSpec, collect_entries, parse_solver_spec
    from .runner import plan_compare, run_compare, with_gaps
    from .store import ResultStore

    events = events or CompareEvents()
    seeds, jobs = int(seeds), int(jobs)
    if seeds < 1 or jobs < 1:
        raise OptionError(f"seeds and jobs must be >= 1, got seeds={seeds}, jobs={jobs}")
    if not time_limit_s or not float(time_limit_s) > 0:
        raise OptionError(f"time_limit_s must be > 0, got {time_limit_s!r}")
    time_limit_s = float(time_limit_s)
    specs = [s if isinstance(s, SolverSpec) else parse_solver_spec(str(s)) for s in _as_list(solvers)]
    if not specs:
        from ..registry import get_registry
        specs = [parse_solver_spec(n) for n in sorted(get_registry().solvers)]
    devices = None if scheduler else resolve_compare_device(device, jobs)
    run_device = "cpu" if not devices else devices[0].split(":")[0]
    entries = collect_entries(_as_list(problems), allow_outside=allow_outside_set, validate=False)
    common = {str(k): v for k, v in dict(options or {}).items()}
    plan = plan_compare(entries, specs, seeds, ResultStore.existing_keys(store), common_options=common,
                        time_limit_s=time_limit_s, device=run_device)
    with ResultStore(store) as db:
        db.put_skipped(plan.skipped)
        if plan.tasks:
            db.record_session(jobs=len(devices) if devices else jobs)
        if events.planned is not None:
            events.planned(plan)
        decoded: dict = {}          # this compare's runs, as stored: not decoded twice
        if plan.tasks or baseline:
            run_compare(plan, db, jobs=jobs, scheduler=scheduler, on_result=events.result, baselines=baseline,
                        time_limit_s=time_limit_s, devices=devices, on_baseline=events.baseline, tick=events.tick,
                        decoded=decoded)
        wanted = set(plan.keys)
        results = with_gaps(db, [r.result for r in db.records(known=decoded) if r.key in wanted])
    return sorted(results, key=lambda r: (r.problem, r.extras.get("label", r.solver), r.seed))


def print_events(stream=None) -> CompareEvents:
    """Events that print one line per finished run and baseline (what ``compare`` shows when
    its output is not a terminal)."""
    stream = stream or sys.stderr
    state = {"total": 0, "done": 0}

    def planned(plan):
        state["total"] = len(plan.tasks)

    def baseline(problem, status, cached):
        print(f"baseline {problem}: {status}{' (cached)' if cached else ''}", file=stream, flush=True)

    def result(r):
        state["done"] += 1
        width = len(str(state["total"]))
        print(f"[{state['done']:>{width}}/{state['total']}] {r.problem} {r.extras.get('label', r.solver)} "
              f"seed {r.seed}: {r.status.value} in {r.wall_time_s:.3g} s", file=stream, flush=True)
    return CompareEvents(planned=planned, baseline=baseline, result=result)
