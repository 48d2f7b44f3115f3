"""The synthetic experiment of arXiv 2411.06056 (poster/slides): a symmetric mixture of two
linear experts (β, −β; gate σ(wᵀx); unit noise), EM against gradient EM / gradient descent.

Gradient EM takes one gradient step on EM's surrogate Q_t; by Fisher's identity
∇Q_t(θ_t) = ∇NLL(θ_t), so gradient EM with step η IS gradient descent with step η on the NLL:
both are the core `gd` at a constant step here. The paper shows convergence curves only (no
numbers); this prints, per SNR ‖β*‖, the median over data seeds of the iterations to
NLL* + 1e-6 (NLL*: the best value any run reached, at least EM after 300 iterations) and the
final parameter error of EM.

    python plugins/em-moe/experiments/symmetric_two_experts.py [--seeds 0-4] [--snr 1,2,4]

About a minute on one core.
"""
from __future__ import annotations

import argparse
import statistics

import solverhub

STEPS = (0.3, 1.0, 3.0)
CAP = 2000


def problem(snr: float, seed: int):
    return solverhub.load_problem(
        "name: sym\nkind: mixture_of_experts\nexperts: 2\nexpert: linear\nsymmetric: true\n"
        f"planted: {{n: 5000, d: 5, snr: {snr}, gate_norm: 2.0, seed: {seed}}}\ninit: {{scale: 0.5, seed: {seed}}}\n")


def trace(p, solver, **options):
    r = solverhub.solve(p, solver, options={"max_iterations": CAP if solver == "gd" else 300, "tolerance": 0.0,
                                            "trace_every": 1, **options})
    return r, [(t.iteration, t.objective) for t in r.trace]


def first(points, target):
    return next((i for i, f in points if f <= target), None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--snr", default="1,2,4")
    a = ap.parse_args()
    lo, hi = (int(v) for v in a.seeds.split("-"))
    print("| SNR ‖β*‖ | EM iterations | " + " | ".join(f"gradient EM = GD, η = {s:g}" for s in STEPS)
          + " | EM param error |")
    print("|---" * (len(STEPS) + 3) + "|")
    for snr in (float(v) for v in a.snr.split(",")):
        em_its, gd_its, errors = [], {s: [] for s in STEPS}, []
        for seed in range(lo, hi + 1):
            p = problem(snr, seed)
            em, em_pts = trace(p, "em-moe")
            runs = {s: trace(p, "gd", lr=s, backtracking=False)[1] for s in STEPS}
            best = min([em.objective] + [f for pts in runs.values() for _, f in pts if f == f])
            em_its.append(first(em_pts, best + 1e-6))
            for s in STEPS:
                gd_its[s].append(first(runs[s], best + 1e-6))
            errors.append(em.extras.get("param_error"))

        def med(v):
            hits = [x for x in v if x is not None]
            return (f"{statistics.median(hits):g}" if len(hits) == len(v) else
                    f"{statistics.median(hits):g} ({len(v) - len(hits)} > {CAP})" if hits else f"> {CAP}")
        print(f"| {snr:g} | {med(em_its)} | " + " | ".join(med(gd_its[s]) for s in STEPS)
              + f" | {statistics.median(e for e in errors if e is not None):.3g} |")


if __name__ == "__main__":
    main()
