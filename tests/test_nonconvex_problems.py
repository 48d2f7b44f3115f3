"""The nonconvex problem set (problems/nonconvex/): known answers, checked independently.

* the promised files exist and validate from the CLI;
* every declared optimum is right: ``lbfgs`` and ``bfgs-wolfe`` reach it to a
  relative 1e-8 on each deterministic file, nobody goes below it, and it is
  recomputed independently (closed form for the cubic-regularized saddle, an
  exact 2-d reduction plus grid search for the ODOG problem, scipy multistart
  for robust regression);
* the data files are what the READMEs say (reproduced byte for byte from
  ``data/make_data.py``'s numpy part; the digits CSV's shape and class balance);
* stochastic files are stochastic (the deterministic methods refuse them) and
  their noise is what the file says (per-coordinate sigma, measured);
* the skewed and isotropic separable problems have the same mean curvature,
  and the skew does what the AdaGrad note says it does to gradient descent.

Tiny problems run faster single-threaded, so the module sets
``torch.set_num_threads(1)``.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

import solverhub
from solverhub.baseline import NoBaseline
from solverhub.errors import SolverRefused

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "problems" / "nonconvex"
DATA = FOLDER / "data"

PROMISED = {
    "robust_regression", "robust_regression_minibatch", "digits_mlp", "rosenbrock_chained50",
    "cubic_regularized_saddle", "odog_quadratic_quartic", "odog_quadratic_quartic_noisy",
    "skewed_separable", "skewed_separable_nonconvex", "skewed_separable_noisy", "isotropic_separable",
}
STOCHASTIC = {"robust_regression_minibatch", "odog_quadratic_quartic_noisy", "skewed_separable_noisy"}
DECLARED = {                      # deterministic files with a declared optimum: f*
    "robust_regression": 0.1570900930296083,
    "rosenbrock_chained50": 0.0,
    "cubic_regularized_saddle": -1.0 / 6.0,
    "odog_quadratic_quartic": 0.04492095291244966,
    "skewed_separable": 0.0,
    "skewed_separable_nonconvex": 0.0,
    "isotropic_separable": 0.0,
}
REL_TOL = 1e-8


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


@functools.lru_cache(maxsize=None)
def problem(name: str):
    return solverhub.load_problem(FOLDER / f"{name}.yaml")


@functools.lru_cache(maxsize=None)
def solve(name: str, solver: str):
    return solverhub.solve(problem(name), solver, options={"max_iterations": 5000, "tolerance": 1e-9},
                           baseline=True)


def value_and_grad(name: str, x: np.ndarray) -> tuple[float, np.ndarray]:
    import torch
    from solverhub.oracle import Oracle
    tp = problem(name).lower_torch()
    f, g = Oracle(tp.objective, x0=tp.x0).peek_value_and_grad(torch.as_tensor(x, dtype=torch.float64))
    return float(f), g.numpy()


def numpy_objective(name: str, x: np.ndarray) -> float:
    """The problem's objective written again in numpy, from its description."""
    p = problem(name)
    if name.startswith("odog_quadratic_quartic"):
        return float(0.5 * x @ p.data["H"] @ x + 0.25 * np.sum((x[:2] ** 2 - 1) ** 2))
    if name == "cubic_regularized_saddle":
        return float(0.5 * x @ p.data["H"] @ x + p.parameters["rho"] / 3 * np.linalg.norm(x) ** 3)
    if name.startswith("robust_regression"):
        r = p.data["X"] @ x[:20] + x[20] - p.data["y"]
        return float(np.mean(r ** 2 / (1 + r ** 2)))
    if name == "rosenbrock_chained50":
        return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
    if name == "skewed_separable_nonconvex":
        return float(0.5 * np.sum(p.data["L"] * x ** 2 / (1 + x ** 2)))
    return float(0.5 * np.sum(p.data["L"] * x ** 2))


def make_data_module():
    spec = importlib.util.spec_from_file_location("nonconvex_make_data", DATA / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def multistart_min(fun_and_grad, dim: int, starts: int, scale: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = [minimize(fun_and_grad, scale * rng.normal(size=dim), jac=True, method="BFGS",
                       options={"gtol": 1e-10, "maxiter": 2000}).fun for _ in range(starts)]
    return np.asarray(values)


# ---------------------------------------------------------------------------
# the files
# ---------------------------------------------------------------------------

def test_promised_files_and_readmes():
    assert {p.stem for p in FOLDER.glob("*.yaml")} == PROMISED
    readme = (FOLDER / "README.md").read_text()
    top = (ROOT / "problems" / "README.md").read_text()
    for name in PROMISED:
        assert f"`{name}.yaml`" in readme and f"`nonconvex/{name}.yaml`" in top, name
    assert sum(f.stat().st_size for f in DATA.iterdir()) < 300_000


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_validates_and_matches_numpy(name):
    from click.testing import CliRunner
    from solverhub.cli import main
    out = CliRunner().invoke(main, ["validate", str(FOLDER / f"{name}.yaml")])
    assert out.exit_code == 0 and out.output.startswith("ok"), out.output
    p = problem(name)
    assert p.name == name and p.description.strip()
    assert p.oracle_config.stochastic == (name in STOCHASTIC)
    if name == "digits_mlp":
        return                                  # checked in its own test
    x = p.x0 + 0.3 * np.random.default_rng(0).normal(size=p.dim)
    assert value_and_grad(name, x)[0] == pytest.approx(numpy_objective(name, x), rel=1e-12)


# ---------------------------------------------------------------------------
# declared optima are reached, never beaten
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["lbfgs", "bfgs-wolfe"])
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_declared_optimum_is_reached(name, solver):
    p = problem(name)
    assert p.baseline.objective == DECLARED[name]
    r = solve(name, solver)
    assert r.baseline_objective == DECLARED[name]
    gap = r.baseline_gap
    assert -1e-14 <= gap <= REL_TOL, (r.objective, DECLARED[name], r.message)
    x = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in r.solution.values()])
    assert numpy_objective(name, x) == pytest.approx(r.objective, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_no_convex_baseline_hides_the_declaration(name):
    """The declared value is the only baseline where cvxpy cannot solve the problem."""
    p = problem(name)
    if name in ("skewed_separable", "isotropic_separable"):
        base = solverhub.compute_baseline(p, use_declared=False)   # convex: cvxpy agrees
        assert base.objective == pytest.approx(0.0, abs=1e-8)
    else:
        with pytest.raises(NoBaseline):
            solverhub.compute_baseline(p, use_declared=False)


def test_cubic_regularized_saddle_closed_form():
    name = "cubic_regularized_saddle"
    p = problem(name)
    H, rho = p.data["H"], p.parameters["rho"]
    np.testing.assert_array_equal(H, H.T)
    lam, U = np.linalg.eigh(H)
    np.testing.assert_allclose(lam, [-1, -0.5, -0.2, 0.1, 0.5, 1, 2, 3, 5, 10], atol=1e-12)
    # stationary points: (H + rho ||x|| I) x = 0, so x = t u with lambda = -rho t, f = lambda^3 / (6 rho^2)
    f_star = -abs(lam[0]) ** 3 / (6 * rho ** 2)
    assert p.baseline.objective == pytest.approx(f_star, rel=1e-14)
    for j in range(3):
        x = (-lam[j] / rho) * U[:, j]
        f, g = value_and_grad(name, x)
        assert np.linalg.norm(g) < 1e-13 and f == pytest.approx(lam[j] ** 3 / (6 * rho ** 2), rel=1e-13)
    # brute force: no start does better
    fg = lambda z: (numpy_objective(name, z), H @ z + rho * np.linalg.norm(z) * z)  # noqa: E731
    values = multistart_min(fg, 10, starts=40, scale=1.0, seed=0)
    assert values.min() >= f_star - 1e-12
    assert values.min() == pytest.approx(f_star, abs=1e-10)
    # the start is next to the strict saddle 0, and the solvers leave it for the global minimizer
    assert np.linalg.norm(p.x0) < 1e-2
    for solver in ("lbfgs", "bfgs-wolfe"):
        x = np.asarray(solve(name, solver).solution["x"])
        assert np.linalg.norm(x) == pytest.approx(abs(lam[0]) / rho, rel=1e-5)
        assert abs(x @ U[:, 0]) / np.linalg.norm(x) == pytest.approx(1.0, abs=1e-8)


def test_odog_problem_is_the_notes_and_its_optimum_is_global():
    name = "odog_quadratic_quartic"
    p = problem(name)
    H = p.data["H"]
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), np.sort(np.logspace(0, -2, 20)), rtol=1e-12)
    np.testing.assert_array_equal(p.x0, 5.0 * np.random.default_rng(1).standard_normal(20))
    # minimizing out the 18 quadratic coordinates is exact: g(u) = 1/2 u'Su + 1/4 sum (u_i^2 - 1)^2,
    # S the Schur complement (positive definite), so g >= 1/4 sum (u_i^2 - 1)^2 > f* outside [-2, 2]^2
    A, B = slice(0, 2), slice(2, 20)
    S = H[A, A] - H[A, B] @ np.linalg.solve(H[B, B], H[B, A])
    assert np.linalg.eigvalsh(S).min() > 0 and 0.25 * 9 > DECLARED[name]
    t = np.linspace(-2, 2, 1601)
    U, V = np.meshgrid(t, t)
    G = 0.5 * (S[0, 0] * U ** 2 + 2 * S[0, 1] * U * V + S[1, 1] * V ** 2) + 0.25 * ((U ** 2 - 1) ** 2 + (V ** 2 - 1) ** 2)
    k = np.unravel_index(G.argmin(), G.shape)
    u = np.array([U[k], V[k]])
    for _ in range(30):                          # Newton from the best grid point
        u = u - np.linalg.solve(S + np.diag(3 * u ** 2 - 1), S @ u + u * (u ** 2 - 1))
    x = np.concatenate([u, -np.linalg.solve(H[B, B], H[B, A] @ u)])
    f, g = value_and_grad(name, x)
    assert np.linalg.norm(g) < 1e-13
    assert f == pytest.approx(DECLARED[name], rel=1e-13)
    assert G.min() >= DECLARED[name] - 1e-6       # grid spacing 2.5e-3: the grid is never below f*
    # the second pair of minima, where adam and gd end from this start
    fg = lambda z: (numpy_objective(name, z), H @ z + np.r_[z[:2] * (z[:2] ** 2 - 1), np.zeros(18)])  # noqa: E731
    values = multistart_min(fg, 20, starts=30, scale=2.0, seed=0)
    assert values.min() >= DECLARED[name] - 1e-12
    assert set(np.round(values, 6)) <= {round(DECLARED[name], 6), 0.0994}


def test_robust_regression_optimum_and_robustness():
    name = "robust_regression"
    p = problem(name)
    X, y = p.data["X"], p.data["y"]
    assert X.shape == (500, 20) and y.shape == (500,)
    A = np.column_stack([X, np.ones(500)])

    def fg(z):
        r = A @ z - y
        return np.mean(r ** 2 / (1 + r ** 2)), A.T @ (2 * r / (1 + r ** 2) ** 2) / 500
    values = multistart_min(fg, 21, starts=30, scale=1.0, seed=1)
    assert values.min() >= DECLARED[name] - 1e-12
    assert np.mean(values < DECLARED[name] + 1e-9) > 0.8
    # the data: 75 gross outliers; the robust fit recovers w_true, least squares does not
    _, _, w_true, bad = make_data_module().robust_regression()
    res = y - X @ w_true
    assert np.sum(np.abs(res) > 4) == 75 and set(np.flatnonzero(np.abs(res) > 4)) == set(bad)
    w = np.asarray(solve(name, "lbfgs").solution["w"])
    assert np.abs(w - w_true).max() < 0.02
    assert np.abs(np.linalg.lstsq(A, y, rcond=None)[0][:20] - w_true).max() > 0.2
    # nonconvex: there are other local minima (from far starts)
    far = multistart_min(fg, 21, starts=10, scale=3.0, seed=2)
    assert far.max() > DECLARED[name] + 0.5


def test_rosenbrock50_minimizer_and_the_classical_start():
    name = "rosenbrock_chained50"
    p = problem(name)
    np.testing.assert_allclose(p.x0, np.arange(1, 51) / 51, rtol=1e-15)
    for solver in ("lbfgs", "bfgs-wolfe"):
        np.testing.assert_allclose(solve(name, solver).solution["x"], np.ones(50), atol=1e-5)
    x0 = np.ones(50)
    x0[0] = -1.2
    local = solverhub.solve(dataclasses.replace(p, x0=x0), "bfgs-wolfe", options={"max_iterations": 2000})
    assert local.objective == pytest.approx(3.98662, abs=1e-4), "the description's nonglobal local minimum"


# ---------------------------------------------------------------------------
# data files
# ---------------------------------------------------------------------------

def test_numpy_data_files_are_reproducible(tmp_path):
    # regenerated on this CPU vs shipped (made on another): BLAS kernels may differ in the last bits,
    # so the arrays must agree to rtol 1e-12 (relative to the largest entry), not byte for byte
    make_data_module().write_numpy_files(tmp_path)
    for name in ("robust_regression.csv", "odog_H.npy", "cubic_H.npy"):
        if name.endswith(".csv"):
            assert (tmp_path / name).read_text().splitlines()[0] == (DATA / name).read_text().splitlines()[0]
            fresh, shipped = (np.loadtxt(folder / name, delimiter=",", skiprows=1) for folder in (tmp_path, DATA))
        else:
            fresh, shipped = np.load(tmp_path / name), np.load(DATA / name)
        assert fresh.shape == shipped.shape, name
        np.testing.assert_allclose(fresh, shipped, rtol=1e-12, atol=1e-12 * np.abs(shipped).max(), err_msg=name)


def test_digits_csv_shape_and_class_balance():
    table = np.loadtxt(DATA / "digits.csv", delimiter=",", skiprows=1)
    assert (DATA / "digits.csv").read_text().splitlines()[0].split(",")[-1] == "y"
    assert table.shape == (357, 65)
    X, y = table[:, :64], table[:, 64]
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))    # pixel / 16, stored exactly
    assert (y == -1).sum() == 183 and (y == 1).sum() == 174   # digit 3 -> -1, digit 8 -> +1
    p = problem("digits_mlp")
    np.testing.assert_array_equal(p.data["X"], X)
    np.testing.assert_array_equal(p.data["y"], y)
    assert p.sections.n_rows == 357 and p.dim == 64 * 8 + 8 + 8 + 1


def test_digits_mlp_saddle_at_zero_and_a_stationary_point():
    import torch
    name = "digits_mlp"
    p = problem(name)
    with pytest.raises(NoBaseline):
        solverhub.compute_baseline(p)
    # W = b = v = 0 with the intercept at the log-odds is a stationary point with negative curvature
    tp = p.lower_torch()
    z = torch.zeros(p.dim, dtype=torch.float64)
    z[-1] = float(np.log(174 / 183))
    assert torch.linalg.vector_norm(torch.func.grad(tp.objective)(z)) < 1e-14
    lam_min = torch.linalg.eigvalsh(torch.autograd.functional.hessian(tp.objective, z, vectorize=True))[0]
    assert lam_min < -0.1
    # the seeded start is away from it, and both quasi-Newton methods reach a stationary point
    assert np.abs(p.x0[: 64 * 8]).max() > 0.1
    X, y, lam = p.data["X"], p.data["y"], p.parameters["lam"]
    f0 = float(tp.objective(torch.as_tensor(p.x0)))
    for solver in ("lbfgs", "bfgs-wolfe"):
        r = solverhub.solve(p, solver, options={"max_iterations": 3000, "tolerance": 1e-7})
        assert r.status.value == "converged" and r.stationarity.value <= 1e-7, r.message
        W, b, v, c = (np.asarray(r.solution[k]) for k in "Wbvc")
        out = np.tanh(X @ W + b) @ v + c
        f = np.mean(np.logaddexp(0, -y * out)) + 0.5 * lam * (np.sum(W ** 2) + np.sum(v ** 2))
        assert r.objective == pytest.approx(f, rel=1e-12) and r.objective < 0.25 * f0
        assert np.mean(np.sign(out) == y) > 0.98


# ---------------------------------------------------------------------------
# stochastic files
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(STOCHASTIC))
def test_stochastic_files_are_refused_by_deterministic_methods(name):
    p = problem(name)
    assert p.oracle_config.stochastic
    for solver in ("lbfgs", "bfgs-wolfe"):
        with pytest.raises(SolverRefused):
            solverhub.solve(p, solver)
    twin = {"robust_regression_minibatch": "robust_regression",
            "odog_quadratic_quartic_noisy": "odog_quadratic_quartic",
            "skewed_separable_noisy": None}[name]
    if twin:                                      # same problem as its deterministic twin
        q = problem(twin)
        assert p.baseline.objective == q.baseline.objective
        np.testing.assert_array_equal(p.x0, q.x0)
        assert p.data.keys() == q.data.keys() and all(np.array_equal(p.data[k], q.data[k]) for k in p.data)
        assert not q.oracle_config.stochastic


def _gradient_samples(name: str, K: int):
    import torch
    from solverhub.oracle import Oracle
    p = problem(name)
    tp = p.lower_torch()
    oracle = Oracle(tp.objective, x0=tp.x0, n_rows=p.sections.n_rows, config=p.oracle_config)
    full = oracle.peek_grad(tp.x0).numpy()
    g = np.stack([oracle.grad(tp.x0).numpy() for _ in range(K)])
    assert oracle.counts["stochastic_grad"] == K and oracle.counts["grad"] == 0
    return g, full


def test_skewed_noisy_sigma_is_per_coordinate():
    name = "skewed_separable_noisy"
    p = problem(name)
    sigma = np.asarray(p.oracle_config.sigma)
    assert sigma.shape == (100,) == (p.dim,)
    assert np.flatnonzero(sigma == 5.0).tolist() == [1, 2, 3] and np.all(np.delete(sigma, [1, 2, 3]) == 0.01)
    np.testing.assert_array_equal(p.data["L"], [100.0] + [0.01] * 99)
    g, full = _gradient_samples(name, 2000)
    np.testing.assert_allclose(g.std(axis=0), sigma, rtol=0.1)
    assert np.all(np.abs(g.mean(axis=0) - full) < 5 * sigma / np.sqrt(2000))


def test_odog_noisy_sigma_and_minibatch_unbiased():
    g, full = _gradient_samples("odog_quadratic_quartic_noisy", 1000)
    np.testing.assert_allclose(g.std(axis=0), 0.01, rtol=0.15)
    assert problem("robust_regression_minibatch").oracle_config.batch_size == 32
    g, full = _gradient_samples("robust_regression_minibatch", 2000)
    se = g.std(axis=0, ddof=1) / np.sqrt(2000)
    assert np.all(g.std(axis=0) > 0) and np.max(np.abs(g.mean(axis=0) - full) / se) < 5.5


# ---------------------------------------------------------------------------
# skewed vs isotropic separable problems
# ---------------------------------------------------------------------------

def test_skewed_and_isotropic_have_the_same_mean_curvature():
    skewed, nonconvex, iso = (problem(n).data["L"] for n in
                              ("skewed_separable", "skewed_separable_nonconvex", "isotropic_separable"))
    np.testing.assert_array_equal(skewed, [100.0] + [0.01] * 49)
    np.testing.assert_array_equal(nonconvex, skewed)
    assert iso.shape == skewed.shape == (50,) and np.all(iso == iso[0])
    assert iso.mean() == pytest.approx(skewed.mean(), rel=1e-14)
    # the mean curvature is the Hessian's trace / d, computed from the oracle
    import torch
    for name in ("skewed_separable", "isotropic_separable", "skewed_separable_nonconvex"):
        tp = problem(name).lower_torch()
        hess = torch.autograd.functional.hessian(tp.objective, torch.zeros(50, dtype=torch.float64))
        assert float(torch.trace(hess)) / 50 == pytest.approx(2.0098, rel=1e-12)
    for name in ("skewed_separable", "isotropic_separable", "skewed_separable_nonconvex"):
        assert problem(name).dim == 50


def test_skew_hurts_gradient_descent_as_the_adagrad_note_says():
    """Note test 2: best GD over eta in {0.25, 0.5, 1, 1.5, 1.9}/L_max, 200 steps, ends at ||grad||_1 = 0.47
    on the skewed problem; on the isotropic control one step 1/L solves it exactly."""
    L = problem("skewed_separable").data["L"]
    x0 = problem("skewed_separable").x0
    best = min(np.sum(np.abs(L * (1 - c / L.max() * L) ** 200 * x0)) for c in (0.25, 0.5, 1, 1.5, 1.9))
    assert best == pytest.approx(0.47, abs=0.01)
    Li = problem("isotropic_separable").data["L"]
    x0 = problem("isotropic_separable").x0
    _, g = value_and_grad("isotropic_separable", x0)
    f1, g1 = value_and_grad("isotropic_separable", x0 - g / Li[0])
    assert f1 == 0.0 and np.all(g1 == 0.0)
    # and that same step on the skewed problem (its mean curvature) overshoots the stiff coordinate
    _, g = value_and_grad("skewed_separable", problem("skewed_separable").x0)
    f1, _ = value_and_grad("skewed_separable", problem("skewed_separable").x0 - g / Li[0])
    assert f1 > 1e3


def test_skewed_nonconvex_coordinate_smoothness():
    """Each term 1/2 L t^2/(1+t^2) has second derivative L (1 - 3t^2)/(1+t^2)^3: at most L in size,
    equal to L at 0, and negative at the start t = 2 (concave region) for every coordinate."""
    p = problem("skewed_separable_nonconvex")
    t = np.linspace(-10, 10, 200_001)
    h = (1 - 3 * t ** 2) / (1 + t ** 2) ** 3
    assert np.abs(h).max() == pytest.approx(1.0) and h[100_000] == 1.0
    assert np.all(p.x0 == 2.0) and np.all((1 - 3 * p.x0 ** 2) < 0)
    _, g = value_and_grad("skewed_separable_nonconvex", p.x0)
    np.testing.assert_allclose(g, 2 * p.data["L"] / 25, rtol=1e-14)
