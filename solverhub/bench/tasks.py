"""What a compare worker executes: a run (:class:`RunTask`) or a problem's baseline
(:class:`BaselineTask`), both picklable. :func:`execute` never raises: anything that
goes wrong becomes a ``failed`` answer, so one run can never take the compare down.

A run answers with its Result in the store's compact encoding (:mod:`~solverhub.bench.codec`,
bytes: ~0.6 KB instead of ~4 KB of JSON for a 20-point trace), which the compare stores as
it is; a baseline answers with a small JSON string. :func:`result_of` reads either form.

A worker reuses a problem across its runs: a forked worker reads the Problem the
compare loaded while planning (``problems``, by content hash); a spawned one (Dask,
CUDA) loads each file once and keeps it under the content hash the plan named, so a
run always solves exactly the content its run key hashes. Its torch lowering is reused
too, when every seed has the same one (``solverhub.api._lower``)."""
from __future__ import annotations

__all__ = ["RunTask", "BaselineTask", "ChunkTask", "run_task", "run_chunk", "chunk_answers", "baseline_task",
           "execute", "failed_result", "failed_baseline", "result_of", "with_gap"]

import json
import math
import struct
import time
import traceback
from dataclasses import dataclass, field, replace

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
    device: str = "cpu"                             # cpu, cuda, cuda:1 (the worker may pin its own GPU)
    baseline_objective: float | None = None         # the problem's baseline when known at dispatch (its gap)


@dataclass(frozen=True)
class BaselineTask:
    """The reference objective of one problem (``compute_baseline``), under a time limit."""

    problem_path: str
    problem_name: str
    problem_hash: str
    overrides: dict = field(default_factory=dict)
    time_limit_s: float | None = None
    key: str = ""

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", f"baseline:{self.problem_hash}")


@dataclass(frozen=True)
class ChunkTask:
    """Several tiny runs of one configuration, sent to a worker as one message and answered
    as one (:func:`run_chunk`), so that the messages and wake-ups of a run (task, begin, answer)
    are paid once per chunk (``bench/pool.py`` forms them). Only the first run announces its
    begin, with ``limit_s`` as its time limit when that is shorter than the run's own: the
    chunk's hard limit (a chunk of tiny runs that hangs is cut after seconds, not after a
    run's limit). Its other attributes are the first run's, so a chunk that fails reads like
    one run; the pool then runs each of its tasks alone, under their own limits."""

    tasks: tuple = ()
    device: str = "cpu"
    limit_s: float | None = None

    def __getattr__(self, name):            # key, solver, seed, options, time_limit_s...: the first run's
        if name.startswith("__") or name == "tasks":
            raise AttributeError(name)
        return getattr(self.tasks[0], name)


_CHUNK = b"\xff"       # a chunk's answer starts with it (a codec blob starts with its version, 1)


def chunk_answers(payload) -> list[bytes] | None:
    """The runs' codec blobs of a :func:`run_chunk` answer, or None when ``payload`` is not one."""
    if not isinstance(payload, bytes) or payload[:1] != _CHUNK:
        return None
    (n,) = struct.unpack_from("<I", payload, 1)
    sizes = struct.unpack_from(f"<{n}I", payload, 5)
    out, offset = [], 5 + 4 * n
    for size in sizes:
        out.append(payload[offset:offset + size])
        offset += size
    return out


def failed_result(task: RunTask, status: Status, message: str, wall_time_s: float = 0.0) -> Result:
    return Result(solver=task.solver, problem=task.problem_name, problem_hash=task.problem_hash, status=status,
                  message=message, objective=math.nan, stationarity=Stationarity("none", math.nan), iterations=0,
                  oracle_calls={}, wall_time_s=wall_time_s, device=getattr(task, "device", "cpu"), seed=task.seed,
                  options=dict(task.options))


def result_of(payload: bytes | str) -> Result:
    """The Result of a run's answer: a codec blob (bytes) or JSON text (older callers, Dask);
    of a chunk's answer, its first run's (the pool runs a chunk that printed anything again,
    one run at a time)."""
    if isinstance(payload, bytes) and payload[:1] == _CHUNK:
        payload = chunk_answers(payload)[0]
    if isinstance(payload, (bytes, bytearray, memoryview)):
        from .codec import decode_result
        return decode_result(bytes(payload))
    return Result.from_json(payload)


def with_gap(result: Result, objective: float | None) -> Result:
    """``result`` with its relative gap to a finite baseline ``objective`` (unchanged without one)."""
    if objective is None or not math.isfinite(objective):
        return result
    return result.replace(baseline_objective=objective,
                          baseline_gap=(result.objective - objective) / max(1.0, abs(objective)))


def failed_baseline(task: BaselineTask, status: str, message: str) -> str:
    """A baseline that did not finish (``failed``, ``time_limit``), as the worker's JSON answer."""
    return json.dumps({"status": status, "objective": None, "message": message})


_LOADED: dict[str, object] = {}     # content hash -> Problem, in a spawned worker
_MAX_LOADED = 64
_LOWERED: dict = {}                 # (content hash, device, dtype) -> TorchProblem, this worker's (api._lower)


def _problem(task, problems):
    """The task's Problem: inherited from the planning process, loaded before by this
    worker, or loaded now (and kept when its content hash is the one the plan named)."""
    found = (problems or {}).get(task.problem_hash) or _LOADED.get(task.problem_hash)
    if found is not None:
        return found, ""
    from ..problem.model import load_problem
    problem = load_problem(task.problem_path, overrides=task.overrides)
    if problem.content_hash != task.problem_hash:
        return problem, " (problem file changed during the compare)"
    if len(_LOADED) >= _MAX_LOADED:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[task.problem_hash] = problem
    return problem, ""


def run_task(task: RunTask, on_begin=None, problems=None, max_threads: int | None = None) -> bytes:
    """Solve one task in this process; return the Result in the compact encoding, labelled
    (``extras["label"]``) and with its baseline gap when the task carries the baseline.
    ``on_begin(info)``: called when the timed region starts (see ``solverhub.isolation``,
    whose workers run this)."""
    from .codec import encode_result
    t0 = time.perf_counter()
    try:
        from ..api import _solve_here
        options = dict(task.options)
        if task.time_limit_s is not None:
            given = options.get("time_limit_s")
            options["time_limit_s"] = min(float(given), task.time_limit_s) if given is not None else task.time_limit_s
        problem, note = _problem(task, problems)
        result = _solve_here(problem, task.solver, options=options, seed=task.seed, device=task.device,
                             dtype="float64", baseline=False, on_begin=on_begin, max_threads=max_threads,
                             lowered=_LOWERED)
        changes = {"extras": {**result.extras, "label": task.label or task.solver}}
        if note:
            changes["message"] = result.message + note
        return encode_result(with_gap(result.replace(**changes), task.baseline_objective))
    except BaseException as err:  # noqa: BLE001 - a worker must always answer
        if isinstance(err, KeyboardInterrupt):
            raise
        detail = "".join(traceback.format_exception_only(type(err), err)).strip()
        return encode_result(failed_result(task, Status.FAILED, detail, time.perf_counter() - t0))


def run_chunk(chunk: ChunkTask, on_begin=None, problems=None, max_threads: int | None = None) -> bytes:
    """Solve the chunk's runs one after the other (:func:`run_task`, on the chunk's device); answer
    their blobs in one message (:func:`chunk_answers` reads it)."""
    def begin(info: dict) -> None:
        own = info.get("time_limit_s")
        if chunk.limit_s is not None and (own is None or own > chunk.limit_s):
            info = {**info, "time_limit_s": chunk.limit_s}
        on_begin(info)

    blobs = [run_task(t if t.device == chunk.device else replace(t, device=chunk.device),
                      begin if i == 0 and on_begin is not None else None, problems, max_threads)
             for i, t in enumerate(chunk.tasks)]
    return b"".join([_CHUNK, struct.pack(f"<I{len(blobs)}I", len(blobs), *map(len, blobs)), *blobs])


def baseline_task(task: BaselineTask, on_begin=None, problems=None, max_threads: int | None = None) -> str:
    """``compute_baseline`` of the task's problem (certified with the torch oracle on CPU):
    JSON ``{status, objective, message}``; status ``none`` when the problem has no reference."""
    try:
        from ..baseline import NoBaseline, compute_baseline
        if max_threads is not None:
            import torch
            torch.set_num_threads(max_threads)
        problem, _ = _problem(task, problems)
        if on_begin is not None:
            on_begin({"time_limit_s": task.time_limit_s, "solver": "baseline"})
        try:
            base = compute_baseline(problem)
        except NoBaseline as err:
            return json.dumps({"status": "none", "objective": None, "message": f"no convex baseline: {err}"})
        objective = base.objective if base.objective is not None and math.isfinite(base.objective) else None
        return json.dumps({"status": base.status.value, "objective": objective, "message": base.message})
    except BaseException as err:  # noqa: BLE001 - a baseline failure must not stop the compare
        if isinstance(err, KeyboardInterrupt):
            raise
        return failed_baseline(task, "failed", f"{type(err).__name__}: {err}")


def execute(task, on_begin=None, problems=None, max_threads: int | None = None) -> bytes | str:
    """Run ``task`` here: a RunTask's answer is a codec blob (bytes), a ChunkTask's the blobs of its
    runs (:func:`chunk_answers`), a BaselineTask's JSON text."""
    if isinstance(task, BaselineTask):
        return baseline_task(task, on_begin, problems, max_threads)
    if isinstance(task, ChunkTask):
        return run_chunk(task, on_begin, problems, max_threads)
    return run_task(task, on_begin, problems, max_threads)
