"""compare --scheduler against a REAL Dask cluster on localhost: ``dask scheduler`` and
``dask worker`` processes (``--nthreads 1``, no dashboard) started here and torn down.

A run past its limit is killed on the Dask worker and recorded ``time_limit``, as with
local workers, and does not block the compare; a crash is ``failed`` with its exit
code; a chatty run's output is captured, bounded; a worker without the plugin gives a
clear recorded error.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (pip install 'dask[distributed]')")

from solverhub.isolation import HEAD_BYTES, TAIL_BYTES  # noqa: E402
from solverhub.result import Result, Status  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RIDGE = ROOT / "problems" / "smooth" / "ridge.yaml"
START_TIMEOUT_S = 120       # hang guards: a loaded machine starts Dask slowly
COMPARE_TIMEOUT_S = 300

PLUGIN = '''
import os, time
from dataclasses import dataclass
from solverhub import IterState, Solver, hookimpl


@dataclass(frozen=True)
class Options:
    mode: str = "ok"


class OnCluster(Solver):
    name = "on-cluster"
    kinds = ("minimize",)
    Options = Options

    def init(self, problem, oracle, x0, options):
        if options.mode == "chatty":
            for i in range(100000):
                print(f"cluster chatter {i} " + "z" * 200)
        return IterState(x=x0)

    def step(self, state, oracle, options):
        if options.mode == "hang":
            time.sleep(1000)
        if options.mode == "exit":
            os._exit(3)
        return IterState(x=state.x - 0.01 * oracle.grad(state.x))


@hookimpl
def solverhub_solvers():
    return [OnCluster]
'''


def _dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [shutil.which("dask") or "dask"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(site: Path | None) -> dict:
    env = dict(os.environ, COLUMNS="200")
    env.pop("SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD", None)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if site is not None:
        paths.insert(0, str(site))
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        env.pop("PYTHONPATH", None)
    return env


class Cluster:
    """A scheduler and workers, each in its own session so teardown takes their children too."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
                    _env(None))

    def _start(self, name: str, args: list[str], env: dict) -> None:
        log = open(self.folder / f"{name}.log", "w")
        self.procs.append(subprocess.Popen(_dask_cli() + args, cwd=self.folder, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True))
        log.close()

    def add_worker(self, name: str, site: Path | None) -> None:
        self._start(name, ["worker", self.address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                           "--name", name, "--local-directory", str(self.folder / name), "--death-timeout", "60"],
                    _env(site))

    def wait_for_workers(self, n: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with distributed.Client(self.address, timeout=10) as client:
                    client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"Dask cluster did not start; logs in {self.folder}")
                time.sleep(0.5)

    def close(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)     # the nanny's worker and its solver children too
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster_site")
    (folder / "solverhub_on_cluster.py").write_text(PLUGIN)
    info = folder / "solverhub_on_cluster-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: solverhub-on-cluster\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverhub]\non-cluster = solverhub_on_cluster\n")
    return folder


def _compare(cluster: Cluster, site: Path, store: Path, *solvers: str, time_limit_s: float = 5.0):
    args = ["compare", str(RIDGE), *[a for s in solvers for a in ("--solver", s)], "--time-limit-s", str(time_limit_s),
            "--scheduler", cluster.address, "--store", str(store), "--no-baseline"]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "solverhub.cli", *args], capture_output=True, text=True,
                          env=_env(site), cwd=store.parent, timeout=COMPARE_TIMEOUT_S)
    return proc, time.monotonic() - t0


def _results(store: Path) -> dict[str, Result]:
    from solverhub.bench.store import ResultStore     # rows are compact blobs: read them as Results
    with ResultStore(store) as db:
        return {r.options.get("mode", r.solver): r for r in db.results()}


def test_a_hang_on_the_cluster_is_killed_at_its_limit_and_the_compare_goes_on(cluster, site, tmp_path):
    cluster.add_worker("with-plugin-a", site)
    cluster.add_worker("with-plugin-b", site)
    cluster.wait_for_workers(2)
    store = tmp_path / "runs.sqlite"
    proc, seconds = _compare(cluster, site, store, "on-cluster:mode=hang", "on-cluster:mode=exit",
                             "on-cluster:mode=chatty", "on-cluster:mode=ok", "gd")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cluster chatter" not in proc.stdout + proc.stderr
    runs = _results(store)
    assert set(runs) == {"hang", "exit", "chatty", "ok", "gd"}
    hang = runs["hang"]
    assert hang.status is Status.TIME_LIMIT and "killed" in hang.message, hang.message
    assert 5.0 <= hang.wall_time_s < 60
    assert runs["exit"].status is Status.FAILED and "exit code 3" in runs["exit"].message
    chatty = runs["chatty"]
    assert chatty.status is Status.CONVERGED and chatty.captured_output.startswith("cluster chatter 0 ")
    assert len(chatty.captured_output.encode()) <= HEAD_BYTES + TAIL_BYTES + 200
    assert runs["ok"].status is runs["gd"].status is Status.CONVERGED
    assert {r.extras.get("dask_worker", "").startswith("tcp://127.0.0.1:") for r in runs.values()} == {True}


def test_a_worker_without_the_plugin_records_a_clear_error(cluster, site, tmp_path):
    cluster.add_worker("without-plugin", None)
    cluster.wait_for_workers(1)
    store = tmp_path / "runs.sqlite"
    proc, _ = _compare(cluster, site, store, "on-cluster:mode=ok", "gd")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = _results(store)
    missing = runs["ok"]
    assert missing.status is Status.FAILED
    assert "'on-cluster' is not installed on Dask worker tcp://127.0.0.1:" in missing.message, missing.message
    assert "unknown solver 'on-cluster'" in missing.message
    assert runs["gd"].status is Status.CONVERGED
