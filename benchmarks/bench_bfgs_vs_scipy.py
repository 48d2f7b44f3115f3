"""bfgs-wolfe (through solverhub's run loop) vs scipy.optimize.minimize(method="BFGS").

    python benchmarks/bench_bfgs_vs_scipy.py [--quick] [--only TEXT] [--threads N]

Same problems, same start, same stopping rule (‖∇f‖₂ ≤ tol: scipy gets
``norm=2, gtol=tol``), float64 on CPU. scipy gets closed-form numpy f and ∇f
(its fastest path); ours gets a torch objective differentiated by autograd
through the counting Oracle. Ratios < 1 favour bfgs-wolfe. Each timing is the
best of ``--repeat`` runs (``--repeat-large`` at d=1000) after one
warm-up run; on a shared machine, rerun before trusting small timings.

Where the time goes: scipy's BFGS updates H with two dense d×d matrix
products per iteration (O(d³)); bfgs-wolfe applies the same update as one
rank-2 ``addmm`` (O(d²)).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.optimize
import torch

from solverhub.options import RunOptions
from solverhub.oracle import Oracle
from solverhub.solver import run_loop

try:
    from solverhub_bfgs_wolfe import BFGSWolfe, Options
except ImportError:   # not installed: run from a checkout
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "plugins", "bfgs-wolfe"))
    from solverhub_bfgs_wolfe import BFGSWolfe, Options


# -- problems: (torch objective, numpy value_and_grad, x0) ----------------------------
def logistic(n, d, mu, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    b = np.sign(X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n))
    Xt, bt = torch.tensor(X), torch.tensor(b)

    def torch_f(x):
        return torch.nn.functional.softplus(-bt * (Xt @ x)).mean() + 0.5 * mu * (x @ x)

    def numpy_fg(x):
        m = b * (X @ x)
        f = np.logaddexp(0.0, -m).mean() + 0.5 * mu * x @ x
        g = -X.T @ (b * 0.5 * (1 - np.tanh(m / 2))) / n + mu * x
        return f, g

    return torch_f, numpy_fg, np.zeros(d)


def chained_rosenbrock(d):
    def torch_f(x):
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()

    def numpy_fg(x):
        r = x[1:] - x[:-1] ** 2
        f = (100 * r ** 2 + (1 - x[:-1]) ** 2).sum()
        g = np.zeros_like(x)
        g[:-1] = -400 * x[:-1] * r - 2 * (1 - x[:-1])
        g[1:] += 200 * r
        return f, g

    return torch_f, numpy_fg, np.arange(1, d + 1) / (d + 1)       # GENROSE start


def quadratic(d, cond, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    M = Q @ np.diag(np.logspace(0, np.log10(cond), d)) @ Q.T
    c = rng.standard_normal(d)
    Mt, ct = torch.tensor(M), torch.tensor(c)
    return (lambda x: 0.5 * x @ (Mt @ x) - ct @ x,
            lambda x: (0.5 * x @ M @ x - c @ x, M @ x - c),
            np.zeros(d))


PROBLEMS = {
    "logistic n=2000 d=1000": lambda: logistic(2000, 1000, 1e-3),
    "logistic n=500 d=100": lambda: logistic(500, 100, 1e-3, seed=1),
    "chained-rosenbrock d=100": lambda: chained_rosenbrock(100),
    "quadratic d=200 cond=1e3": lambda: quadratic(200, 1e3),
    "chained-rosenbrock d=10": lambda: chained_rosenbrock(10),
}


# -- runners -----------------------------------------------------------------------------
def run_ours(torch_f, x0, tol, max_iterations, **options):
    x0t = torch.tensor(x0, dtype=torch.float64)
    t0 = time.perf_counter()
    oracle = Oracle(lambda x, rows: torch_f(x), x0=x0t)
    out = run_loop(BFGSWolfe(), None, oracle, x0t, Options(**options),
                   RunOptions(max_iterations=max_iterations, tolerance=tol, trace_every=1),
                   lambda x, st: (st.value, st.grad.norm()))
    seconds = time.perf_counter() - t0
    return dict(seconds=seconds, iterations=out.iterations, grad=oracle.counts["grad"],
                value=oracle.counts["value"], f=out.final_objective, gnorm=out.final_stationarity,
                status=str(out.status))


def run_scipy(numpy_fg, x0, tol, max_iterations):
    t0 = time.perf_counter()
    res = scipy.optimize.minimize(numpy_fg, x0, jac=True, method="BFGS",
                                  options=dict(gtol=tol, norm=2, maxiter=max_iterations))
    seconds = time.perf_counter() - t0
    return dict(seconds=seconds, iterations=res.nit, grad=res.njev, value=res.nfev, f=res.fun,
                gnorm=float(np.linalg.norm(res.jac)), status="converged" if res.success else res.message)


def best_of(fn, repeat):
    fn()                                   # warm-up (torch/BLAS initialisation, caches)
    runs = [fn() for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-6, help="gradient 2-norm tolerance (both)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per solver (best is kept)")
    parser.add_argument("--repeat-large", type=int, default=2, help="timed runs on the d=1000 problem")
    parser.add_argument("--max-iterations", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="skip the d=1000 problem")
    parser.add_argument("--only", action="append", help="only the problem of this exact name (repeatable)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"scipy {scipy.__version__}; tol ‖g‖₂ ≤ {args.tol:g}; best of {args.repeat} "
          f"({args.repeat_large} at d=1000) after a warm-up")
    header = (f"{'problem':26s} {'solver':17s} {'iters':>6s} {'f calls':>7s} {'g calls':>7s} "
              f"{'time s':>8s} {'‖g‖₂':>8s} {'f - f_scipy':>11s}  {'g/njev':>6s} {'t/t_scipy':>9s}")
    print(header)
    print("-" * len(header))
    for name, make in PROBLEMS.items():
        if args.quick and "d=1000" in name or args.only and name not in args.only:
            continue
        torch_f, numpy_fg, x0 = make()
        repeat = args.repeat_large if "d=1000" in name else args.repeat
        ref = best_of(lambda: run_scipy(numpy_fg, x0, args.tol, args.max_iterations), repeat)
        rows = [("scipy BFGS", ref)]
        for label, opts in (("bfgs-wolfe", {}), ("bfgs-wolfe, bisection", {"interpolate": False})):
            rows.append((label, best_of(lambda: run_ours(torch_f, x0, args.tol, args.max_iterations, **opts),
                                        repeat)))
        for label, r in rows:
            ratios = "" if r is ref else f"  {r['grad'] / ref['grad']:6.2f} {r['seconds'] / ref['seconds']:9.3f}"
            flag = "" if r["status"] == "converged" else f"  [{r['status']}]"
            print(f"{name:26s} {label:17s} {r['iterations']:6d} {r['value']:7d} {r['grad']:7d} "
                  f"{r['seconds']:8.3f} {r['gnorm']:8.1e} {r['f'] - ref['f']:11.1e}{ratios}{flag}")
        print()


if __name__ == "__main__":
    main()
