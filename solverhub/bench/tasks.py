"""One compare run as a picklable task, and ``run_task``: what a worker (local
process or Dask) executes. ``run_task`` never raises: anything that goes wrong
becomes a ``failed`` Result, so one run can never take the compare down."""
from __future__ import annotations

__all__ = ["RunTask", "run_task", "failed_result"]

import math
import time
import traceback
from dataclasses import dataclass, field

from ..result import Result, Stationarity, Status


@dataclass(frozen=True)
class RunTask:
    key: str
    problem_path: str
    problem_name: str
    problem_hash: str
    solver: str
    seed: int
    options: dict = field(default_factory=dict)     # as given by the user (the key is built from these)
    overrides: dict = field(default_factory=dict)   # --set / problem-set `set:`
    time_limit_s: float | None = None
    label: str = ""                                 # solver as the user wrote it, e.g. "adam:lr=0.01"


def failed_result(task: RunTask, status: Status, message: str, wall_time_s: float = 0.0) -> Result:
    return Result(solver=task.solver, problem=task.problem_name, problem_hash=task.problem_hash, status=status,
                  message=message, objective=math.nan, stationarity=Stationarity("none", math.nan), iterations=0,
                  oracle_calls={}, wall_time_s=wall_time_s, device="cpu", seed=task.seed, options=dict(task.options))


def run_task(task: RunTask, on_begin=None) -> str:
    """Solve one task in this process; return the Result as JSON (a string pickles cheaply and
    safely). ``on_begin(info)``: called when the timed region starts (see ``solverhub.isolation``,
    whose workers run this)."""
    t0 = time.perf_counter()
    try:
        from ..api import _solve_here
        from ..problem.model import load_problem
        options = dict(task.options)
        if task.time_limit_s is not None:
            given = options.get("time_limit_s")
            options["time_limit_s"] = min(float(given), task.time_limit_s) if given is not None else task.time_limit_s
        problem = load_problem(task.problem_path, overrides=task.overrides)
        result = _solve_here(problem, task.solver, options=options, seed=task.seed, device="cpu", dtype="float64",
                             baseline=False, on_begin=on_begin)
        if result.problem_hash != task.problem_hash:
            result = result.replace(message=result.message + " (problem file changed during the compare)")
        return result.to_json()
    except BaseException as err:  # noqa: BLE001 - a worker must always answer
        if isinstance(err, KeyboardInterrupt):
            raise
        detail = "".join(traceback.format_exception_only(type(err), err)).strip()
        return failed_result(task, Status.FAILED, detail, time.perf_counter() - t0).to_json()
