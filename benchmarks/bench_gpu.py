"""GPU cost of the first-order methods (issue 16): each method's step against a plain autograd
step at d = 10^7 and 10^8 (goal <= 1.2x), host syncs per step, and a ``compare --device cuda``.

Run: python benchmarks/bench_gpu.py                 # on a CUDA machine; at most ~5 minutes
     python benchmarks/bench_gpu.py --small         # d = 10^5 on CPU, seconds (tests/test_bench_gpu.py)

Methods: the builtins gd, adam, proxgrad, fista and every registered plugin solver that accepts
the benchmark problem on the device and is first-order (no dense d x d state: solvers with a
``max_dim`` below d refuse, the quasi-Newton and SciPy/cvxpy solvers are left out). The problem is
``sum(logistic(x)) + 0.5 * sum_squares(x - 1)`` (memory-bound, like a large model's update); the
composite methods get ``+ 0.1 * norm1(x)`` as a prox term. The reference is the same objective
written by hand in torch: one autograd forward/backward and the update x - lr g (with the
soft-threshold for the composite one): what a user's loop pays per gradient. A method's step goes
through solverhub's oracle (counting, its own state) as ``drive`` would, without the run loop
(``bench_overhead.py`` measures that). Steps are timed back to back, the device synchronized
only at the ends, after two warm-up steps; methods and the reference alternate per size.

Columns: method, d, device, step ms, plain ms, ratio (step / plain), syncs/step (host syncs
counted by solverhub.testing.count_host_syncs over a few extra steps), calls/step (oracle
calls). Then a ``compare --device cuda`` on the shipped smooth and composite sets (skipped
without CUDA or when the CLI has no ``--device``).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = ("gd", "adam", "proxgrad", "fista")
COMPOSITE = ("proxgrad", "fista")
NOT_FIRST_ORDER = {"lbfgs", "lbfgsb", "cvxpy", "slsqp", "trust-constr", "auglag", "bfgs-wolfe"}
L1 = 0.1
COLUMNS = ("method", "d", "device", "step ms", "plain ms", "ratio", "syncs/step", "calls/step")
SETS = ("problems/smooth", "problems/composite")


def problem_text(d: int, composite: bool) -> str:
    nonsmooth = f" + {L1} * norm1(x)" if composite else ""
    return (f"name: gpu-{'composite' if composite else 'smooth'}-{d}\nkind: minimize\n"
            f"variables: {{x: {{shape: [{d}]}}}}\n"
            f"objective: \"sum(logistic(x)) + 0.5 * sum_squares(x - 1){nonsmooth}\"\n")


def plain_step(torch, composite: bool, lr: float = 0.5):
    """A hand-written autograd step on the same objective (the reference)."""
    def step(x):
        x = x.detach().requires_grad_(True)
        f = torch.nn.functional.softplus(x).sum() + 0.5 * (x - 1).square().sum()
        (g,) = torch.autograd.grad(f, x)
        y = x.detach() - lr * g
        if composite:
            y = torch.sign(y) * torch.clamp(y.abs() - lr * L1, min=0)
        return y
    return step


def _sync(torch, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(torch, device: str, step, state, min_s: float, max_steps: int):
    """Seconds per step of ``state = step(state)``: two warm-up steps, then back-to-back steps
    until ``min_s`` has passed or ``max_steps`` were made (synchronized at both ends)."""
    for _ in range(2):
        state = step(state)
    _sync(torch, device)
    n, t0 = 0, time.perf_counter()
    while n < max_steps and (n < 3 or time.perf_counter() - t0 < min_s):
        state = step(state)
        n += 1
    _sync(torch, device)
    return (time.perf_counter() - t0) / n, state


class _Undo:
    """The ``monkeypatch`` count_host_syncs needs: setattr that can be undone (no pytest here)."""

    def __init__(self):
        self._saved = []

    def setattr(self, owner, name, value):
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def undo(self):
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        self._saved.clear()


def methods_for(registry, problems: dict, device: str) -> list[str]:
    """The builtins, then each plugin solver that accepts the smooth problem on ``device`` and is
    first-order (asked one by one: ``registry.accepting`` would also ask cvxpy, which imports it)."""
    from solverhub.solver import verdict_of
    names = [n for n in BUILTINS if n in registry.solvers]
    for name in sorted(registry.solvers):
        if name in names or name in NOT_FIRST_ORDER:
            continue
        try:
            cls = registry.solver(name)
        except Exception:  # noqa: BLE001 - a plugin that fails to load is not benchmarked
            continue
        caps = cls.capabilities
        if ("minimize" in cls.kinds and device.split(":")[0] in caps.devices and not caps.needs_hvp
                and verdict_of(cls(), problems[False])):
            names.append(name)
    return names


def bench_method(torch, name: str, problem, device: str, dtype, args) -> dict:
    from solverhub.registry import get_registry
    from solverhub.testing import count_host_syncs, make_oracle
    cls = get_registry().solver(name)
    solver, options = cls(), cls.Options()
    oracle = make_oracle(problem, device, dtype=dtype)
    state = solver.init(problem, oracle, oracle.x0.clone(), options)
    seconds, state = time_steps(torch, device, lambda s: solver.step(s, oracle, options), state,
                                args.min_s, args.max_steps)
    steps = args.counted
    before = oracle.total_calls
    undo = _Undo()
    syncs = count_host_syncs(undo)
    try:
        for _ in range(steps):
            state = solver.step(state, oracle, options)
    finally:
        undo.undo()
    calls = (oracle.total_calls - before) / steps
    return {"seconds": seconds, "syncs": syncs["n"] / steps, "calls": calls}


def bench_plain(torch, problem, device: str, dtype, composite: bool, args) -> float:
    from solverhub.testing import make_oracle
    x0 = make_oracle(problem, device, dtype=dtype).x0.clone()
    seconds, _ = time_steps(torch, device, plain_step(torch, composite), x0, args.min_s, args.max_steps)
    return seconds


def step_table(args) -> list[dict]:
    import torch

    import solverhub
    from solverhub.problem.data import max_elements
    from solverhub.registry import get_registry
    device, dtype = args.device, getattr(torch, args.dtype)
    rows = []
    for d in args.sizes:
        os.environ["SOLVERHUB_MAX_ELEMENTS"] = str(max(max_elements(), 4 * d))    # raise the cap, never lower it
        problems = {c: solverhub.load_problem(problem_text(d, c)) for c in (False, True)}
        plain = {c: bench_plain(torch, problems[c], device, dtype, c, args) for c in (False, True)}
        for name in methods_for(get_registry(), problems, device):
            composite = name in COMPOSITE
            try:
                r = bench_method(torch, name, problems[composite], device, dtype, args)
            except Exception as err:  # noqa: BLE001 - one method's failure is a row, not the end
                print(f"  {name} at d={d}: {type(err).__name__}: {err}", file=sys.stderr)
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
                continue
            rows.append({"method": name, "d": d, "device": device, "step ms": 1e3 * r["seconds"],
                         "plain ms": 1e3 * plain[composite], "ratio": r["seconds"] / plain[composite],
                         "syncs/step": r["syncs"], "calls/step": r["calls"]})
        del problems
    return rows


def print_table(rows: list[dict]) -> None:
    print(" | ".join(COLUMNS))
    for r in rows:
        print(" | ".join([r["method"], f"{r['d']:.0e}", r["device"], f"{r['step ms']:.3f}", f"{r['plain ms']:.3f}",
                          f"{r['ratio']:.2f}x", f"{r['syncs/step']:.1f}", f"{r['calls/step']:.1f}"]))
    if rows:
        worst = max(rows, key=lambda r: r["ratio"])
        over = [r["method"] for r in rows if r["ratio"] > 1.2]
        print(f"worst ratio {worst['ratio']:.2f}x ({worst['method']}, d={worst['d']:.0e}); goal <= 1.2x; "
              f"over the goal: {', '.join(sorted(set(over))) or 'none'}")


def compare_on_device(args) -> None:
    """``solverhub compare --device cuda`` on the shipped sets, if there is a GPU and the flag."""
    import torch
    if not torch.cuda.is_available() or not args.device.startswith("cuda"):
        print("compare --device cuda: skipped (no CUDA device)")
        return
    cli = [sys.executable, "-m", "solverhub.cli", "compare"]
    helptext = subprocess.run([*cli, "--help"], capture_output=True, text=True).stdout
    if "--device" not in helptext:
        print("compare --device cuda: skipped (this solverhub's compare has no --device flag)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*cli, *[str(ROOT / s) for s in SETS], "--solver", "gd", "--solver", "adam", "--solver", "lbfgs",
               "--device", args.device, "--no-baseline", "--store", str(Path(tmp) / "gpu.sqlite"),
               "--time-limit-s", "60", "--json", str(Path(tmp) / "gpu.json")]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.compare_timeout_s)
        except subprocess.TimeoutExpired:
            print(f"compare --device {args.device}: did not finish within {args.compare_timeout_s} s")
            return
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            print(f"compare --device {args.device}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
            return
        import json
        results = json.loads((Path(tmp) / "gpu.json").read_text())
        statuses: dict[str, int] = {}
        for r in results:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        devices = sorted({r.get("device", "?") for r in results})
        print(f"compare --device {args.device} on {', '.join(SETS)} (gd, adam, lbfgs): {len(results)} runs in "
              f"{wall:.1f} s, devices {devices}, statuses {statuses}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="d = 10^5 on CPU (seconds; for the test)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu (cpu with --small)")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="default 1e7 1e8 (1e5 with --small)")
    parser.add_argument("--min-s", type=float, default=None, help="timed seconds per method and size")
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--counted", type=int, default=3, help="steps whose host syncs are counted")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--compare-timeout-s", type=float, default=150.0)
    args = parser.parse_args(argv)
    import torch
    if args.device is None:
        args.device = "cpu" if args.small or not torch.cuda.is_available() else "cuda"
    args.sizes = args.sizes or ([10**5] if args.small else [10**7, 10**8])
    args.min_s = args.min_s if args.min_s is not None else (0.05 if args.small else 0.5)
    if args.small:
        args.max_steps = min(args.max_steps, 10)
    threads = torch.get_num_threads()
    if args.device == "cpu":
        torch.set_num_threads(1)     # one core: no intra-op thread contention on a shared machine
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu (1 thread)"
    print(f"bench_gpu: device {args.device} ({name}), {args.dtype}, sizes {args.sizes}, torch {torch.__version__}")
    try:
        print_table(step_table(args))
    finally:
        torch.set_num_threads(threads)
    if not args.no_compare:
        compare_on_device(args)


if __name__ == "__main__":
    main()
