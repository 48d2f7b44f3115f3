"""Compare: resumable store, worker isolation (crash, hang, NaN), parallel and Dask runs."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from solverhub.bench.problemset import collect_entries, parse_solver_spec
from solverhub.bench.runner import ensure_baselines, plan_compare, run_compare
from solverhub.bench.store import ResultStore
from solverhub.errors import OptionError, ProblemError
from solverhub.solver import Refusal, RefusalCode

ROOT = Path(__file__).resolve().parents[1]
RIDGE = ROOT / "problems" / "smooth" / "ridge.yaml"

CRASHY = '''
"""A deliberately misbehaving solver for the compare tests."""
import os
import time
from dataclasses import dataclass

from solverhub import IterState, Solver, hookimpl


@dataclass(frozen=True)
class Options:
    mode: str = "raise"        # raise | exit | hang | nan | slow


class Crashy(Solver):
    name = "crashy"
    kinds = ("minimize", "finite_sum")
    Options = Options

    def init(self, problem, oracle, x0, options):
        return IterState(x=x0)

    def step(self, state, oracle, options):
        if options.mode == "raise":
            raise RuntimeError("deliberate crash")
        if options.mode == "exit":
            os._exit(3)
        if options.mode == "hang":
            time.sleep(1000)
        if options.mode == "slow":
            time.sleep(0.05)
            return IterState(x=state.x - 0.01 * oracle.grad(state.x))
        return IterState(x=state.x * float("nan"))


@hookimpl
def solverhub_solvers():
    return [Crashy]
'''


@pytest.fixture(scope="module")
def crashy_path(tmp_path_factory):
    """An installed-looking distribution (module + dist-info with an entry point) for PYTHONPATH."""
    site = tmp_path_factory.mktemp("crashy_site")
    (site / "solverhub_crashy.py").write_text(CRASHY)
    info = site / "solverhub_crashy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: solverhub-crashy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverhub]\ncrashy = solverhub_crashy\n")
    return site


def _cli(*args, env_path=None, **kw):
    env = dict(os.environ)
    if env_path:
        env["PYTHONPATH"] = str(env_path) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "solverhub.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT, **kw)


def _keys(store_path):
    db = sqlite3.connect(store_path, timeout=60)
    try:
        return [row[0] for row in db.execute("SELECT key FROM runs")]
    finally:
        db.close()


def _results(store_path):
    with ResultStore(store_path) as store:
        return {rec.key: rec.result for rec in store.records()}


def test_misbehaving_runs_are_recorded_and_the_compare_goes_on(crashy_path, tmp_path):
    store = tmp_path / "runs.sqlite"
    proc = _cli("compare", RIDGE, "--solver", "crashy:mode=raise", "--solver", "crashy:mode=exit",
                "--solver", "crashy:mode=hang", "--solver", "crashy:mode=nan", "--solver", "gd",
                "--time-limit-s", "2", "--option", "max_iterations=200", "--jobs", "2", "--store", store,
                "--no-baseline",
                "--report", tmp_path / "report", env_path=crashy_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    status = {r.options.get("mode", "gd"): (r.status.value, r.message) for r in _results(store).values()}
    assert status["raise"][0] == "failed" and "deliberate crash" in status["raise"][1]
    assert status["exit"][0] == "failed" and "exit code 3" in status["exit"][1]
    assert status["hang"][0] == "time_limit" and "killed" in status["hang"][1]
    assert status["nan"][0] == "diverged"
    assert status["gd"][0] in ("converged", "max_iterations")     # bounded work: no time limit on a loaded machine
    assert (tmp_path / "report" / "index.html").is_file()
    assert "4 run(s) failed" in proc.stdout
    # progress: a line per finished run as it finishes (stdout is not a terminal here)
    assert re.search(r"^\[[1-5]/5\] ridge crashy:mode=raise seed 0: failed in ", proc.stdout, re.M), proc.stdout
    assert proc.stdout.index("5 run(s): 0 already in") < proc.stdout.index("/5] ridge gd seed 0: ")


def test_resume_after_kill_9_completes_without_duplicates(crashy_path, tmp_path):
    store = tmp_path / "runs.sqlite"
    args = ["compare", RIDGE, "--solver", "crashy:mode=slow", "--option", "max_iterations=8", "--seeds", "8",
            "--store", store, "--no-baseline"]
    env = dict(os.environ, PYTHONPATH=str(crashy_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "solverhub.cli", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if store.exists() and len(_keys(store)) >= 2:
                break
        except sqlite3.OperationalError:      # the store is being created by the compare
            pass
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)          # the compare and its workers, mid-run
    proc.wait()
    partial = len(_keys(store))
    assert 2 <= partial < 8, partial
    again = _cli(*args, env_path=crashy_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{partial} already in" in again.stdout
    rows = _results(store)
    keys = _keys(store)
    assert len(rows) == 8 and len(set(keys)) == 8
    assert {r.seed for r in rows.values()} == set(range(8))


def test_plan_skips_refusals_and_checks_options_first(tmp_path):
    qp = tmp_path / "qp.yaml"
    qp.write_text("name: qp\nkind: constrained\nvariables: {x: {shape: [2]}}\nobjective: 'sum_squares(x)'\n"
                  "constraints: ['sum(x) == 1']\n")
    entries = collect_entries([RIDGE, qp])
    plan = plan_compare(entries, [parse_solver_spec("gd"), parse_solver_spec("cvxpy")], 2, set())
    assert len(plan.tasks) == 6 and plan.skipped == [
        ("qp", "gd", Refusal(RefusalCode.WRONG_KIND, "accepts kinds minimize, finite_sum, not 'constrained'"))]
    with pytest.raises(OptionError, match="unknown option 'nope'"):
        plan_compare(entries, [parse_solver_spec("gd:nope=1")], 1, set())
    with pytest.raises(OptionError, match="expects a number"):
        plan_compare(entries, [parse_solver_spec("gd:lr=abc")], 1, set())


def test_problem_set_file_with_overrides(tmp_path):
    (tmp_path / "ridge.yaml").write_text(RIDGE.read_text())
    (tmp_path / "set.yaml").write_text("name: s\nproblems:\n  - ridge.yaml\n  - {path: ridge.yaml, set: {lam: 2.0}}\n")
    entries = collect_entries([tmp_path / "set.yaml"])
    assert [e.overrides for e in entries] == [{}, {"lam": 2.0}]
    plan = plan_compare(entries, [parse_solver_spec("gd")], 1, set())
    assert len({t.problem_hash for t in plan.tasks}) == 2
    assert len(collect_entries([tmp_path])) == 1       # in a folder, the set file itself is skipped
    (tmp_path / "bad.yaml").write_text("name: b\nproblems:\n  - missing.yaml\n")
    with pytest.raises(ProblemError, match="bad.yaml:3"):
        collect_entries([tmp_path / "bad.yaml"])


def test_solver_spec_parsing():
    spec = parse_solver_spec("adam:lr=0.01,beta1=0.8")
    assert spec.name == "adam" and spec.options == {"lr": "0.01", "beta1": "0.8"}
    assert spec.label == "adam:beta1=0.8,lr=0.01"
    with pytest.raises(OptionError):
        parse_solver_spec("adam:lr")


def _local_compare(tmp_path, jobs=1, scheduler=None, name="runs.sqlite"):
    entries = collect_entries([RIDGE])
    plan = plan_compare(entries, [parse_solver_spec("gd"), parse_solver_spec("lbfgs")], 2, set(),
                        common_options={"max_iterations": 2000})
    with ResultStore(tmp_path / name) as store:
        ensure_baselines(plan, store)
        run_compare(plan, store, jobs=jobs, scheduler=scheduler)
        return {(r.solver, r.seed): r for r in store.results()}


def test_parallel_runs_match_serial_ones_and_carry_the_baseline_gap(tmp_path):
    serial = _local_compare(tmp_path, jobs=1, name="serial.sqlite")
    parallel = _local_compare(tmp_path, jobs=2, name="parallel.sqlite")
    assert serial.keys() == parallel.keys() and len(serial) == 4
    for k in serial:
        assert serial[k].objective == parallel[k].objective
        assert abs(serial[k].baseline_gap) < 1e-10 and serial[k].extras["label"] == k[0]


def test_dask_local_cluster_gives_the_same_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = _local_compare(tmp_path, jobs=1, name="serial.sqlite")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        on_dask = _local_compare(tmp_path, scheduler=cluster.scheduler_address, name="dask.sqlite")
    assert {k: r.objective for k, r in on_dask.items()} == {k: r.objective for k, r in serial.items()}


def test_store_is_safe_with_concurrent_writers(tmp_path):
    """Four processes write 50 records each into one store at once: all 200 land."""
    code = textwrap.dedent(f"""
        import sys
        from solverhub.bench.store import ResultStore
        from solverhub.bench.tasks import RunTask, failed_result
        from solverhub.result import Status
        worker = int(sys.argv[1])
        with ResultStore({str(tmp_path / 'c.sqlite')!r}) as store:
            for i in range(50):
                t = RunTask(key=f"{{worker}}-{{i}}", problem_path="p", problem_name="p", problem_hash="h",
                            solver="s", seed=i)
                store.put(t.key, failed_result(t, Status.FAILED, "x"))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)]) for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    with ResultStore(tmp_path / "c.sqlite") as store:
        assert store.count() == 200 and len(store.done_keys()) == 200


def test_a_folder_skips_problem_sets_however_the_key_is_spelled(tmp_path):
    """A folder's files are parsed for the ``problems:`` key only when their bytes could spell
    it; a set whose key is an escape (``"\\x70roblems"``) is still recognised and skipped."""
    (tmp_path / "ridge.yaml").write_text(RIDGE.read_text())
    (tmp_path / "plain-set.yaml").write_text("name: s\nproblems:\n  - ridge.yaml\n")
    (tmp_path / "escaped-set.yaml").write_text('name: t\n"\\x70roblems":\n  - ridge.yaml\n')
    assert [e.path.name for e in collect_entries([tmp_path])] == ["ridge.yaml"]
    assert len(collect_entries([tmp_path / "escaped-set.yaml"])) == 1     # given by name: a set


def test_workers_are_forked_after_importing_only_the_planned_solvers(monkeypatch):
    from solverhub.bench import pool
    from solverhub.registry import get_registry
    registry = get_registry()
    monkeypatch.setattr(type(registry), "load_all", lambda self: pytest.fail("load_all imports every plugin"))
    pool.preload(["gd", "gd", "lbfgs", "no-such-solver"])       # an unknown name is the run's failure, later
    assert registry.solvers["gd"].cls is registry.solver("gd")
