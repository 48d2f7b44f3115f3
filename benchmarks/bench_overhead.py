"""Framework overhead: solverhub's `gd` (constant step) vs the same loop written by hand in torch.

Run: python benchmarks/bench_overhead.py [--n 2000 --d 200 --iterations 300]
Prints time ratios (ours / hand-written) measured in one run, on one problem.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import solverhub

PROBLEM = """
name: logreg-overhead
kind: minimize
variables: {{x: {{shape: [{d}]}}}}
data:
  A: {{generate: normal, shape: [{n}, {d}], seed: 0}}
  y: {{generate: sign, shape: [{n}], seed: 1}}
parameters: {{mu: 0.01}}
objective: "mean(logistic(-y * (A @ x))) + 0.5 * mu * sum_squares(x)"
"""


def hand_written(problem, iterations: int, lr: float) -> tuple[float, torch.Tensor]:
    A = torch.as_tensor(problem.data["A"])
    y = torch.as_tensor(problem.data["y"])
    x = torch.zeros(A.shape[1], dtype=torch.float64)
    t0 = time.perf_counter()
    for _ in range(iterations):
        xg = x.detach().requires_grad_(True)
        f = torch.nn.functional.softplus(-y * (A @ xg)).mean() + 0.005 * (xg * xg).sum()
        (g,) = torch.autograd.grad(f, xg)
        x = x - lr * g
    return time.perf_counter() - t0, x


def ours(problem, iterations: int, lr: float, trace_every: int):
    options = {"backtracking": False, "lr": lr, "max_iterations": iterations, "tolerance": 0.0,
               "trace_every": trace_every}
    t0 = time.perf_counter()
    result = solverhub.solve(problem, "gd", options=options)
    return time.perf_counter() - t0, result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # same thread count on both sides (solverhub runs small CPU problems single-threaded)
    os.environ["SOLVERHUB_TORCH_THREADS"] = "1"
    torch.set_num_threads(1)
    problem = solverhub.load_problem(PROBLEM.format(n=args.n, d=args.d))
    lr = 1.0
    ours(problem, 5, lr, 1)              # warm-up (first autograd call, imports)
    hand_written(problem, 5, lr)
    best = {}
    for _ in range(args.repeats):
        t_hand, x_hand = hand_written(problem, args.iterations, lr)
        best["hand"] = min(best.get("hand", 1e9), t_hand)
        for every in (args.iterations, 10, 1):
            t, result = ours(problem, args.iterations, lr, every)
            best[every] = min(best.get(every, 1e9), t)
    x_ours = torch.as_tensor(result.solution["x"], dtype=torch.float64)
    assert torch.allclose(x_ours, x_hand, atol=1e-12), "same iterates expected"
    print(f"logistic regression n={args.n} d={args.d}, {args.iterations} gd iterations, best of {args.repeats}")
    print(f"  hand-written torch loop          {best['hand']:.4f} s   1.00x")
    for every, label in ((args.iterations, "trace at the end only"), (10, "trace every 10"), (1, "trace every iteration")):
        print(f"  solverhub gd, {label:<22} {best[every]:.4f} s   {best[every] / best['hand']:.2f}x")


if __name__ == "__main__":
    main()
