"""Performance and data profiles: hand-computed outcomes on hand-built traces, and an
end-to-end ranking on ill-conditioned least squares (bfgs-wolfe vs gd)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from solverhub.bench.profiles import (Instance, data_profile, performance_profile, performance_ratios,
                                      reference_values, solve_costs, solver_labels)
from solverhub.bench.summary import problem_labels, summarize
from solverhub.errors import OptionError
from solverhub.result import Result, Stationarity, Status, TracePoint


def run(solver, problem, trace, *, seed=0, dim=1, status=Status.CONVERGED, baseline=None, objective=None,
        options=None, calls=None, wall=1.0, phash=None):
    """A Result with ``trace`` = [(oracle_calls, time_s, objective), ...]."""
    points = tuple(TracePoint(i, t, c, f, 1.0) for i, (c, t, f) in enumerate(trace))
    final = objective if objective is not None else (points[-1].objective if points else math.nan)
    total = calls if calls is not None else (points[-1].oracle_calls if points else 0)
    gap = None if baseline is None else (final - baseline) / max(1.0, abs(baseline))
    return Result(solver=solver, problem=problem, problem_hash=phash or f"hash-{problem}", status=status,
                  message=f"{status.value} by hand", objective=final, stationarity=Stationarity("grad_norm", 0.5),
                  iterations=max(0, len(points) - 1), oracle_calls={"value": total, "grad": 0},
                  wall_time_s=wall, device="cpu", seed=seed, options=dict(options or {}), problem_dim=dim,
                  baseline_objective=baseline, baseline_gap=gap, trace=points)


TAU = 0.25   # powers of two keep the hand arithmetic exact in floating point


@pytest.fixture
def hand_results():
    """Problem p (n=1, baseline f*=0, f0=1: solved at f <= 0.25) and problem q (n=3, no
    baseline: f_L = 2.0, the best non-failed value; f0=4: solved at f <= 2.5).

    instance   A                      B                              C
    (p, 0)     6 calls / 0.375 s      10 calls / 0.25 s (equality)   diverged (its 0.0 is ignored)
    (p, 1)     4 calls / 0.25 s       no run                          no run
    (q, 0)     9 calls / 1.0 s        3 calls / 0.5 s (max_iter.)     diverged through f=1.0 (not f_L)
    """
    return [
        run("A", "p", [(2, 0.125, 1.0), (4, 0.25, 0.5), (6, 0.375, 0.125)], baseline=0.0),
        run("B", "p", [(2, 0.125, 1.0), (10, 0.25, 0.25)], baseline=0.0),
        run("C", "p", [(2, 0.125, 1.0), (3, 0.25, 0.0)], baseline=0.0, status=Status.DIVERGED),
        run("A", "p", [(2, 0.125, 1.0), (4, 0.25, 0.25)], baseline=0.0, seed=1),
        run("A", "q", [(1, 0.125, 4.0), (5, 0.5, 3.0), (9, 1.0, 2.0)], dim=3),
        run("B", "q", [(1, 0.125, 4.0), (3, 0.5, 2.5), (7, 0.75, 2.25)], dim=3, status=Status.MAX_ITERATIONS),
        run("C", "q", [(1, 0.125, 4.0), (2, 0.25, 1.0), (3, 0.375, math.nan)], dim=3, status=Status.DIVERGED),
        run("C", "q", [], dim=3, status=Status.FAILED, objective=math.nan),
    ]


P0, P1 = Instance("p", "hash-p", 0, 1), Instance("p", "hash-p", 1, 1)
Q0 = Instance("q", "hash-q", 0, 3)
INF = math.inf


def test_reference_values_baseline_else_best_non_failed(hand_results):
    assert reference_values(hand_results) == {"hash-p": (0.0, "baseline"), "hash-q": (2.0, "best found")}


def test_solve_costs_by_oracle_calls(hand_results):
    costs = solve_costs(hand_results, TAU, "oracle_calls")
    assert costs == {P0: {"A": 6.0, "B": 10.0, "C": INF},
                     P1: {"A": 4.0, "B": INF, "C": INF},
                     Q0: {"A": 9.0, "B": 3.0, "C": INF}}


def test_solve_costs_by_time(hand_results):
    costs = solve_costs(hand_results, TAU, "time")
    assert costs == {P0: {"A": 0.375, "B": 0.25, "C": INF},
                     P1: {"A": 0.25, "B": INF, "C": INF},
                     Q0: {"A": 1.0, "B": 0.5, "C": INF}}


def test_tighter_tau_solves_less(hand_results):
    # tau = 1/16: p needs f <= 1/16 (nobody), q needs f <= 2.125 (A at its last point)
    costs = solve_costs(hand_results, 1 / 16, "oracle_calls")
    assert costs == {P0: {"A": INF, "B": INF, "C": INF}, P1: {"A": INF, "B": INF, "C": INF},
                     Q0: {"A": 9.0, "B": INF, "C": INF}}


def test_performance_profile_by_oracle_calls(hand_results):
    costs = solve_costs(hand_results, TAU, "oracle_calls")
    assert performance_ratios(costs) == {P0: {"A": 1.0, "B": 10 / 6, "C": INF},
                                         P1: {"A": 1.0, "B": INF, "C": INF},
                                         Q0: {"A": 3.0, "B": 1.0, "C": INF}}
    prof = performance_profile(costs, tau=TAU)
    np.testing.assert_array_equal(prof.alphas, [1.0, 10 / 6, 3.0])
    np.testing.assert_array_equal(prof.curves["A"], [2 / 3, 2 / 3, 1.0])
    np.testing.assert_array_equal(prof.curves["B"], [1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_array_equal(prof.curves["C"], [0.0, 0.0, 0.0])
    assert prof.solved == {"A": 1.0, "B": 2 / 3, "C": 0.0}
    assert prof.n_instances == 3 and prof.kind == "performance" and prof.tau == TAU
    # at chosen alphas (between breakpoints, below 1, far out)
    prof = performance_profile(costs, [0.5, 1.5, 2.0, 1e9])
    np.testing.assert_array_equal(prof.curves["A"], [0, 2 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(prof.curves["B"], [0, 1 / 3, 2 / 3, 2 / 3])


def test_performance_profile_by_time(hand_results):
    prof = performance_profile(solve_costs(hand_results, TAU, "time"), measure="time")
    # ratios: (p,0) A 1.5 B 1; (p,1) A 1; (q,0) A 2 B 1
    np.testing.assert_array_equal(prof.alphas, [1.0, 1.5, 2.0])
    np.testing.assert_array_equal(prof.curves["A"], [1 / 3, 2 / 3, 1.0])
    np.testing.assert_array_equal(prof.curves["B"], [2 / 3, 2 / 3, 2 / 3])


def test_data_profile_normalizes_by_dim_plus_one(hand_results):
    costs = solve_costs(hand_results, TAU, "oracle_calls")
    prof = data_profile(costs, tau=TAU)
    # A: 6/2=3, 4/2=2, 9/4=2.25; B: 10/2=5, 3/4=0.75
    np.testing.assert_array_equal(prof.alphas, [0.75, 2.0, 2.25, 3.0, 5.0])
    np.testing.assert_array_equal(prof.curves["A"], [0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_array_equal(prof.curves["B"], [1 / 3, 1 / 3, 1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_array_equal(prof.curves["C"], [0, 0, 0, 0, 0])
    raw = data_profile(costs, [4.0, 9.0], normalize=False)   # plain calls: A 6, 4, 9; B 10, 3
    np.testing.assert_array_equal(raw.curves["A"], [1 / 3, 1.0])
    np.testing.assert_array_equal(raw.curves["B"], [1 / 3, 1 / 3])


def test_time_data_profile_is_in_seconds_by_default(hand_results):
    prof = data_profile(solve_costs(hand_results, TAU, "time"), measure="time")
    np.testing.assert_array_equal(prof.alphas, [0.25, 0.375, 0.5, 1.0])
    np.testing.assert_array_equal(prof.curves["A"], [1 / 3, 2 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(prof.curves["B"], [1 / 3, 1 / 3, 2 / 3, 2 / 3])


def test_starting_at_the_optimum_solves_at_the_first_point():
    rs = [run("A", "p", [(2, 0.5, 0.0), (4, 1.0, 0.0)], baseline=0.0)]
    assert solve_costs(rs, 1e-6) == {Instance("p", "hash-p", 0, 1): {"A": 2.0}}


def test_runs_without_trace_borrow_f0_and_leave_oracle_profiles():
    """A cvxpy-like run (no trace, no oracle calls) is tested on its final value with f(x0)
    from a traced run, costs its wall time, and is absent from oracle-call profiles."""
    rs = [run("A", "p", [(2, 0.25, 1.0), (8, 0.5, 0.0)], baseline=0.0),
          run("cvx", "p", [], objective=1e-9, baseline=0.0, wall=0.125),
          run("cvx2", "p", [], objective=0.5, baseline=0.0, wall=0.0625)]
    assert solve_costs(rs, 1e-6, "oracle_calls") == {P0: {"A": 8.0}}
    assert solve_costs(rs, 1e-6, "time") == {P0: {"A": 0.5, "cvx": 0.125, "cvx2": INF}}
    assert solve_costs(rs, 0.75, "time") == {P0: {"A": 0.5, "cvx": 0.125, "cvx2": 0.0625}}
    # a solver that crashed before any oracle call still counts (as solving nothing)
    crashed = run("boom", "p", [], objective=math.nan, status=Status.FAILED, baseline=0.0)
    assert solve_costs(rs + [crashed], 1e-6, "oracle_calls") == {P0: {"A": 8.0, "boom": INF}}


def test_zero_cost_ratios():
    costs = {P0: {"a": 0.0, "b": 3.0, "c": INF}, P1: {"a": INF, "b": INF, "c": INF}}
    assert performance_ratios(costs) == {P0: {"a": 1.0, "b": INF, "c": INF}, P1: {"a": INF, "b": INF, "c": INF}}
    prof = performance_profile(costs)
    np.testing.assert_array_equal(prof.alphas, [1.0])
    assert prof.curves["a"].tolist() == [0.5] and prof.curves["b"].tolist() == [0.0]


def test_empty_inputs():
    prof = performance_profile({})
    assert prof.curves == {} and prof.n_instances == 0
    assert solve_costs([], 0.1) == {}


@pytest.mark.parametrize("kwargs", [{"tau": 0.0}, {"tau": 1.0}, {"tau": -1}, {"tau": 0.1, "measure": "cpu"}])
def test_bad_tau_or_measure(kwargs, hand_results):
    with pytest.raises(OptionError, match="allowed"):
        solve_costs(hand_results, **kwargs)


def test_solver_labels_split_configurations_not_problem_defaults():
    rs = [run("adam", "p", [(1, 0.1, 1.0)], options={"lr": 0.01, "max_iterations": 100}),
          run("adam", "p", [(1, 0.1, 1.0)], options={"lr": 0.1, "max_iterations": 100}),
          run("adam", "q", [(1, 0.1, 1.0)], options={"lr": 0.01, "max_iterations": 500}),
          run("gd", "p", [(1, 0.1, 1.0)], options={"max_iterations": 100}),
          run("gd", "q", [(1, 0.1, 1.0)], options={"max_iterations": 500})]
    assert solver_labels(rs, defaults={}) == ["adam:lr=0.01", "adam:lr=0.1", "adam:lr=0.01", "gd", "gd"]
    # with adam's installed defaults (lr 0.01), the default configuration is plain "adam"
    assert solver_labels(rs) == ["adam", "adam:lr=0.1", "adam", "gd", "gd"]
    costs = solve_costs(rs, 0.5)
    assert set(next(iter(costs.values()))) == {"adam", "adam:lr=0.1", "gd"}


def test_summary_rows(hand_results):
    rows = {(r.problem, r.solver): r for r in summarize(hand_results)}
    a = rows[("p", "A")]
    assert a.runs == 2 and a.seeds == (0, 1) and a.status_counts == {"converged": 2}
    assert a.objective == (0.125 + 0.25) / 2 and a.oracle_calls == 5.0 and a.baseline_gap == (0.125 + 0.25) / 2
    c = rows[("q", "C")]
    assert c.runs == 2 and c.status_counts == {"diverged": 1, "failed": 1}
    assert math.isnan(c.objective) and c.oracle_calls == 1.5
    assert c.status_text() == "diverged 1, failed 1"
    assert rows[("q", "B")].status_text() == "max_iterations 1"
    assert list(rows) == sorted(rows)


def test_problem_labels_disambiguate_same_name():
    rs = [run("A", "p", [(1, 0.1, 1.0)], phash="aaaaaaaa11"), run("A", "p", [(1, 0.1, 1.0)], phash="bbbbbbbb22"),
          run("A", "q", [(1, 0.1, 1.0)])]
    assert problem_labels(rs) == {"aaaaaaaa11": "p [aaaaaaaa]", "bbbbbbbb22": "p [bbbbbbbb]", "hash-q": "q"}


# -- end to end --------------------------------------------------------------------
ILL = """\
name: illcond_{i}
kind: minimize
variables: {{x: {{shape: [20]}}}}
data:
  A: {{generate: ill_conditioned, shape: [30, 20], cond: 1.0e+3, seed: {i}}}
  b: {{generate: normal, shape: [30], seed: {j}}}
objective: "0.5 * sum_squares(A @ x - b)"
"""


@pytest.fixture(scope="module")
def ill_conditioned_results(tmp_path_factory):
    import solverhub
    folder = tmp_path_factory.mktemp("ill")
    results = []
    for i in range(3):
        path = folder / f"ill{i}.yaml"
        path.write_text(ILL.format(i=i, j=10 + i))
        problem = solverhub.load_problem(path)
        # the least-squares optimum in closed form (as the cvxpy baseline gives it, without its ~2 s import)
        A, b = np.asarray(problem.data["A"]), np.asarray(problem.data["b"])
        f_star = float(0.5 * np.sum((A @ np.linalg.lstsq(A, b, rcond=None)[0] - b) ** 2))
        for solver in ("gd", "bfgs-wolfe"):
            r = solverhub.solve(problem, solver, options={"max_iterations": 200, "tolerance": 1e-10})
            results.append(r.replace(baseline_objective=f_star,
                                     baseline_gap=(r.objective - f_star) / max(1.0, abs(f_star))))
    return results


def test_ill_conditioned_profiles_rank_quasi_newton_first(ill_conditioned_results):
    rs = ill_conditioned_results
    assert all(r.baseline_objective is not None for r in rs)
    costs = solve_costs(rs, 1e-6, "oracle_calls")
    assert len(costs) == 3
    perf = performance_profile(costs, [1.0, 2.0, 1e6], tau=1e-6)
    assert perf.curves["bfgs-wolfe"][0] == 1.0 and perf.curves["gd"][0] == 0.0
    assert perf.curves["bfgs-wolfe"].tolist() == [1.0, 1.0, 1.0]
    data = data_profile(costs, tau=1e-6)
    assert data.solved["bfgs-wolfe"] == 1.0 and data.solved["gd"] < 1.0
    assert np.all(data.curves["bfgs-wolfe"] >= data.curves["gd"])
    # every bfgs-wolfe cost, normalized by n + 1 = 21, is a breakpoint of its curve
    bfgs = sorted(row["bfgs-wolfe"] / 21 for row in costs.values())
    assert data.curves["bfgs-wolfe"][np.searchsorted(data.alphas, bfgs[-1])] == 1.0
    # by time as well, and at a loose tolerance gd still never wins
    time_perf = performance_profile(solve_costs(rs, 1e-6, "time"), [1.0])
    assert time_perf.curves["bfgs-wolfe"][0] == 1.0 and time_perf.curves["gd"][0] == 0.0
    loose = performance_profile(solve_costs(rs, 1e-1, "oracle_calls"), [1.0])
    assert loose.curves["bfgs-wolfe"][0] == 1.0


# -- feasibility: an infeasible final point never solves (issue 15) ------------------------
def _with_extras(r, **extras):
    return r.replace(extras={**r.extras, **extras})


def test_infeasible_point_never_solves_and_does_not_set_f_l():
    """Problem c (no baseline): A reaches f = 1 feasibly; B "converges" to f = -3 with
    max_violation 1e-2 (below the optimum: a negative gap). B must not solve, and f_L must be
    A's 1.0, not B's -3.0. A bilevel run with eps_g 1e-2 (D) likewise never solves."""
    from solverhub.bench.profiles import FEASIBILITY_TOL, is_infeasible, never_solves
    a = _with_extras(run("A", "c", [(1, 0.125, 5.0), (4, 0.5, 1.0)]), max_violation=1e-9)
    b = _with_extras(run("B", "c", [(1, 0.125, 5.0), (2, 0.25, -3.0)]), max_violation=1e-2)
    d = _with_extras(run("D", "c", [(1, 0.125, 5.0), (2, 0.25, 1.0)]), eps_g=1e-2, eps_f=0.0)
    assert not is_infeasible(a) and is_infeasible(b) and is_infeasible(d)
    assert is_infeasible(_with_extras(a, max_violation=math.nan))
    assert not is_infeasible(_with_extras(a, max_violation=FEASIBILITY_TOL))           # at the tolerance: feasible
    assert is_infeasible(_with_extras(a, max_violation=2 * FEASIBILITY_TOL))
    assert is_infeasible(run("E", "c", [], status=Status.INFEASIBLE, objective=0.0))
    assert never_solves(b) and not never_solves(a)
    results = [a, b, d]
    assert reference_values(results) == {"hash-c": (1.0, "best found")}
    for measure in ("oracle_calls", "time"):
        costs = solve_costs(results, 0.5, measure)
        (row,) = costs.values()
        assert row["B"] == INF and row["D"] == INF
        assert row["A"] == (4.0 if measure == "oracle_calls" else 0.5)
    prof = performance_profile(solve_costs(results, 0.5))
    assert prof.solved == {"A": 1.0, "B": 0.0, "D": 0.0}
    assert data_profile(solve_costs(results, 0.5)).solved["B"] == 0.0


def test_infeasible_point_with_a_baseline_still_never_solves():
    """With a baseline f* = 0, B's f = -3 would pass f - f* <= tau (f0 - f*) at every tau."""
    b = _with_extras(run("B", "c", [(1, 0.125, 5.0), (2, 0.25, -3.0)], baseline=0.0), max_violation=1e-3)
    ok = b.replace(extras={"max_violation": 0.0})
    assert solve_costs([b], 1e-6)[Instance("c", "hash-c", 0, 1)]["B"] == INF
    assert solve_costs([ok], 1e-6)[Instance("c", "hash-c", 0, 1)]["B"] == 2.0


def test_structure_class_of_shipped_problems():
    from pathlib import Path

    import solverhub
    from solverhub.bench.profiles import structure_class
    root = Path(__file__).resolve().parents[1] / "problems"
    assert structure_class(solverhub.load_problem(root / "smooth" / "ridge.yaml")) == "smooth"
    for folder, expected in (("bounds", "bounds"), ("composite", "composite"), ("constrained", "constrained")):
        files = sorted((root / folder).glob("*.yaml"))
        assert files, folder
        classes = {structure_class(solverhub.load_problem(f)) for f in files}
        assert expected in classes, (folder, classes)


# -- labels, deterministic repeats, refused pairs (issue 16) --------------------------------
def test_run_options_never_split_a_label():
    """cvxpy run under three time limits (three compares into one store) is one solver."""
    rs = [run("cvxpy", "p", [], objective=0.0, options={"solver": "", "time_limit_s": t, "trace_every": k})
          for t, k in ((None, 0), (60.0, 1), (300.0, 10))]
    assert solver_labels(rs, defaults={}) == ["cvxpy"] * 3


def test_default_value_is_the_plain_label():
    """``gd`` and ``gd:lr=<default>`` are one configuration; ``gd:lr=0.5`` is another."""
    defaults = {"gd": {"lr": None, "backtracking": True}}
    rs = [run("gd", "p", [(1, 0.1, 1.0)], options={"lr": None, "backtracking": True}),
          run("gd", "p", [(1, 0.1, 1.0)], options={"lr": 0.5, "backtracking": True}),
          run("gd", "p", [(1, 0.1, 1.0)], options={"lr": None, "backtracking": False})]
    assert solver_labels(rs, defaults=defaults) == ["gd", "gd:lr=0.5", "gd:backtracking=false"]
    assert solver_labels(rs[:1] + rs[:1], defaults=defaults) == ["gd", "gd"]


def _seeds(solver, problem, trace, seeds=(0, 1, 2), walls=(3.0, 1.0, 2.0), **kw):
    return [run(solver, problem, trace, seed=s, wall=w, **kw) for s, w in zip(seeds, walls)]


def test_deterministic_repeats_detected_flagged_and_counted_once():
    from solverhub.bench.profiles import collapse_repeats, deterministic_groups
    det = _seeds("A", "p", [(1, 0.5, 1.0), (4, 1.0, 0.0)], baseline=0.0)
    noisy = [run("S", "p", [(1, 0.5, 1.0), (4, 1.0, 0.1 * s)], seed=s, baseline=0.0) for s in (0, 1, 2)]
    # flagged deterministic but cut at different iterations (a time limit): not the same run
    flagged = [r.replace(extras={"deterministic": True}) for r in
               [run("F", "q", [(1, 0.5, 1.0), (4, 1.0, 0.0)] + [(5, 1.5, 0.0)] * s, seed=s) for s in (0, 1)]]
    same_but_flagged_random = [r.replace(extras={"deterministic": False}) for r in _seeds("R", "q", [(1, 0.5, 1.0)])]
    assert deterministic_groups(same_but_flagged_random, ["R"] * 3) == {("hash-q", "R"): False}
    assert deterministic_groups([r.replace(extras={"deterministic": True}) for r in det], ["A"] * 3) == \
        {("hash-p", "A"): True}
    labels = ["A"] * 3 + ["S"] * 3 + ["F"] * 2
    groups = deterministic_groups(det + noisy + flagged, labels)
    assert groups == {("hash-p", "A"): True, ("hash-p", "S"): False, ("hash-q", "F"): False}
    # p has a stochastic solver: every seed stays an instance; q collapses to one run, one instance
    kept, kept_labels = collapse_repeats(det + noisy + flagged, labels, groups)
    assert kept_labels == ["A"] * 3 + ["S"] * 3 + ["F"] * 2 and len(kept) == 8
    kept, kept_labels = collapse_repeats(det + flagged[:1], ["A"] * 3 + ["F"])
    assert kept_labels == ["A", "F"] and {r.seed for r in kept} == {0}
    alone, _ = collapse_repeats(det, ["A"] * 3)
    assert len(alone) == 1 and alone[0].wall_time_s == 2.0 and alone[0].seed == 0     # median wall time, seed 0
    assert len(solve_costs(alone, TAU)) == 1
    rows = {row.solver: row for row in summarize(det + noisy)}
    assert rows["A"].deterministic and rows["A"].runs == 3 and not rows["S"].deterministic
    assert (rows["A"].wall_time_min, rows["A"].wall_time_s, rows["A"].wall_time_max) == (1.0, 2.0, 3.0)


def test_refused_pairs_are_not_applicable():
    """B refused problem q: its profile is over p only (1 of 1 solved), not 1 of 2."""
    rs = [run("A", "p", [(1, 0.5, 1.0), (4, 1.0, 0.0)], baseline=0.0),
          run("B", "p", [(1, 0.5, 1.0), (2, 1.0, 0.0)], baseline=0.0),
          run("A", "q", [(1, 0.5, 1.0), (8, 1.0, 0.0)], baseline=0.0)]
    costs = solve_costs(rs, TAU, refused=[("q", "B")])
    Qa = Instance("q", "hash-q", 0, 1)
    assert costs[P0] == {"A": 4.0, "B": 2.0} and costs[Qa]["A"] == 8.0 and math.isnan(costs[Qa]["B"])
    prof = performance_profile(costs)
    assert prof.solved == {"A": 1.0, "B": 1.0}
    np.testing.assert_array_equal(prof.alphas, [1.0, 2.0])
    np.testing.assert_array_equal(prof.curves["B"], [1.0, 1.0])
    np.testing.assert_array_equal(prof.curves["A"], [0.5, 1.0])
    # without the refusal, the missing run is a failure
    assert performance_profile(solve_costs(rs, TAU)).solved == {"A": 1.0, "B": 0.5}


def test_kind_measures_become_columns():
    from solverhub.bench.summary import measure_columns
    rs = [run("A", "p", [(1, 0.5, 1.0)], seed=s).replace(extras={"test_accuracy": acc, "noise": 1})
          for s, acc in ((0, 0.9), (1, 0.8))] + [run("B", "p", [(1, 0.5, 1.0)])]
    rows = summarize(rs)
    assert measure_columns(rows) == ["test_accuracy"]
    assert rows[0].measures == {"test_accuracy": pytest.approx(0.85, abs=1e-12)} and rows[1].measures == {}
