"""The compact store (schema 2): a run round-trips to the stated float32 tolerance, its
JSON export keeps every field and its order, it takes <= 2 KB, stores of schema 1 still
read, and the store records the machine."""
from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest

from solverhub.bench.codec import FLOAT32_REL, TraceColumns, decode_result, encode_result, trace_columns
from solverhub.bench.store import ResultStore
from solverhub.errors import OptionError
from solverhub.result import Result, Stationarity, Status, TracePoint


def make_result(n=100, *, seed=0, status=Status.CONVERGED, objective=None, extras=None, dim=20):
    """A run with an ``n``-point trace decaying like gd's (sampled every 10 iterations)."""
    rng = np.random.default_rng(seed)
    its = np.arange(n) * 10
    f = 7.89493939124761 + 50.0 * np.exp(-its / 80.0) * (1 + 0.01 * rng.random(its.size))
    points = tuple(TracePoint(int(i), float(i * 1.3e-4 + rng.random() * 1e-6), int(2 * i + 1), float(v),
                              float(v - 7.8) * 3.1) for i, v in zip(its, f))
    return Result(solver="gd", problem="ridge", problem_hash="bcb962260abbfb63", status=status,
                  message="stationarity 9.77e-07 <= tolerance 1e-06",
                  objective=points[-1].objective if objective is None else objective,
                  stationarity=Stationarity("grad_norm", 9.77e-07), iterations=int(its[-1]),
                  oracle_calls={"value": 474, "grad": 474, "hvp": 0, "stochastic_grad": 0},
                  wall_time_s=0.2757616, device="cpu", seed=seed,
                  options={"max_iterations": 1000, "max_oracle_calls": None, "time_limit_s": None,
                           "tolerance": 1e-06, "trace_every": 0, "lr": None, "backtracking": True},
                  solver_version="0.1.0", problem_dim=dim, baseline_objective=7.894939391247607,
                  baseline_gap=4.5e-16, solution={"x": rng.normal(size=dim).tolist()}, trace=points,
                  extras=dict(extras or {"backtracks": 6, "measure_time_s": 0.0123, "label": "gd"}))


def assert_round_trip(a: Result, b: Result) -> None:
    """Every field exact but the trace; trace ints exact, floats to the codec's tolerance."""
    ja, jb = json.loads(a.to_json()), json.loads(b.to_json())
    assert list(ja) == list(jb)
    assert {k: v for k, v in ja.items() if k != "trace"} == {k: v for k, v in jb.items() if k != "trace"}
    assert len(ja["trace"]) == len(jb["trace"])
    finite = [p["objective"] for p in ja["trace"] if math.isfinite(p["objective"])]
    ref = finite[-1] if finite else 0.0
    for p, q in zip(ja["trace"], jb["trace"]):
        assert list(p) == list(q)
        assert p["iteration"] == q["iteration"] and p["oracle_calls"] == q["oracle_calls"]
        for key, scale in (("time_s", abs(p["time_s"])), ("stationarity", abs(p["stationarity"])),
                           ("objective", abs(p["objective"] - ref))):
            if math.isfinite(p[key]):
                assert abs(p[key] - q[key]) <= FLOAT32_REL * scale * 1.0000001, (key, p[key], q[key])
            else:
                assert str(p[key]) == str(q[key])


def test_round_trip_to_float32_tolerance():
    r = make_result()
    back = decode_result(encode_result(r))
    assert_round_trip(r, back)
    assert back.trace[-1].objective == r.trace[-1].objective        # the final traced objective is exact
    assert isinstance(back.trace, TraceColumns) and back.trace[3].objective == pytest.approx(r.trace[3].objective,
                                                                                            rel=1e-6)
    assert back.extras["measure_time_s"] == 0.0123


def test_gap_below_float32_resolution_survives():
    """A gap of 1e-12 to the final value is kept to 7 digits (a plain float32 would lose it)."""
    r = make_result(n=3)
    pts = list(r.trace)
    pts[-2] = TracePoint(pts[-2].iteration, pts[-2].time_s, pts[-2].oracle_calls, pts[-1].objective + 1e-12, 1.0)
    r = r.replace(trace=tuple(pts))
    back = decode_result(encode_result(r))
    assert back.trace[-2].objective - back.trace[-1].objective == pytest.approx(1e-12, rel=1e-7)


def test_non_finite_and_overflowing_values():
    r = make_result(n=6, status=Status.DIVERGED, objective=math.nan)
    pts = list(r.trace)
    pts[2] = TracePoint(pts[2].iteration, pts[2].time_s, pts[2].oracle_calls, 1e306, 1e200)
    pts[3] = TracePoint(pts[3].iteration, pts[3].time_s, pts[3].oracle_calls, math.inf, math.nan)
    pts[-1] = TracePoint(pts[-1].iteration, pts[-1].time_s, pts[-1].oracle_calls, math.nan, math.inf)
    r = r.replace(trace=tuple(pts))
    back = decode_result(encode_result(r))
    assert_round_trip(r, back)
    assert back.trace[2].objective == pytest.approx(1e306, rel=1e-12) and back.trace[2].stationarity == 1e200


def test_empty_trace_and_plain_sequence_behaviour():
    r = make_result().replace(trace=())
    back = decode_result(encode_result(r))
    assert back == r and back.trace == ()
    cols = trace_columns(make_result(n=5).trace)
    assert list(cols) == list(cols[:]) and cols[-1] == cols[len(cols) - 1] and bool(cols)


def test_two_kilobytes_per_run():
    r = make_result(n=100)
    blob = encode_result(r)
    assert len(r.trace) == 100
    assert len(blob) <= 2048, len(blob)
    assert len(blob) * 4 < len(r.to_json())


def test_store_round_trip_and_machine(tmp_path):
    runs = [make_result(seed=s) for s in range(3)]
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.record_session(jobs=2)
        store.put("k0", runs[0])
        store.put_many([(f"k{i}", r, "p.yaml", None, None) for i, r in enumerate(runs) if i])
        recs = store.records()
        machine = store.machine()
        assert store.size_per_run() <= 2048
    assert [rec.key for rec in recs] == ["k0", "k1", "k2"] and recs[1].problem_path == "p.yaml"
    for rec, r in zip(recs, runs):
        assert_round_trip(r, rec.result)
    assert machine["jobs"] == [2] and machine["cpu_counts"] and machine["platforms"]
    assert machine["runs_with_load"] in (0, 3)          # 0 where the platform has no load average


V1_SCHEMA = """
CREATE TABLE runs (key TEXT PRIMARY KEY, problem TEXT NOT NULL, problem_hash TEXT NOT NULL, problem_path TEXT,
    solver TEXT NOT NULL, solver_version TEXT NOT NULL, options TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL, key_form INTEGER NOT NULL DEFAULT 0);
CREATE TABLE superseded_runs (key TEXT NOT NULL, problem TEXT NOT NULL, problem_hash TEXT NOT NULL,
    problem_path TEXT, solver TEXT NOT NULL, solver_version TEXT NOT NULL, options TEXT NOT NULL,
    seed INTEGER NOT NULL, status TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL,
    superseded_by TEXT NOT NULL, superseded_at REAL NOT NULL);
CREATE TABLE baselines (problem_hash TEXT PRIMARY KEY, problem TEXT NOT NULL, status TEXT NOT NULL,
    objective REAL, message TEXT);
CREATE TABLE skipped (problem TEXT NOT NULL, solver TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (problem, solver));
PRAGMA user_version = 1;
"""


def test_schema_1_store_reads_exactly_and_takes_new_runs(tmp_path):
    path = tmp_path / "v1.sqlite"
    old = make_result(seed=7)
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,1)",
               ("old", old.problem, old.problem_hash, None, "gd", "0.1.0", "{}", 7, "converged", old.to_json(), 1.0))
    db.commit()
    db.close()
    with ResultStore(path) as store:
        store.put("new", make_result(seed=8))
        recs = {rec.key: rec.result for rec in store.records()}
        assert store.machine()["load1"] is None or store.machine()["runs_with_load"] == 1
    assert recs["old"] == old and recs["old"].to_json() == old.to_json()      # JSON rows are read as they are
    assert_round_trip(make_result(seed=8), recs["new"])


def test_unreadable_blob_is_one_line_error(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        store.put("k", make_result())
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET data = ?", (b"\x09garbage",))
    db.commit()
    db.close()
    with ResultStore(path) as store, pytest.raises(OptionError) as err:
        store.records()
    assert "run k cannot be read" in str(err.value) and "\n" not in str(err.value)
