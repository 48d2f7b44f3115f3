"""Framework overhead: solverhub's `gd` (constant step) vs the same loop written by hand in torch,
and what sampling the trace costs in reported time.

Run: python benchmarks/bench_overhead.py [--n 2000 --d 200 --iterations 300]
Prints, measured in one run on one problem (best of --repeats, the variants alternating):
  * gd with the default trace schedule, reported time (``Result.wall_time_s``: the method's time,
    measuring excluded) / the hand-written loop        (goal <= 1.05x)
  * gd with a trace every iteration / a trace at the end only, both in reported time (goal <= 1.10x)
  * the whole ``solverhub.solve`` call / the hand-written loop (lowering, measuring, reports: information)
"""
from __future__ import annotations

import argparse
import os
import statistics
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
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # same thread count on both sides (solverhub runs small CPU problems single-threaded)
    os.environ["SOLVERHUB_TORCH_THREADS"] = "1"
    torch.set_num_threads(1)
    problem = solverhub.load_problem(PROBLEM.format(n=args.n, d=args.d))
    lr = 1.0
    ours(problem, 5, lr, 1)              # warm-up (first autograd call, imports)
    hand_written(problem, 5, lr)
    variants = {"default": 0, "end": args.iterations, "every 10": 10, "every": 1}
    hand, call, reported, measured = [], {k: [] for k in variants}, {k: [] for k in variants}, {}
    paired = {k: [] for k in variants}       # reported / the hand loops run just before and after (load drifts)
    t_prev, x_hand = hand_written(problem, args.iterations, lr)
    for _ in range(args.repeats):
        for name, every in variants.items():
            t, result = ours(problem, args.iterations, lr, every)
            call[name].append(t)
            reported[name].append(result.wall_time_s)
            measured[name] = (result.measure_time_s, len(result.trace))
            x_ours = torch.as_tensor(result.solution["x"], dtype=torch.float64)
            assert torch.allclose(x_ours, x_hand, atol=1e-12), "same iterates expected"
        t_next, x_hand = hand_written(problem, args.iterations, lr)
        hand += [t_prev, t_next]
        for name in variants:
            paired[name].append(reported[name][-1] / (0.5 * (t_prev + t_next)))
        t_prev = t_next
    h = min(hand)
    print(f"logistic regression n={args.n} d={args.d}, {args.iterations} gd iterations (constant step), "
          f"best of {args.repeats}, 1 thread")
    print(f"  hand-written torch loop                    {h:.4f} s   1.00x")
    for name, label in (("default", "default schedule"), ("end", "trace at the end only"),
                        ("every 10", "trace every 10"), ("every", "trace every iteration")):
        r, c = min(reported[name]), min(call[name])
        ms, points = measured[name]
        print(f"  solverhub gd, {label:<22} reported {r:.4f} s {r / h:5.2f}x (paired median "
              f"{statistics.median(paired[name]):.2f}x) | whole call {c:.4f} s {c / h:5.2f}x | {points} samples, "
              f"measuring {ms:.4f} s")
    every_vs_end = statistics.median(a / b for a, b in zip(reported["every"], reported["end"]))
    print(f"ratio: gd default tracing (reported) / hand-written = {min(reported['default']) / h:.3f}x best-of, "
          f"{statistics.median(paired['default']):.3f}x paired median  (goal <= 1.05)")
    print(f"ratio: trace every iteration / trace at the end only (reported) = "
          f"{min(reported['every']) / min(reported['end']):.3f}x best-of, {every_vs_end:.3f}x paired median  "
          f"(goal <= 1.10)")

if __name__ == "__main__":
    main()
