"""solverhub compare vs benchopt 1.10 on the same 60 runs (the anchor of issue 16), whole commands.

The anchor (``/work/shared/anchors``, or ``--anchors``): ridge least squares on 10 simulated
datasets (n = 40..220, d = 20), two solvers, 3 repetitions / seeds = 60 runs, as

    benchopt run <copy of benchopt_ridge> --no-plot -n 20 -r 3 -j J
    solverhub compare <anchors>/solverhub_ridge --solver gd --solver lbfgs --seeds 3 --jobs J

Both cold, alternating (and ``solverhub compare --no-baseline``, which computes no
reference: benchopt computes none either), for J = 1 and 2: benchopt's ``__cache__/`` and ``outputs/`` are
deleted before each of its runs; each solverhub compare writes a new store with an empty
baseline cache (``SOLVERHUB_CACHE`` in a temporary folder), so it computes its 10
baselines too. benchopt is installed with pip into a throwaway venv (``python3 -m venv``;
``--venv DIR`` reuses one); it is never a dependency of solverhub.

Prints the seconds and runs/s of each command and the ratio solverhub / benchopt (runs/s),
and the CPU seconds of each (every process it waited for), whose ratio a loaded machine
moves less. Then the floor of any solverhub command on this set, measured in the same run:
``python -c "import torch"`` (every compare imports torch before its first run: the
whole command can never be faster) and the best ratio it leaves. The ridge problems'
baselines are closed-form references (``solverhub.quadratic_reference``): no cvxpy import.
Run: python benchmarks/bench_vs_benchopt.py [--jobs 1 2] [--repeat 2] [--venv DIR]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 60       # 10 datasets x 2 solvers x 3 repetitions (seeds)


def ensure_benchopt(venv: Path) -> Path:
    exe = venv / "bin" / "benchopt"
    if not exe.exists():
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "benchopt==1.10.0"], check=True)
    return exe


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and every process it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_floor(module: str, repeat: int = 3) -> tuple[float, float]:
    """Median (wall s, CPU s) of a fresh ``python -c "import MODULE"``."""
    runs = [timed([sys.executable, "-c", f"import {module}"], Path.cwd(), dict(os.environ)) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anchors", default="/work/shared/anchors")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2, help="alternating pairs per J")
    ap.add_argument("--venv", default=None, help="a venv with benchopt==1.10.0 (default: a throwaway one)")
    args = ap.parse_args()
    anchors = Path(args.anchors)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        benchopt = ensure_benchopt(Path(args.venv) if args.venv else tmp / "venv")
        bench = tmp / "benchopt_ridge"
        shutil.copytree(anchors / "benchopt_ridge", bench)
        env = dict(os.environ)
        from solverhub.problem.model import load_problem
        from solverhub.quadratic_reference import is_unconstrained_quadratic
        problems = sorted((anchors / "solverhub_ridge").glob("*.yaml"))
        quadratic = sum(is_unconstrained_quadratic(load_problem(p)) for p in problems)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; {RUNS} runs each")
        for jobs in args.jobs:
            tools = ("benchopt", "solverhub", "solverhub --no-baseline")
            times: dict[str, list[float]] = {tool: [] for tool in tools}
            cpu: dict[str, list[float]] = {tool: [] for tool in tools}
            for rep in range(args.repeat):
                order = tools if rep % 2 == 0 else tools[::-1]
                for tool in order:
                    if tool == "benchopt":
                        for junk in ("__cache__", "outputs"):
                            shutil.rmtree(bench / junk, ignore_errors=True)
                        cmd = [str(benchopt), "run", ".", "--no-plot", "-n", "20", "-r", "3", "-j", str(jobs)]
                        wall, used = timed(cmd, bench, env)
                    else:
                        run_dir = Path(tempfile.mkdtemp(dir=tmp))
                        cmd = [sys.executable, "-m", "solverhub.cli", "compare", str(anchors / "solverhub_ridge"),
                               "--solver", "gd", "--solver", "lbfgs", "--seeds", "3", "--jobs", str(jobs),
                               "--store", str(run_dir / "runs.sqlite")] + tool.split()[1:]
                        wall, used = timed(cmd, run_dir, dict(env, SOLVERHUB_CACHE=str(run_dir / "cache")))
                    times[tool].append(round(wall, 2))
                    cpu[tool].append(round(used, 2))
            b, s = statistics.median(times["benchopt"]), statistics.median(times["solverhub"])
            cb, cs = statistics.median(cpu["benchopt"]), statistics.median(cpu["solverhub"])
            print(f"J={jobs}: benchopt {b:6.2f} s = {RUNS / b:6.1f} runs/s; solverhub {s:6.2f} s = {RUNS / s:6.1f} "
                  f"runs/s (medians of {args.repeat}: {times}); solverhub / benchopt runs/s = {b / s:.2f}x "
                  f"(goal >= 5x with 2 jobs each)")
            print(f"J={jobs}: CPU seconds (all processes): benchopt {cb:.1f}, solverhub {cs:.1f} ({cpu}); "
                  f"benchopt / solverhub CPU = {cb / cs:.2f}x (less sensitive to a loaded machine)")
            n, cn = statistics.median(times[tools[2]]), statistics.median(cpu[tools[2]])
            print(f"J={jobs}: solverhub --no-baseline (no reference, which benchopt does not compute either): "
                  f"{n:6.2f} s, {cn:.1f} CPU s; benchopt / it = {b / n:.2f}x runs/s, {cb / cn:.2f}x CPU")
            torch_s, torch_cpu = import_floor("torch")
            print(f"J={jobs}: floor: `import torch` {torch_s:.2f} s ({torch_cpu:.2f} CPU s) in a fresh python: no "
                  f"solverhub compare takes less (its workers run torch solvers), so the best ratio is "
                  f"{b / torch_s:.2f}x; 5x needs the whole compare in {b / 5:.2f} s. solverhub's own time above "
                  f"that floor: {s - torch_s:.2f} s ({s:.2f} - {torch_s:.2f}), CPU {cs - torch_cpu:.2f} s. "
                  f"Baselines: {quadratic} of the {len(problems)} ridge problems are closed-form references "
                  f"(no cvxpy import; the rest import cvxpy in one worker)")
        print(f"load average at the end {os.getloadavg()[0]:.2f} (a shared machine: the ratio is what counts)")


if __name__ == "__main__":
    main()
