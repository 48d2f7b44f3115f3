"""ScaledGD from the Nyström start vs from a small random start, at a size that matters.

    python benchmarks/bench_factorization.py                 # n = 10^4, ranks 5 (exact) and 10 (over-param.)
    python benchmarks/bench_factorization.py --n 2000 --quick

Problem: X Xᵀ ≈ M with M = U diag(logspace(0, −2, r*)) Uᵀ (the core generator
``low_rank_psd``, rank r* = 5, condition number 100), n × n dense, float64 on the CPU,
loaded from a YAML text through ``solverhub.solve`` (the run loop, counting oracle and
the kind's objective of the plugin). For each model rank r and each solver:

* iterations to a relative error ‖XXᵀ − M‖_F/‖M‖_F ≤ ``--tol`` (1e-8), read from the
  kind's per-iteration trace (a run with ``trace_every=1`` stopped at ``--tol``), and the
  empirical orders log e_{t+1}/log e_t along it;
* wall time for exactly that many iterations in further runs that sample the trace only
  at the start and the end (so the time is the solver's, its start included, plus two
  measurements and the report): the minimum over ``--repeats`` runs (3), since on a shared
  machine single timings vary by up to 5x;
* the cost: the start's wall time (``init_time_s``: the sketch M·Omega for Nyström) and the
  time per iteration (the timed run over its iterations);

and the ratios scaledgd / scaledgd-nystrom (> 1 favours Nyström). The dense M alone
takes 8 n² bytes (0.8 GB at n = 10^4); the element cap is raised for it.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("SOLVERHUB_MAX_ELEMENTS", str(400_000_000))

import solverhub  # noqa: E402

SOLVERS = ("scaledgd-nystrom", "scaledgd")

PROBLEM = """
name: mf-bench-n{n}-r{r}
kind: matrix_factorization
data:
  M: {{generate: low_rank_psd, shape: [{n}, {n}], rank: {r_true}, condition: {condition}, seed: 0}}
rank: {r}
symmetric: true
"""


def iterations_to(errors, tol):
    below = np.flatnonzero(np.asarray(errors) <= tol)
    return int(below[0]) if below.size else None


def bench_one(problem, solver, tol, max_iterations, seed, repeats):
    traced = solverhub.solve(problem, solver, options={"max_iterations": max_iterations, "tolerance": tol,
                                                       "trace_every": 1}, seed=seed)
    errors = traced.extras["rel_error_trace"]
    k = iterations_to(errors, tol)
    if k is None:
        return {"iterations": None, "time_s": None, "final_error": errors[-1],
                "order": traced.extras["empirical_order"]}
    runs = [solverhub.solve(problem, solver, options={"max_iterations": k, "tolerance": 0.0,
                                                      "trace_every": max(k, 1)}, seed=seed)
            for _ in range(max(1, repeats))]
    timed = min(runs, key=lambda r: r.wall_time_s)
    return {"iterations": k, "time_s": timed.wall_time_s, "time_s_all": [r.wall_time_s for r in runs],
            "time_per_iteration_s": timed.wall_time_s / max(k, 1),
            "final_error": timed.extras["factorization_error"], "order": traced.extras["empirical_order"],
            "orders": traced.extras["empirical_orders"], "init_time_s": timed.extras.get("init_time_s"),
            "grad_calls": timed.oracle_calls["grad"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--rank-true", type=int, default=5)
    ap.add_argument("--ranks", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--condition", type=float, default=100.0)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--max-iterations", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per solver (the minimum is reported)")
    ap.add_argument("--quick", action="store_true", help="n = 2000, max 300 iterations")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.max_iterations = min(args.n, 2000), 300

    import torch
    print(f"n = {args.n}, rank(M) = {args.rank_true}, condition {args.condition:g}, tol {args.tol:g}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64 CPU")
    rows = []
    for r in args.ranks:
        t0 = time.perf_counter()
        problem = solverhub.load_problem(PROBLEM.format(n=args.n, r=r, r_true=args.rank_true,
                                                        condition=args.condition))
        load_s = time.perf_counter() - t0
        out = {s: bench_one(problem, s, args.tol, args.max_iterations, args.seed, args.repeats) for s in SOLVERS}
        ny, rd = out["scaledgd-nystrom"], out["scaledgd"]
        it_ratio = rd["iterations"] / ny["iterations"] if ny["iterations"] and rd["iterations"] else None
        t_ratio = rd["time_s"] / ny["time_s"] if ny["time_s"] and rd["time_s"] else None
        rows.append({"n": args.n, "rank": r, "load_s": load_s, **{f"{s}": v for s, v in out.items()},
                     "iteration_ratio": it_ratio, "time_ratio": t_ratio})
        del problem

    print(f"\n{'rank':>4} {'case':>10} | {'nystrom it':>10} {'time s':>8} {'order':>6} | {'random it':>9} "
          f"{'time s':>8} | {'it ratio':>8} {'time ratio':>10} | {'init s':>6} {'s/iter':>6}")
    for row in rows:
        ny, rd = row["scaledgd-nystrom"], row["scaledgd"]
        case = "exact" if row["rank"] == args.rank_true else "over-param"
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        print(f"{row['rank']:>4} {case:>10} | {fmt(ny['iterations'], 'd'):>10} {fmt(ny['time_s'], '.2f'):>8} "
              f"{fmt(ny['order'], '.2f'):>6} | {fmt(rd['iterations'], 'd'):>9} {fmt(rd['time_s'], '.2f'):>8} | "
              f"{fmt(row['iteration_ratio'], '.1f'):>8} {fmt(row['time_ratio'], '.1f'):>10} | "
              f"{fmt(ny.get('init_time_s'), '.2f'):>6} {fmt(rd.get('time_per_iteration_s'), '.2f'):>6}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
