"""The 5-seed claim of arXiv 2510.11953 on the synthetic factor set: does the MMD prior give an
aggregate posterior closer to the chosen prior, and a lower LPS, than a KL-VAE (beta sweep) and a
plain autoencoder?

    python benchmarks/bench_latent_prior.py [--seeds 5] [--problems factors-uniform factors-gaussian]
                                            [--json out.json]
    python benchmarks/bench_latent_prior.py --sweep [--seeds 3]    # lambda and kernel sensitivity
    python benchmarks/bench_latent_prior.py --paper [--seeds 1] [--epochs N] [--settings XY XYC "XY prior"]
        # the paper's Tables 1-2 (XY, XYC); epochs default to the paper's Table 3 (XY 500, XYC 250)

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


PAPER_TABLE1 = {   # arXiv 2510.11953 Table 1, LPS-lgbm / NMSE dB (conv. autoencoders on XY, XYC images)
    "XY": {"mmd-prior": (-0.05, -15.22), "autoencoder": (-0.03, -16.90), "kl-vae:beta=1": (-0.05, -15.72),
           "kl-vae:beta=4": (-0.05, -14.46)},
    "XYC": {"mmd-prior": (-0.01, -16.31), "autoencoder": (0.04, -17.81), "kl-vae:beta=1": (0.02, -16.04),
            "kl-vae:beta=4": (0.00, -13.33)}}
PAPER_TABLE2 = {"gaussian": (0.199, 0.751), "uniform": (0.469, 1.047), "mixture2": (0.251, 0.863)}   # DCI, MIG


def paper_problem(k: int, prior, epochs: int, seed: int) -> str:
    """The factor set with k factors and k latents (XY: k = 2, XYC: k = 3) under ``preset: paper``."""
    return yaml.safe_dump({"name": f"factors-k{k}-paper", "kind": "latent_prior", "preset": "paper",
                           "dataset": {"factors": {"n": 1000, "dim_factors": k, "dim_x": 10, "noise": 0.01, "seed": 0}},
                           "latent_dim": k, "prior": prior, "encoder": [16], "decoder": [16], "epochs": epochs,
                           "init": {"seed": seed}, "solve": {"max_iterations": 1000000, "trace_every": 1000}})


PAPER_EPOCHS = {2: 500, 3: 250}     # Table 3: XY 500 epochs, XYC 250


def paper(seeds: int, epochs: int | None, settings=None):
    """Table 1's XY / XYC rows (LPS-lgbm, NMSE dB) and Table 2's priors on XY (LPS; DCI/MIG not computed)."""
    runs = [(name, k, "gaussian", lab, solver, opts) for name, k in (("XY", 2), ("XYC", 3))
            for lab, solver, opts in (("mmd-prior", "mmd-prior", {}), ("autoencoder", "autoencoder", {}),
                                      ("kl-vae:beta=1", "kl-vae", {"beta": 1.0}),
                                      ("kl-vae:beta=4", "kl-vae", {"beta": 4.0}))]
    runs += [("XY prior " + lab, 2, prior, "mmd-prior", "mmd-prior", {})
             for lab, prior in (("uniform", "uniform"), ("mixture2", {"mixture": {"components": 2, "radius": 2.0}}))]
    out = []
    for name, k, prior, lab, solver, opts in runs:
        if settings and not any(name == s or (s == "XY prior" and name.startswith(s)) for s in settings):
            continue
        vals = []
        for s in range(seeds):
            p = solverhub.load_problem(paper_problem(k, prior, epochs or PAPER_EPOCHS[k], s))
            t0 = time.perf_counter()
            r = solverhub.solve(p, solver, options=opts, seed=s)
            X = p.sections.model.data.X_test
            nmse_db = 10 * np.log10(r.extras["test_recon_error"] / ((X - X.mean(0)) ** 2).sum(1).mean())
            vals.append((r.extras["lps_mean"], nmse_db, r.extras["ks_max"]))
            print(f"{name:18s} {lab:16s} seed {s}: LPS-hgb {vals[-1][0]:.3f}, NMSE {nmse_db:.2f} dB, KS max "
                  f"{vals[-1][2]:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        v = np.array(vals)
        ref = PAPER_TABLE1.get(name, {}).get(lab) or ((None, None) if name not in PAPER_TABLE1 else None)
        out.append(f"| {name} | {lab} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.2f} | {v[:, 2].mean():.3f} | "
                   + (f"{ref[0]:+.2f} / {ref[1]:.2f}" if ref and ref[0] is not None else
                      "LPS ≈ −0.05; DCI / MIG " + "{} / {}".format(*PAPER_TABLE2[name.split()[-1]])
                      if name.startswith("XY prior") else "-") + " |")
    print("\n| setting | method | LPS-hgb (ours) | NMSE dB (ours) | KS max (ours) | paper (LPS-lgbm / NMSE dB) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(out))


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
    ap.add_argument("--paper", action="store_true", help="the paper's XY / XYC settings (Tables 1 and 2)")
    ap.add_argument("--epochs", type=int, default=None, help="--paper: epochs per run (default: the paper's)")
    ap.add_argument("--settings", nargs="+", help="--paper: only these settings (XY, XYC, 'XY prior')")
    ap.add_argument("--sweep", action="store_true", help="lambda / bandwidth sweep of mmd-prior on the first problem")
    args = ap.parse_args()
    if args.paper:
        return paper(args.seeds if args.seeds != 5 else 1, args.epochs, args.settings)
    rows = sweep(args.problems[0], args.seeds) if args.sweep else run(args.problems, args.seeds)
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({f"{k[0]}|{k[1]}": v for k, v in rows.items()}, indent=1))


if __name__ == "__main__":
    main()
