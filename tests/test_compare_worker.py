"""A compare worker's per-run cost: the torch lowering reused across seeds (``api._lower``) without
changing any run, and tiny runs sent to a worker in chunks (``bench/pool.py``) that record exactly
what one-at-a-time runs record."""
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import pytest

import solverhub
from solverhub import IterState, Solver
from solverhub.api import _lower, _solve_here
from solverhub.bench import api, pool
from solverhub.bench.store import ResultStore
from solverhub.result import Status
from solverhub.bench.codec import decode_result
from solverhub.bench.tasks import ChunkTask, RunTask, chunk_answers, run_chunk, run_task

FIXED = """name: fixed-start
kind: minimize
variables: {x: {shape: [3], x0: [1.0, -1.0, 2.0]}}
objective: "sum_squares(x - 1) + 0.1 * sum_squares(x)"
"""
DRAWN = """name: drawn-start
kind: minimize
variables: {x: {shape: [3], x0: {generate: normal}}}
objective: "sum_squares(x - 1) + 0.1 * sum_squares(x)"
"""


def test_lowering_is_reused_across_seeds_only_when_the_seed_draws_no_start():
    import torch
    fixed, drawn = solverhub.load_problem(FIXED), solverhub.load_problem(DRAWN)
    cache: dict = {}
    assert _lower(fixed, "cpu", torch.float64, 0, cache) is _lower(fixed, "cpu", torch.float64, 1, cache)
    assert _lower(fixed, "cpu", torch.float32, 0, cache) is not _lower(fixed, "cpu", torch.float64, 0, cache)
    a, b = _lower(drawn, "cpu", torch.float64, 0, cache), _lower(drawn, "cpu", torch.float64, 1, cache)
    assert a is not b and not torch.equal(a.x0, b.x0)          # each seed its own start
    assert len(cache) == 2                                      # the drawn problem is never cached


def test_a_worker_run_with_the_cached_lowering_is_the_plain_solve():
    for text in (FIXED, DRAWN):
        problem = solverhub.load_problem(text)
        for seed in (0, 1, 0):
            task = RunTask(key=f"k{seed}", problem_path="", problem_name=problem.name,
                           problem_hash=problem.content_hash, solver="gd", seed=seed,
                           options={"max_iterations": 30})
            got = decode_result(run_task(task, problems={problem.content_hash: problem}, max_threads=1))
            want = _solve_here(problem, "gd", options={"max_iterations": 30}, device="cpu", dtype="float64",
                               seed=seed, baseline=False)
            assert got.iterations == want.iterations and got.status == want.status
            assert math.isclose(got.objective, want.objective, rel_tol=1e-12, abs_tol=1e-15)
            assert got.solution.keys() == want.solution.keys()     # thread counts differ: a tolerance, not bits
            for name, value in want.solution.items():
                np.testing.assert_allclose(got.solution[name], value, rtol=1e-12, atol=1e-15)


@dataclass(frozen=True)
class ChunkyOptions:
    mode: str = "ok"            # ok | exit (seed 7 kills its worker) | print (seed 11 prints) | hang (seed 9)


class Chunky(Solver):
    """Gradient steps; misbehaves for one seed (read back from torch's seeded generator)."""

    name = "chunky"
    kinds = ("minimize",)
    Options = ChunkyOptions

    def init(self, problem, oracle, x0, options):
        import torch
        seed = torch.initial_seed()
        if options.mode == "exit" and seed == 7:
            os._exit(3)
        if options.mode == "print" and seed == 11:
            print("hello from seed 11")
        if options.mode == "hang" and seed == 9:
            time.sleep(1000)
        return IterState(x=x0)

    def step(self, state, oracle, options):
        return IterState(x=state.x - 0.1 * oracle.grad(state.x))


@pytest.fixture
def chunky(monkeypatch, tmp_path):
    """The Chunky solver registered here (forked workers inherit it); chunks of any run size."""
    from solverhub.registry import SolverEntry, get_registry
    solvers = get_registry().solvers
    solvers["chunky"] = SolverEntry(Chunky, "test", "0")
    monkeypatch.setattr(pool, "CHUNK_S", 100.0)        # chunk whatever the machine's load
    made = []
    take = pool._Chunker.take
    monkeypatch.setattr(pool._Chunker, "take", lambda self, runs: _noted(made, take(self, runs)))
    (tmp_path / "fixed.yaml").write_text(FIXED)
    yield tmp_path / "fixed.yaml", made
    del solvers["chunky"]


def _noted(made, task):
    made.append(len(getattr(task, "tasks", (task,))))
    return task


def _by_seed(results, label):
    return {r.seed: r for r in results if r.extras.get("label") == label}


def test_tiny_runs_go_in_chunks_and_record_what_runs_one_at_a_time_record(chunky, tmp_path, monkeypatch):
    path, made = chunky
    kw = dict(seeds=24, jobs=1, baseline=False, options={"max_iterations": 5})
    chunked = api.compare([path], ["chunky"], store=tmp_path / "a.sqlite", **kw)
    assert max(made) > 1 and sum(made) == 24, made              # some chunks, every run once
    with ResultStore(tmp_path / "a.sqlite") as store:           # returned as stored (not decoded twice)
        assert sorted(r.to_json() for r in chunked) == sorted(r.to_json() for r in store.results())
    monkeypatch.setattr(pool, "CHUNK_AFTER", 10 ** 9)           # one run per message
    made.clear()
    alone = api.compare([path], ["chunky"], store=tmp_path / "b.sqlite", **kw)
    assert made == [1] * 24
    a, b = _by_seed(chunked, "chunky"), _by_seed(alone, "chunky")
    assert sorted(a) == sorted(b) == list(range(24))
    for seed in a:
        assert a[seed].status == b[seed].status and a[seed].iterations == b[seed].iterations == 5
        assert math.isclose(a[seed].objective, b[seed].objective, rel_tol=1e-12, abs_tol=1e-15)
        assert a[seed].captured_output == b[seed].captured_output == ""


def test_a_chunk_that_dies_or_prints_is_run_again_one_task_at_a_time(chunky, tmp_path):
    path, made = chunky
    results = api.compare([path], ["chunky:mode=exit", "chunky:mode=print"], seeds=16, jobs=1, baseline=False,
                          store=tmp_path / "runs.sqlite", options={"max_iterations": 5})
    assert max(made) > 1, made                                  # chunks were tried
    died, printed = _by_seed(results, "chunky:mode=exit"), _by_seed(results, "chunky:mode=print")
    assert sorted(died) == sorted(printed) == list(range(16))
    assert died[7].status == Status.FAILED and "exit code 3" in died[7].message
    assert all(r.status == Status.MAX_ITERATIONS for s, r in died.items() if s != 7)
    assert all(r.status == Status.MAX_ITERATIONS for r in printed.values())
    assert printed[11].captured_output == "hello from seed 11\n"     # its own output, and only its own
    assert all(not r.captured_output for s, r in [*printed.items(), *died.items()] if s != 11)


@pytest.mark.slow
def test_a_chunk_that_hangs_is_run_again_and_only_the_hung_run_is_a_time_limit(chunky, tmp_path):
    path, made = chunky
    results = api.compare([path], ["chunky:mode=hang"], seeds=12, jobs=1, baseline=False, time_limit_s=3.0,
                          store=tmp_path / "runs.sqlite", options={"max_iterations": 5})
    assert max(made) > 1, made              # the chunk is cut at its own limit (1 s), then run one at a time
    runs = _by_seed(results, "chunky:mode=hang")
    assert sorted(runs) == list(range(12))
    assert runs[9].status == Status.TIME_LIMIT and "(time_limit_s=3)" in runs[9].message, runs[9].message
    assert all(r.status == Status.MAX_ITERATIONS for s, r in runs.items() if s != 9)


def test_a_chunk_announces_one_begin_under_its_own_shorter_limit():
    problem = solverhub.load_problem(FIXED)
    tasks = tuple(RunTask(key=f"k{seed}", problem_path="", problem_name=problem.name,
                          problem_hash=problem.content_hash, solver="gd", seed=seed,
                          options={"max_iterations": 5}, time_limit_s=300.0) for seed in range(3))
    begins = []
    payload = run_chunk(ChunkTask(tasks, limit_s=1.0), begins.append, {problem.content_hash: problem}, 1)
    assert [b["time_limit_s"] for b in begins] == [1.0]            # the chunk's hard limit, once
    runs = [decode_result(blob) for blob in chunk_answers(payload)]
    assert [r.seed for r in runs] == [0, 1, 2] and all(r.options["time_limit_s"] == 300.0 for r in runs)
    begins.clear()
    run_chunk(ChunkTask(tasks[:1], limit_s=600.0), begins.append, {problem.content_hash: problem}, 1)
    assert [b["time_limit_s"] for b in begins] == [300.0]          # never longer than the run's own
