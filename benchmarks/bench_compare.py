"""Compare throughput: 200 tiny runs with --jobs 1 vs --jobs 2, and the store's
overhead per run vs the same solves in a plain in-process loop (one run, ratios).

Run: python benchmarks/bench_compare.py [--runs 200]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import solverhub
from solverhub.bench.problemset import ProblemEntry, parse_solver_spec
from solverhub.bench.runner import plan_compare, run_compare
from solverhub.bench.store import ResultStore
from solverhub.bench.tasks import failed_result
from solverhub.result import Status
from solverhub.testing import TINY_PROBLEMS


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        problem_file = tmp / "tiny.yaml"
        problem_file.write_text(TINY_PROBLEMS["minimize"])
        entries = [ProblemEntry(problem_file)]
        specs = [parse_solver_spec("gd")]

        # plain loop: the same solves, in-process, no store, no workers
        solverhub.solve(problem_file, "gd", seed=0)                       # warm-up (imports)
        t0 = time.perf_counter()
        for seed in range(args.runs):
            solverhub.solve(problem_file, "gd", seed=seed)
        plain = time.perf_counter() - t0

        timings = {}
        for jobs in (1, 2):
            plan = plan_compare(entries, specs, args.runs, set())
            with ResultStore(tmp / f"jobs{jobs}.sqlite") as store:
                t0 = time.perf_counter()
                run_compare(plan, store, jobs=jobs)
                timings[jobs] = time.perf_counter() - t0
                assert store.count() == args.runs

        # the store alone: one committed insert per run
        plan = plan_compare(entries, specs, args.runs, set())
        with ResultStore(tmp / "puts.sqlite") as store:
            result = failed_result(plan.tasks[0], Status.FAILED, "x")
            t0 = time.perf_counter()
            for task in plan.tasks:
                store.put(task.key, result)
            put = (time.perf_counter() - t0) / args.runs

    print(f"{args.runs} tiny runs (gd on a 3-variable quadratic), 2 cores")
    print(f"  plain in-process loop        {plain:7.2f} s  {args.runs / plain:7.1f} runs/s")
    for jobs, t in timings.items():
        print(f"  compare --jobs {jobs}             {t:7.2f} s  {args.runs / t:7.1f} runs/s   "
              f"{t / plain:.2f}x the plain loop (worker start-up included)")
    print(f"  --jobs 2 / --jobs 1 throughput: {timings[1] / timings[2]:.2f}x")
    print(f"  store overhead per run (committed insert): {put * 1e3:.2f} ms; "
          f"compare --jobs 1 overhead per run vs plain: {(timings[1] - plain) / args.runs * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
