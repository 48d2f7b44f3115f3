"""The report of many seeds (issue 16: 10^5 runs in <= 30 s): one table row per configuration
with seed statistics, listed runs capped, one aggregated curve per solver.
(The 10^5-run timing itself is ``benchmarks/bench_store_scale.py``.)"""
from __future__ import annotations

import re

import numpy as np

from solverhub.bench.codec import TraceColumns
from solverhub.bench.report import MAX_LISTED_RUNS, write_report
from solverhub.result import Result, Stationarity, Status

SEEDS = 150


def synthetic(problem: int, solver: str, seed: int) -> Result:
    """gd: the same run for every seed (deterministic); adam: a noisy run stopped at max_iterations."""
    noisy = solver == "adam"
    rng = np.random.default_rng(seed if noisy else 0)
    its = np.arange(0, 41, 4)
    gap = 10.0 * np.exp(-(0.1 if noisy else 0.5) * its) * (1 + (0.1 * rng.random(its.size) if noisy else 0))
    trace = TraceColumns(its, its * 1e-3 * (1 + 0.1 * rng.random()), 2 * its + 1, 1.0 + gap, np.sqrt(gap))
    return Result(solver=solver, problem=f"p{problem}", problem_hash=f"{problem:016x}",
                  status=Status.MAX_ITERATIONS if noisy else Status.CONVERGED, message="synthetic",
                  objective=float(1.0 + gap[-1]), stationarity=Stationarity("grad_norm", float(np.sqrt(gap[-1]))),
                  iterations=40, oracle_calls={"value": 81, "grad": 81}, wall_time_s=0.04 + 1e-4 * seed,
                  device="cpu", seed=seed, options={"max_iterations": 40}, problem_dim=5, baseline_objective=1.0,
                  baseline_gap=float(gap[-1]), trace=trace)


def test_many_seeds_one_row_per_configuration(tmp_path):
    results = [synthetic(p, s, seed) for p in range(2) for s in ("gd", "adam") for seed in range(SEEDS)]
    page = write_report(results, tmp_path / "rep", taus=(1e-1,)).read_text(encoding="utf-8")

    def rows(table_id):
        body = re.search(rf'<table id="{table_id}">.*?</table>', page, re.S).group(0)
        return re.findall(r"<tr data-[^>]*>(.*?)</tr>", body, re.S)

    summary = rows("summary")
    assert len(summary) == 4                                  # 2 problems x 2 solvers, not 600 runs
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in summary]
    by = {(c[0], c[1]): c for c in cells}
    assert by[("p0", "gd")][2] == f"1 of {SEEDS} seeds"        # deterministic: one run
    assert by[("p0", "adam")][2] == str(SEEDS)
    assert f"max_iterations {SEEDS}" in by[("p1", "adam")][3]
    wall = [float(w) for w in re.findall(r"\d+\.\d+(?:e[-+]?\d+)?", by[("p0", "adam")][8])]
    np.testing.assert_allclose(wall, [0.04 + 1e-4 * (SEEDS - 1) / 2, 0.04, 0.04 + 1e-4 * (SEEDS - 1)],
                               rtol=5e-3)                       # median [min, max] over seeds, to 3 digits
    stopped = rows("stopped")                                 # 300 adam runs stopped: the first 200 listed
    assert len(stopped) == MAX_LISTED_RUNS
    assert f"The first {MAX_LISTED_RUNS} of {2 * SEEDS} runs" in page
    assert len(re.findall(r'<img src="convergence_', page)) == 2
    assert "never one curve per run" in page
