"""Paper Table 1 (arXiv 2505.22601, §5.1) on the sine-poisoning replica, on HELD-OUT data seeds.

The defaults (reg_coef 0.1, decay 0.9, lr 1e-3) were picked on the shipped file (data seed 1);
this script measures the claim on data seeds the tuning never saw (default 11..20, ten trials as
the paper), after 10, 100 and 1000 epochs: median over seeds of the sup-norm error
max_x |f(θ, x) − sin x| (1000 grid points). Baselines take their best learning rate of the
paper's grid {1e-3, 5e-4, 1e-4} by median at 100 epochs (GA also reported at 1e-4 always);
MinNorm-OG runs at its defaults with projection_steps = 0.75 × epochs (the code's
num_gd_epochs = 25 of 100), and the official per-batch AdamW variant (batch 10, wd 0.01,
5 iterations per epoch) beside it.

    python plugins/minnorm-og/experiments/sine_table1.py [--seeds 11-20] [--epochs 10,100,1000]

Prints one table (a few minutes on one core).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import solverhub

ROOT = Path(__file__).resolve().parents[3]
SINE = ROOT / "problems/structured/unlearning/sine_poisoning.yaml"
GRID = (1e-3, 5e-4, 1e-4)
PAPER = {10: dict(retrain=1.5, mnog=1.5, gd=3.23, ga=2.56, ngp=2.5),
         100: dict(retrain=1.36, mnog=1.08, gd=2.76, ga=23.8, ngp=2.62),
         1000: dict(retrain=1.17, mnog=0.63, gd=2.61, ga=1400, ngp=2.75)}


def problem(seed: int, folder: Path):
    text = SINE.read_text().replace("forget_value: 1.5, seed: 1}", f"forget_value: 1.5, seed: {seed}}}")
    path = folder / f"sine_{seed}.yaml"
    path.write_text(text)
    return solverhub.load_problem(path)


def sup(p, solver, epochs, **options):
    return solverhub.solve(p, solver, options={"max_iterations": epochs, "tolerance": 0.0, **options}
                           ).extras["sup_error_vs_target"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="11-20")
    ap.add_argument("--epochs", default="10,100,1000")
    a = ap.parse_args()
    lo, hi = (int(v) for v in a.seeds.split("-"))
    epochs = [int(e) for e in a.epochs.split(",")]
    rows = {e: {} for e in epochs}
    with tempfile.TemporaryDirectory() as tmp:
        problems = [problem(s, Path(tmp)) for s in range(lo, hi + 1)]
        start = [sup(p, "gd-retain", 0) for p in problems]
        best = {}
        for name, solver, extra in (("retrain", "retrain", {}), ("gd", "gd-retain", {}), ("ga", "ga-forget", {}),
                                    ("ngp", "neggrad-plus", {"ga_coef": 1e-2})):
            scores = {lr: statistics.median(sup(p, solver, 100, lr=lr, **extra) for p in problems) for lr in GRID}
            best[name] = (solver, min(scores, key=scores.get), extra)
        for e in epochs:
            proj = max(1, round(0.75 * e))
            rows[e]["mnog"] = statistics.median(sup(p, "minnorm-og", e, projection_steps=proj) for p in problems)
            rows[e]["mnog-batch"] = statistics.median(
                sup(p, "minnorm-og", 5 * e, projection_steps=5 * proj, batch_size=10, weight_decay=0.01)
                for p in problems)
            for name, (solver, lr, extra) in best.items():
                rows[e][name] = statistics.median(sup(p, solver, e, lr=lr, **extra) for p in problems)
    print(f"held-out data seeds {lo}..{hi}: median start sup error {statistics.median(start):.2f}")
    print("best lr at 100 epochs: " + ", ".join(f"{k} {v[1]:g}" for k, v in best.items()))
    cols = ("retrain", "mnog", "mnog-batch", "gd", "ga", "ngp")
    print("| epochs | " + " | ".join(cols) + " | paper (retrain / MinNorm-OG / GD / GA / NGP) |")
    print("|---" * (len(cols) + 2) + "|")
    for e in epochs:
        paper = PAPER.get(e)
        ref = " / ".join(f"{paper[k]:g}" for k in ("retrain", "mnog", "gd", "ga", "ngp")) if paper else "–"
        print(f"| {e} | " + " | ".join(f"{rows[e][c]:.3g}" for c in cols) + f" | {ref} |")


if __name__ == "__main__":
    main()
