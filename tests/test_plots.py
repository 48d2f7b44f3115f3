"""The convergence figures' aggregation: one median line and one min-max band per solver,
on a bounded grid, whatever the number of seeds (issue 16: the report of 10^5 runs)."""
from __future__ import annotations

import warnings

import numpy as np

from solverhub.bench import plots
from solverhub.bench.codec import TraceColumns
from solverhub.result import Result, Stationarity, Status


def run(calls, objective, seed=0, times=None) -> Result:
    calls = np.asarray(calls)
    times = calls * 0.01 if times is None else np.asarray(times)
    trace = TraceColumns(np.arange(calls.size), times, calls, objective, np.ones(calls.size))
    return Result(solver="gd", problem="p", problem_hash="h", status=Status.CONVERGED, message="",
                  objective=float(objective[-1]) if len(objective) else 0.0,
                  stationarity=Stationarity("grad_norm", 1.0), iterations=int(calls.size),
                  oracle_calls={"value": int(calls[-1]) if calls.size else 0}, wall_time_s=0.1, device="cpu",
                  options={}, seed=seed, trace=trace)


def test_band_of_known_traces_by_hand():
    """Three seeds, f* = 0 (gap = objective); a seed counts from its first point on and holds
    its last value; a run without a trace is left out."""
    runs = [run([0, 2, 4], [1.0, 0.1, 0.01]), run([0, 3], [2.0, 0.5], 1), run([1, 4], [4.0, 0.02], 2),
            run([], [], 3)]
    grid, med, low, high = plots.convergence_series(runs, "oracle_calls", 0.0)
    assert grid.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(med, [1.5, 2.0, 2.0, 0.5, 0.02], rtol=1e-12)
    np.testing.assert_allclose(low, [1.0, 1.0, 0.1, 0.1, 0.01], rtol=1e-12)
    np.testing.assert_allclose(high, [2.0, 4.0, 4.0, 4.0, 0.5], rtol=1e-12)
    assert plots.convergence_series([run([], [])], "time", 0.0) is None


def test_many_seeds_match_a_brute_force_step_reading():
    """500 seeds with 60 points each: the grid is capped at MAX_POINTS and, at each grid x, the
    median / min / max are those of every started seed's latest point at or before x."""
    rng = np.random.default_rng(0)
    runs, traces = [], []
    for seed in range(500):
        t = np.sort(rng.random(60)) * (1 + seed % 7)
        f = 1.0 + np.sort(10.0 ** (-8 * rng.random(60)))[::-1]
        runs.append(run(np.arange(60), f, seed, times=t))
        traces.append((t, f - 1.0))
    grid, med, low, high = plots.convergence_series(runs, "time", 1.0)
    assert grid.size <= plots.MAX_POINTS
    assert grid[-1] == max(t[-1] for t, _ in traces)
    at = np.full((len(traces), grid.size), np.nan)
    for k, (t, y) in enumerate(traces):
        i = np.searchsorted(t, grid, side="right") - 1
        at[k, i >= 0] = np.maximum(y[i[i >= 0]], plots.GAP_FLOOR)
    started = np.isfinite(at).any(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-nan columns before any seed started
        ref = np.nanmedian(at, axis=0), np.nanmin(at, axis=0), np.nanmax(at, axis=0)
    for got, want in zip((med, low, high), ref):
        np.testing.assert_allclose(got[started], want[started], rtol=1e-12)
        assert np.isnan(got[~started]).all()

