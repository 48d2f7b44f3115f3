"""Variable bounds end to end (issue 15): YAML ``lower``/``upper`` -> ``Problem.structure.bounds``
-> ``TorchProblem.structure.lower/upper`` (every kind, one lowering path) and cvxpy constraints;
the projected-gradient measure; refusals of solvers without the ``bounds`` capability; the
``lbfgsb`` solver against scipy's references (``nnls``, ``lsq_linear``) and a closed form; bad
bounds through the CLI (one line, ``file:line``, exit 2)."""
from __future__ import annotations

import gc
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import solverhub
from solverhub.registry import get_registry
from solverhub.solver import RefusalCode, verdict_of

ROOT = Path(__file__).resolve().parents[1]
BOUNDS = ROOT / "problems" / "bounds"

pytestmark = pytest.mark.usefixtures("single_thread")

MIXED = """
name: mixed
kind: minimize
variables:
  x: {shape: [3], lower: 0, upper: [1, .inf, "inf"], x0: [2, -1, 0.5]}
  y: {shape: [2], lower: lo}
  z: {shape: [2]}
data:
  lo: [-1, -5]
objective: "sum_squares(x - 3) + sum_squares(y + 2) + sum_squares(z - 1)"
"""


def load(text):
    return solverhub.load_problem(text)


def solve(p, solver=None, **options):
    return solverhub.solve(p, solver, options=options or None, device="cpu")


def sol(result, name="x"):
    return np.asarray(result.solution[name], dtype=np.float64)


# -- loading and lowering ---------------------------------------------------------------------------
def test_bounds_load_as_numbers_lists_infinities_and_data_names():
    p = load(MIXED)
    b = p.structure.bounds
    assert set(b) == {"x", "y"}                                      # z is unbounded
    np.testing.assert_array_equal(b["x"].lower, [0, 0, 0])
    np.testing.assert_array_equal(b["x"].upper, [1, np.inf, np.inf])
    np.testing.assert_array_equal(b["y"].lower, [-1, -5])
    assert b["y"].upper is None
    assert p.has_bounds and p.default_measure == "projected_grad_norm"
    np.testing.assert_array_equal(p.x0[:3], [1, 0, 0.5])            # the start projected into the box


def test_lowering_fills_flat_bound_tensors_and_projects_the_start():
    tp = load(MIXED).lower_torch("cpu")
    inf = float("inf")
    assert tp.structure.bounded
    assert tp.structure.lower.tolist() == [0, 0, 0, -1, -5, -inf, -inf]
    assert tp.structure.upper.tolist() == [1, inf, inf, inf, inf, inf, inf]
    assert tp.x0.tolist() == [1, 0, 0.5, 0, 0, 0, 0]
    # the lowered equality/inequality functions of the kind survive the bounds
    assert tp.structure.equalities is None and tp.structure.inequalities is None


def test_unbounded_problem_has_no_bound_tensors_and_keeps_grad_norm():
    p = load(MIXED.replace("lower: 0, upper: [1, .inf, \"inf\"], ", "").replace(", lower: lo", ""))
    assert not p.has_bounds and p.default_measure == "grad_norm"
    tp = p.lower_torch("cpu")
    assert tp.structure.lower is None and tp.structure.upper is None and not tp.structure.bounded


def test_bounds_reach_every_kind_through_the_shared_lowering():
    """A minimax problem (its own lower_torch) gets the bound tensors from Problem.lower_torch."""
    p = load("""
name: saddle
kind: minimax
variables:
  x: {shape: [2], lower: -1, upper: 1}
  y: {shape: [2]}
objective: "sum_squares(x) - sum_squares(y) + sum(x * y)"
min: [x]
max: [y]
""")
    tp = p.lower_torch("cpu")
    assert tp.structure.lower.tolist()[:2] == [-1, -1] and tp.structure.upper.tolist()[:2] == [1, 1]
    assert tp.structure.lower.tolist()[2:] == [-float("inf")] * 2
    assert not verdict_of(get_registry().solvers["cvxpy"].cls(), p)     # its cvxpy form ignores bounds


# -- the measure ------------------------------------------------------------------------------------
def test_projected_grad_norm_is_zero_at_a_bound_optimum_and_the_grad_norm_inside():
    p = load(MIXED)
    tp = p.lower_torch("cpu")
    from solverhub.oracle import Known, Oracle
    oracle = Oracle.for_problem(tp, p)
    x_star = torch.tensor([1.0, 3, 3, -1, -2, 1, 1], dtype=torch.float64)     # x0 and y0 at bounds
    value, stat = p.kind.measure("projected_grad_norm", tp, oracle, x_star, Known())
    assert float(value) == pytest.approx(4 + 1, abs=1e-12) and float(stat) == pytest.approx(0, abs=1e-12)
    _, grad_norm = p.kind.measure("grad_norm", tp, oracle, x_star, Known())
    assert float(grad_norm) == pytest.approx(np.hypot(4, 2), rel=1e-12)         # the plain gradient is not 0
    x = torch.tensor([0.5, 2, 2, 0, -3, 0.5, 2], dtype=torch.float64)
    _, pg = p.kind.measure("projected_grad_norm", tp, oracle, x, Known())
    xn = x.numpy()
    g = 2 * (xn - np.array([3, 3, 3, -2, -2, 1, 1]))
    lo, up = np.array([0, 0, 0, -1, -5, -np.inf, -np.inf]), np.array([1] + [np.inf] * 6)
    assert float(pg) == pytest.approx(np.linalg.norm(xn - np.clip(xn - g, lo, up)), rel=1e-12)
    assert float(pg) < np.linalg.norm(g)                                     # x[0]'s step is clipped at 1
    near = torch.tensor([0.99, 3.0, 3.0, -1.0, -2.0, 1.0, 1.0], dtype=torch.float64)   # steps stay inside
    _, pg = p.kind.measure("projected_grad_norm", tp, oracle, near, Known())
    _, gn = p.kind.measure("grad_norm", tp, oracle, near, Known())
    assert float(pg) == pytest.approx(0.01, rel=1e-9) and float(gn) > 4           # x0's pull to 3 is cut at 1


# -- acceptance and dispatch ------------------------------------------------------------------------
def test_solvers_without_the_bounds_capability_refuse_with_a_code():
    p = load(MIXED)
    solvers = get_registry().solvers
    for name in ("gd", "adam", "lbfgs"):
        verdict = verdict_of(solvers[name].cls(), p)
        assert not verdict and verdict.code is RefusalCode.NO_BOUNDS, (name, verdict)
        assert "bounds" in verdict.text
    assert verdict_of(solvers["lbfgsb"].cls(), p)
    assert verdict_of(solvers["cvxpy"].cls(), p)
    cls, why = get_registry().dispatch(p, "cpu")
    assert cls.name == "lbfgsb", why
    unbounded = load(MIXED.replace(", lower: lo", "").replace("lower: 0, upper: [1, .inf, \"inf\"], ", ""))
    assert get_registry().dispatch(unbounded, "cpu")[0].name != "lbfgsb"      # lbfgs stays the default there


def test_cvxpy_respects_the_bounds_and_agrees_with_lbfgsb():
    p = load(MIXED)
    c, l = solve(p, "cvxpy"), solve(p, "lbfgsb", tolerance=1e-10)
    expect = {"x": [1, 3, 3], "y": [-1, -2], "z": [1, 1]}
    for r in (c, l):
        assert r.status.value == "converged", r.message
        for name, value in expect.items():
            np.testing.assert_allclose(sol(r, name), value, atol=1e-6)
        assert r.objective == pytest.approx(5.0, abs=1e-9)
        assert r.stationarity.name == "projected_grad_norm"


def test_constrained_kind_with_bounds_has_a_small_kkt_residual():
    """Bounds plus a constraint: cvxpy's answer and the KKT residual with the projected Lagrangian gradient."""
    p = load("""
name: cb
kind: constrained
variables:
  x: {shape: [3], lower: 0, upper: 0.5}
objective: "sum_squares(x - 1)"
constraints:
  - "sum(x) <= 1.2"
""")
    r = solve(p, "cvxpy")
    assert r.status.value == "converged", r.message
    np.testing.assert_allclose(sol(r), [0.4, 0.4, 0.4], atol=1e-6)
    assert r.stationarity.name == "kkt_residual" and r.stationarity.value < 1e-6
    p2 = load("""
name: cb2
kind: constrained
variables:
  x: {shape: [3], lower: 0, upper: 0.3}
objective: "sum_squares(x - 1)"
constraints:
  - "sum(x) <= 1.2"
""")
    r2 = solve(p2, "cvxpy")
    np.testing.assert_allclose(sol(r2), [0.3, 0.3, 0.3], atol=1e-6)          # bounds active, constraint not
    assert r2.stationarity.value < 1e-6


# -- lbfgsb -----------------------------------------------------------------------------------------
def test_nnls_matches_scipy_nnls():
    from scipy.optimize import nnls
    p = solverhub.load_problem(BOUNDS / "nnls.yaml")
    x_ref, rnorm = nnls(p.data["A"], p.data["b"])
    r = solve(p, None, tolerance=1e-7)        # attainable: about 1e-9 (scipy then makes no further progress)
    assert r.solver == "lbfgsb" and r.status.value == "converged", r.message
    assert r.objective == pytest.approx(rnorm ** 2, rel=1e-12)
    np.testing.assert_allclose(sol(r), x_ref, atol=1e-7)
    assert np.all(sol(r) >= 0)
    assert 3 <= np.sum(x_ref == 0) <= 12                                       # bounds active and inactive


def test_box_lsq_matches_scipy_lsq_linear():
    from scipy.optimize import lsq_linear
    p = solverhub.load_problem(BOUNDS / "box_lsq.yaml")
    b = p.structure.bounds["x"]
    ref = lsq_linear(p.data["A"], p.data["b"], bounds=(b.lower, b.upper), method="bvls", tol=1e-12)
    r = solve(p, "lbfgsb", tolerance=1e-7)    # attainable: about 2e-8
    assert r.status.value == "converged", r.message
    np.testing.assert_allclose(sol(r), ref.x, atol=1e-7)
    assert r.objective == pytest.approx(ref.cost, rel=1e-12)                  # lsq_linear's cost is 0.5||r||^2
    x = sol(r)
    assert np.all(x >= b.lower - 1e-12) and np.all(x <= b.upper + 1e-12)
    assert np.any(np.isclose(x, b.upper)) and np.any(np.isclose(x, -0.2))      # both sides active somewhere


def test_bound_constrained_rosenbrock_reaches_the_closed_form():
    p = solverhub.load_problem(BOUNDS / "rosenbrock_box.yaml")
    r = solverhub.solve(p, None, options={"tolerance": 1e-9}, device="cpu", baseline=True)
    assert r.solver == "lbfgsb" and r.status.value == "converged", r.message
    assert sol(r, "x1") == pytest.approx(0.5, abs=1e-12)                       # the bound, exactly
    assert sol(r, "x2") == pytest.approx(0.25, abs=1e-8)
    assert abs(r.baseline_gap) <= 1e-12 and r.baseline_objective == 0.25


def test_lbfgsb_budget_iterations_trace_and_no_leftover_threads():
    p = solverhub.load_problem(BOUNDS / "nnls.yaml")
    before = threading.active_count()
    capped = solve(p, "lbfgsb", max_oracle_calls=7)
    assert capped.status.value == "budget_exhausted" and capped.total_oracle_calls <= 7
    short = solve(p, "lbfgsb", max_iterations=3)
    assert short.status.value == "max_iterations" and short.iterations == 3
    assert [t.iteration for t in short.trace] == [0, 1, 2, 3]
    calls = [t.oracle_calls for t in short.trace]
    assert calls[0] == 0 and all(a < b for a, b in zip(calls, calls[1:]))     # counted, per iteration
    objectives = [t.objective for t in short.trace]
    assert all(a >= b for a, b in zip(objectives, objectives[1:]))           # monotone descent
    full = solve(p, "lbfgsb", tolerance=1e-7)
    again = solve(p, "lbfgsb", tolerance=1e-7)
    assert [t.objective for t in full.trace] == [t.objective for t in again.trace]   # deterministic
    assert full.extras["scipy_iterations"] == full.iterations
    gc.collect()
    assert threading.active_count() == before


def test_lbfgsb_reports_no_progress_below_attainable_accuracy():
    p = solverhub.load_problem(BOUNDS / "nnls.yaml")
    r = solve(p, "lbfgsb", tolerance=0.0, max_iterations=500)
    assert r.status.value == "failed" and "no further progress" in r.message
    assert r.stationarity.value < 1e-6                                       # ... at the optimum all the same


def test_lbfgsb_runs_on_model_kinds_with_declared_bounds_free():
    """Unbounded problems work as well (plain L-BFGS)."""
    p = load("""
name: q
kind: minimize
variables:
  x: {shape: [4]}
objective: "sum_squares(x - 2) + sum(exp(x)) / 10"
""")
    r = solve(p, "lbfgsb", tolerance=1e-9)
    assert r.status.value == "converged" and r.stationarity.name == "grad_norm"


# -- bad input --------------------------------------------------------------------------------------
BAD = """
name: bad
kind: minimize
variables:
  x: {{shape: [3], {bound}}}
data:
  w: [1, 2]
objective: "sum_squares(x)"
"""


@pytest.mark.parametrize("bound, fragments", [
    ("lower: 1, upper: 0", ("lower > upper", "x[0]", "lower <= upper")),
    ("lower: [0, 1, 2], upper: [1, 0.5, 3]", ("lower > upper at x[1]", "(1 > 0.5)")),
    ("lower: [0, 1]", ("2 values for a variable of shape (3,)",)),
    ("upper: w", ("data 'w' has shape (2,), the variable (3,)",)),
    ("upper: nope", ("unknown data name 'nope'",)),
    ("lower: .nan", ("NaN is not a bound",)),
    ("lower: [0, .nan, 1]", ("NaN is not a bound",)),
    ("upper: [0, abc, 1]", ("expected a number, got 'abc'",)),
    ("lower: inf", ("an empty box",)),
])
def test_bad_bounds_are_one_line_at_the_line(write_problem, run_cli, bound, fragments):
    path = write_problem(BAD.format(bound=bound))
    r = run_cli("validate", path)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    line = next(i for i, text in enumerate(Path(path).read_text().splitlines(), 1) if "x: {shape" in text)
    assert f"{path}:{line}: " in lines[0], lines[0]                           # the variable's line
    assert "allowed:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_an_inaccurate_bounded_baseline_is_polished_inside_the_box():
    """CLARABEL's exponential-cone answer (projected gradient ~1e-4) is polished by L-BFGS-B in the box."""
    from solverhub.baseline import compute_baseline
    p = load(MIXED.replace('objective: "', 'objective: "0.1 * sum(exp(x)) + '))
    ref = compute_baseline(p)
    assert ref.status.value == "certified" and ref.polished, ref.message
    assert ref.certificate.name == "projected_grad_norm" and ref.certificate.value <= 1e-8
    lower, upper = p.structure.box(p.variables)
    assert (ref.x >= lower).all() and (ref.x <= upper).all()
    assert ref.x[0] == 1.0 and ref.x[3] == -1.0                                # bounds active after polishing
    r = solve(p, "lbfgsb", tolerance=1e-9)
    assert r.objective == pytest.approx(ref.objective, rel=1e-12)
