"""Result: required JSON keys and exact round-trip."""
import json
import math

import pytest

import solverhub
from solverhub.result import Result, Stationarity, Status, TracePoint

REQUIRED = {"solver", "problem", "problem_hash", "status", "message", "objective", "stationarity", "iterations",
            "oracle_calls", "wall_time_s", "device", "seed", "options", "baseline_gap", "trace"}


@pytest.fixture(scope="module")
def ridge_result(ridge_path):
    return solverhub.solve(ridge_path, "gd", baseline=True, options={"tolerance": 1e-9, "max_iterations": 5000})


@pytest.fixture(scope="module")
def ridge_path():
    from pathlib import Path
    return Path(__file__).resolve().parents[1] / "problems" / "smooth" / "ridge.yaml"


def test_json_has_required_keys_and_shapes(ridge_result):
    d = json.loads(ridge_result.to_json())
    assert REQUIRED <= set(d)
    assert set(d["stationarity"]) == {"name", "value"}
    assert set(d["trace"][0]) == {"iteration", "time_s", "oracle_calls", "objective", "stationarity"}
    assert d["status"] == "converged" and d["baseline_gap"] == pytest.approx(0, abs=1e-12)


def test_round_trip_is_exact(ridge_result):
    assert Result.from_json(ridge_result.to_json()) == ridge_result


def test_round_trip_with_nan_and_enum():
    r = Result(solver="s", problem="p", problem_hash="h", status=Status.DIVERGED, message="m", objective=math.nan,
               stationarity=Stationarity("grad_norm", math.inf), iterations=1, oracle_calls={"grad": 1},
               wall_time_s=0.1, device="cpu", seed=0, options={}, trace=(TracePoint(0, 0.0, 1, 1.5, 2.5),))
    back = Result.from_json(r.to_json())
    assert back.status is Status.DIVERGED and math.isnan(back.objective) and back.stationarity.value == math.inf
    assert back.trace == r.trace


def test_trace_is_monotone_in_calls_and_time(ridge_result):
    calls = [p.oracle_calls for p in ridge_result.trace]
    times = [p.time_s for p in ridge_result.trace]
    assert calls == sorted(calls) and times == sorted(times)
    assert ridge_result.trace[-1].iteration == ridge_result.iterations
