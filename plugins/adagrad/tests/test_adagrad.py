"""Tests of the ``adagrad`` plugin (solvers ``adagrad`` and ``sgd``, arXiv 2406.04592), after
the method note /work/shared/methods/12-adagrad-l1.md, section (c). All in float64.

Each test compares with an answer computed without the solver (closed forms, a numpy
AdaGrad, gradient descent in closed form) or with a control that must behave differently,
so each can fail.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import solverhub  # noqa: E402
from solverhub.options import RunOptions  # noqa: E402
from solverhub.oracle import Oracle, OracleConfig  # noqa: E402
from solverhub.solver import run_loop  # noqa: E402
from solverhub.testing import TINY_PROBLEMS, check_entry_point, check_solver, count_host_syncs  # noqa: E402
from solverhub_adagrad import (SGD, AdaGrad, AdaGradOptions, SGDOptions,  # noqa: E402
                               tune_step)
from solverhub_adagrad.adagrad import adagrad_direction  # noqa: E402

F64 = torch.float64


# tiny tensors: one intra-op thread, as solverhub.solve uses for small problems (run_loop called
# directly does not set it); solverhub.testing's fixture
pytestmark = pytest.mark.usefixtures("single_thread")


# -- helpers ----------------------------------------------------------------
def iterates(solver_cls, options, f, x0, T, *, config=OracleConfig()):
    """x_0 .. x_T of ``solver_cls`` on f through the shared run loop, and the solver's report."""
    x0 = torch.as_tensor(x0, dtype=F64)
    oracle = Oracle(lambda x, rows: f(x), x0=x0, config=config)
    xs = []

    def measure(x, state):
        xs.append(x.clone())
        value, grad = oracle.peek_value_and_grad(x)
        return value, torch.linalg.vector_norm(grad, 1)

    solver = solver_cls()
    out = run_loop(solver, None, oracle, x0, options, RunOptions(max_iterations=T, tolerance=0.0, trace_every=1),
                   measure)
    assert out.iterations == T, out.message
    return torch.stack(xs), solver.report(out.state, oracle, options), oracle


def max_relative_gap(xs, ys):
    return float(((xs - ys).abs().amax(dim=1) / xs.abs().amax(dim=1).clamp(min=1.0)).max())


def separable_yaml(L, x0, sigma=None, seed=0, name="separable"):
    """f = ½ Σ L_i x_i², optionally with per-coordinate gradient noise sigma_i."""
    text = f"""
name: {name}
kind: minimize
variables: {{x: {{shape: [{len(L)}], x0: {list(map(float, x0))}}}}}
data: {{L: {list(map(float, L))}}}
objective: "0.5 * sum(L * square(x))"
"""
    if sigma is not None:
        text += f"oracle: {{noise: {{sigma: {list(map(float, sigma))}, seed: {seed}}}}}\n"
    return text


class RobustRegression:
    """Nonconvex: mean log(1 + r²/2) of residuals r = A x − b, plus a small ridge."""

    def __init__(self, n=30, d=8, seed=0):
        rng = np.random.default_rng(seed)
        self.A = torch.tensor(rng.standard_normal((n, d)))
        self.b = torch.tensor(rng.standard_normal(n) * 3)

    def __call__(self, x, scale=1.0):
        r = self.A @ x - self.b
        return scale * (torch.log1p(0.5 * r * r).mean() + 1e-3 * (x @ x))


# -- (c1) scale invariance with eps = 0 --------------------------------------
def test_iterates_unchanged_when_f_is_scaled_eps0():
    """f → 7.3·f with eps = 0: g → 7.3 g and sqrt(v) → 7.3 sqrt(v), so every iterate is unchanged.
    Controls: sgd (step ∝ g) and adagrad with eps = 1e-2 are not invariant."""
    f = RobustRegression()
    x0 = np.linspace(-1, 1, 8)
    opts = AdaGradOptions(eta=0.3, eps=0.0)
    xs, _, _ = iterates(AdaGrad, opts, f, x0, 150)
    ys, _, _ = iterates(AdaGrad, opts, lambda x: f(x, 7.3), x0, 150)
    assert float((xs[-1] - xs[0]).abs().max()) > 0.5            # it moved
    assert max_relative_gap(xs, ys) <= 1e-12

    sx, _, _ = iterates(SGD, SGDOptions(lr=0.3), f, x0, 150)
    sy, _, _ = iterates(SGD, SGDOptions(lr=0.3), lambda x: f(x, 7.3), x0, 150)
    assert max_relative_gap(sx, sy) > 1e-2

    ex, _, _ = iterates(AdaGrad, AdaGradOptions(eta=0.3, eps=1e-2), f, x0, 150)
    ey, _, _ = iterates(AdaGrad, AdaGradOptions(eta=0.3, eps=1e-2), lambda x: f(x, 7.3), x0, 150)
    assert max_relative_gap(ex, ey) > 1e-6


def test_matches_numpy_adagrad_and_reports_its_statistics():
    """Iterates, min/mean-over-t gradient norms and effective steps equal an independent numpy AdaGrad."""
    rng = np.random.default_rng(1)
    M = rng.standard_normal((6, 6))
    H = M @ M.T / 6 + np.diag([5.0, 1, 0.5, 0.1, 0.05, 0.01])
    q = rng.standard_normal(6)
    Ht, qt = torch.tensor(H), torch.tensor(q)
    eta, eps, T = 0.2, 1e-10, 80
    xs, rep, oracle = iterates(AdaGrad, AdaGradOptions(eta=eta, eps=eps),
                               lambda x: 0.5 * x @ Ht @ x - qt @ x, np.ones(6), T)

    x, v, ref, norms = np.ones(6), np.zeros(6), [np.ones(6)], []
    for _ in range(T):
        g = H @ x - q
        norms.append((np.abs(g).sum(), np.linalg.norm(g)))
        v = v + g * g
        x = x - eta * g / (np.sqrt(v) + eps)
        ref.append(x)
    g = H @ x - q
    norms.append((np.abs(g).sum(), np.linalg.norm(g)))          # the final iterate x_T counts too
    assert np.abs(xs.numpy() - np.array(ref)).max() <= 1e-12
    l1, l2 = np.array(norms).T
    assert rep["grad_stats"] == "exact" and rep["grad_stats_count"] == T + 1
    assert rep["grad_l1_min"] == pytest.approx(l1.min(), rel=1e-12)
    assert rep["grad_l1_mean"] == pytest.approx(l1.mean(), rel=1e-12)
    assert rep["grad_l2_min"] == pytest.approx(l2.min(), rel=1e-12)
    assert rep["grad_l2_mean"] == pytest.approx(l2.mean(), rel=1e-12)
    assert rep["l1_l2_ratio_mean"] == pytest.approx((l1 / l2).mean(), rel=1e-12)
    assert rep["l1_l2_ratio_last"] == pytest.approx(l1[-1] / l2[-1], rel=1e-12)
    steps = eta / (np.sqrt(v) + eps)
    es = rep["effective_step"]
    assert es["min"] == pytest.approx(steps.min(), rel=1e-12) and es["max"] == pytest.approx(steps.max(), rel=1e-12)
    assert es["mean"] == pytest.approx(steps.mean(), rel=1e-12)
    assert es["median"] == pytest.approx(np.sort(steps)[2], rel=1e-12)     # lower median of 6
    assert rep["frozen_coordinates"] == 0
    assert oracle.counts == {"value": 0, "grad": T, "hvp": 0, "stochastic_grad": 0}


# -- (c2) skewed separable quadratic: AdaGrad vs the best constant-step GD --
def test_skewed_separable_adagrad_beats_best_gd_by_1e3():
    """L = [100, 0.01 × 49], x0 = 1, T = 200, η = 0.5: every coordinate follows the same AdaGrad
    dynamics whatever its L_i; GD's best step from {0.25, .., 1.9}/L_max leaves ‖∇f‖₁ ≈ 0.47."""
    L = np.array([100.0] + [0.01] * 49)
    problem = solverhub.load_problem(separable_yaml(L, np.ones(50)))
    ada = solverhub.solve(problem, "adagrad", options={"eta": 0.5, "eps": 0.0, "max_iterations": 200,
                                                       "tolerance": 0.0, "trace_every": 200})
    assert ada.stationarity.name == "grad_norm_l1" and ada.iterations == 200
    # GD in closed form: x_i(T) = (1 − η L_i)^T.
    gd = {c: np.abs(L * (1 - c / L.max() * L) ** 200).sum() for c in (0.25, 0.5, 1.0, 1.5, 1.9)}
    best_gd = min(gd.values())
    assert 0.45 < best_gd < 0.49
    assert ada.stationarity.value <= 1e-3 * best_gd
    assert ada.stationarity.value <= 1e-6                        # note: measured 2e-47
    # the plugin's sgd with exact gradients is that GD
    sgd = solverhub.solve(problem, "sgd", options={"lr": 1.9 / 100, "max_iterations": 200, "tolerance": 0.0,
                                                   "trace_every": 200})
    assert sgd.stationarity.value == pytest.approx(gd[1.9], rel=1e-10)


# -- (c3) noise on a few coordinates: AdaGrad vs SGD tuned on a 5-point grid ----
def test_stochastic_adagrad_beats_tuned_sgd_in_min_l1():
    """d = 100: 5 coordinates with L = 1 and σ = 10, 95 with L = 0.01, σ = 0, x0 = 10; T = 2000.

    SGD's step must stay small for the noisy coordinates and is then too small for the flat
    ones; AdaGrad's per-coordinate steps adapt to both. η = 1 = 0.1·‖x0 − x*‖∞ (the note's rule).
    Measured: AdaGrad ≈ 0.57, best SGD (lr = 0.3) ≈ 3.6 (mean over 5 seeds of min_t ‖∇f(x_t)‖₁).
    The minimum is measured in closed form (‖L ⊙ x_t‖₁) at every iterate, independently of the extras."""
    d, k, T = 100, 5, 2000
    L = torch.tensor([1.0] * k + [0.01] * (d - k), dtype=F64)
    config = {seed: OracleConfig(sigma=(10.0,) * k + (0.0,) * (d - k), seed=seed) for seed in range(5)}
    grid = (0.01, 0.03, 0.1, 0.3, 1.0)

    def min_l1(cls, options, seed):
        """min over x_0..x_T of ‖∇f(x_t)‖₁ = ‖L ⊙ x_t‖₁, measured in closed form at every iterate."""
        x0 = torch.full((d,), 10.0, dtype=F64)
        oracle = Oracle(lambda x, rows: 0.5 * (L * x * x).sum(), x0=x0, config=config[seed])
        torch.manual_seed(seed)
        out = run_loop(cls(), None, oracle, x0, options, RunOptions(max_iterations=T, tolerance=0.0, trace_every=1),
                       lambda x, state: (x.sum(), (L * x).abs().sum()))
        assert out.iterations == T and oracle.counts["stochastic_grad"] == T
        return min(p.stationarity for p in out.trace)

    ada = [min_l1(AdaGrad, AdaGradOptions(eta=1.0, grad_stats="off"), seed) for seed in range(5)]
    sgd_mean = {lr: np.mean([min_l1(SGD, SGDOptions(lr=lr, grad_stats="off"), seed) for seed in range(5)])
                for lr in grid}
    best = min(sgd_mean, key=sgd_mean.get)
    assert best not in (grid[0], grid[-1]), sgd_mean             # the grid brackets SGD's best step
    assert np.mean(ada) < sgd_mean[best] / 3, (np.mean(ada), sgd_mean)


# -- (c4) 0/0 = 0 per coordinate ---------------------------------------------
@pytest.mark.parametrize("noisy", [False, True])
def test_coordinates_with_zero_gradient_never_move_eps0(noisy):
    """f depends on x[:3] only: the other 5 coordinates always get g = 0 (also with noise σ = 0 there);
    with eps = 0, v = 0 there, and 0/0 must give 0 (no NaN, no move)."""
    x0 = torch.tensor([1.0, -2.0, 0.5, 0.7, -0.3, 2.0, 1e-3, -5.0], dtype=F64)
    config = OracleConfig(sigma=(0.5, 0.5, 0.5, 0, 0, 0, 0, 0), seed=3) if noisy else OracleConfig()
    xs, rep, _ = iterates(AdaGrad, AdaGradOptions(eta=0.4, eps=0.0),
                          lambda x: (x[:3] ** 2).sum() + x[0] * x[1] ** 2, x0, 60, config=config)
    assert torch.isfinite(xs).all()
    assert torch.equal(xs[:, 3:], x0[3:].expand(61, 5))         # bitwise: never moved
    assert (xs[-1, :3] != x0[:3]).all()
    assert rep["frozen_coordinates"] == 5 and math.isfinite(rep["effective_step"]["max"])
    # the naive formula is what this guards against
    zero = torch.zeros(1, dtype=F64)
    assert torch.isnan(zero / torch.sqrt(zero)).all()
    assert torch.equal(adagrad_direction(zero, zero, 0.0), zero)


def test_all_coordinates_frozen_report():
    """∇f ≡ 0 (the run loop would stop at x0, so step by hand): nothing moves, no step to summarize."""
    x0 = torch.ones(3, dtype=F64)
    oracle = Oracle(lambda x, rows: 0.0 * x.sum(), x0=x0)
    solver, options = AdaGrad(), AdaGradOptions(eps=0.0)
    state = solver.init(None, oracle, x0, options)
    for _ in range(5):
        state = solver.step(state, oracle, options)
    rep = solver.report(state, oracle, options)
    assert torch.equal(state.x, x0) and rep["frozen_coordinates"] == 3 and rep["effective_step"] is None
    assert rep["grad_l1_min"] == 0.0 and rep["l1_l2_ratio_mean"] == 1.0


# -- statistics: which gradient, and agreement with the trace ----------------
def test_exact_statistics_agree_with_the_trace_under_noise():
    """grad_stats=exact: min_t ‖∇f(x_t)‖₁ over x_0..x_T equals the run loop's exact trace;
    grad_stats=oracle uses the noisy g_t (larger here); the peeks are not counted."""
    T = 300
    text = separable_yaml([4.0, 1.0, 0.25, 0.1], [1.0, -1.0, 2.0, 3.0], sigma=[0.3, 0.3, 0.3, 0.3], seed=5)
    problem = solverhub.load_problem(text)
    for name, opts in (("adagrad", {"eta": 0.2}), ("sgd", {"lr": 0.05})):
        exact = solverhub.solve(problem, name, options={**opts, "max_iterations": T, "tolerance": 0.0,
                                                       "trace_every": 1}, seed=5)
        trace = [p.stationarity for p in exact.trace]
        assert len(trace) == T + 1 and exact.extras["grad_stats_count"] == T + 1
        assert exact.extras["grad_l1_min"] == pytest.approx(min(trace), rel=1e-12)
        assert exact.extras["grad_l1_mean"] == pytest.approx(np.mean(trace), rel=1e-12)
        assert exact.oracle_calls == {"value": 0, "grad": 0, "hvp": 0, "stochastic_grad": T}
        noisy = solverhub.solve(problem, name, options={**opts, "max_iterations": T, "tolerance": 0.0,
                                                       "trace_every": T, "grad_stats": "oracle"}, seed=5)
        assert noisy.objective == exact.objective                # same iterates, only the statistics differ
        assert noisy.extras["grad_stats"] == "oracle" and noisy.extras["grad_stats_count"] == T
        assert noisy.extras["grad_l1_mean"] > 1.2 * exact.extras["grad_l1_mean"]
        off = solverhub.solve(problem, name, options={**opts, "max_iterations": T, "grad_stats": "off"}, seed=5)
        assert off.extras["grad_stats"] == "off" and "grad_l1_min" not in off.extras


# -- tuning the constant step --------------------------------------------------
def test_tune_step_picks_the_known_best_constant_step():
    """f = 5 x², x0 = 1 (L = 10): GD with lr = 1/L lands on 0 in one step. The score of each lr is
    min over t ≤ T of |∇f(x_t)| = 10·|1 − 10 lr|^t, known in closed form."""
    problem = solverhub.load_problem(separable_yaml([10.0], [1.0]))
    grid = (0.01, 0.05, 0.1, 0.15, 0.25)
    T = 30
    tuned = tune_step(problem, "sgd", grid=grid, options={"max_iterations": T, "tolerance": 0.0})
    assert tuned.best == 0.1 and tuned.best_score == 0.0 and not tuned.at_edge
    for lr in grid:
        expected = min(10 * abs(1 - 10 * lr) ** t for t in range(T + 1))
        assert tuned.scores[lr] == pytest.approx(expected, rel=1e-9, abs=1e-300)
    edge = tune_step(problem, "sgd", grid=(0.01, 0.02), options={"max_iterations": T, "tolerance": 0.0})
    assert edge.best == 0.02 and edge.at_edge


def test_tune_step_scores_diverged_runs_as_infinite():
    problem = solverhub.load_problem(separable_yaml([10.0], [1.0]))
    tuned = tune_step(problem, "sgd", grid=(0.05, 5.0), options={"max_iterations": 400, "tolerance": 0.0})
    assert tuned.scores[5.0] == math.inf and tuned.best == 0.05
    assert tuned.results[5.0][0].status.value == "diverged"


# -- conformance, syncs, options, registration -------------------------------
# check_solver(cls) with its defaults runs on every registered solver in tests/test_conformance.py


@pytest.mark.parametrize("solver,options", [("adagrad", {"eps": 0.0}), ("sgd", {"lr": 0.1})])
@pytest.mark.parametrize("noisy", [False, True])
def test_no_host_syncs_per_iteration(solver, options, noisy, monkeypatch):
    """Host syncs (float, item, bool, int, tolist, cpu) happen only at trace samples and once at the end."""
    text = TINY_PROBLEMS["minimize"] + ("oracle: {noise: {sigma: 0.1, seed: 0}}\n" if noisy else "")
    problem = solverhub.load_problem(text)
    syncs = count_host_syncs(monkeypatch, ("__float__", "item", "__bool__", "__int__", "tolist", "cpu"))
    result = solverhub.solve(problem, solver, options={**options, "max_iterations": 200, "tolerance": 0.0,
                                                       "trace_every": 50})
    assert result.iterations == 200 and len(result.trace) == 5
    assert syncs["n"] <= 2 * len(result.trace) + 10, syncs["n"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("solver,options", [("adagrad", {"eps": 0.0}), ("sgd", {"lr": 0.1})])
def test_cuda_matches_cpu(solver, options):
    problem = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    opts = {**options, "max_iterations": 200, "tolerance": 0.0}
    cpu = solverhub.solve(problem, solver, device="cpu", options=opts)
    gpu = solverhub.solve(problem, solver, device="cuda", options=opts)
    assert gpu.device.startswith("cuda") and gpu.objective == pytest.approx(cpu.objective, rel=1e-10)
    assert gpu.extras["grad_l1_min"] == pytest.approx(cpu.extras["grad_l1_min"], rel=1e-8)


@pytest.mark.parametrize("cls,bad", [(AdaGradOptions, dict(eta=0.0)), (AdaGradOptions, dict(eps=-1e-3)),
                                     (AdaGradOptions, dict(eta=math.inf)), (SGDOptions, dict(lr=-0.1)),
                                     (SGDOptions, dict(lr=math.nan))])
def test_invalid_options_rejected(cls, bad):
    with pytest.raises(ValueError):
        cls(**bad)


def test_bad_option_is_a_user_error():
    from solverhub.errors import OptionError
    problem = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    with pytest.raises(OptionError, match="eta"):
        solverhub.solve(problem, "adagrad", options={"eta": "-1"})
    with pytest.raises(OptionError):
        solverhub.solve(problem, "sgd", options={"grad_stats": "sometimes"})


def test_plugin_registered_without_importing_torch():
    """Registered by its entry point; loading it imports no torch."""
    check_entry_point('adagrad', solvers=('adagrad', 'sgd'))
