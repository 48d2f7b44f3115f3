"""Compare throughput, whole calls of ``solverhub.compare`` (planning, workers, store), one run:

* runs of a few ms (gd on a 200 x 40 least-squares problem): runs/s with ``jobs=1`` and
  ``jobs=2``, alternating, and their ratio (goal >= 1.8x on 2 cores);
* 2000 tiny runs (gd on a 3-variable quadratic) with ``jobs=2``: runs/s (goal >= 200);
* the same tiny solves in a plain in-process loop (no workers, no store), for scale.

Every compare writes a fresh store, skips baselines (``baseline=False``: runs only) and runs
in this process, which has imported torch once (as the CLI does before it forks workers).
Run: python benchmarks/bench_compare.py [--tiny 2000] [--runs 120] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

MID = """name: lsq-200x40
kind: minimize
variables: {x: {shape: [40]}}
data:
  A: {generate: normal, shape: [200, 40], seed: 0}
  b: {generate: normal, shape: [200], seed: 1}
objective: "0.5 * sum_squares(A @ x - b) + 0.5 * sum_squares(x)"
"""


def timed_compare(problem: Path, seeds: int, jobs: int, store: Path, solver: str = "gd") -> tuple[float, int]:
    """Seconds of one whole compare, and its runs; notes how many runs were in flight on
    average (the runs' own time summed over the elapsed time: ~jobs when the workers overlap)."""
    import solverhub.bench.api as api
    t0 = time.perf_counter()
    results = api.compare([problem], [solver], seeds=seeds, store=store, jobs=jobs, baseline=False,
                          options={"max_iterations": 100})
    elapsed = time.perf_counter() - t0
    bad = [r for r in results if r.status.value not in ("converged", "max_iterations")]
    assert len(results) == seeds and not bad, (len(results), bad[:1])
    busy = sum(r.wall_time_s + (getattr(r, "measure_time_s", 0.0) or 0.0) for r in results)
    OVERLAP.setdefault(jobs, []).append(busy / elapsed)
    return elapsed, len(results)


OVERLAP: dict[int, list[float]] = {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", type=int, default=2000, help="tiny runs with jobs=2")
    ap.add_argument("--runs", type=int, default=120, help="runs of a few ms per jobs=1/jobs=2 compare")
    ap.add_argument("--repeat", type=int, default=2, help="alternating jobs=1/jobs=2 pairs")
    args = ap.parse_args()

    import solverhub
    from solverhub.testing import TINY_PROBLEMS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny, mid = tmp / "tiny.yaml", tmp / "mid.yaml"
        tiny.write_text(TINY_PROBLEMS["minimize"])
        mid.write_text(MID)
        timed_compare(tiny, 4, 2, tmp / "warm.sqlite")          # imports, registry, first ops
        one = solverhub.solve(mid, "gd", options={"max_iterations": 100}, seed=0)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        print(f"a run of a few ms: gd on lsq-200x40, {one.iterations} iterations, "
              f"wall_time_s {one.wall_time_s * 1e3:.1f} ms (in-process)")

        rates: dict[int, list[float]] = {1: [], 2: []}
        for rep in range(args.repeat):
            for jobs in ((1, 2) if rep % 2 == 0 else (2, 1)):
                elapsed, n = timed_compare(mid, args.runs, jobs, tmp / f"mid-{rep}-{jobs}.sqlite")
                rates[jobs].append(n / elapsed)
        r1, r2 = statistics.median(rates[1]), statistics.median(rates[2])
        print(f"{args.runs} runs of a few ms, whole compare: jobs=1 {r1:7.1f} runs/s, jobs=2 {r2:7.1f} runs/s "
              f"(medians of {args.repeat}); jobs=2 / jobs=1 = {r2 / r1:.2f}x (goal >= 1.8x)")
        print(f"  runs in flight on average (solve time / elapsed): jobs=1 {statistics.median(OVERLAP[1]):.2f}, "
              f"jobs=2 {statistics.median(OVERLAP[2]):.2f}")

        elapsed, n = timed_compare(tiny, args.tiny, 2, tmp / "tiny.sqlite")
        print(f"{n} tiny runs, whole compare, jobs=2: {elapsed:6.2f} s = {n / elapsed:7.1f} runs/s (goal >= 200)")

        t0 = time.perf_counter()
        problem = solverhub.load_problem(tiny)
        for seed in range(min(n, 500)):
            solverhub.solve(problem, "gd", options={"max_iterations": 100}, seed=seed)
        plain = (time.perf_counter() - t0) / min(n, 500)
        print(f"plain in-process loop of the same tiny solves: {1 / plain:7.1f} runs/s "
              f"(compare jobs=2 / plain = {(n / elapsed) * plain:.2f}x)")
        print(f"load average at the end {os.getloadavg()[0]:.2f} (a shared machine: ratios, not seconds)")


if __name__ == "__main__":
    main()
