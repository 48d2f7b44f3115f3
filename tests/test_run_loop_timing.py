"""The run loop's clock stops while it measures; measurement calls are uncounted; the default
trace schedule samples exactly the documented iterations; tolerance stops wait for a sample,
a solver's own stop does not. Known answers: sleeps of known length, not machine timings."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import pytest
import torch

import solverhub
from solverhub.options import RunOptions
from solverhub.oracle import Oracle
from solverhub.result import Result, Status
from solverhub.schedule import Schedule
from solverhub.solver import IterState, NoOptions, Solver, run_loop

STEP_S, MEASURE_S = 0.002, 0.02     # a measurement sleeps 10x a step: any leak shows


@dataclass(frozen=True, kw_only=True)
class CountState(IterState):
    k: int = 0


class Sleeper(Solver):
    """One counted gradient call and a known sleep per step; stops itself at ``stop_at``."""

    name = "sleeper"
    kinds = ("minimize",)
    stop_at = None

    def init(self, problem, oracle, x0, options):
        return CountState(x=x0)

    def step(self, state, oracle, options):
        time.sleep(STEP_S)
        oracle.grad(state.x)
        k = state.k + 1
        stop = (Status.CONVERGED, "own stop") if k == self.stop_at else None
        return replace(state, x=state.x * 0.5, k=k, stop=stop)


def _oracle(max_calls=None):
    return Oracle(lambda x, rows=None: (x * x).sum(), x0=torch.ones(3, dtype=torch.float64), max_calls=max_calls)


def _run(solver, oracle, measure, **run):
    opts = RunOptions(**{"tolerance": 0.0, **run})
    return run_loop(solver, None, oracle, oracle.x0.clone(), NoOptions(), opts, measure)


def _sleepy_measure(oracle, calls_per_sample=3):
    def measure(x, known):
        time.sleep(MEASURE_S)
        for _ in range(calls_per_sample):      # counted calls: the loop must not count them
            oracle.value(x)
        return oracle.peek_value(x), torch.linalg.vector_norm(oracle.peek_grad(x))
    return measure


def test_wall_time_excludes_measuring_and_trace_times_are_method_time():
    oracle = _oracle()
    out = _run(Sleeper(), oracle, _sleepy_measure(oracle), max_iterations=20, trace_every=1)
    assert out.iterations == 20 and len(out.trace) == 21
    # the method slept 20 * STEP_S = 0.04 s; the measure 21 * MEASURE_S = 0.42 s (tolerance: half of that)
    assert 20 * STEP_S <= out.wall_time_s < 20 * STEP_S + 10 * MEASURE_S
    assert out.measure_time_s >= 21 * MEASURE_S
    assert out.trace[0].time_s < MEASURE_S                  # init only, not the first measurement
    gaps = sorted(b.time_s - a.time_s for a, b in zip(out.trace, out.trace[1:]))
    assert gaps[0] >= STEP_S and gaps[len(gaps) // 2] < STEP_S + MEASURE_S / 2   # a step between samples, no measurement
    assert out.trace[-1].time_s == out.wall_time_s


def test_measurement_calls_are_uncounted_and_never_exhaust_the_budget():
    oracle = _oracle(max_calls=5)
    out = _run(Sleeper(), oracle, _sleepy_measure(oracle, calls_per_sample=4), max_iterations=50, trace_every=1)
    # 5 steps of one grad call each; the 6th would exceed the budget (measuring takes 4 counted-path calls per sample)
    assert out.status is Status.BUDGET_EXHAUSTED and out.iterations == 5
    assert oracle.counts["grad"] == 5 and oracle.counts["value"] == 0 and oracle.max_calls == 5
    assert [p.oracle_calls for p in out.trace] == [0, 1, 2, 3, 4, 5]


def test_default_schedule_is_the_documented_list():
    assert Schedule().iterations(1000) == [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 126, 158, 200, 251,
        300, 316, 398, 400, 500, 501, 600, 631, 700, 794, 800, 900, 1000]
    assert Schedule().iterations(37) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 16, 20, 25, 32, 37]
    assert Schedule(7).iterations(30) == [0, 7, 14, 21, 28, 30]
    assert Schedule(5).iterations(10) == [0, 5, 10]
    n = 10 ** 5        # 11 + ~10 per decade + every 100: cheap on long runs
    assert len(Schedule().iterations(n)) < 11 + 40 + n // 100 + 1


@pytest.mark.parametrize("every, n", [(0, 120), (7, 30), (1, 12)])
def test_the_loop_samples_the_schedule(every, n):
    oracle = _oracle()
    measure = lambda x, known: (oracle.peek_value(x), torch.tensor(1.0))  # noqa: E731
    out = _run(Sleeper(), oracle, measure, max_iterations=n, trace_every=every)
    assert [p.iteration for p in out.trace] == Schedule(every).iterations(n)


class Stationary(Sleeper):
    """Logs a stationarity that falls below the tolerance at iteration 11."""

    stationarity_measure = "fake"

    def log(self, state):
        return {"fake": torch.tensor(1.0 if state.k < 11 else 0.0)}


def test_tolerance_waits_for_a_sample_but_own_stop_is_immediate():
    oracle = _oracle()
    measure = lambda x, known: (oracle.peek_value(x), known.logged["fake"])  # noqa: E731
    out = _run(Stationary(), oracle, measure, max_iterations=100, tolerance=1e-9)
    assert out.status is Status.CONVERGED and out.iterations == 13     # seen at the next sample (11 -> 13)
    own = Stationary()
    own.stop_at = 12
    out = _run(own, _oracle(), measure, max_iterations=100, tolerance=1e-9)
    assert out.message == "own stop" and out.iterations == 12 and out.trace[-1].iteration == 12


def test_solve_reports_measure_time_beside_the_method_time(monkeypatch):
    problem = solverhub.load_problem("""
name: timing
kind: minimize
variables: {x: {shape: [3], x0: 1.0}}
objective: "sum_squares(x)"
""")
    real = type(problem.kind).measure

    def slow_measure(self, *args):
        time.sleep(MEASURE_S)
        return real(self, *args)
    monkeypatch.setattr(type(problem.kind), "measure", slow_measure)
    result = solverhub.solve(problem, Sleeper, options={"max_iterations": 10, "trace_every": 1, "tolerance": 0})
    assert len(result.trace) == 11
    assert result.measure_time_s >= 11 * MEASURE_S
    assert 10 * STEP_S <= result.wall_time_s < 10 * STEP_S + 5 * MEASURE_S     # 11 measurements left out
    assert result.oracle_calls["grad"] == 10
    back = Result.from_json(result.to_json())
    assert math.isclose(back.measure_time_s, result.measure_time_s, rel_tol=1e-12)
    old = result.to_dict()
    del old["measure_time_s"]
    assert Result.from_dict(old).measure_time_s == 0.0        # JSON written before the field


def test_store_keeps_measure_time(tmp_path):
    from solverhub.bench.store import ResultStore
    from solverhub.result import Stationarity
    r = Result(solver="gd", problem="p", problem_hash="h", status=Status.CONVERGED, message="", objective=1.0,
               stationarity=Stationarity("grad_norm", 0.0), iterations=1, oracle_calls={"grad": 1},
               wall_time_s=0.5, device="cpu", seed=0, options={}, measure_time_s=0.25,
               extras={"deterministic": True})
    with ResultStore(tmp_path / "runs.sqlite") as store:
        store.put("k", r, problem_path="p.yaml")
        got = store.results()
    assert len(got) == 1 and got[0].measure_time_s == 0.25 and got[0].extras["deterministic"] is True


def test_cuda_clock_synchronizes_at_each_boundary(monkeypatch):
    """On CUDA the clock waits for the queued kernels before it reads the time (no GPU needed:
    ``torch.cuda.synchronize`` is replaced by a counter); on CPU it never synchronizes."""
    from solverhub.solver import _Clock
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    clock = _Clock(torch.device("cuda"))
    clock.now()
    assert calls == [torch.device("cuda")] * 2            # at the start and at the boundary
    _Clock(torch.device("cpu")).now()
    assert len(calls) == 2


def test_final_reports_are_uncounted_and_outside_the_budget():
    class Reporter(Sleeper):
        def report(self, state, oracle, options):
            for _ in range(5):
                oracle.grad(state.x)               # a counted-path call in a report
            return {"reported": True}
    problem = solverhub.load_problem("""
name: report-calls
kind: minimize
variables: {x: {shape: [2], x0: 1.0}}
objective: "sum_squares(x)"
""")
    r = solverhub.solve(problem, Reporter, options={"max_iterations": 3, "max_oracle_calls": 3, "tolerance": 0})
    assert r.extras["reported"] is True and r.status is Status.MAX_ITERATIONS
    assert r.oracle_calls["grad"] == 3 and r.total_oracle_calls == 3
