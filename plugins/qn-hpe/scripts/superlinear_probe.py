"""Where is the superlinear phase? Runs qn-hpe (float64, CPU) on the method note's
A = S + K problems and prints, per run: iterations and operator calls to
‖F‖ ≤ tol, the accepted step sizes η_k, ‖B_k − A‖_F along the run, the summed
online losses (the regret proxy; ≤ ‖B_0 − A‖_F² = ‖A‖_F²) and the mean contraction
‖F_{k+1}‖/‖F_k‖ over the first and the last 10 iterations.

    python plugins/qn-hpe/scripts/superlinear_probe.py          # ~10 s

Problems: the shipped d = 50 problem (K with norm 1), the same recipe with K = 0
(symmetric, so the linear phase is long: many more learning steps), and d = 5, 10.
Numbers are quoted in docs/methods/qn-hpe.md.
"""
from __future__ import annotations

import numpy as np
import torch

import solverhub
from solverhub.oracle import Oracle
from solverhub_qn_hpe import QNHPE


def recipe(d, mu=0.01, seed=4, k_scale=1.0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    S = Q @ np.diag(np.linspace(mu, 1, d)) @ Q.T
    K = rng.normal(size=(d, d))
    K = (K - K.T) / np.linalg.norm(K - K.T, 2)
    return S + k_scale * K, rng.normal(size=d)


def problem_text(A, b):
    return (f"name: probe\nkind: monotone\nvariables: {{z: {{shape: [{len(b)}]}}}}\n"
            f"data: {{A: {A.tolist()}, b: {b.tolist()}}}\noperator: \"A @ z - b\"\n")


def run(A, b, tol=1e-10, max_steps=5000, **options):
    p = solverhub.load_problem(problem_text(A, b))
    tp = p.lower_torch("cpu", torch.float64)
    oracle = Oracle.for_problem(tp, p)
    solver, opts = QNHPE(), QNHPE.Options(**options)
    state = solver.init(p, oracle, tp.x0.clone(), opts)
    residuals, errors = [float(torch.linalg.vector_norm(state.F))], [np.linalg.norm(A - state.B.numpy(), "fro")]
    while residuals[-1] > tol and len(residuals) <= max_steps:
        state = solver.step(state, oracle, opts)
        if state.stop is not None:
            print("   stopped:", state.stop)
            break
        residuals.append(float(torch.linalg.vector_norm(state.F)))
        errors.append(np.linalg.norm(A - state.B.numpy(), "fro"))
    r = np.array(residuals)
    ratios = r[1:] / r[:-1]
    etas = np.array(state.etas)
    k = len(etas)
    marks = sorted({0, k // 4, k // 2, 3 * k // 4, k})
    print(f"   iterations {k}, operator calls {oracle.counts['operator']}, "
          f"contraction first/last 10: {ratios[:10].mean():.3f} / {ratios[-10:].mean():.3f}, "
          f"min ratio {ratios.min():.3f}")
    print(f"   eta: max {etas.max():g}, last 10 {etas[-10:].tolist()}")
    print("   ‖B_k − A‖_F at k = " + ", ".join(f"{m}: {errors[m]:.2f}" for m in marks)
          + f"; Σ losses {sum(float(v) for v in state.losses):.2f} (‖A‖_F² = {np.linalg.norm(A, 'fro') ** 2:.2f}),"
          f" updates {len(state.losses)}")


def main():
    for label, d, k_scale in [("shipped skew_affine50 (d = 50, ‖K‖ = 1)", 50, 1.0),
                              ("same recipe, K = 0 (symmetric, long linear phase)", 50, 0.0),
                              ("d = 10, ‖K‖ = 1", 10, 1.0), ("d = 5, ‖K‖ = 1", 5, 1.0),
                              ("d = 5, K = 0", 5, 0.0)]:
        A, b = recipe(d, k_scale=k_scale)
        for options in ({}, {"update_on": "every_trial"}):
            print(f"{label}, options {options or 'defaults'}:")
            run(A, b, **options)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
