"""Start-up cost of the light CLI commands (they must import neither torch nor cvxpy).

Run: python benchmarks/bench_cli_startup.py
Prints the best-of-5 wall time of each command and its ratio to a bare `python -c pass`
and to `python -c "import torch"` in the same run.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RIDGE = str(ROOT / "problems" / "smooth" / "ridge.yaml")


def best_of(cmd, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    py = sys.executable
    bare = best_of([py, "-c", "pass"])
    torch_import = best_of([py, "-c", "import torch"], repeats=2)
    cases = {"solverhub --help": ["--help"], "solverhub list": ["list"],
             "solverhub validate ridge.yaml": ["validate", RIDGE], "solverhub plugins": ["plugins"]}
    print(f"bare python: {bare:.3f} s; python -c 'import torch': {torch_import:.3f} s")
    for label, args in cases.items():
        t = best_of([py, "-m", "solverhub.cli", *args])
        print(f"  {label:<32} {t:.3f} s  (+{t - bare:.3f} s over bare python; {t / torch_import:.2f}x of importing torch)")


if __name__ == "__main__":
    main()
