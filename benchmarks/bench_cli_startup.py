"""Start-up cost of the CLI (issue 16): ``solve`` of a 20-variable ridge with ``lbfgs``, ``adam`` and
``bfgs-wolfe`` against ``python -c "import torch"`` (goal <= 1.3x), and ``validate`` in absolute
time (goal <= 0.3 s) and against ``python -c pass``; the light commands as well.

Run: python benchmarks/bench_cli_startup.py [--repeats N]
Every command is a fresh process, the commands are run in turn (alternating, so a busy machine
hurts all of them alike) and the best of N is kept; all ratios come from this one run. Besides wall
time it reads each process's CPU time (user + sys, its children included): on a shared machine
under load the wall times stretch, the CPU times much less, so the ratios are given on both.
The commands run as an installed CLI does, with bytecode caching on (``PYTHONDONTWRITEBYTECODE``
is dropped: without ``.pyc`` files each run compiles the core and plugin sources again, about
0.1 s); a first untimed round writes the caches.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RIDGE = str(ROOT / "problems" / "smooth" / "ridge.yaml")
SOLVERS = ("lbfgs", "adam", "bfgs-wolfe")


def commands() -> dict[str, list[str]]:
    py, cli = sys.executable, [sys.executable, "-m", "solverhub.cli"]
    cases = {"python -c pass": [py, "-c", "pass"], "python -c 'import torch'": [py, "-c", "import torch"]}
    cases.update({f"solve ridge --solver {s}": [*cli, "solve", RIDGE, "--solver", s] for s in SOLVERS})
    cases.update({"validate ridge": [*cli, "validate", RIDGE], "--help": [*cli, "--help"], "list": [*cli, "list"]})
    return cases


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_times(cases: dict[str, list[str]], repeats: int) -> dict[str, tuple[float, float]]:
    """``{label: (best wall s, best CPU s)}``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in cases.values():           # warm-up: .pyc files, the OS file cache
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall, cpu = dict.fromkeys(cases, float("inf")), dict.fromkeys(cases, float("inf"))
    for _ in range(repeats):
        for label, cmd in cases.items():
            c0, t0 = _cpu(), time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            wall[label] = min(wall[label], time.perf_counter() - t0)
            cpu[label] = min(cpu[label], _cpu() - c0)
    return {label: (wall[label], cpu[label]) for label in cases}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    t = best_times(commands(), args.repeats)
    (bare, bare_cpu), (torch_import, torch_cpu) = t["python -c pass"], t["python -c 'import torch'"]
    print(f"best of {args.repeats}, alternating: python -c pass {bare:.3f} s (CPU {bare_cpu:.3f} s); "
          f"import torch {torch_import:.3f} s (CPU {torch_cpu:.3f} s)")
    print(f"{'command':<32} {'wall s':>7} {'CPU s':>7} {'/ import torch':>15} {'(CPU)':>6} "
          f"{'/ python -c pass':>17} {'(CPU)':>6}  goal")
    for label, (seconds, cpu) in t.items():
        if label.startswith("python"):
            continue
        goal = ("<= 1.3x import torch" if label.startswith("solve") else "<= 0.3 s" if label.startswith("validate")
                else "")
        print(f"{label:<32} {seconds:7.3f} {cpu:7.3f} {seconds / torch_import:14.2f}x {cpu / torch_cpu:5.2f}x "
              f"{seconds / bare:16.1f}x {cpu / bare_cpu:5.1f}x  {goal}")

if __name__ == "__main__":
    main()
