"""The public entry points: ``load_problem``, ``solve``, ``resolve_device``."""
from __future__ import annotations

__all__ = ["solve", "load_problem", "resolve_device", "split_options"]

import dataclasses
import math
import os
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._lazy import lazy_module
from .errors import OptionError, SolverhubError, SolverRefused
from .options import RunOptions, build_options, option_names, options_dict
from .oracle import Oracle
from .problem.model import Problem, load_problem
from .registry import get_registry
from .result import Result, Stationarity, Status
from .oracle import Known
from .solver import run_loop, verdict_of

torch = lazy_module("torch")

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float64", "float32")
MAX_SOLUTION_ELEMENTS = 100_000


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; validates the choice."""
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise OptionError(f"unknown device {device!r}", allowed=", ".join(DEVICES))
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"device {device!r} requested but CUDA is not available", allowed="auto, cpu")
    return device


def split_options(solver_cls, values: Mapping[str, Any]):
    """Split ``key=value`` options into (RunOptions, solver Options), coercing types."""
    run_names = set(option_names(RunOptions))
    solver_names = set(option_names(solver_cls.Options))
    run_vals, solver_vals = {}, {}
    for key, value in values.items():
        k = key.replace("-", "_")
        if k in run_names:
            run_vals[k] = value
        elif k in solver_names:
            solver_vals[k] = value
        else:
            raise OptionError(f"unknown option {key!r} for solver {solver_cls.name!r}",
                              allowed=", ".join(sorted(run_names | solver_names)))
    return (build_options(RunOptions, run_vals, what="option"),
            build_options(solver_cls.Options, solver_vals, what=f"{solver_cls.name} option"))


SMALL_PROBLEM_ELEMENTS = 1_000_000


def _cpu_threads(problem) -> int | None:
    """Torch intra-op threads for a CPU solve: ``SOLVERHUB_TORCH_THREADS`` if set, else 1 for
    small problems (thread start-up costs more than it saves on tiny tensors; measured 6x
    slower with 2 threads on a 100x5 network under load), else torch's default (None)."""
    import os
    env = os.environ.get("SOLVERHUB_TORCH_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise OptionError(f"SOLVERHUB_TORCH_THREADS={env!r} is not an integer") from None
    size = problem.dim + sum(int(a.size) for a in problem.data.values())
    return 1 if size < SMALL_PROBLEM_ELEMENTS else None


def _jsonable(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "model_dump") and not isinstance(value, type):     # a pydantic Options model
        return {k: _jsonable(v) for k, v in value.model_dump().items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "detach"):
        return value.detach().cpu().tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def solve(problem: Problem | str | Path, solver: str | type | None = None, *, options: Mapping[str, Any] | None = None,
          device: str = "auto", dtype: str = "float64", seed: int | None = None, baseline: bool = False,
          overrides: Mapping[str, Any] | None = None, isolate: bool = False) -> Result:
    """Solve ``problem`` with ``solver`` and return the :class:`Result`.

    ``solver``: a registered name, a :class:`Solver` subclass, or ``None`` to let
    the registry dispatch (``Registry.dispatch``). ``options`` mixes run options
    (max_iterations, max_oracle_calls, time_limit_s, tolerance, trace_every) and
    the solver's own; values may be strings (from the CLI) and are coerced.

    ``isolate=True`` runs the solve in a forked child process (``solverhub.isolation``;
    the CLI always does, unless ``--no-isolation``): a solver that hangs is killed after
    its ``time_limit_s`` (status ``time_limit``), one that crashes the process
    (``os._exit``, a segfault, a signal) gives a ``failed`` Result, and its output is
    kept, bounded, in ``Result.captured_output``. The default runs in this process:
    a library caller keeps debuggers, profilers and its own torch settings. Where
    ``os.fork`` does not exist (Windows), ``isolate=True`` also runs in this process.
    """
    if not isinstance(problem, Problem):
        problem = load_problem(problem, overrides=overrides)
    if dtype not in DTYPES:
        raise OptionError(f"unknown dtype {dtype!r}", allowed=", ".join(DTYPES))
    if isolate and hasattr(os, "fork"):     # no fork (Windows): in this process
        if device not in DEVICES and not str(device).startswith("cuda:"):
            raise OptionError(f"unknown device {device!r}", allowed=", ".join(DEVICES))
        from .isolation import solve_isolated
        return solve_isolated(problem, solver, options=options, device=device, dtype=dtype, seed=seed,
                              baseline=baseline)
    return _solve_here(problem, solver, options=options, device=device, dtype=dtype, seed=seed, baseline=baseline)


def _solve_here(problem: Problem, solver, *, options, device: str, dtype: str, seed, baseline: bool,
                on_begin=None, max_threads: int | None = None, lowered: dict | None = None) -> Result:
    """The solve itself, in this process. ``on_begin(info)`` is called right before the timed
    region (isolation arms its hard limit from ``info["time_limit_s"]``); ``max_threads``
    caps torch's intra-op threads (1 in a forked child whose parent had imported torch);
    ``lowered``: a compare worker's cache of torch lowerings, reused across seeds (:func:`_lower`)."""
    if dtype not in DTYPES:
        raise OptionError(f"unknown dtype {dtype!r}", allowed=", ".join(DTYPES))
    if max_threads is not None:
        torch.set_num_threads(max_threads)      # before any op: libgomp's pool does not survive a fork
    device = resolve_device(device)
    registry = get_registry()
    defaults = dict(problem.solve_defaults)
    solver = solver or defaults.pop("solver", None)
    defaults.pop("solver", None)
    dispatch_reason = ""
    if solver is None:
        cls, dispatch_reason = registry.dispatch(problem, device.split(":")[0])
    elif isinstance(solver, type):      # a Solver class, registered or not (conformance kit, notebooks)
        cls = solver
        verdict = verdict_of(cls(), problem)
        if not verdict:
            raise SolverRefused(f"solver {cls.name!r} refuses problem {problem.name!r}: {verdict.text}")
    else:
        cls = registry.check_accepts(solver, problem)
    merged = {**{k: v for k, v in defaults.items()
                 if k.replace("-", "_") in set(option_names(RunOptions)) | set(option_names(cls.Options))},
              **dict(options or {})}
    run_opts, solver_opts = split_options(cls, merged)
    seed = problem.oracle_config.seed if seed is None else int(seed)
    entry = registry.solvers.get(cls.name)
    version = cls.version or (entry.version if entry is not None and entry.cls is cls else "unregistered")
    tdtype = getattr(torch, dtype)
    tp = _lower(problem, device, tdtype, seed, lowered)    # the seed draws the start when the file fixes none
    oracle = Oracle.for_problem(tp, problem, config=dataclasses.replace(problem.oracle_config, seed=seed),
                                max_calls=run_opts.max_oracle_calls)
    if str(device).startswith("cuda"):
        torch.manual_seed(seed)
    else:       # the CPU generator only: torch.manual_seed also queues a lazy CUDA seeding per call
        torch.default_generator.manual_seed(seed)   # (a stack trace each), which a compare worker repeats
    rng_before = _rng_states(oracle)
    instance = cls()
    measure_name = cls.stationarity_measure or problem.default_measure   # projected_grad_norm when bounded
    cls.prepare()
    extras: dict[str, Any] = {}
    if dispatch_reason:
        extras["dispatch"] = dispatch_reason
    threads = _cpu_threads(problem) if device == "cpu" else None
    if max_threads is not None:
        threads = min(threads or max_threads, max_threads)
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    options_json = {**_jsonable(options_dict(run_opts)), **_jsonable(options_dict(solver_opts))}
    if on_begin is not None:
        on_begin({"time_limit_s": run_opts.time_limit_s, "solver": cls.name, "solver_version": version,
                  "stationarity": measure_name, "device": str(device), "dtype": dtype, "seed": seed,
                  "options": options_json})
    t0 = time.perf_counter()
    method_s = None         # the method's time; the rest of the timed region is measuring
    try:
        if cls.solve_direct is not None:
            ref = cls.solve_direct(problem, solver_opts)     # a Reference
            method_s = time.perf_counter() - t0
            extras.update(ref.extras)
            if ref.x is None:
                objective = stat = math.nan
                x = None
            else:
                x = torch.as_tensor(ref.x, dtype=tdtype, device=device)
                with oracle.uncounted():
                    value, st = problem.kind.measure(measure_name, tp, oracle, x, Known(duals=ref.duals))
                    objective, stat = float(value), float(st)
            status, message, iterations, trace = ref.status.run_status, ref.message, ref.iterations, ()
            duals = ref.duals
        else:
            out = run_loop(instance, problem, oracle, tp.x0.clone(), solver_opts, run_opts,
                           lambda x, known: problem.kind.measure(measure_name, tp, oracle, x, known))
            method_s = out.wall_time_s
            x = out.state.x if out.state is not None else None
            status, message, iterations = out.status, out.message, out.iterations
            objective, stat, trace = out.final_objective, out.final_stationarity, tuple(out.trace)
            duals = getattr(out.state, "duals", None)
            if out.state is not None:
                with oracle.uncounted():     # reports measure: never counted, never over the budget
                    extras.update(_jsonable(instance.report(out.state, oracle, solver_opts)))
        if x is not None:
            with oracle.uncounted():
                extras.update(_jsonable(problem.kind.report(tp, oracle, x)))
            if tp.constraints:
                extras["max_violation"] = _max_violation(tp, x)
        result_duals = _duals_by_label(problem, duals)
    except SolverhubError:    # a user error raised inside a solver (bad option value): exit 2, not "failed"
        raise
    except Exception as err:  # a solver bug becomes a failed result, never a lost run
        status, message = Status.FAILED, f"{type(err).__name__}: {err}"
        extras["traceback"] = traceback.format_exc(limit=5)
        x, objective, stat, iterations, trace = None, math.nan, math.nan, 0, ()
        result_duals = None
    finally:
        torch.set_num_threads(saved_threads)
    total = time.perf_counter() - t0
    wall = total if method_s is None else method_s
    # the same run for every seed: no minibatch or noise, a start the seed does not draw, and the
    # solver drew nothing from the seeded generators (torch's, the oracle's)
    extras["deterministic"] = bool(not problem.oracle_config.stochastic and not problem.start_depends_on_seed
                                   and all(map(torch.equal, _rng_states(oracle), rng_before)))
    solution = None
    if x is not None and problem.dim <= MAX_SOLUTION_ELEMENTS:
        solution = {k: np.asarray(v.detach().cpu(), dtype=np.float64).tolist()
                    for k, v in tp.unflatten(x.reshape(-1)).items()}
    base_obj = base_gap = None
    if baseline:
        from .baseline import NoBaseline, compute_baseline
        try:
            base = compute_baseline(problem)
            base_obj = base.objective
            base_gap = (objective - base_obj) / max(1.0, abs(base_obj))
            extras["baseline"] = {"status": base.status.value, "backend_status": base.backend_status,
                                  "solver": base.solver, "message": base.message}
            said = {k: v for k, v in base.extras.items() if isinstance(v, (bool, int, float, str))}
            if said:        # what the reference says beyond its objective (bilevel's g*, the start it took)
                extras["baseline"]["extras"] = said
        except NoBaseline as err:
            extras["baseline"] = {"status": "none", "message": f"no convex baseline: {err}"}
    return Result(
        solver=cls.name, solver_version=version, problem=problem.name, problem_hash=problem.content_hash,
        problem_dim=problem.dim, status=status, message=message, objective=float(objective),
        stationarity=Stationarity(measure_name, float(stat)), iterations=int(iterations),
        oracle_calls=dict(oracle.counts), wall_time_s=wall, device=str(device), dtype=dtype, seed=seed,
        options=options_json,
        baseline_objective=base_obj, baseline_gap=base_gap, solution=solution, trace=trace, extras=extras,
        duals=result_duals, measure_time_s=max(0.0, total - wall))


LOWERED_MAX = 8            # torch lowerings a compare worker keeps (its recent problems)


def _lower(problem: Problem, device, tdtype, seed, cache: dict | None):
    """``problem.lower_torch``, taken from ``cache`` (content hash, device, dtype) -> TorchProblem when
    it is the same for every seed: an expression kind (closures over the data tensors, no state), a
    start the seed does not draw, a small problem. A run gets ``tp.x0.clone()`` and its own oracle, so
    nothing of one run reaches the next; this saves a compare worker the lowering (~0.4 ms) per run."""
    from .problem.kinds.base import ExpressionKind
    if (cache is None or problem.start_depends_on_seed or not isinstance(problem.kind, ExpressionKind)
            or problem.dim + sum(int(a.size) for a in problem.data.values()) >= SMALL_PROBLEM_ELEMENTS):
        return problem.lower_torch(device, tdtype, seed=seed)
    key = (problem.content_hash, str(device), tdtype)
    tp = cache.get(key)
    if tp is None:
        while len(cache) >= LOWERED_MAX:
            cache.pop(next(iter(cache)))
        tp = cache[key] = problem.lower_torch(device, tdtype, seed=seed)
    return tp


def _rng_states(oracle) -> tuple:
    """The seeded generators' states (torch's CPU and CUDA ones, the oracle's: CPU byte tensors, no
    host sync), to see whether a run drew from them."""
    states = [torch.random.get_rng_state(), oracle.generator.get_state()]
    if oracle.device.type == "cuda":
        states.append(torch.cuda.get_rng_state(oracle.device))
    return tuple(states)


def _duals_by_label(problem, duals) -> dict[str, list[float]] | None:
    """The run's multipliers (one array per ``constraints:`` line) keyed by the line's label:
    its ``name:`` when given, else ``constraints[i]``; an epigraph form's row multipliers, after
    the lines', are not reported."""
    infos = problem.structure.constraints
    extra = len(problem.structure.epigraph.terms) if problem.structure.epigraph is not None else 0
    if duals is None or not infos or len(duals) not in (len(infos), len(infos) + extra):
        return None
    return {info.label: [float(v) for v in np.asarray(_jsonable(d), dtype=np.float64).reshape(-1)]
            for info, d in zip(infos, duals)}


def _max_violation(tp, x) -> float:
    """max over the constraints of |h(x)| and max(g(x), 0), and of the bounds' violation."""
    with torch.no_grad():
        parts = [torch.zeros((), dtype=x.dtype, device=x.device)]
        for op, fn in tp.constraints:
            v = torch.as_tensor(fn(x), dtype=x.dtype, device=x.device).reshape(-1)
            parts.append(torch.max(torch.abs(v) if op == "==" else torch.relu(v)))
        parts.append(torch.max(torch.abs(x - tp.structure.project_bounds(x))))
        return float(torch.max(torch.stack(parts)))
