"""The structure solvers (lbfgsb, proxgrad, fista, slsqp, trust-constr, auglag) against
scipy, scikit-learn and cvxpy on the same work, as ratios measured in one run.

    python benchmarks/bench_structure.py [--quick] [--device cpu|cuda]

Four parts:

1. **Shipped problems** (``problems/bounds``, ``problems/composite``,
   ``problems/constrained``): every accepting structure solver and ``cvxpy``; status,
   objective error against the file's reference (cvxpy's optimum, or the published /
   declared optimum), max constraint violation, oracle calls, wall time and the ratio of
   wall times to cvxpy's solve on the same file.
2. **scipy head to head** on the same functions: our ``lbfgsb`` (torch values through the
   counting oracle) vs ``scipy.optimize.minimize(method="L-BFGS-B")`` with closed-form numpy
   values on box least squares, and ``slsqp`` / ``trust-constr`` / ``auglag`` vs scipy's
   SLSQP / trust-constr with closed-form numpy functions on Hock-Schittkowski 71.
3. **Lasso n=1000, d=5000** (the size of benchopt's lasso benchmark): time until the duality
   gap of ``0.5 ||A x - b||^2 + lam ||x||_1`` is <= 1e-8, ``fista`` vs scikit-learn's
   ``Lasso`` (coordinate descent). Each side is run at tightening tolerances; the time is that
   of the first tolerance whose final point has the target gap, best of 3 rounds interleaved
   (sklearn, fista, proxgrad), with one torch matvec with A as the unit of work. Goal: fista
   within 3x. On a shared machine pin the threads (``OMP_NUM_THREADS=1``) for both sides.
4. **auglag on a d = 10^5 QP** with bounds 0 <= x <= 1 and 5 dense equality rows, vs cvxpy
   (Clarabel) on the same file: objective difference, violation, time ratio.

Wall times are the whole ``solverhub.solve`` call (loading, lowering, solving) unless
marked "method": ``Result.wall_time_s``. On a shared machine rerun before trusting small
ratios.
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

import solverhub

ROOT = Path(__file__).resolve().parent.parent
STRUCTURE_SOLVERS = ("lbfgsb", "proxgrad", "fista", "slsqp", "trust-constr", "auglag")
FOLDERS = ("bounds", "composite", "constrained")
PUBLISHED = {"hs021": -99.96, "hs035": 1.0 / 9.0, "hs071": 17.0140173, "hs076": -4.681818181818}


def timed_solve(problem, solver, device="cpu", repeat=1, **options):
    """(Result, best wall seconds of ``repeat`` calls), or (None, the error's first line)."""
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            result = solverhub.solve(problem, solver, device=device, options=options or None)
        except solverhub.SolverhubError as err:
            return None, str(err).splitlines()[0]
        best = min(best, time.perf_counter() - t0)
    return result, best


# -- part 1 -----------------------------------------------------------------------------
def shipped_problems(device: str) -> None:
    print("\n## 1. Shipped problems: structure solvers vs cvxpy (time ratio = ours / cvxpy)\n")
    print(f"{'problem':24} {'solver':13} {'status':15} {'|f-f*|/(1+|f*|)':>15} {'violation':>10} "
          f"{'calls':>7} {'wall s':>8} {'ratio':>7}")
    for folder in FOLDERS:
        for path in sorted((ROOT / "problems" / folder).glob("*.yaml")):
            problem = solverhub.load_problem(path)
            reference, ref_time = timed_solve(problem, "cvxpy")
            ref_ok = reference is not None and math.isfinite(reference.objective) \
                and reference.status.value == "converged"
            f_star = PUBLISHED.get(problem.name, reference.objective if ref_ok else None)
            rows = [("cvxpy", reference, ref_time)] if reference is not None else []
            for name in STRUCTURE_SOLVERS:
                result, seconds = timed_solve(problem, name, device)
                if result is None or result.status.value == "refused":
                    continue
                rows.append((name, result, seconds))
            for name, result, seconds in rows:
                error = (abs(result.objective - f_star) / (1 + abs(f_star))
                         if f_star is not None and math.isfinite(result.objective) else math.nan)
                violation = result.extras.get("max_violation", math.nan)
                calls = sum(result.oracle_calls.values())
                ratio = seconds / ref_time if ref_ok and name != "cvxpy" else math.nan
                print(f"{problem.name:24} {name:13} {result.status.value:15} {error:15.2e} "
                      f"{float(violation):10.1e} {calls:7d} {seconds:8.3f} {ratio:7.2f}")


# -- part 2 -----------------------------------------------------------------------------
def scipy_head_to_head(device: str) -> None:
    import scipy.optimize as so

    print("\n## 2. scipy with closed-form numpy functions vs ours (torch + autograd), same start\n")
    print(f"{'problem':12} {'pair':34} {'f ours':>14} {'f scipy':>14} {'t ours s':>9} {'t scipy s':>9} "
          f"{'ratio':>6}")

    problem = solverhub.load_problem(ROOT / "problems/bounds/box_lsq.yaml")
    A, b = np.asarray(problem.data["A"]), np.asarray(problem.data["b"])
    lower = np.array([-0.2] * 10)
    lower[[2, 7]] = -np.inf
    upper = np.asarray(problem.data["ub"], dtype=float)

    def lsq(x):
        r = A @ x - b
        return 0.5 * r @ r, A.T @ r

    t0 = time.perf_counter()
    ref = so.minimize(lsq, np.zeros(10), jac=True, method="L-BFGS-B",
                      bounds=list(zip(lower, upper)), options={"gtol": 1e-10, "ftol": 0})
    t_ref = time.perf_counter() - t0
    ours, t_ours = timed_solve(problem, "lbfgsb", device, repeat=3, tolerance=1e-10)
    print(f"{'box_lsq':12} {'lbfgsb vs L-BFGS-B':34} {ours.objective:14.10f} {ref.fun:14.10f} "
          f"{t_ours:9.3f} {t_ref:9.3f} {t_ours / t_ref:6.1f}")
    exact = so.lsq_linear(A, b, bounds=(lower, upper), tol=1e-12)
    print(f"{'box_lsq':12} {'lbfgsb vs lsq_linear (objective)':34} {ours.objective:14.10f} "
          f"{0.5 * exact.fun @ exact.fun:14.10f}")

    hs071 = solverhub.load_problem(ROOT / "problems/constrained/hs071.yaml")
    x0 = np.array([1.0, 5.0, 5.0, 1.0])

    def f(x):
        return x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]

    def grad(x):
        return np.array([x[3] * (2 * x[0] + x[1] + x[2]), x[0] * x[3], x[0] * x[3] + 1,
                         x[0] * (x[0] + x[1] + x[2])])

    def g(x):
        return np.array([x[0] * x[1] * x[2] * x[3] - 25.0])

    def g_jac(x):
        return np.array([[x[1] * x[2] * x[3], x[0] * x[2] * x[3], x[0] * x[1] * x[3], x[0] * x[1] * x[2]]])

    def h(x):
        return np.array([x @ x - 40.0])

    def h_jac(x):
        return 2 * x[None, :]

    bounds = [(1, 5)] * 4
    for ours_name, method in (("slsqp", "SLSQP"), ("trust-constr", "trust-constr"), ("auglag", "SLSQP")):
        if method == "SLSQP":
            constraints = [{"type": "ineq", "fun": g, "jac": g_jac}, {"type": "eq", "fun": h, "jac": h_jac}]
            kwargs = {"options": {"ftol": 1e-12, "maxiter": 500}}
        else:
            constraints = [so.NonlinearConstraint(g, 0, np.inf, jac=g_jac),
                           so.NonlinearConstraint(h, 0, 0, jac=h_jac)]
            kwargs = {"options": {"gtol": 1e-10, "xtol": 1e-12, "maxiter": 2000}}
        t0 = time.perf_counter()
        ref = so.minimize(f, x0, jac=grad, method=method, bounds=bounds, constraints=constraints, **kwargs)
        t_ref = time.perf_counter() - t0
        ours, t_ours = timed_solve(hs071, ours_name, device, repeat=2, tolerance=1e-8)
        if ours is None:
            print(f"{'hs071':12} {ours_name:34} refused: {t_ours}")
            continue
        print(f"{'hs071':12} {ours_name + ' vs ' + method:34} {ours.objective:14.10f} {ref.fun:14.10f} "
              f"{t_ours:9.3f} {t_ref:9.3f} {t_ours / t_ref:6.1f}")


# -- part 3 -----------------------------------------------------------------------------
def lasso_gap(A, b, lam, x):
    """Duality gap of 0.5 ||A x - b||^2 + lam ||x||_1 at x, with the dual point obtained by
    scaling the residual into the dual feasible set {theta : ||A^T theta||_inf <= lam}."""
    r = b - A @ x
    primal = 0.5 * r @ r + lam * np.abs(x).sum()
    theta = r * min(1.0, lam / max(np.abs(A.T @ r).max(), 1e-300))
    dual = b @ theta - 0.5 * theta @ theta
    return primal - dual


def lasso_race(quick: bool, device: str, target: float = 1e-8, rounds: int = 3) -> None:
    """Each side's loosest tolerance (of a ladder) whose final point has the target gap, then
    ``rounds`` interleaved timings of those runs (scikit-learn, fista, proxgrad, ...): best of each."""
    import torch
    from sklearn.linear_model import Lasso

    n, d = (200, 1000) if quick else (1000, 5000)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    x_true = np.zeros(d)
    x_true[rng.choice(d, d // 50, replace=False)] = rng.standard_normal(d // 50)
    b = A @ x_true + 0.5 * rng.standard_normal(n)
    lam = 0.1 * np.abs(A.T @ b).max()
    print(f"\n## 3. Lasso n={n} d={d}, lam = 0.1 lam_max: time to a duality gap <= {target:g} "
          f"(best of {rounds} interleaved rounds; torch threads {torch.get_num_threads()})\n")

    def sklearn_fit(tol):
        return Lasso(alpha=lam / n, fit_intercept=False, tol=tol, max_iter=200_000).fit(A, b).coef_

    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "A.npy", A)
        np.save(Path(tmp) / "b.npy", b)
        path = Path(tmp) / "lasso.yaml"
        path.write_text(f"name: lasso_{n}x{d}\nkind: minimize\nvariables:\n  x: {{shape: [{d}]}}\n"
                        "data:\n  A: {file: A.npy}\n  b: {file: b.npy}\n"
                        f"parameters:\n  lam: {float(lam)!r}\n"
                        "objective: \"0.5 * sum_squares(A @ x - b) + lam * norm1(x)\"\n")
        problem = solverhub.load_problem(path)

        def ours(name, tol):
            return solverhub.solve(problem, name, device=device, options={"tolerance": tol, "max_iterations": 100_000})

        def gap_of(x):
            return lasso_gap(A, b, lam, np.asarray(x, dtype=float).ravel())

        runs = {"scikit-learn": lambda tol: (sklearn_fit(tol), None)}
        runs.update({name: (lambda tol, name=name: (lambda r: (r.solution["x"], r))(ours(name, tol)))
                     for name in ("fista", "proxgrad")})
        chosen = {}
        for name, run in runs.items():        # the loosest tolerance that reaches the target gap
            for tol in (1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14):
                x, result = run(tol)
                if gap_of(x) <= target:
                    break
            chosen[name] = (tol, gap_of(x), result)
        best = {name: math.inf for name in runs}
        method = {name: math.inf for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                t0 = time.perf_counter()
                _, result = run(chosen[name][0])
                best[name] = min(best[name], time.perf_counter() - t0)
                if result is not None:
                    method[name] = min(method[name], result.wall_time_s)
        At, v = torch.as_tensor(A), torch.as_tensor(x_true)
        t0 = time.perf_counter()
        for _ in range(50):
            At @ v
        matvec = (time.perf_counter() - t0) / 50
    sk = best["scikit-learn"]
    print(f"one float64 matvec with A: {1e3 * matvec:.2f} ms (torch)")
    print(f"scikit-learn Lasso: gap {chosen['scikit-learn'][1]:.2e} at tol={chosen['scikit-learn'][0]:g} in {sk:.3f} s")
    for name in ("fista", "proxgrad"):
        tol, gap, result = chosen[name]
        vg = result.oracle_calls.get("grad_smooth", 0)
        print(f"{name:9}: gap {gap:.2e} at tolerance={tol:g} in {best[name]:.3f} s (method {method[name]:.3f} s, "
              f"{result.iterations} iterations, {vg} value_and_grad, {method[name] / result.iterations / matvec:.1f} "
              f"matvecs/iteration); ratio to scikit-learn {best[name] / sk:.2f}x (method only {method[name] / sk:.2f}x)")


# -- part 4 -----------------------------------------------------------------------------
def auglag_large_qp(quick: bool, device: str) -> None:
    d, m = (10_000, 5) if quick else (100_000, 5)
    rng = np.random.default_rng(1)
    q = rng.uniform(0.5, 2.0, d)
    c = rng.standard_normal(d)
    E = rng.standard_normal((m, d)) / math.sqrt(d)
    e = E @ rng.uniform(0.2, 0.8, d)          # a strictly feasible point exists
    print(f"\n## 4. auglag on a QP with d = {d}, bounds 0 <= x <= 1 and {m} dense equalities, vs cvxpy\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name, array in (("q", q), ("c", c), ("E", E), ("e", e)):
            np.save(Path(tmp) / f"{name}.npy", array)
        path = Path(tmp) / "qp.yaml"
        path.write_text(f"name: qp_{d}\nkind: constrained\nvariables:\n  x: {{shape: [{d}], lower: 0, upper: 1}}\n"
                        "data:\n  q: {file: q.npy}\n  c: {file: c.npy}\n  E: {file: E.npy}\n  e: {file: e.npy}\n"
                        "objective: \"0.5 * sum(q * x ** 2) - c @ x\"\n"
                        "constraints:\n  - \"E @ x == e\"\n")
        problem = solverhub.load_problem(path)
        reference, t_ref = timed_solve(problem, "cvxpy")
        print(f"{'cvxpy':28} {reference.status.value:15} f = {reference.objective:.10g}  {t_ref:.2f} s")
        # the default (inner lbfgsb: bounds only), then fista as inner solver (projection, on the device),
        # and the inner tolerance schedule (loose inner solves while infeasible)
        for label, options in (("auglag", {}), ("auglag inner=fista", {"inner": "fista"}),
                               ("auglag inner=fista, factor 0.1", {"inner": "fista", "inner_tolerance_factor": 0.1})):
            ours, t_ours = timed_solve(problem, "auglag", device, tolerance=1e-6, **options)
            if ours is None:
                print(f"{label}: refused: {t_ours}")
                continue
            rel = abs(ours.objective - reference.objective) / abs(reference.objective)
            print(f"{label:28} {ours.status.value:15} f = {ours.objective:.10g}  violation "
                  f"{float(ours.extras.get('max_violation', math.nan)):.1e}  {t_ours:.2f} s "
                  f"({ours.iterations} outer, {sum(ours.oracle_calls.values())} calls); rel. diff {rel:.1e}; "
                  f"time ratio / cvxpy = {t_ours / t_ref:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller lasso and QP (a smoke run)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--part", type=int, action="append", choices=(1, 2, 3, 4),
                        help="run only these parts (repeatable); default all")
    args = parser.parse_args()
    parts = args.part or [1, 2, 3, 4]
    timed_solve(ROOT / "problems/bounds/nnls.yaml", "lbfgsb", args.device)    # warm-up: imports, first kernels
    if 1 in parts:
        shipped_problems(args.device)
    if 2 in parts:
        scipy_head_to_head(args.device)
    if 3 in parts:
        lasso_race(args.quick, args.device)
    if 4 in parts:
        auglag_large_qp(args.quick, args.device)


if __name__ == "__main__":
    main()
