"""Compare throughput, whole calls of ``solverhub.compare`` (planning, workers, store), one run:

* runs of a few ms (gd on a 200 x 40 least-squares problem): runs/s with ``jobs=1`` and
  ``jobs=2``, alternating, and their ratio (goal >= 1.8x on 2 cores);
* 2000 tiny runs (gd on a 3-variable quadratic) with ``jobs=2``: runs/s (goal >= 200);
* the same tiny solves in a plain in-process loop (no workers, no store), half before and half
  after the compare: ``jobs x`` its rate is the ceiling of any compare on this machine (the
  runs' own compute; ~80 gd iterations of ~150 us of autograd each on this problem), and
  compare / ceiling is the share of it the compare machinery keeps;
* CPU seconds per tiny run (this process + its workers, from ``getrusage``) against the
  plain loop's: the machinery's own cost per run, which a loaded machine moves less than
  runs/s;
* the same for runs of one iteration (``max_iterations=1``), where the solve is ~0.5 ms and
  the compare's own cost per run (task, chunking, Result, codec, pipes, store) stands out.

Every compare writes a fresh store, skips baselines (``baseline=False``: runs only) and runs
in this process, which has imported torch once (as the CLI does before it forks workers).
Run: python benchmarks/bench_compare.py [--tiny 2000] [--runs 240] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import resource
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


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of this process, of its reaped children: the compare's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def plain_loop(problem, seeds: range, iterations: int = 100) -> tuple[float, float]:
    """(seconds, CPU seconds) per solve of ``solve(problem, "gd")`` in this process."""
    import solverhub
    t0, c0 = time.perf_counter(), time.process_time()
    for seed in seeds:
        solverhub.solve(problem, "gd", options={"max_iterations": iterations}, seed=seed)
    return (time.perf_counter() - t0) / len(seeds), (time.process_time() - c0) / len(seeds)


def timed_compare(problem: Path, seeds: int, jobs: int, store: Path, solver: str = "gd",
                  warm: bool = False, iterations: int = 100) -> tuple[float, int]:
    """Seconds of one whole compare, and its runs; notes how many runs were in flight on
    average (the runs' own time summed over the elapsed time: ~jobs when the workers overlap)."""
    import solverhub.bench.api as api
    t0 = time.perf_counter()
    results = api.compare([problem], [solver], seeds=seeds, store=store, jobs=jobs, baseline=False,
                          options={"max_iterations": iterations})
    elapsed = time.perf_counter() - t0
    bad = [r for r in results if r.status.value not in ("converged", "max_iterations")]
    assert len(results) == seeds and not bad, (len(results), bad[:1])
    busy = sum(r.wall_time_s + (getattr(r, "measure_time_s", 0.0) or 0.0) for r in results)
    if not warm:
        OVERLAP.setdefault(jobs, []).append(busy / elapsed)
    return elapsed, len(results)


OVERLAP: dict[int, list[float]] = {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", type=int, default=2000, help="tiny runs with jobs=2")
    ap.add_argument("--runs", type=int, default=240, help="runs of a few ms per jobs=1/jobs=2 compare (a compare's fixed cost, ~0.05-0.1 s, weighs on fewer)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating jobs=1/jobs=2 pairs")
    args = ap.parse_args()

    import solverhub
    from solverhub.testing import TINY_PROBLEMS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny, mid = tmp / "tiny.yaml", tmp / "mid.yaml"
        tiny.write_text(TINY_PROBLEMS["minimize"])
        mid.write_text(MID)
        timed_compare(tiny, 4, 2, tmp / "warm.sqlite", warm=True)   # imports, registry, first ops
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

        problem = solverhub.load_problem(tiny)
        plain_runs = min(args.tiny, 500)
        before = plain_loop(problem, range(plain_runs // 2))
        (me0, kids0), load0 = cpu_seconds(), os.getloadavg()[0]
        elapsed, n = timed_compare(tiny, args.tiny, 2, tmp / "tiny.sqlite")
        (me1, kids1), load1 = cpu_seconds(), os.getloadavg()[0]
        after = plain_loop(problem, range(plain_runs // 2, plain_runs))
        plain, plain_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        rate, ceiling = n / elapsed, 2 / plain
        print(f"{n} tiny runs, whole compare, jobs=2: {elapsed:6.2f} s = {rate:7.1f} runs/s (goal >= 200); "
              f"load average {load0:.2f} -> {load1:.2f}")
        print(f"plain in-process loop of the same tiny solves (half before, half after): {1 / plain:7.1f} runs/s "
              f"({plain * 1e3:.1f} ms a solve: the runs' own compute); ceiling for 2 workers = {ceiling:.1f} runs/s; "
              f"compare / ceiling = {rate / ceiling:.2f} (compare jobs=2 / plain = {rate * plain:.2f}x)")
        parent, workers = (me1 - me0) / n, (kids1 - kids0) / n
        print(f"CPU per tiny run: compare process {parent * 1e3:.2f} ms + workers {workers * 1e3:.2f} ms = "
              f"{(parent + workers) * 1e3:.2f} ms, plain loop {plain_cpu * 1e3:.2f} ms: the machinery's own "
              f"{(parent + workers - plain_cpu) * 1e3:.2f} ms a run "
              f"({(parent + workers) / plain_cpu:.2f}x the solve's CPU)")
        one_plain = plain_loop(problem, range(200), iterations=1)[1]
        me0, kids0 = cpu_seconds()
        elapsed, n = timed_compare(tiny, args.tiny, 2, tmp / "one.sqlite", iterations=1, warm=True)
        me1, kids1 = cpu_seconds()
        one = (me1 - me0 + kids1 - kids0) / n
        print(f"{n} runs of one iteration, jobs=2: {n / elapsed:7.1f} runs/s; CPU per run {one * 1e3:.2f} ms, "
              f"plain loop {one_plain * 1e3:.2f} ms: the machinery's own {(one - one_plain) * 1e3:.2f} ms a run "
              f"(the plain loop lowers the problem each solve, a worker once)")
        if rate < 200:
            print(f"200 runs/s needs a solve of <= {2 / 200 * 1e3:.0f} ms of CPU on 2 cores even with free "
                  f"machinery; this one takes {plain_cpu * 1e3:.1f} ms (the run loop's per-iteration cost)")
        print(f"load average at the end {os.getloadavg()[0]:.2f} (a shared machine: ratios, not seconds)")


if __name__ == "__main__":
    main()
