"""Per-iteration cost of every registered torch solver relative to one gradient
evaluation, on a d = 10^6 nonconvex separable problem, and host syncs per iteration.

Run: python benchmarks/bench_iteration_cost.py [--dim 1000000] [--iterations 30] [--device cpu|cuda]

Host syncs are counted by wrapping torch.Tensor.item / __float__ / __bool__ during
the solve (trace sampled only at the end); a solver with zero syncs per iteration
never waits for the device inside its loop. Line-search methods sync by design
(a comparison of function values decides the step).
"""
from __future__ import annotations

import argparse
import time

import torch

import solverhub
from solverhub.oracle import Oracle
from solverhub.registry import get_registry

PROBLEM = """
name: separable-1e6
kind: minimize
variables: {{x: {{shape: [{d}], x0: {{generate: normal, seed: 1}}}}}}
data:
  L: {{generate: uniform, shape: [{d}], low: 0.01, high: 10.0, seed: 0}}
objective: "sum(L * (1 - cos(x))) + 0.001 * sum_squares(x)"
"""


class SyncCounter:
    def __init__(self):
        self.count = 0
        self._saved = {}

    def __enter__(self):
        for name in ("item", "__float__", "__bool__"):
            original = getattr(torch.Tensor, name)
            self._saved[name] = original

            def counting(tensor, *a, _orig=original, **k):
                self.count += 1
                return _orig(tensor, *a, **k)
            setattr(torch.Tensor, name, counting)
        return self

    def __exit__(self, *exc):
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dim", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    problem = solverhub.load_problem(PROBLEM.format(d=args.dim))
    tp = problem.lower_torch(args.device, torch.float64)
    oracle = Oracle(tp.objective, x0=tp.x0)
    for _ in range(3):
        oracle.grad(tp.x0)
    _sync(args.device)
    t0 = time.perf_counter()
    reps = 10
    for _ in range(reps):
        oracle.grad(tp.x0)
    _sync(args.device)
    t_grad = (time.perf_counter() - t0) / reps
    print(f"d = {args.dim}, device {args.device}, float64; one gradient evaluation: {t_grad * 1e3:.2f} ms")
    print(f"{'solver':<12} {'iter ms':>9} {'iter / grad':>12} {'grads/iter':>11} {'syncs/iter':>11}")
    registry = get_registry()
    for name in sorted(registry.solvers):
        cls = registry.solvers[name].cls
        ok, why = cls().accepts(problem)
        if not ok or name == "cvxpy":
            print(f"{name:<12} skipped: {why if not ok else 'not a torch solver'}")
            continue
        options = {"max_iterations": args.iterations, "tolerance": 0.0, "trace_every": args.iterations}
        solverhub.solve(problem, name, device=args.device, options={**options, "max_iterations": 2})  # warm-up
        with SyncCounter() as syncs:
            result = solverhub.solve(problem, name, device=args.device, options=options)
        # the run loop samples the trace twice (start, end): 2 syncs each
        per_iter_syncs = max(0, syncs.count - 4) / max(1, result.iterations)
        per_iter = result.wall_time_s / max(1, result.iterations)
        grads = (result.oracle_calls.get("grad", 0) + result.oracle_calls.get("stochastic_grad", 0)) / max(1, result.iterations)
        print(f"{name:<12} {per_iter * 1e3:9.2f} {per_iter / t_grad:12.2f} {grads:11.2f} {per_iter_syncs:11.2f}")


if __name__ == "__main__":
    main()
