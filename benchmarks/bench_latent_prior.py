"""The 5-seed claim of arXiv 2510.11953 on the synthetic factor set: does the MMD prior give an
aggregate posterior closer to the chosen prior, and a lower LPS, than a KL-VAE (beta sweep) and a
plain autoencoder?

    python benchmarks/bench_latent_prior.py [--seeds 5] [--problems factors-uniform factors-gaussian]
                                            [--json out.json]
    python benchmarks/bench_latent_prior.py --sweep [--seeds 3]    # lambda and kernel sensitivity

Seed s sets both the network's start (``init.seed = s`` in a copy of the file) and the run seed
(minibatches, prior samples, reparameterisation noise). Reported per problem and method: mean
+- std over seeds of the aggregate posterior's MMD^2 to the prior and max per-dimension KS
distance, LPS (mean over dimensions), held-out reconstruction MSE (per element) and factor
recovery. The aggregate posterior is the encoder means mu(x) (the deterministic methods'
codes); for the KL-VAE the sampled aggregate posterior z = mu + sigma * eps is also shown
(rows ``kl-vae ... sampled``), since that is the distribution its ELBO pulls toward the prior.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

import solverhub

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems" / "training" / "latent_prior"
METHODS = [("mmd-prior", {}), ("kl-vae", {"beta": 0.5}), ("kl-vae", {"beta": 1.0}), ("kl-vae", {"beta": 4.0}),
           ("autoencoder", {})]
METRICS = ("mmd2_to_prior", "ks_max", "lps_mean", "test_recon_mse", "factor_recovery_mean")


def label(solver, options):
    return solver + "".join(f":{k}={v:g}" for k, v in options.items())


def run(problems, seeds):
    rows = {}
    for name in problems:
        for solver, options in METHODS:
            lab = label(solver, options)
            for s in range(seeds):
                raw = yaml.safe_load((PROBLEMS / f"{name}.yaml").read_text())
                raw["init"] = {"seed": s}
                p = solverhub.load_problem(yaml.safe_dump(raw))
                t0 = time.perf_counter()
                r = solverhub.solve(p, solver, options=options, seed=s)
                e = r.extras
                rows.setdefault((name, lab), []).append({m: e.get(m) for m in METRICS})
                if "sampled_mmd2_to_prior" in e:
                    rows.setdefault((name, lab + " sampled"), []).append(
                        {m: e.get("sampled_" + m, e.get(m) if m == "test_recon_mse" else None) for m in METRICS})
                print(f"{name:18s} {lab:22s} seed {s}: " + ", ".join(
                    f"{m} {e.get(m, float('nan')):.4g}" for m in METRICS) + f"  ({time.perf_counter() - t0:.1f} s)",
                    flush=True)
    return rows


SWEEP = ([("lambda", lam, {"lambda": lam}) for lam in (1, 3, 10, 30, 100)]
         + [("bandwidths", bw, {"kernel": {"bandwidths": bw}}) for bw in ([0.2], [1.0], [5.0])])


def sweep(name, seeds):
    """mmd-prior's sensitivity to lambda and to the kernel bandwidths (requested by the reviewers)."""
    rows = {}
    for what, value, edit in SWEEP:
        lab = f"mmd-prior {what}={value}"
        for s in range(seeds):
            raw = yaml.safe_load((PROBLEMS / f"{name}.yaml").read_text())
            raw.update(edit, init={"seed": s})
            r = solverhub.solve(solverhub.load_problem(yaml.safe_dump(raw)), "mmd-prior", seed=s)
            rows.setdefault((name, lab), []).append({m: r.extras.get(m) for m in METRICS})
            print(f"{name} {lab} seed {s}: " + ", ".join(f"{m} {r.extras.get(m, float('nan')):.4g}" for m in METRICS),
                  flush=True)
    return rows


def table(rows) -> str:
    head = "| problem | method | " + " | ".join(METRICS) + " |"
    lines = [head, "|" + "---|" * (len(METRICS) + 2)]
    for (name, lab), runs in rows.items():
        cells = []
        for m in METRICS:
            vals = np.array([r[m] for r in runs if r[m] is not None], dtype=float)
            cells.append("-" if vals.size == 0 else f"{vals.mean():.3g} ± {vals.std(ddof=1) if vals.size > 1 else 0:.2g}")
        lines.append(f"| {name} | {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--problems", nargs="+", default=["factors-uniform", "factors-gaussian"])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--sweep", action="store_true", help="lambda / bandwidth sweep of mmd-prior on the first problem")
    args = ap.parse_args()
    rows = sweep(args.problems[0], args.seeds) if args.sweep else run(args.problems, args.seeds)
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({f"{k[0]}|{k[1]}": v for k, v in rows.items()}, indent=1))


if __name__ == "__main__":
    main()
