"""Isolation (issue 13): a solver that hangs, crashes the process, or floods the
terminal cannot take ``solve`` or ``compare`` down; a plugin whose import raises
anything is a load failure.

Most solve tests fork this test process through ``solverhub.solve(..., isolate=True)``
with solver classes defined here (fast); the CLI tests use a real entry-point
distribution on ``PYTHONPATH``.
"""
import importlib.metadata as md
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import solverhub
from solverhub import IterState, Solver
from solverhub import registry as reg_mod
from solverhub.errors import OptionError
from solverhub.isolation import HEAD_BYTES, PASSTHROUGH_BYTES, TAIL_BYTES, OutputCapture, describe_exit
from solverhub.result import Result, Status

ROOT = Path(__file__).resolve().parents[1]
RIDGE = ROOT / "problems" / "smooth" / "ridge.yaml"
HANG_GUARD_S = 60      # hang guards, not performance assertions


@dataclass(frozen=True)
class Options:
    mode: str = "ok"
    pidfile: str = ""


class Misbehaving(Solver):
    """Gradient steps, unless ``mode`` says how to misbehave in ``step``."""

    name = "misbehaving"
    kinds = ("minimize",)
    Options = Options

    def init(self, problem, oracle, x0, options):
        if options.pidfile:
            Path(options.pidfile).write_text(str(os.getpid()))
        if options.mode == "chatty":
            for i in range(20000):
                print(f"line {i} " + "x" * 240)
            sys.stderr.write("last words on stderr\n")
        return IterState(x=x0)

    def step(self, state, oracle, options):
        mode = options.mode
        if mode == "sleep":
            time.sleep(1000)
        elif mode == "busy":
            while True:
                pass
        elif mode == "pause":
            signal.pause()
        elif mode == "exit":
            os._exit(3)
        elif mode == "segfault":
            import ctypes
            ctypes.string_at(0)
        elif mode == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "sysexit":
            sys.exit(4)
        return IterState(x=state.x - 0.01 * oracle.grad(state.x))


@pytest.fixture(scope="module")
def ridge():
    return solverhub.load_problem(RIDGE)


def _isolated(problem, mode, **options):
    t0 = time.monotonic()
    result = solverhub.solve(problem, Misbehaving, options={"mode": mode, **options}, device="cpu", isolate=True)
    assert time.monotonic() - t0 < HANG_GUARD_S
    return result


# -- solve: hangs, crashes, output ------------------------------------------------------
@pytest.mark.parametrize("mode", ["sleep", "busy", "pause"])
def test_a_hang_in_step_is_stopped_at_the_time_limit(ridge, mode):
    result = _isolated(ridge, mode, time_limit_s=1)
    assert result.status is Status.TIME_LIMIT, result.message
    assert "killed" in result.message and "time_limit_s=1" in result.message
    assert result.solver == "misbehaving" and result.problem_hash == ridge.content_hash
    assert result.options["mode"] == mode and result.options["time_limit_s"] == 1


@pytest.mark.parametrize("mode, fragment", [("exit", "exit code 3"), ("segfault", "SIGSEGV"),
                                            ("sigkill", "SIGKILL")])
def test_a_dead_solver_process_is_a_failed_result(ridge, mode, fragment):
    result = _isolated(ridge, mode)
    assert result.status is Status.FAILED
    assert fragment in result.message, result.message
    Result.from_json(result.to_json())          # still a complete Result


def test_sys_exit_in_step_is_a_failed_result_not_an_exit(ridge):
    result = _isolated(ridge, "sysexit")
    assert result.status is Status.FAILED and "SystemExit: 4" in result.message


def test_isolated_solve_gives_the_in_process_answer(ridge):
    here = solverhub.solve(ridge, "gd", device="cpu")
    there = solverhub.solve(ridge, "gd", device="cpu", isolate=True)
    assert there.status is here.status is Status.CONVERGED
    assert there.objective == here.objective and there.iterations == here.iterations
    assert there.oracle_calls == here.oracle_calls and len(there.trace) == len(here.trace)
    assert there.captured_output == ""


def test_a_user_error_in_the_child_is_raised_in_the_parent(ridge):
    with pytest.raises(OptionError, match="lr"):
        solverhub.solve(ridge, "gd", options={"lr": "abc"}, device="cpu", isolate=True)


def test_output_is_passed_through_bounded_and_kept_head_and_tail(ridge, capfd):
    result = _isolated(ridge, "chatty")
    shown = capfd.readouterr()
    assert result.status is Status.CONVERGED
    assert len(shown.out.encode()) <= PASSTHROUGH_BYTES
    assert shown.out.startswith("line 0 ")
    assert "the rest is not shown" in shown.err
    kept = result.captured_output
    assert len(kept.encode()) <= HEAD_BYTES + TAIL_BYTES + 200
    assert kept.startswith("line 0 ") and kept.rstrip().endswith("last words on stderr")
    assert "bytes of output left out" in kept
    assert Result.from_json(result.to_json()) == result


def test_the_child_dies_with_its_parent(tmp_path):
    """A killed ``solverhub solve`` leaves no hung solver behind."""
    pidfile = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import solverhub
        from test_isolation import Misbehaving
        solverhub.solve({str(RIDGE)!r}, Misbehaving, options={{"mode": "sleep", "pidfile": {str(pidfile)!r}}},
                        device="cpu", isolate=True)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path)
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline and parent.poll() is None, "the child never started"
            time.sleep(0.1)
        child = int(pidfile.read_text())
        assert child != parent.pid
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(child):
            assert time.monotonic() < deadline, "the solver outlived its parent"
            time.sleep(0.1)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- output capture ---------------------------------------------------------------------
def test_capture_keeps_everything_under_the_limits_and_head_and_tail_over_them():
    small = OutputCapture(head=8, tail=8)
    small.feed("héllo ".encode()[:2])
    small.feed("héllo ".encode()[2:])            # a character split across two chunks
    assert small.text() == "héllo " and small.omitted == 0
    big = OutputCapture(head=4, tail=4)
    for chunk in (b"abc", b"defgh", b"ij" * 10, b"WXYZ"):
        big.feed(chunk)
    assert big.total == 32 and big.omitted == 24
    assert big.text().startswith("abcd") and big.text().endswith("WXYZ") and "24 bytes" in big.text()


def test_describe_exit():
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGSEGV).startswith("killed by signal SIGSEGV")


def test_result_json_with_and_without_captured_output():
    r = Result(solver="s", problem="p", problem_hash="h", status=Status.FAILED, message="m", objective=float("nan"),
               stationarity=solverhub.Stationarity("none", float("nan")), iterations=0, oracle_calls={},
               wall_time_s=0.0, device="cpu", seed=0, options={}, captured_output="out \u00e9\n")
    again = Result.from_json(r.to_json())
    assert again.captured_output == "out \u00e9\n" and again.to_json() == r.to_json()
    old = json.loads(r.to_json())
    del old["captured_output"]                  # JSON written before the field existed
    assert Result.from_dict(old).captured_output == ""


# -- the CLI, with a real entry-point plugin ----------------------------------------------
PLUGIN = '''
import os, sys, time
from dataclasses import dataclass
from solverhub import IterState, Solver, hookimpl


@dataclass(frozen=True)
class Options:
    mode: str = "ok"


class Wild(Solver):
    name = "wild"
    kinds = ("minimize",)
    Options = Options

    def init(self, problem, oracle, x0, options):
        if options.mode == "chatty":
            for i in range(200000):
                print(f"chatter {i} " + "y" * 240)
        elif options.mode == "quiet":
            print("a quiet run says one line")
        return IterState(x=x0)

    def step(self, state, oracle, options):
        if options.mode == "sleep":
            time.sleep(1000)
        if options.mode == "exit":
            os._exit(3)
        return IterState(x=state.x - 0.01 * oracle.grad(state.x))


@hookimpl
def solverhub_solvers():
    return [Wild]
'''


def install(site: Path, dist: str, module: str, source: str, entry: str | None = None) -> Path:
    """A module and a ``.dist-info`` declaring it in the entry-point group ``solverhub``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[solverhub]\n{entry or module} = {module}\n")
    return site


@pytest.fixture(scope="module")
def wild_site(tmp_path_factory):
    return install(tmp_path_factory.mktemp("wild_site"), "solverhub-wild", "solverhub_wild", PLUGIN, "wild")


def cli(*args, site=None, timeout=HANG_GUARD_S * 3, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    env.pop("SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD", None)
    if site:
        env["PYTHONPATH"] = os.pathsep.join([str(site)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-m", "solverhub.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=timeout)


def test_cli_solve_hang_stops_at_the_time_limit_and_writes_the_json(wild_site, tmp_path):
    out = tmp_path / "r.json"
    proc = cli("solve", RIDGE, "--solver", "wild", "--option", "mode=sleep", "--option", "time_limit_s=2",
               "--json", out, site=wild_site)
    assert proc.returncode == 0, proc.stderr          # time_limit exits 0, like max_iterations
    data = json.loads(out.read_text())
    assert data["status"] == "time_limit" and "killed" in data["message"]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_cli_solve_dead_process_is_failed_exit_1_with_json(wild_site, tmp_path):
    out = tmp_path / "r.json"
    proc = cli("solve", RIDGE, "--solver", "wild", "--option", "mode=exit", "--json", out, site=wild_site)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(out.read_text())
    assert data["status"] == "failed" and "exit code 3" in data["message"]
    assert "exit code 3" in proc.stdout


def test_cli_ctrl_c_kills_the_solver_child(wild_site, tmp_path):
    """SIGINT to the CLI alone (as if only it got the Ctrl-C): it exits 130 and its child goes too."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(wild_site), os.environ.get("PYTHONPATH")])))
    env.pop("SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD", None)
    proc = subprocess.Popen([sys.executable, "-m", "solverhub.cli", "solve", str(RIDGE), "--solver", "wild",
                             "--option", "mode=sleep"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        children: list[int] = []
        while not children:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"the CLI never started a solver child: {proc.communicate()[1][-2000:]}")
            children = _children(proc.pid)
            time.sleep(0.2)
        time.sleep(1.0)                  # the child is in the solve by now (or soon: either way it must go)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children):
            assert time.monotonic() < deadline, "the solver outlived the interrupted CLI"
            time.sleep(0.1)
    finally:
        proc.kill()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def test_compare_captures_each_runs_output_and_keeps_the_terminal_quiet(wild_site, tmp_path):
    store = tmp_path / "runs.sqlite"
    proc = cli("compare", RIDGE, "--solver", "wild:mode=chatty", "--solver", "wild:mode=quiet", "--solver",
               "wild:mode=exit", "--jobs", "1", "--store", store, "--no-baseline", site=wild_site)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) + len(proc.stderr) < 20_000, "a chatty plugin reached the terminal"
    assert "chatter" not in proc.stdout + proc.stderr
    from solverhub.bench.store import ResultStore
    with ResultStore(store) as db:
        rows = {r.options["mode"]: r for r in db.results()}
    chatty, quiet, died = rows["chatty"], rows["quiet"], rows["exit"]
    assert chatty.status is Status.CONVERGED and chatty.captured_output.startswith("chatter 0 ")
    assert "bytes of output left out" in chatty.captured_output
    assert len(chatty.captured_output.encode()) <= HEAD_BYTES + TAIL_BYTES + 200
    assert "chatter 199999 " in chatty.captured_output
    assert quiet.captured_output == "a quiet run says one line\n", quiet.captured_output[:300]
    assert died.status is Status.FAILED and "exit code 3" in died.message


# -- plugin imports that raise anything ---------------------------------------------------
@pytest.fixture
def fresh_registry():
    reg_mod.reset_registry()
    yield
    reg_mod.reset_registry()


class Weird(BaseException):
    pass


@pytest.mark.parametrize("exc, text", [(SystemExit(3), "SystemExit: 3"),
                                       (KeyboardInterrupt("plugin says stop"), "KeyboardInterrupt: plugin says stop"),
                                       (Weird("odd"), "Weird: odd"),
                                       (GeneratorExit("gen"), "GeneratorExit: gen")])
def test_an_import_raising_any_base_exception_is_a_load_failure(fresh_registry, monkeypatch, exc, text):
    real = md.entry_points

    def load():
        raise exc

    def fake_entry_points(group=None, **kw):
        eps = list(real(group=group, **kw)) if group else []
        return eps + [types.SimpleNamespace(name="raiser", value="raiser", dist=None, load=load)]

    monkeypatch.setattr(reg_mod.md, "entry_points", fake_entry_points)
    reg = reg_mod.get_registry()
    assert any(f.plugin.startswith("raiser") and f.error == text for f in reg.failures), reg.failures
    assert "gd" in reg.solvers


def test_a_hook_raising_system_exit_is_a_load_failure(fresh_registry):
    from solverhub.hookspecs import hookimpl

    class Plugin:
        @staticmethod
        @hookimpl
        def solverhub_solvers():
            raise SystemExit("no solvers today")

    reg = reg_mod.get_registry()
    reg.manager.register(Plugin, name="exiting")
    reg._solvers = None
    assert "gd" in reg.solvers
    assert any(f.plugin == "exiting" and "SystemExit: no solvers today" in f.error for f in reg.failures)


IMPORT_RAISES = {"sysexit": "raise SystemExit(3)\n", "kbint": "raise KeyboardInterrupt('plugin says stop')\n",
                 "weird": "class Weird(BaseException):\n    pass\nraise Weird('odd')\n"}


def test_cli_with_plugins_whose_import_raises(tmp_path):
    site = tmp_path / "site"
    for key, source in IMPORT_RAISES.items():
        install(site, f"solverhub-imp-{key}", f"solverhub_imp_{key}", source, f"imp-{key}")
    listed = cli("plugins", site=site)
    assert listed.returncode == 0, listed.stderr
    for line in ("FAILED  imp-sysexit (solverhub-imp-sysexit 0.1): SystemExit: 3",
                 "FAILED  imp-kbint (solverhub-imp-kbint 0.1): KeyboardInterrupt: plugin says stop",
                 "FAILED  imp-weird (solverhub-imp-weird 0.1): Weird: odd"):
        assert line in listed.stdout, listed.stdout
    solved = cli("solve", RIDGE, "--solver", "gd", site=site)
    assert solved.returncode == 0 and "converged" in solved.stdout, solved.stderr


def test_a_real_ctrl_c_while_plugins_load_still_interrupts(tmp_path):
    site = install(tmp_path / "site", "solverhub-slow", "solverhub_slow",
                   "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(30)\n", "slow")
    proc = cli("plugins", site=site, timeout=HANG_GUARD_S)
    assert proc.returncode == 130, (proc.returncode, proc.stdout, proc.stderr)    # click: "aborted"
    assert "FAILED" not in proc.stdout
