"""What process isolation adds to a solve: in-process vs isolated (forked child), one run.

    python benchmarks/bench_isolation.py [--repeat 60] [--problem problems/smooth/ridge.yaml] [--solver gd]
    python benchmarks/bench_isolation.py --cli [--repeat 8]     # also the whole CLI, `solve` vs `solve --no-isolation`
    python benchmarks/bench_isolation.py --workers [--repeat 4] # compare workers: forked vs spawned start-up

Both paths solve the same loaded problem in the same (warm) process, interleaved
(in-process, isolated, in-process, ...) so drift on a shared machine hits both
alike. Reported: the median wall time of each, the median of the paired
differences (the added milliseconds; the target is <= 50 ms), and the ratio of
the medians. The isolated time includes the fork, the child's solve, the Result
sent back as JSON and parsed, output capture and reaping the child.

``--cli`` also times ``solverhub solve`` end to end in fresh processes (start-up
dominates there; the difference is noisier and reported the same way).

``--workers`` times what a compare pays to get a worker and its first run answered
(start, first run of the problem, close): a worker forked from this process (what
``compare`` uses on CPU) against a fresh interpreter (``subprocess``: CUDA, Dask), and
what replacing a crashed worker costs (a run that ``os._exit``s, then the next run).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(a, b, repeat: int) -> tuple[list[float], list[float]]:
    ta, tb = [], []
    for i in range(repeat):
        if i % 2:
            tb.append(_time(b))
            ta.append(_time(a))
        else:
            ta.append(_time(a))
            tb.append(_time(b))
    return ta, tb


def report(label: str, here: list[float], isolated: list[float]) -> None:
    m_here, m_iso = statistics.median(here), statistics.median(isolated)
    added = statistics.median(i - h for h, i in zip(here, isolated))
    print(f"{label}: in-process median {m_here * 1e3:.1f} ms, isolated median {m_iso * 1e3:.1f} ms "
          f"({len(here)} pairs)")
    print(f"{label}: added by isolation: median {added * 1e3:.1f} ms; ratio isolated/in-process {m_iso / m_here:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default=str(ROOT / "problems" / "smooth" / "ridge.yaml"))
    ap.add_argument("--solver", default="gd")
    ap.add_argument("--repeat", type=int, default=60)
    ap.add_argument("--cli", action="store_true", help="also time the CLI end to end")
    ap.add_argument("--workers", action="store_true", help="also time compare workers: forked vs spawned")
    args = ap.parse_args()

    import solverhub
    problem = solverhub.load_problem(args.problem)

    def here():
        r = solverhub.solve(problem, args.solver, device="cpu")
        assert r.status.value == "converged", r.message

    def isolated():
        r = solverhub.solve(problem, args.solver, device="cpu", isolate=True)
        assert r.status.value == "converged", r.message

    here()
    isolated()          # warm-up: imports, first torch ops, registry
    print(f"problem {problem.name} ({problem.dim} unknowns), solver {args.solver}, cpu")
    report("api", *paired(here, isolated, args.repeat))

    if args.workers:
        workers(args.problem, args.solver, max(2, args.repeat // 15))

    if args.cli:
        exe = [sys.executable, "-m", "solverhub.cli", "solve", args.problem, "--solver", args.solver, "--device", "cpu"]
        env = dict(os.environ, COLUMNS="120")

        def run(extra):
            def go():
                subprocess.run(exe + extra, check=True, stdout=subprocess.DEVNULL, env=env)
            return go
        run(["--no-isolation"])()
        report("cli", *paired(run(["--no-isolation"]), run([]), max(2, args.repeat // 8)))


def workers(problem_path: str, solver: str, repeat: int) -> None:
    """Start a compare worker, answer one run, close it: forked vs spawned (medians, ratio)."""
    from solverhub.bench.pool import preload
    from solverhub.bench.problemset import collect_entries, parse_solver_spec
    from solverhub.bench.runner import plan_compare
    from solverhub.bench.tasks import result_of
    from solverhub.isolation import ForkedWorker, IsolatedWorker
    preload()
    plan = plan_compare(collect_entries([problem_path]), [parse_solver_spec(solver)], 1, set())
    task = plan.tasks[0]

    def cycle(make):
        def go():
            worker = make()
            payload, alive = worker.run(task)
            result = result_of(payload)
            assert alive and result.status.value == "converged", result.message
            worker.close()
        return go
    forked = cycle(lambda: ForkedWorker(problems=plan.problems, threads=1))
    spawned = cycle(IsolatedWorker)
    forked()
    tf, ts = paired(forked, spawned, repeat)
    mf, ms = statistics.median(tf), statistics.median(ts)
    print(f"compare worker, start + first run + close ({repeat} pairs): forked {mf * 1e3:.1f} ms, "
          f"spawned {ms * 1e3:.1f} ms; spawned / forked = {ms / mf:.1f}x")


if __name__ == "__main__":
    main()
