"""Every shipped problem file (problems/**/*.yaml) validates and is solved to a known answer.

* every file loads, validates from the CLI, is small, and is listed in the READMEs;
* unconstrained problems with exact gradients: ``lbfgs`` reaches the cvxpy
  baseline (convex problems) or the declared optimum (Rosenbrock) to REL_TOL;
* constrained problems: the ``cvxpy`` solver's KKT residual is small and the
  returned solution satisfies the constraints, checked with numpy;
* stochastic problems: a constant-step method with the problem's own
  stochastic oracle (fixed seed) ends within a stated relative gap of the
  baseline, and minibatch / noisy gradients are unbiased;
* the one nonconvex problem without a baseline: ``lbfgs`` reaches a stationary
  point well below the starting value, and cvxpy refuses it;
* closed forms and independent references (numpy, scipy, scikit-learn) agree
  with the baselines and with the solutions, so the tests can fail.

Tiny problems run faster single-threaded (torch's intra-op threads only add
contention here), so the module runs with ``torch.set_num_threads(1)``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import yaml

import solverhub
from solverhub.baseline import NoBaseline
from solverhub.errors import SolverRefused

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS_DIR = ROOT / "problems"
PROBLEMS = sorted(PROBLEMS_DIR.rglob("*.yaml"))
IDS = [p.relative_to(PROBLEMS_DIR).as_posix() for p in PROBLEMS]

REL_TOL = 1e-6            # relative gap (f - f*) / max(1, |f*|) that lbfgs must reach
KKT_TOL = 1e-5            # KKT residual of the cvxpy solver on constrained problems
FEAS_TOL = 1e-7           # constraint violation of the returned solution (numpy)

# lbfgs options per deterministic problem (default: the file's own `solve:` section)
LBFGS_OPTIONS = {
    "smooth/ill_conditioned_lsq.yaml": {"max_iterations": 2000, "tolerance": 1e-6},
    "smooth/smooth_lasso.yaml": {"max_iterations": 1000, "tolerance": 1e-5},
    "smooth/rosenbrock_chained10.yaml": {"max_iterations": 1000, "tolerance": 1e-7},
}

# stochastic problems: (solver, options, relative-gap tolerance); fixed seeds from the files
STOCHASTIC = {
    "stochastic/logreg_breast_cancer_minibatch.yaml": ("gd", {"lr": 0.1, "max_iterations": 2000}, 2e-3),
    "stochastic/lsq_minibatch.yaml": ("adam", {"lr": 0.003, "max_iterations": 2000}, 1e-2),
    "stochastic/noisy_quadratic.yaml": ("gd", {"lr": 0.1, "max_iterations": 1000}, 2e-3),
    "stochastic/logreg_medium_minibatch.yaml": ("gd", {"lr": 0.1, "max_iterations": 2000}, 2e-3),
    "nonconvex/robust_regression_minibatch.yaml": ("adam", {"lr": 0.003, "max_iterations": 2000}, 2e-3),
    # adam ends next to the non-global pair of minima (f = 0.0994, gap 0.0545) from this start
    "nonconvex/odog_quadratic_quartic_noisy.yaml": ("adam", {"lr": 0.03, "max_iterations": 2000}, 6e-2),
    "nonconvex/skewed_separable_noisy.yaml": ("adam", {"lr": 0.01, "max_iterations": 2000}, 5e-2),
}
SLOW = {"stochastic/logreg_medium_minibatch.yaml"}

# constrained problems: KKT tolerance when it differs from KKT_TOL, with the reason
KKT_TOL_FOR = {
    # second-order cone: CLARABEL's point has KKT ~5e-5 (x within ~6e-5 of the exact
    # solution, checked against the secular equation below); constrained baselines are not polished
    "constrained/norm_ball_lsq.yaml": 1e-4,
    # exponential cone (entr): CLARABEL's point has KKT ~2.7e-4, objective within 2e-9 of the Gibbs
    # closed form (tests/test_classics.py checks it); the baseline is labelled inaccurate
    "constrained/max_entropy.yaml": 1e-3,
}


def _path(rel: str) -> Path:
    return PROBLEMS_DIR / rel


def _param(rel: str) -> list:
    marks = [pytest.mark.slow] if rel in SLOW else []
    return pytest.param(rel, id=rel, marks=marks)


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


@functools.lru_cache(maxsize=None)
def problem(rel: str):
    return solverhub.load_problem(_path(rel))


@functools.lru_cache(maxsize=None)
def baseline(rel: str):
    return solverhub.compute_baseline(problem(rel))


@functools.lru_cache(maxsize=None)
def _solve(rel: str, solver: str | None, options: tuple, with_baseline: bool):
    return solverhub.solve(problem(rel), solver, options=dict(options), baseline=with_baseline)


def solve(rel: str, solver: str | None, options: dict | None = None, with_baseline: bool = True):
    return _solve(rel, solver, tuple(sorted((options or {}).items())), with_baseline)


def has_cvxpy_form(p) -> bool:
    try:
        p.kind.lower_cvxpy(p)
    except NoBaseline:
        return False
    return True


EXPRESSION_KINDS = ("minimize", "finite_sum", "constrained")


def category(rel: str) -> str:
    p = problem(rel)
    if p.kind.name == "training":
        return "training"         # judged by what it learns (test loss), not by stationarity
    if p.kind.name == "latent_prior":
        return "latent_prior"     # fixed-budget autoencoder training, judged by the kind's report
    if p.kind.name not in EXPRESSION_KINDS:
        return "other_kind"       # bilevel, monotone, minimax, plugin kinds: solved by the dispatched solver
    if p.has_constraints:
        return "constrained"
    if p.structure.nonsmooth:
        return "composite"        # smooth + prox-able terms: fista (tests/test_composite.py checks the references)
    if p.structure.unsplit:
        return "nonsmooth"        # nonsmooth without a prox (max): epigraph form (tests/test_structure_epigraph.py)
    if p.has_bounds:
        return "bounds"           # variable bounds only: lbfgsb (tests/test_bounds.py checks scipy's answers)
    if p.oracle_config.stochastic:
        return "stochastic"
    if p.baseline.objective is not None or has_cvxpy_form(p):
        return "deterministic"
    return "no_baseline"


def of(cat: str) -> list:
    return [_param(rel) for rel in IDS if category(rel) == cat]


def rel_gap(value: float, reference: float) -> float:
    return (value - reference) / max(1.0, abs(reference))


def sol(result, name="x") -> np.ndarray:
    assert result.solution is not None, result.message
    return np.asarray(result.solution[name], dtype=np.float64)


# ---------------------------------------------------------------------------
# every file
# ---------------------------------------------------------------------------

def test_problem_files_found():
    assert len(PROBLEMS) >= 11, IDS
    assert "smooth/ridge.yaml" in IDS


@pytest.mark.parametrize("rel", IDS)
def test_validates(rel):
    from click.testing import CliRunner
    from solverhub.cli import main

    p = problem(rel)
    assert p.name == Path(rel).stem, "a problem's name is its file name"
    assert rel == "smooth/ridge.yaml" or p.description.strip(), "every shipped problem says what it is"
    assert p.dim <= (10_000 if p.kind.name == "training" else 1000)   # models: digits-mlp (the issue's) has 4810
    assert sum(a.size for a in p.data.values()) <= 500_000
    assert np.all(np.isfinite(p.x0))
    out = CliRunner().invoke(main, ["validate", str(_path(rel))])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("ok"), out.output


@pytest.mark.parametrize("rel", IDS)
def test_listed_in_readmes(rel):
    top = (PROBLEMS_DIR / "README.md").read_text()
    folder = (_path(rel).parent / "README.md").read_text()
    assert f"`{rel}`" in top, f"{rel} missing from problems/README.md"
    assert f"`{Path(rel).name}`" in folder, f"{rel} missing from its folder README"


def test_collection_covers_the_features():
    raw = {rel: yaml.safe_load(_path(rel).read_text()) for rel in IDS}
    kinds = {r["kind"] for r in raw.values()}
    assert {"minimize", "constrained", "finite_sum"} <= kinds
    sources = [spec for r in raw.values() for spec in (r.get("data") or {}).values() if isinstance(spec, dict)]
    assert any(s.get("dataset") == "breast_cancer" for s in sources)
    assert any(str(s.get("file", "")).endswith(".csv") for s in sources)
    assert any(str(s.get("file", "")).endswith(".npz") for s in sources)
    assert any(s.get("generate") == "ill_conditioned" for s in sources)
    oracles = [r.get("oracle") or {} for r in raw.values()]
    assert any("stochastic" in o for o in oracles) and any("noise" in o for o in oracles)
    cats = {rel: category(rel) for rel in IDS}
    assert "no_baseline" in cats.values()
    assert sum(1 for rel in IDS if problem(rel).baseline.objective is not None) >= 3
    text = " ".join([r["objective"] for r in raw.values() if isinstance(r.get("objective"), str)]
                    + [c if isinstance(c, str) else c["expr"] for r in raw.values()
                       for c in r.get("constraints") or ()])
    for atom in ("quad_form", "log_sum_exp", "logistic", "tanh", "sigmoid", "norm2", "mean"):
        assert f"{atom}(" in text, atom
    # every stochastic problem has test settings, every constrained one a numpy check
    assert {rel for rel, c in cats.items() if c == "stochastic"} == set(STOCHASTIC)
    assert {rel for rel, c in cats.items() if c == "constrained"} == set(FEASIBILITY)


# ---------------------------------------------------------------------------
# other kinds: the solver the registry dispatches reaches the baseline
# ---------------------------------------------------------------------------

# judged by the kind's own metric in the plugin's tests, not by stationarity
OTHER_KIND_EXEMPT = {
    "structured/unlearning/sine_poisoning.yaml":
        "an MLP unlearning replica judged by sup-norm error (plugins/minnorm-og/tests/test_minnorm_og.py); no method "
        "approaches the min-norm KKT point in the paper's 100 iterations",
}


@pytest.mark.parametrize("rel", of("training"))
def test_dispatched_solver_trains_training_problems(rel):
    """kind: training runs end at their budget; the dispatched solver must at least halve the
    held-out loss of the initial model (tests/test_training_kind.py checks known accuracies)."""
    start = solverhub.solve(problem(rel), None, options={"max_iterations": 0})
    r = solve(rel, None, with_baseline=False)
    assert r.status.value == "budget_exhausted", (r.solver, r.message)
    assert r.extras["test_loss"] <= 0.5 * start.extras["test_loss"], (r.solver, r.extras, start.extras)


@pytest.mark.parametrize("rel", of("latent_prior"))
def test_dispatched_solver_matches_the_latent_prior(rel):
    """kind: latent_prior (plugin mmd-prior) trains for its epoch budget; the dispatched solver must
    halve the held-out reconstruction error of the initial autoencoder and bring the aggregate
    posterior 5x closer to the prior in MMD^2 (plugins/mmd-prior/tests/test_mmd_prior.py checks KS and LPS)."""
    start = solverhub.solve(problem(rel), None, options={"max_iterations": 0})
    r = solve(rel, None, with_baseline=False)
    assert r.status.value == "budget_exhausted", (r.solver, r.message)
    assert r.extras["test_recon_mse"] <= 0.5 * start.extras["test_recon_mse"], (r.solver, r.extras)
    assert r.extras["mmd2_to_prior"] <= 0.2 * start.extras["mmd2_to_prior"], (r.solver, r.extras)


@pytest.mark.parametrize("rel", [r for r in of("other_kind") if r.values[0] not in OTHER_KIND_EXEMPT])
def test_dispatched_solver_solves_other_kinds(rel):
    """For kinds lbfgs refuses, the dispatched solver (the kind's paper plugin) makes real
    progress on the kind's stationarity measure and lands near the baseline where one exists."""
    p = problem(rel)
    start = solverhub.solve(p, None, options={"max_iterations": 0})
    r = solve(rel, None)
    assert r.status.value not in ("failed", "diverged"), (r.solver, r.message)
    assert r.stationarity.value <= max(1e-6, 0.01 * start.stationarity.value), (r.solver, r.stationarity)
    if r.baseline_objective is not None:
        assert abs(r.baseline_gap) <= 1e-2, (r.solver, r.objective, r.baseline_objective)


# ---------------------------------------------------------------------------
# bounds only: the dispatched solver (lbfgsb) reaches the baseline inside the box
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rel", of("bounds"))
def test_bounded_problems_reach_baseline_inside_the_box(rel):
    p = problem(rel)
    r = solve(rel, None, {"tolerance": 1e-7})
    assert r.solver == "lbfgsb" and r.status.value == "converged", (r.solver, r.message)
    assert r.stationarity.name == "projected_grad_norm"
    assert abs(r.baseline_gap) <= REL_TOL, (r.objective, r.baseline_objective, r.extras.get("baseline"))
    x = np.concatenate([sol(r, v.name).reshape(-1) for v in p.variables])
    lower, upper = p.structure.box(p.variables)
    assert np.all(x >= lower) and np.all(x <= upper)
    assert np.any(x == lower) or np.any(x == upper)        # a bound is active at each shipped optimum
    for name in ("gd", "lbfgs"):
        with pytest.raises(SolverRefused):
            solverhub.solve(p, name)


@pytest.mark.parametrize("rel", of("composite"))
def test_composite_problems_reach_baseline_with_fista(rel):
    r = solve(rel, None, {"tolerance": 1e-8})
    assert r.solver == "fista" and r.status.value == "converged", (r.solver, r.message)
    assert r.stationarity.name == "prox_grad_norm"
    assert r.extras["baseline"]["status"] == "certified", r.extras["baseline"]
    assert abs(r.baseline_gap) <= REL_TOL, (r.objective, r.baseline_objective, r.extras.get("baseline"))
    assert r.oracle_calls["grad_smooth"] > 0 and r.oracle_calls["grad"] == 0    # gradients of the smooth part


@pytest.mark.parametrize("rel", of("nonsmooth"))
def test_nonsmooth_problems_are_solved_in_epigraph_form(rel):
    """A nonsmooth objective with no cheap prox (max of abs): smooth and prox methods refuse, the
    dispatched solver (cvxpy when DCP, else trust-constr on the epigraph form) and slsqp on the
    epigraph form agree, judged by the epigraph KKT residual; the objective is f in numpy."""
    p = problem(rel)
    for name in ("fista", "proxgrad", "lbfgs"):
        with pytest.raises(SolverRefused):
            solverhub.solve(p, name)
    dispatched = solve(rel, None, with_baseline=False)
    slsqp = solve(rel, "slsqp", options={"tolerance": 1e-9}, with_baseline=False)
    for r in (dispatched, slsqp):
        assert r.status.value == "converged" and r.stationarity.name == "kkt_residual", r.message
    assert slsqp.objective == pytest.approx(dispatched.objective, rel=1e-4)
    name = p.variables[0].name
    v = sol(slsqp, name)
    model = p.data["V"] @ v if "V" in p.data else v[0] * np.exp(v[1] * p.data["t"])
    assert slsqp.objective == pytest.approx(np.abs(model - p.data["y"]).max(), rel=1e-9)


# ---------------------------------------------------------------------------
# unconstrained, exact gradients: lbfgs reaches the baseline / declared optimum
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rel", of("deterministic"))
def test_lbfgs_reaches_baseline(rel):
    r = solve(rel, "lbfgs", LBFGS_OPTIONS.get(rel))
    assert r.baseline_objective is not None, r.extras.get("baseline")
    assert np.isfinite(r.objective), r.message
    assert abs(r.baseline_gap) <= REL_TOL, (r.objective, r.baseline_objective, r.message)
    if problem(rel).baseline.objective is None:      # cvxpy's answer, certified by the torch oracle
        assert r.extras["baseline"]["backend_status"] in ("optimal", "optimal_inaccurate")
        assert baseline(rel).certificate.value < 1e-3


@pytest.mark.parametrize("rel", ["smooth/rosenbrock2d.yaml", "smooth/rosenbrock_chained10.yaml",
                                 "smooth/rosenbrock_extended10.yaml"])
def test_rosenbrock_minimizer_is_all_ones(rel):
    p = problem(rel)
    assert p.baseline.objective == 0.0
    assert not has_cvxpy_form(p)
    x = sol(solve(rel, "lbfgs", LBFGS_OPTIONS.get(rel)))
    np.testing.assert_allclose(x, np.ones_like(x), atol=1e-5)
    # the objective is what the description says
    f = lambda z: float(np.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2))  # noqa: E731
    if rel.endswith("extended10.yaml"):
        f = lambda z: float(np.sum(100 * (z[1::2] - z[0::2] ** 2) ** 2 + (1 - z[0::2]) ** 2))  # noqa: E731
    tp = p.lower_torch()
    import torch
    assert float(tp.objective(torch.as_tensor(p.x0))) == pytest.approx(f(p.x0), rel=1e-12)


def test_chained_rosenbrock_classical_start_is_a_local_minimum():
    """From (-1.2, 1, ..., 1) the chained Rosenbrock has a nonglobal stationary point
    f = 3.98658: the file therefore starts from CUTEst's i/(d+1)."""
    r = solverhub.solve(problem("smooth/rosenbrock_chained10.yaml"), "lbfgs",
                        options={"max_iterations": 200, "tolerance": 1e-6})
    assert r.objective < 1e-10
    from dataclasses import replace
    p = problem("smooth/rosenbrock_chained10.yaml")
    x0 = np.ones(10)
    x0[0] = -1.2
    local = solverhub.solve(replace(p, x0=x0), "lbfgs", options={"max_iterations": 200, "tolerance": 1e-6})
    assert local.objective == pytest.approx(3.98658, abs=1e-4)


def test_ridge_normal_equations():
    p = problem("smooth/ridge.yaml")
    A, b, lam = p.data["A"], p.data["b"], p.parameters["lam"]
    x = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)
    f = 0.5 * np.sum((A @ x - b) ** 2) + 0.5 * lam * np.sum(x ** 2)
    assert baseline("smooth/ridge.yaml").objective == pytest.approx(f, rel=1e-10)
    r = solve("smooth/ridge.yaml", "lbfgs")
    np.testing.assert_allclose(sol(r), x, atol=1e-6)
    assert r.objective == pytest.approx(f, rel=1e-10)


def test_ill_conditioned_lsq_matches_lstsq():
    rel = "smooth/ill_conditioned_lsq.yaml"
    p = problem(rel)
    A, b = p.data["A"], p.data["b"]
    assert np.linalg.cond(A) == pytest.approx(100.0, rel=1e-6)
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    f = 0.5 * np.sum((A @ x - b) ** 2)
    assert baseline(rel).objective == pytest.approx(f, rel=1e-9)
    np.testing.assert_allclose(baseline(rel).x, x, atol=1e-6)
    assert solve(rel, "lbfgs", LBFGS_OPTIONS[rel]).objective == pytest.approx(f, rel=REL_TOL)
    # the point of the problem: plain gradient descent is far from the optimum after 500 steps
    gd = solverhub.solve(p, "gd", options={"max_iterations": 500})
    assert rel_gap(gd.objective, f) > 1e-2


def _sklearn_logreg(X, y, lam, intercept):
    from sklearn.linear_model import LogisticRegression
    n = X.shape[0]
    clf = LogisticRegression(C=1.0 / (lam * n), fit_intercept=intercept, tol=1e-12, max_iter=100_000)
    clf.fit(X, y)
    return clf.coef_.ravel(), (float(clf.intercept_[0]) if intercept else 0.0)


def _logreg_objective(X, y, lam, w, c=0.0):
    return float(np.mean(np.logaddexp(0.0, -y * (X @ w + c))) + 0.5 * lam * np.sum(w ** 2))


@pytest.mark.parametrize("rel,intercept", [("smooth/logreg_breast_cancer.yaml", True),
                                           ("smooth/logistic_generated.yaml", False)])
def test_logistic_regression_matches_sklearn(rel, intercept):
    p = problem(rel)
    X, y, lam = p.data["X"], p.data["y"], p.parameters["lam"]
    if rel.endswith("breast_cancer.yaml"):
        assert X.shape == (569, 30) and set(np.unique(y)) == {-1.0, 1.0}
    w_ref, c_ref = _sklearn_logreg(X, y, lam, intercept)
    f_ref = _logreg_objective(X, y, lam, w_ref, c_ref)
    assert baseline(rel).objective == pytest.approx(f_ref, rel=1e-7)
    r = solve(rel, "lbfgs", LBFGS_OPTIONS.get(rel))
    w = sol(r, "w")
    c = float(sol(r, "c")) if intercept else 0.0
    assert _logreg_objective(X, y, lam, w, c) == pytest.approx(r.objective, rel=1e-12)
    assert r.objective == pytest.approx(f_ref, rel=1e-7)
    np.testing.assert_allclose(w, w_ref, atol=1e-3 * max(1.0, np.abs(w_ref).max()))
    assert c == pytest.approx(c_ref, abs=1e-3 * max(1.0, abs(c_ref)))


def test_smooth_lasso_optimality_in_numpy():
    rel = "smooth/smooth_lasso.yaml"
    p = problem(rel)
    A, b, lam, k = p.data["A"], p.data["b"], p.parameters["lam"], p.parameters["sharpness"]
    r = solve(rel, "lbfgs", LBFGS_OPTIONS[rel])
    x = sol(r)
    f = 0.5 * np.sum((A @ x - b) ** 2) + lam / k * np.sum(np.logaddexp(0, k * x) + np.logaddexp(0, -k * x))
    assert r.objective == pytest.approx(f, rel=1e-12)
    grad = A.T @ (A @ x - b) + lam * np.tanh(k * x / 2)
    assert np.linalg.norm(grad) <= 1e-4
    # the surrogate is within 2 log(2)/k of lam * ||x||_1
    pen = lam / k * np.sum(np.logaddexp(0, k * x) + np.logaddexp(0, -k * x))
    assert lam * np.abs(x).sum() <= pen <= lam * (np.abs(x).sum() + x.size * 2 * np.log(2) / k)


def test_log_sum_exp_optimality_in_numpy():
    rel = "smooth/log_sum_exp_affine.yaml"
    p = problem(rel)
    A, b, mu = p.data["A"], p.data["b"], p.parameters["mu"]
    x = sol(solve(rel, "lbfgs"))
    z = A @ x + b
    f = np.log(np.sum(np.exp(z - z.max()))) + z.max() + 0.5 * mu * x @ x
    assert baseline(rel).objective == pytest.approx(f, rel=1e-7)
    softmax = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    assert np.linalg.norm(A.T @ softmax + mu * x) <= 1e-5


def test_logcosh_regression_reads_csv_and_is_optimal():
    rel = "smooth/logcosh_regression_csv.yaml"
    p = problem(rel)
    table = np.loadtxt(_path("smooth/data/robust_regression.csv"), delimiter=",", skiprows=1)
    assert table.shape == (24, 4)
    np.testing.assert_array_equal(p.data["X"], table[:, :3])
    np.testing.assert_array_equal(p.data["y"], table[:, 3])
    r = solve(rel, "lbfgs")
    w, c = sol(r, "w"), float(sol(r, "c"))
    res = p.data["X"] @ w + c - p.data["y"]
    assert r.objective == pytest.approx(np.mean(np.log(np.cosh(res))), rel=1e-10)
    assert np.abs(table[:, :3].T @ np.tanh(res)).max() <= 1e-6 and abs(np.tanh(res).sum()) <= 1e-6
    # robust fit: close to the generating coefficients despite heavy-tailed noise
    np.testing.assert_allclose(w, [1.0, -2.0, 0.5], atol=0.5)


# ---------------------------------------------------------------------------
# nonconvex without a baseline
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rel", of("no_baseline"))
def test_nonconvex_reaches_a_stationary_point(rel):
    import torch
    p = problem(rel)
    with pytest.raises(SolverRefused):
        solverhub.solve(p, "cvxpy")
    with pytest.raises(NoBaseline):
        solverhub.compute_baseline(p)
    f0 = float(p.lower_torch().objective(torch.as_tensor(p.x0)))
    r = solve(rel, "lbfgs", {"max_iterations": 3000, "tolerance": 1e-7})
    assert r.baseline_objective is None and r.extras["baseline"]["status"] == "none"
    assert r.status.value == "converged", r.message
    assert r.stationarity.name == "grad_norm" and r.stationarity.value <= 1e-7
    assert r.objective < 0.5 * f0
    again = solverhub.solve(p, "lbfgs", options={"max_iterations": 3000, "tolerance": 1e-7})
    assert again.objective == r.objective        # deterministic


def test_tanh_net_objective_in_numpy():
    rel = "smooth/nonconvex_tanh_net.yaml"
    p = problem(rel)
    r = solve(rel, "lbfgs", {"max_iterations": 3000, "tolerance": 1e-7})
    W, v, u = sol(r, "W"), sol(r, "v"), sol(r, "u")
    X, y, lam = p.data["X"], p.data["y"], p.parameters["lam"]
    pred = np.tanh(X @ W) @ v + 1 / (1 + np.exp(-(X @ u)))
    f = np.mean((pred - y) ** 2) + 0.5 * lam * (np.sum(W ** 2) + np.sum(v ** 2) + np.sum(u ** 2))
    assert r.objective == pytest.approx(f, rel=1e-12)


# ---------------------------------------------------------------------------
# constrained: cvxpy's KKT residual and numpy feasibility
# ---------------------------------------------------------------------------

def _portfolio_violation(p, s):
    x = s["x"]
    return max(abs(x.sum() - 1.0), max(0.0, -x.min()))


FEASIBILITY = {
    "constrained/portfolio_simplex_qp.yaml": _portfolio_violation,
    "constrained/norm_ball_lsq.yaml": lambda p, s: max(0.0, np.linalg.norm(s["x"]) - p.parameters["radius"]),
    "constrained/nonneg_lsq.yaml": lambda p, s: max(0.0, -s["x"].min()),
    "constrained/min_norm_equality.yaml": lambda p, s: np.abs(p.data["A"] @ s["x"] - p.data["b"]).max(),
    # Hock-Schittkowski problems (optima checked in tests/test_constraints.py); bounds are variable bounds
    "constrained/hs021.yaml": lambda p, s: max(0.0, 10 - 10 * s["x"][0] + s["x"][1], 2 - s["x"][0]),
    "constrained/hs035.yaml": lambda p, s: max(0.0, s["x"] @ [1, 1, 2] - 3, -s["x"].min()),
    "constrained/hs071.yaml": lambda p, s: max(0.0, 25 - np.prod(s["x"]), abs(s["x"] @ s["x"] - 40),
                                               1 - s["x"].min(), s["x"].max() - 5),
    "constrained/hs076.yaml": lambda p, s: max(0.0, s["x"] @ [1, 2, 1, 1] - 5, s["x"] @ [3, 1, 2, -1] - 4,
                                               1.5 - s["x"] @ [0, 1, 4, 0], -s["x"].min()),
    # classics with named constraints (tests/test_classics.py checks them against hand KKT / closed forms)
    "constrained/markowitz.yaml": lambda p, s: max(_portfolio_violation(p, s), p.parameters["r_min"] - p.data["mu"] @ s["x"]),
    "constrained/max_entropy.yaml": lambda p, s: max(abs(s["p"].sum() - 1.0), abs(p.data["E"] @ s["p"] - 2.0)),
}


@pytest.mark.parametrize("rel", of("constrained"))
def test_constrained_kkt_and_feasibility(rel):
    p = problem(rel)
    ok, why = solverhub.get_registry().solvers["lbfgs"].cls().accepts(p)
    assert not ok, "lbfgs must refuse explicit constraints"
    r = solve(rel, None)                         # dispatched
    convex = has_cvxpy_form(p)                   # else (HS71) trust-constr: a local optimum, no baseline
    assert r.solver == ("cvxpy" if convex else "trust-constr"), r.extras.get("dispatch")
    assert r.status.value == "converged", r.message
    assert r.stationarity.name == "kkt_residual"
    assert r.stationarity.value < KKT_TOL_FOR.get(rel, KKT_TOL), r.message
    assert abs(r.baseline_gap) <= 1e-12 if convex else r.baseline_gap is None
    s = {k: np.asarray(v, dtype=np.float64) for k, v in r.solution.items()}
    assert FEASIBILITY[rel](p, s) <= FEAS_TOL
    # and the numpy check is not vacuous: it flags an infeasible point
    bad = {k: -10.0 * (v + 1.0) for k, v in s.items()}
    assert FEASIBILITY[rel](p, bad) > 1.0


def test_portfolio_kkt_in_numpy():
    rel = "constrained/portfolio_simplex_qp.yaml"
    p = problem(rel)
    S, mu, gamma = p.data["Sigma"], p.data["mu"], p.parameters["gamma"]
    np.testing.assert_array_equal(S, S.T)
    assert np.linalg.eigvalsh(S).min() > 0
    x = sol(solve(rel, None))
    g = 2 * gamma * S @ x - mu
    support = x > 1e-6
    assert 2 <= support.sum() <= 8, "both bounds and free weights occur"
    nu = g[support].mean()                       # multiplier of sum(x) == 1
    np.testing.assert_allclose(g[support], nu, atol=1e-7)
    assert np.all(g[~support] >= nu - 1e-7)      # reduced costs of the zero weights are >= 0
    assert baseline(rel).objective == pytest.approx(gamma * x @ S @ x - mu @ x, rel=1e-10)


def test_norm_ball_secular_equation():
    rel = "constrained/norm_ball_lsq.yaml"
    p = problem(rel)
    A, b, radius = p.data["A"], p.data["b"], p.parameters["radius"]
    assert np.linalg.norm(np.linalg.lstsq(A, b, rcond=None)[0]) > radius + 0.5, "constraint is active"
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    c = U.T @ b
    x_of = lambda lam: Vt.T @ (s * c / (s ** 2 + lam))  # noqa: E731
    lo, hi = 0.0, 1e6
    for _ in range(200):                         # ||x(lam)|| decreases in lam
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.linalg.norm(x_of(mid)) > radius else (lo, mid)
    x = x_of(lo)
    f = 0.5 * np.sum((A @ x - b) ** 2)
    r = solve(rel, None)
    assert r.objective == pytest.approx(f, rel=1e-8)
    np.testing.assert_allclose(sol(r), x, atol=2e-4)
    assert float(np.asarray(baseline(rel).duals[0])) == pytest.approx(lo * radius, rel=1e-3)


def test_nonneg_lsq_matches_scipy_nnls():
    from scipy.optimize import nnls
    rel = "constrained/nonneg_lsq.yaml"
    p = problem(rel)
    A, b = p.data["A"], p.data["b"]
    x, rnorm = nnls(A, b)
    assert 0 < np.sum(x == 0) < x.size, "some bounds active, some not"
    r = solve(rel, None)
    assert r.objective == pytest.approx(rnorm ** 2, rel=1e-9)
    np.testing.assert_allclose(sol(r), x, atol=1e-6)


def test_min_norm_equality_matches_pinv():
    rel = "constrained/min_norm_equality.yaml"
    p = problem(rel)
    A, b = p.data["A"], p.data["b"]
    x = np.linalg.pinv(A) @ b
    r = solve(rel, None)
    np.testing.assert_allclose(sol(r), x, atol=1e-8)
    assert r.objective == pytest.approx(0.5 * x @ x, rel=1e-10)


# ---------------------------------------------------------------------------
# stochastic oracles
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rel", of("stochastic"))
def test_stochastic_method_reaches_baseline(rel):
    solver, options, tol = STOCHASTIC[rel]
    r = solve(rel, solver, {**options, "trace_every": 100})
    assert r.oracle_calls["stochastic_grad"] >= options["max_iterations"] and r.oracle_calls["grad"] == 0
    assert np.isfinite(r.objective), r.message
    assert 0 <= r.baseline_gap + 1e-12 and r.baseline_gap <= tol, (r.objective, r.baseline_objective)
    # a different seed gives a different run (the oracle really is random), same accuracy
    other = solverhub.solve(problem(rel), solver, options={**options, "trace_every": 100}, seed=1)
    assert other.objective != r.objective
    assert rel_gap(other.objective, r.baseline_objective) <= tol


@pytest.mark.parametrize("rel", [r for r in STOCHASTIC if r not in SLOW])
def test_stochastic_gradients_are_unbiased(rel):
    import dataclasses

    import torch
    from solverhub.oracle import Oracle
    p = problem(rel)
    tp = p.lower_torch()
    oracle = Oracle(tp.objective, x0=tp.x0, n_rows=p.sections.n_rows,
                    config=dataclasses.replace(p.oracle_config, seed=123))
    x = tp.x0 + 0.1 * torch.randn(tp.x0.shape, generator=torch.Generator().manual_seed(0), dtype=tp.x0.dtype)
    full = oracle.peek_grad(x).numpy()
    K = 2000
    g = np.stack([oracle.grad(x).numpy() for _ in range(K)])
    assert oracle.counts["stochastic_grad"] == K
    se = g.std(axis=0, ddof=1) / np.sqrt(K)
    assert np.all(g.std(axis=0) > 0)
    z = np.abs(g.mean(axis=0) - full) / se
    assert z.max() < 5.5, z.max()
    sigma = np.broadcast_to(np.asarray(p.oracle_config.sigma, dtype=np.float64), full.shape)
    if np.any(sigma > 0):                       # additive N(0, sigma_i^2) noise, per coordinate
        np.testing.assert_allclose(g.std(axis=0), sigma, rtol=0.1)


def test_lsq_minibatch_closed_form():
    rel = "stochastic/lsq_minibatch.yaml"
    p = problem(rel)
    X, y = p.data["X"], p.data["y"]
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    assert baseline(rel).objective == pytest.approx(np.mean((X @ w - y) ** 2), rel=1e-9)
    assert p.oracle_config.batch_size == 16 and p.sections.n_rows == 500


def test_noisy_quadratic_closed_form():
    rel = "stochastic/noisy_quadratic.yaml"
    p = problem(rel)
    d, q = p.data["d"], p.data["q"]
    x = q / d
    assert baseline(rel).objective == pytest.approx(-0.5 * np.sum(q ** 2 / d), rel=1e-9)
    solver, options, _ = STOCHASTIC[rel]
    r = solve(rel, solver, {**options, "trace_every": 100})
    # constant step 0.1 with sigma 0.1: the iterate stays within a few noise levels of x*
    assert np.abs(sol(r) - x).max() < 0.2
