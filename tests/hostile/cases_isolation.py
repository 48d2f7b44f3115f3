"""Misbehaving plugins (issue 13, "Reliability": solve isolates plugins as compare does).

Each case installs a real entry-point distribution into ``site/`` of its folder
(a module + ``solverhub_hostile-0.1.dist-info`` with ``entry_points.txt`` and
``METADATA``), points ``PYTHONPATH`` at it and replays the CLI:

* ``solve`` with a solver that raises, exits, segfaults, kills itself, hangs (with
  ``time_limit_s=2``), returns NaN or floods stdout/stderr: exit 1 for ``failed`` /
  ``diverged``, 0 for ``time_limit`` and ``converged``; the ``--json`` Result is written
  (the ``check`` reads it); bounded time and output;
* a plugin whose import (or hook) raises ``SystemExit``, ``KeyboardInterrupt`` or another
  ``BaseException``: ``solverhub plugins`` lists the failure, ``solve`` with a builtin works;
* ``compare`` with a chatty or hanging plugin: the store has the runs, the terminal stays quiet.
"""
import json

from kit import RIDGE, Case

SITE = "site"
ENV = {"PYTHONPATH": SITE, "SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD": ""}
MB = 1024 * 1024

SOLVER = '''
import ctypes, math, os, signal, sys, time
from dataclasses import dataclass
from solverhub import IterState, Solver, hookimpl


@dataclass(frozen=True)
class Options:
    mode: str = "ok"


class Hostile(Solver):
    name = "hostile"
    kinds = ("minimize",)
    Options = Options

    def init(self, problem, oracle, x0, options):
        if options.mode == "init-raises":
            raise ValueError("init failed on purpose")
        if options.mode == "print-50mb":
            line = "p" * 1023
            for _ in range(50 * 1024):
                print(line)
        if options.mode == "stderr-50mb":
            block = b"e" * 65535 + b"\\n"
            for _ in range(800):
                os.write(2, block)
        return IterState(x=x0)

    def step(self, state, oracle, options):
        mode = options.mode
        if mode == "raises":
            raise RuntimeError("step failed on purpose")
        if mode == "os-exit":
            os._exit(3)
        if mode == "segfault":
            ctypes.string_at(0)
        if mode == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "sys-exit":
            sys.exit(4)
        if mode == "sleep":
            time.sleep(1000)
        if mode == "busy":
            while True:
                pass
        if mode == "pause":
            signal.pause()
        if mode == "nan":
            return IterState(x=state.x * math.nan)
        return IterState(x=state.x - 0.05 * oracle.grad(state.x))


@hookimpl
def solverhub_solvers():
    return [Hostile]
'''


def plugin(source: str) -> dict:
    """Files of an installed distribution ``solverhub-hostile`` (entry point ``hostile``)."""
    info = f"{SITE}/solverhub_hostile-0.1.dist-info"
    return {f"{SITE}/solverhub_hostile.py": source,
            f"{info}/METADATA": "Metadata-Version: 2.1\nName: solverhub-hostile\nVersion: 0.1\n",
            f"{info}/entry_points.txt": "[solverhub]\nhostile = solverhub_hostile\n"}


def solve_args(mode: str, *extra: str) -> tuple[str, ...]:
    return ("solve", "p.yaml", "--solver", "hostile", "--option", f"mode={mode}", "--json", "r.json", *extra)


def result_is(status: str, *fragments: str, max_output: int = 200_000):
    """A ``check``: r.json holds a Result with ``status`` and ``fragments`` in its message; output bounded."""
    def check(folder, got):
        data = json.loads((folder / "r.json").read_text())
        assert data["status"] == status, data["message"]
        for fragment in fragments:
            assert fragment in data["message"], data["message"]
        assert len(data["captured_output"].encode()) <= 40_000
        assert len(got.stdout) + len(got.stderr) <= max_output, "the plugin's output was not bounded"
    return check


def output_kept(first: str):
    def check(folder, got):
        result_is("converged")(folder, got)
        kept = json.loads((folder / "r.json").read_text())["captured_output"]
        assert kept.startswith(first) and "bytes of output left out" in kept, kept[:200]
    return check


IMPORT_RAISES = {
    "system-exit": ("raise SystemExit(3)\n", "SystemExit: 3"),
    "keyboard-interrupt": ("raise KeyboardInterrupt('plugin says stop')\n", "KeyboardInterrupt: plugin says stop"),
    "base-exception": ("class Weird(BaseException):\n    pass\nraise Weird('odd')\n", "Weird: odd"),
    "hook-system-exit": ("from solverhub import hookimpl\n\n@hookimpl\ndef solverhub_solvers():\n"
                         "    raise SystemExit('no solvers today')\n", "solverhub_solvers raised SystemExit"),
}


def store_has(mode: str, status: str, fragment: str = "", *, output_from: str = ""):
    def check(folder, got):
        from solverhub.bench.store import ResultStore     # rows are compact blobs: read them as Results
        with ResultStore(folder / "runs.sqlite") as db:
            rows = [json.loads(r.to_json()) for r in db.results()]
        run = next(r for r in rows if r["options"].get("mode") == mode)
        assert run["status"] == status and fragment in run["message"], run["message"]
        assert len(run["captured_output"].encode()) <= 40_000
        if output_from:
            assert run["captured_output"].startswith(output_from)
        assert len(got.stdout) + len(got.stderr) <= 50_000, "the plugin's output reached the terminal"
    return check


CASES = [
    # -- solve: the solver process misbehaves ------------------------------------------
    Case("iso-step-raises", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("raises"), exit=1, env=ENV,
         contains=("step failed on purpose",), check=result_is("failed", "RuntimeError: step failed on purpose")),
    Case("iso-init-raises", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("init-raises"), exit=1, env=ENV,
         check=result_is("failed", "ValueError: init failed on purpose")),
    Case("iso-os-exit", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("os-exit"), exit=1, env=ENV,
         contains=("exit code 3",), check=result_is("failed", "exit code 3")),
    Case("iso-segfault", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("segfault"), exit=1, env=ENV,
         contains=("SIGSEGV",), check=result_is("failed", "SIGSEGV")),
    Case("iso-sigkill-self", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("sigkill"), exit=1, env=ENV,
         contains=("SIGKILL",), check=result_is("failed", "SIGKILL")),
    Case("iso-sys-exit-in-step", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("sys-exit"), exit=1, env=ENV,
         check=result_is("failed", "SystemExit: 4")),
    Case("iso-nan-objective", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("nan"), exit=1, env=ENV,
         check=result_is("diverged", "non-finite")),
    # -- solve: hangs stop at the limit (time_limit exits 0, like max_iterations) -------
    Case("iso-hang-sleep", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("sleep", "--option", "time_limit_s=2"),
         exit=0, env=ENV, max_seconds=45, check=result_is("time_limit", "killed", "time_limit_s=2")),
    Case("iso-hang-busy-loop", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("busy", "--option", "time_limit_s=2"),
         exit=0, env=ENV, max_seconds=45, check=result_is("time_limit", "killed")),
    Case("iso-hang-signal-pause", {"p.yaml": RIDGE, **plugin(SOLVER)},
         solve_args("pause", "--option", "time_limit_s=2"), exit=0, env=ENV, max_seconds=45,
         check=result_is("time_limit", "killed")),
    # -- solve: floods ---------------------------------------------------------------------
    Case("iso-print-50mb-stdout", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("print-50mb"), exit=0, env=ENV,
         contains=("the rest is not shown",), check=output_kept("pppp")),
    Case("iso-write-50mb-fd2", {"p.yaml": RIDGE, **plugin(SOLVER)}, solve_args("stderr-50mb"), exit=0, env=ENV,
         contains=("the rest is not shown",), check=output_kept("eeee")),
    # -- plugin imports (and hooks) that raise anything ------------------------------------
    *[Case(f"iso-import-{key}-plugins", plugin(source), ("plugins",), exit=0, env=ENV,
           contains=(f"FAILED  hostile (solverhub-hostile 0.1): {shown}" if not key.startswith("hook")
                     else f"FAILED  hostile: {shown}",))
      for key, (source, shown) in IMPORT_RAISES.items()],
    *[Case(f"iso-import-{key}-solve-builtin", {"p.yaml": RIDGE, **plugin(source)},
           ("solve", "p.yaml", "--solver", "gd", "--json", "r.json"), exit=0, env=ENV, contains=("converged",),
           check=result_is("converged"))
      for key, (source, _) in IMPORT_RAISES.items() if key in ("system-exit", "keyboard-interrupt")],
    # -- compare: per-run capture, hard limit ------------------------------------------------
    Case("iso-compare-chatty", {"p.yaml": RIDGE, **plugin(SOLVER)},
         ("compare", "p.yaml", "--solver", "hostile:mode=print-50mb", "--solver", "gd", "--store", "runs.sqlite",
          "--no-baseline"), exit=0, env=ENV, check=store_has("print-50mb", "converged", output_from="pppp")),
    Case("iso-compare-hang", {"p.yaml": RIDGE, **plugin(SOLVER)},
         ("compare", "p.yaml", "--solver", "hostile:mode=sleep", "--solver", "hostile:mode=segfault",
          "--time-limit-s", "2", "--store", "runs.sqlite", "--no-baseline"), exit=0, env=ENV, max_seconds=45,
         check=store_has("sleep", "time_limit", "killed")),
]
