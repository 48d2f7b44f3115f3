"""Compare engine: forked workers reuse the planned problems, baselines run in the workers
(time-limited, cached by content hash, gaps filled when they arrive), the Python API
``solverhub.compare``, devices per worker."""
import time

import pytest

import solverhub
from solverhub.bench import api
from solverhub.bench.pool import assign_devices
from solverhub.errors import OptionError

QUAD = """name: quad
kind: minimize
variables: {x: {shape: [3], x0: [1.0, -1.0, 2.0]}}
objective: "sum_squares(x - 1)"
baseline: {objective: 0.0}
"""


@pytest.fixture
def quad(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "quad.yaml"
    path.write_text(QUAD)
    return path


def _events(log):
    return api.CompareEvents(baseline=lambda name, status, cached: log.append(("baseline", name, status, cached)),
                             result=lambda r: log.append(("run", r.seed)))


def test_assign_devices_is_one_worker_per_gpu():
    assert assign_devices("cpu", 3, 0) == ["cpu"] * 3
    assert assign_devices("cuda", 1, 4) == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
    assert assign_devices("cuda", 5, 2) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert assign_devices("cuda:1", 2, 4) == ["cuda:1", "cuda:1"]
    with pytest.raises(ValueError):
        assign_devices("cuda", 1, 0)


def test_compare_device_auto_is_cpu_without_a_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert api.resolve_compare_device("auto", 2) == ["cpu", "cpu"]
    with pytest.raises(OptionError, match="CUDA is not available"):
        api.resolve_compare_device("cuda", 1)
    with pytest.raises(OptionError, match="unknown device 'tpu'"):
        api.resolve_compare_device("tpu", 1)


def test_python_api_runs_resumes_and_takes_the_baseline_from_the_cache(quad, tmp_path):
    log = []
    results = solverhub.compare(quad, ["gd", "gd:lr=0.1"], seeds=2, store=tmp_path / "a.sqlite", device="auto",
                                events=_events(log))
    assert [(r.extras["label"], r.seed) for r in results] == [("gd", 0), ("gd", 1), ("gd:lr=0.1", 0),
                                                              ("gd:lr=0.1", 1)]
    assert all(r.device == "cpu" and r.status.value == "converged" for r in results)
    assert all(r.baseline_objective == 0.0 and abs(r.baseline_gap) < 1e-6 for r in results)
    assert ("baseline", "quad", "declared", False) in log and sum(e[0] == "run" for e in log) == 4
    log.clear()
    again = solverhub.compare([quad], ["gd", "gd:lr=0.1"], seeds=2, store=tmp_path / "a.sqlite", events=_events(log))
    assert [r.objective for r in again] == [r.objective for r in results] and log == []     # nothing re-run
    other = solverhub.compare(quad, "gd", store=tmp_path / "b.sqlite", events=_events(log))    # another store
    assert log[0] == ("baseline", "quad", "declared", True) and other[0].baseline_gap is not None


def test_forked_workers_run_the_planned_problem_without_loading_it_again(quad, tmp_path, monkeypatch):
    from solverhub.problem import model
    calls = []
    real = model.load_problem

    def counting(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)
    monkeypatch.setattr(model, "load_problem", counting)
    results = solverhub.compare(quad, "gd", seeds=4, store=tmp_path / "s.sqlite", jobs=2, baseline=False)
    assert len(results) == 4 and all(r.status.value == "converged" for r in results)
    assert len(calls) == 1          # planning only: the workers (forks of this process) read it from memory


def test_a_spawned_worker_keeps_a_problem_under_the_planned_content_hash(quad, tmp_path):
    from solverhub.bench import tasks
    problem = solverhub.load_problem(quad)
    task = tasks.RunTask(key="k", problem_path=str(quad), problem_name="quad", problem_hash=problem.content_hash,
                         solver="gd", seed=0)
    first, note = tasks._problem(task, None)
    assert note == "" and tasks._problem(task, None)[0] is first         # loaded once
    quad.write_text(QUAD.replace("x - 1", "x - 2"))                    # the file changes mid-compare...
    assert tasks._problem(task, None)[0] is first                      # ...the run still solves what its key names
    stale = tasks.RunTask(key="k2", problem_path=str(quad), problem_name="quad", problem_hash="0" * 16,
                          solver="gd", seed=0)
    assert tasks._problem(stale, None)[1] == " (problem file changed during the compare)"
    tasks._LOADED.clear()


def test_runs_stored_before_their_baseline_get_its_gap(quad, tmp_path, monkeypatch):
    from solverhub import baseline
    from solverhub.bench.store import ResultStore
    real = baseline.compute_baseline

    def slow(problem, **kw):            # forked workers inherit this patch
        time.sleep(0.6)
        return real(problem, **kw)
    monkeypatch.setattr(baseline, "compute_baseline", slow)
    log = []
    results = solverhub.compare(quad, "gd", seeds=3, store=tmp_path / "s.sqlite", jobs=2, events=_events(log))
    assert log.index(("run", 0)) < log.index(("baseline", "quad", "declared", False))   # runs went first
    with ResultStore(tmp_path / "s.sqlite") as store:
        stored = store.results()
    assert all(r.baseline_objective == 0.0 for r in stored + results)


def test_a_hanging_baseline_is_stopped_and_not_cached(quad, tmp_path, monkeypatch):
    from solverhub import baseline, isolation
    from solverhub.bench.store import ResultStore
    monkeypatch.setattr(isolation, "HARD_LIMIT_GRACE_S", 0.1)
    monkeypatch.setattr(baseline, "compute_baseline", lambda problem, **kw: time.sleep(60))
    results = solverhub.compare(quad, "gd", store=tmp_path / "s.sqlite", time_limit_s=0.3)
    assert results[0].status.value == "converged" and results[0].baseline_gap is None
    with ResultStore(tmp_path / "s.sqlite") as store:
        status, objective, message = store.baseline(results[0].problem_hash)
    assert status == "time_limit" and objective is None and "killed after" in message
    assert baseline.cached_baseline(results[0].problem_hash) is None


def test_baseline_cache_round_trip_and_what_it_refuses(tmp_path, monkeypatch):
    from solverhub import baseline
    monkeypatch.setenv("SOLVERHUB_CACHE", str(tmp_path))
    assert baseline.cache_dir() == tmp_path / "baselines-v1"
    assert baseline.cache_baseline("abc123", "p", "certified", 1.5, "optimal by CLARABEL")
    assert baseline.cached_baseline("abc123") == {"problem": "p", "status": "certified", "objective": 1.5,
                                                  "message": "optimal by CLARABEL"}
    assert not baseline.cache_baseline("abc124", "p", "time_limit", None, "killed")
    assert baseline.cached_baseline("abc124") is None
    (tmp_path / "baselines-v1" / "abc125.json").write_text("{not json")
    assert baseline.cached_baseline("abc125") is None
    assert baseline.cached_baseline("../etc") is None


def test_the_python_example_of_comparing_md_runs(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "docs" / "comparing.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"### From Python.*?```python\n(.*?)```", text, re.S)
    (tmp_path / "problems").symlink_to(repo / "problems")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOLVERHUB_CACHE", str(tmp_path / "cache"))
    exec(compile(block, "docs/comparing.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(" converged gap " in line and line.endswith(" cpu") for line in lines), lines
    assert (tmp_path / "compare-demo" / "api.sqlite").is_file()


def test_forked_workers_share_the_cores_unless_an_openmp_pool_may_exist(monkeypatch):
    import os

    from solverhub import isolation
    monkeypatch.setattr(isolation, "_TORCH_IMPORT_THREADS", [1])
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(isolation, "_native_threads", lambda: 1)          # only torch's import thread
    assert isolation.fork_threads(2) == 4 and isolation.fork_threads(16) == 1
    monkeypatch.setattr(isolation, "_native_threads", lambda: 3)          # a torch op started a pool
    assert isolation.fork_threads(2) == 1
    monkeypatch.setattr(isolation, "_native_threads", lambda: None)       # no /proc: assume the worst
    assert isolation.fork_threads(1) == 1


def test_runs_come_back_as_codec_blobs_stored_as_they_came(quad, tmp_path):
    """A worker answers with the store's compact encoding, labelled and with the gap of a baseline
    known at dispatch; the compare stores the blob (no JSON round trip in the parent)."""
    import dataclasses
    import sqlite3

    from solverhub.bench.codec import decode_result
    from solverhub.bench.problemset import collect_entries, parse_solver_spec
    from solverhub.bench.runner import plan_compare
    from solverhub.bench.tasks import result_of, run_task

    plan = plan_compare(collect_entries([quad]), [parse_solver_spec("gd:lr=0.1")], 1, set())
    task = dataclasses.replace(plan.tasks[0], baseline_objective=-2.0)
    answer = run_task(task, problems=plan.problems)
    assert isinstance(answer, bytes)
    result = result_of(answer)
    assert result.extras["label"] == "gd:lr=0.1" and result.baseline_objective == -2.0
    # gap = (f - f*) / max(1, |f*|) with f ~ 0 (converged to 1e-6): ~ +1.0
    assert result.baseline_gap == pytest.approx((result.objective + 2.0) / 2.0, rel=1e-12)
    assert result.baseline_gap == pytest.approx(1.0, abs=1e-6)
    assert result_of(result.to_json()) == result            # JSON text (Dask, older callers) reads the same
    solverhub.compare(quad, "gd", seeds=2, store=tmp_path / "s.sqlite")
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        rows = db.execute("SELECT result, data FROM runs").fetchall()
    assert len(rows) == 2 and all(text == "" and blob for text, blob in rows)
    stored = [decode_result(blob) for _, blob in rows]
    assert all(r.extras["label"] == "gd" and r.baseline_objective == 0.0 for r in stored)
