"""The result store and the report at scale, one run: 10^5 synthetic runs (10 problems x 5
solvers x 2000 seeds; realistic traces of 1-150 points sampled log-spaced plus every k,
gd/lbfgs deterministic across seeds, adam/sgd not, cvxpy untraced) are written to a fresh
store, then read back and reported.

Prints: bytes per run in the store (and per run of the same Results as JSON, the format
before schema 2, and their ratio; goal <= 2 KB/run); decode time of a compact run vs its
JSON (ratio); write time (one transaction per 1000
runs, and per single ``put`` on a 2000-run sample); the time of the report path (read the
store, then ``write_report``: tables, profiles at three taus, 10 convergence figures of one
median line and min-max band per solver) for 2000 runs and for all of them (goal: 10^5 runs ->
<= 30 s), with the Results built for writing freed first, as in a ``solverhub report`` process.
Times scale with the machine's load: run it with ``nice`` and quote the load it prints.

Run: python benchmarks/bench_store_scale.py [--seeds 2000] [--problems 10]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from solverhub.bench.codec import TraceColumns, decode_result, encode_result
from solverhub.bench.report import write_report
from solverhub.bench.store import ResultStore, run_key
from solverhub.result import Result, Stationarity, Status

SOLVERS = (("gd", True), ("lbfgs", True), ("adam", False), ("sgd", False), ("cvxpy", True))


def sample_points(iterations: int, every: int = 25) -> np.ndarray:
    """Log-spaced iterations plus every ``every``-th, as a cheap default schedule samples."""
    logs = np.unique(np.round(np.logspace(0, np.log10(max(iterations, 1)), 30)).astype(int))
    return np.unique(np.concatenate([[0], logs, np.arange(0, iterations + 1, every), [iterations]]))


def synthetic(problem: int, solver: str, deterministic: bool, seed: int, dim: int) -> Result:
    rng = np.random.default_rng(problem * 7919 + (0 if deterministic else seed) * 31 + len(solver))
    f_star = 1.0 + problem
    base = dict(solver=solver, problem=f"synthetic_{problem}", problem_hash=f"{problem:016x}", device="cpu",
                seed=seed, solver_version="0.1.0", problem_dim=dim, baseline_objective=f_star,
                options={"max_iterations": 1000, "tolerance": 1e-6, "trace_every": 0, "time_limit_s": None,
                         **({"lr": 0.01} if solver in ("adam", "sgd") else {})},
                solution={"x": rng.normal(size=min(dim, 20)).tolist()})
    wall = float(0.05 * (1 + problem) * (1 + 0.2 * np.random.default_rng(seed).random()))
    if solver == "cvxpy":
        return Result(**base, status=Status.CONVERGED, message="optimal by CLARABEL", objective=f_star + 1e-9,
                      stationarity=Stationarity("grad_norm", 1e-9), iterations=0,
                      oracle_calls={"value": 0, "grad": 0, "hvp": 0, "stochastic_grad": 0}, wall_time_s=wall,
                      baseline_gap=1e-9 / f_star, trace=())
    rate = {"gd": 0.02, "lbfgs": 0.2, "adam": 0.01, "sgd": 0.005}[solver] * (1 + 0.3 * rng.random())
    iterations = int(min(1000, 18.0 / rate))
    its = sample_points(iterations)
    gap = 10.0 * np.exp(-rate * its) * (1 + 0.05 * rng.random(its.size))
    obj = f_star + gap
    calls = its * (2 if solver != "lbfgs" else 3) + 1
    times = wall * its / max(iterations, 1)
    trace = TraceColumns(its, times, calls, obj, np.sqrt(gap) * 3)
    status = Status.CONVERGED if gap[-1] < 1e-6 else Status.MAX_ITERATIONS
    return Result(**base, status=status, message="synthetic", objective=float(obj[-1]),
                  stationarity=Stationarity("grad_norm", float(np.sqrt(gap[-1]) * 3)), iterations=iterations,
                  oracle_calls={"value": int(calls[-1]), "grad": int(calls[-1]), "hvp": 0, "stochastic_grad": 0},
                  wall_time_s=wall, baseline_gap=float(gap[-1] / f_star), trace=trace,
                  extras={"label": solver})


def runs(problems: int, seeds: int):
    for p in range(problems):
        dim = 20 * (p + 1)
        for solver, deterministic in SOLVERS:
            for seed in range(seeds):
                r = synthetic(p, solver, deterministic, seed, dim)
                yield run_key(r.problem_hash, solver, "0.1.0", {}, seed), r


def write(store_path: Path, items, batch: int = 1000) -> float:
    t0 = time.perf_counter()
    with ResultStore(store_path) as store:
        store.record_session(jobs=1)
        for i in range(0, len(items), batch):
            store.put_many([(k, r, None, {}, None) for k, r in items[i:i + batch]])
    return time.perf_counter() - t0


def report(store_path: Path, out: Path) -> tuple[float, float, float]:
    """Read the store and write its report: (read seconds, total seconds, total CPU seconds of
    this process; on a loaded machine the wall time is about CPU x load / cores)."""
    t0, c0 = time.perf_counter(), time.process_time()
    with ResultStore(store_path) as store:
        results, skipped, machine = store.results(), store.skipped(), store.machine()
    t_read = time.perf_counter() - t0
    write_report(results, out, skipped=skipped, machine=machine)
    return t_read, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--problems", type=int, default=10)
    args = parser.parse_args()
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    items = list(runs(args.problems, args.seeds))
    n = len(items)
    print(f"{n} synthetic runs built in {time.perf_counter() - t0:.1f} s "
          f"(mean trace {np.mean([len(r.trace) for _, r in items[::97]]):.0f} points)")
    sample = items[::max(1, n // 2000)][:2000]
    n_sample = len(sample)
    texts = [r.to_json() for _, r in sample]
    json_bytes = np.mean([len(t.encode()) for t in texts])
    blobs = [encode_result(r) for _, r in sample]
    t_json = time.perf_counter()
    for text in texts:
        Result.from_json(text)
    t_json = time.perf_counter() - t_json
    t_blob = time.perf_counter()
    for blob in blobs:
        decode_result(blob)
    t_blob = time.perf_counter() - t_blob
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_put = time.perf_counter()
        with ResultStore(tmp / "single.sqlite") as store:
            for k, r in sample:
                store.put(k, r)
        t_put = time.perf_counter() - t_put
        t_write = write(tmp / "runs.sqlite", items)
        small_items = [it for it in items if it[1].seed < max(1, 2000 // (args.problems * len(SOLVERS)))]
        del items, sample, texts, blobs     # the report runs as `solverhub report` does: only the store in memory
        with ResultStore(tmp / "runs.sqlite") as store:
            per_run = store.size_per_run()
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        file_bytes = os.path.getsize(tmp / "runs.sqlite") / n
        small = tmp / "small.sqlite"
        write(small, small_items)
        del small_items
        with ResultStore(small) as store:
            n_small = store.count()
        load_report = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        read_all, t_all, cpu_all = report(tmp / "runs.sqlite", tmp / "report")   # first: pays matplotlib's import
        read_small, t_small, _ = report(small, tmp / "report-small")
    print(f"store: {per_run:.0f} B/run of Result data ({file_bytes:.0f} B/run of file) vs {json_bytes:.0f} B/run "
          f"as JSON: {json_bytes / per_run:.1f}x smaller (goal <= 2048 B/run)")
    print(f"read: a compact run decodes in {1e6 * t_blob / n_sample:.0f} us, its JSON (schema 1) in "
          f"{1e6 * t_json / n_sample:.0f} us: {t_json / t_blob:.1f}x faster")
    print(f"write: {n / t_write:.0f} runs/s in 1000-run transactions ({t_write:.1f} s for {n}); "
          f"{n_sample / t_put:.0f} runs/s with one put per run")
    print(f"report: {n} runs in {t_all:.1f} s (read {read_all:.1f} s; matplotlib imported cold; {cpu_all:.1f} s of "
          f"CPU; load {load_report:.1f} when it started) -> {t_all / 30.0:.2f}x the 30 s goal; "
          f"{n_small} runs in {t_small:.1f} s (read {read_small:.1f} s); "
          f"per run {1e3 * t_all / n:.2f} ms vs {1e3 * t_small / n_small:.2f} ms at {n_small}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPU(s), 1-minute load average {load0:.1f} at the start, {load:.1f} at the end "
          "(times scale with it; the ratios less)")


if __name__ == "__main__":
    main()
