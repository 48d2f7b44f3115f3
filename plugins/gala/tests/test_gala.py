"""Tests of the ``gala`` plugin (arXiv 2506.08419), after the method note
/work/shared/methods/05-gala.md, section (c).

T1 robustness to eta0 against plain SGD at the same number of gradient calls,
T2 the freeze of the pure ratio of sums (negative control) and the floor that
prevents it, T3 the secant curvature inside the Hessian's spectrum; plus the
Adam base, the conformance kit, host syncs, counts and bad options. The
reference optimum comes from scipy's L-BFGS on a numpy closed form, not from
the solver.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
scipy_optimize = pytest.importorskip("scipy.optimize")

import solverhub  # noqa: E402
from solverhub.errors import OptionError  # noqa: E402
from solverhub.oracle import Oracle  # noqa: E402
from solverhub.result import Status  # noqa: E402
from solverhub.testing import check_solver, count_host_syncs  # noqa: E402
from solverhub_gala import GALA, GALAOptions, ftrl_step_size  # noqa: E402

ETA0_GRID = (1e-5, 1e-3, 1e-1, 1.0)
STEPS = 300
CALLS = 1 + 2 * STEPS          # GALA: 1 gradient at x0, 2 per step; SGD gets the same number of calls


# -- the note's problem: logistic regression, n = 500, d = 20, columns scaled by logspace(0, -1) --------------
LOGISTIC_YAML = """
name: gala-note-logistic
kind: finite_sum
description: the GALA note's test problem (labels sign(X w_true), 10% flipped), full batch
variables: {w: {shape: [20]}}
data:
  X: {file: X.npy}
  y: {file: y.npy}
parameters: {mu: 0.001}
objective: "mean(logistic(-y * (X @ w))) + 0.5 * mu * sum_squares(w)"
"""


def note_logistic_data(seed=0, n=500, d=20):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(0, -1, d)
    w_true = rng.standard_normal(d)
    y = np.sign(X @ w_true)
    y[rng.random(n) < 0.1] *= -1
    return X, y


@pytest.fixture(scope="module")
def logistic(tmp_path_factory):
    """(problem, f*) for the note's logistic problem; f* from scipy L-BFGS-B on a numpy closed form."""
    folder = tmp_path_factory.mktemp("gala-logistic")
    X, y = note_logistic_data()
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    (folder / "p.yaml").write_text(LOGISTIC_YAML)
    (folder / "minibatch.yaml").write_text(LOGISTIC_YAML + "oracle: {stochastic: {batch_size: 50, seed: 0}}\n")
    mu, n = 1e-3, len(y)

    def fg(w):
        m = y * (X @ w)
        return (np.logaddexp(0, -m).mean() + 0.5 * mu * w @ w,
                -(X.T @ (y * 0.5 * (1 - np.tanh(m / 2)))) / n + mu * w)
    ref = scipy_optimize.minimize(fg, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 10_000})
    assert np.linalg.norm(ref.jac) < 1e-7          # f - f* error ~ ‖g‖²/μ ≤ 1e-11
    return solverhub.load_problem(folder / "p.yaml"), float(ref.fun), solverhub.load_problem(folder / "minibatch.yaml")


def run(problem, solver, calls=CALLS, seed=0, **options):
    return solverhub.solve(problem, solver, seed=seed,
                           options={"max_oracle_calls": calls, "max_iterations": 10 * calls, "tolerance": 0.0,
                                    "trace_every": 50, **options})


# -- T1: robustness to eta0 -------------------------------------------------------------------------
def test_t1_gala_reaches_the_band_from_every_eta0_where_sgd_does_not(logistic):
    problem, f_star, _ = logistic
    finals = []
    for eta0 in ETA0_GRID:
        r = run(problem, "gala", lr=eta0)
        assert r.status is Status.BUDGET_EXHAUSTED and r.total_oracle_calls == CALLS
        assert r.oracle_calls["grad"] == CALLS and r.iterations == STEPS
        assert r.objective - f_star < 1e-3, (eta0, r.objective - f_star)   # the note's band
        assert r.objective - f_star < 1e-5, (eta0, r.objective - f_star)   # what we see: <= 6.2e-7
        assert r.extras["gradient_calls"] == CALLS
        finals.append(r.extras["eta_final"])
        sgd = run(problem, "sgd", lr=eta0)
        assert sgd.total_oracle_calls == CALLS and sgd.iterations == CALLS
        if eta0 <= 1e-1:
            assert sgd.objective - f_star > 1e-2, (eta0, sgd.objective - f_star)
    # the learnt step sizes agree: the final eta forgets eta0 (4.95 .. 5.39 when written)
    assert max(finals) / min(finals) < 1.25, finals


def test_t1_adam_base_is_robust_too(logistic):
    """Adam-GALA from every eta0 of the grid: f - f* < 1e-3 (below 1e-14 when written); Adam alone
    at eta0 <= 1e-3 stays > 1e-2 at the same calls."""
    problem, f_star, _ = logistic
    for eta0 in ETA0_GRID:
        r = run(problem, "gala", lr=eta0, base="adam")
        assert r.objective - f_star < 1e-8, (eta0, r.objective - f_star)
        if eta0 <= 1e-3:
            adam = run(problem, "adam", lr=eta0)
            assert adam.total_oracle_calls == CALLS and adam.objective - f_star > 1e-2


# -- T2: the pure ratio of sums freezes; the floor and regulariser do not -----------------------------------
@pytest.mark.parametrize("eta0", [10.0, 100.0])
def test_t2_pure_ratio_freezes_default_makes_progress(logistic, eta0):
    problem, f_star, _ = logistic
    pure = run(problem, "gala", lr=eta0, reg=0.0, eta_min=0.0)
    e = pure.extras
    assert e["eta_final"] == 0.0 and e["eta_min_seen"] == 0.0
    assert e["unmoved_steps"] >= STEPS - 5                     # x stopped after the first overshoot ...
    objectives = [p.objective for p in pure.trace]
    assert len(set(objectives[1:])) == 1                          # ... for ever (every sampled objective equal)
    assert pure.objective - f_star > 5e-2                          # stuck far from the optimum (0.107, 2.13)
    assert all(math.isfinite(p.objective) for p in pure.trace)
    default = run(problem, "gala", lr=eta0)
    assert default.extras["eta_final"] > 1.0 and default.extras["unmoved_steps"] == 0
    assert default.objective - f_star < 1e-3
    assert all(math.isfinite(p.objective) and math.isfinite(p.stationarity) for p in default.trace)


QUADRATIC_AT_MIN = """
name: at-the-minimum
kind: minimize
variables: {x: {shape: [3]}}
data: {H: [[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 3.0]]}
objective: "0.5 * quad_form(x, H)"
"""


@pytest.mark.parametrize("options", [{}, {"base": "adam"}, {"base": "adam", "eps": 0.0},
                                      {"reg": 0.0, "eta_min": 0.0}])
def test_no_nan_when_x_does_not_move(options):
    """Started at the minimizer, d = 0 and x_{t+1} = x_t: L_t is 0/0. No NaN; eta stays eta0 (0/0 keeps it).
    (Stepped by hand: the run loop would stop at once, the gradient being 0.)"""
    problem = solverhub.load_problem(QUADRATIC_AT_MIN)
    tp = problem.lower_torch("cpu", torch.float64)
    oracle = Oracle.for_problem(tp, problem)
    solver, opts = GALA(), GALAOptions(lr=0.3, **options)
    state = solver.init(problem, oracle, oracle.x0, opts)
    for _ in range(20):
        state = solver.step(state, oracle, opts)
        assert float(state.L_last) == 0.0 and float(state.eta) == 0.3
    assert torch.equal(state.x, torch.zeros(3, dtype=torch.float64))
    e = solver.report(state, oracle, opts)
    assert e["eta_final"] == 0.3 and e["unmoved_steps"] == 20 and e["curvature_min"] is None
    assert all(math.isfinite(v) for v in (e["sum_alignment"], e["sum_curvature_term"], e["reg_weight"]))
    assert oracle.counts["grad"] == 1 + 2 * 20


def test_ftrl_closed_form_and_zero_denominators():
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    # (λ0 η0 + Σa)/(λ0 + Σb) = (0.5*2 + 3)/(0.5 + 1) = 8/3, inside the box
    assert float(ftrl_step_size(t(3.0), t(1.0), t(0.5), 2.0, t(9.0), 1e-8, 1e6)) == pytest.approx(8 / 3)
    assert float(ftrl_step_size(t(-3.0), t(1.0), t(0.0), 2.0, t(9.0), 1e-8, 1e6)) == 1e-8     # floor
    assert float(ftrl_step_size(t(3.0), t(1e-9), t(0.0), 2.0, t(9.0), 1e-8, 10.0)) == 10.0    # cap
    assert float(ftrl_step_size(t(0.0), t(0.0), t(0.0), 2.0, t(9.0), 1e-8, 1e6)) == 9.0       # 0/0: keep η
    assert float(ftrl_step_size(t(1.0), t(0.0), t(0.0), 2.0, t(9.0), 1e-8, 1e6)) == 1e6       # +/0: cap
    assert float(ftrl_step_size(t(-1.0), t(0.0), t(0.0), 2.0, t(9.0), 0.0, 1e6)) == 0.0       # -/0: floor


# -- T3: the secant curvature lies in the Hessian's spectrum -------------------------------------------------
def _quadratic(dim=8, seed=4, noise=""):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    lam = np.linspace(0.5, 20.0, dim)
    H = (Q * lam) @ Q.T
    x0 = rng.standard_normal(dim).tolist()
    text = (f"name: quad\nkind: minimize\nvariables: {{x: {{shape: [{dim}], x0: {x0}}}}}\n"
            f"data: {{H: {H.tolist()}}}\nobjective: \"0.5 * quad_form(x, H)\"\n{noise}")
    problem = solverhub.load_problem(text)
    tp = problem.lower_torch("cpu", torch.float64)
    return problem, Oracle.for_problem(tp, problem, config=problem.oracle_config), H, lam


@pytest.mark.parametrize("base", ["sgd", "adam"])
@pytest.mark.parametrize("noise", ["", "oracle: {noise: {sigma: 0.5, seed: 3}}"])
def test_t3_every_secant_curvature_is_in_the_spectrum(base, noise):
    problem, oracle, H, lam = _quadratic(noise=noise)
    solver, options = GALA(), GALAOptions(lr=0.3, base=base)
    state = solver.init(problem, oracle, oracle.x0, options)
    for _ in range(60):
        x_old = state.x
        state = solver.step(state, oracle, options)
        s = (state.x - x_old).numpy()
        L = float(state.L_last)
        assert L == pytest.approx(np.linalg.norm(H @ s) / np.linalg.norm(s), rel=1e-9)   # independent secant
        assert lam[0] * (1 - 1e-9) <= L <= lam[-1] * (1 + 1e-9), L
    report = solver.report(state, oracle, options)
    assert lam[0] * (1 - 1e-9) <= report["curvature_min"] <= report["curvature_max"] <= lam[-1] * (1 + 1e-9)
    # the iterates really spread over the spectrum (not one eigenvector)
    assert report["curvature_max"] - report["curvature_min"] > 1.0


def test_t3_negative_control_independent_draws_leave_the_spectrum():
    """With the noise drawn afresh for each point (two grad calls instead of grad_pair) the 'secant'
    ‖g(x') − g(x)‖/‖x' − x‖ leaves [λmin, λmax]: the same-draw pair is what T3 relies on."""
    problem, oracle, H, lam = _quadratic(noise="oracle: {noise: {sigma: 0.5, seed: 3}}")
    x = oracle.x0
    outside = 0
    for k in range(20):
        y = x - 1e-3 * oracle.peek_grad(x)
        L = float(torch.linalg.vector_norm(oracle.grad(y) - oracle.grad(x)) / torch.linalg.vector_norm(y - x))
        outside += not (lam[0] <= L <= lam[-1])
        x = y
    assert outside >= 18


# -- minibatch oracle: same rows for the pair, counted per gradient call -------------------------------------
def test_minibatch_robustness_and_counts(logistic):
    """The note's problem with a minibatch oracle (50 rows): from every eta0 in 1e-5 .. 10 both bases end
    within 1e-2 of f* at 601 gradient calls (3.6e-3 .. 7.2e-3 when written); SGD at eta0 <= 1e-3 stays > 0.1.
    Both gradients of a step are on one batch, and every one is counted as a stochastic gradient."""
    _, f_star, minibatch = logistic
    for eta0 in (1e-5, 1e-3, 1e-1, 1.0, 10.0):
        for base in ("sgd", "adam"):
            r = run(minibatch, "gala", lr=eta0, base=base)
            assert r.oracle_calls["stochastic_grad"] == CALLS == r.extras["gradient_calls"]
            assert r.objective - f_star < 1e-2, (eta0, base, r.objective - f_star)
        if eta0 <= 1e-3:
            assert run(minibatch, "sgd", lr=eta0).objective - f_star > 0.1


# -- conformance, host syncs, options, CLI ----------------------------------------------------------------
# check_solver(cls) with its defaults runs on every registered solver in tests/test_conformance.py


def test_no_host_syncs_in_step(monkeypatch):
    problem, oracle, _, _ = _quadratic()
    solver = GALA()
    for base in ("sgd", "adam"):
        options = GALAOptions(base=base)
        state = solver.init(problem, oracle, oracle.x0, options)
        syncs = count_host_syncs(monkeypatch, ("__float__", "item", "__bool__", "tolist", "cpu", "numpy"))
        for _ in range(50):
            state = solver.step(state, oracle, options)
        assert syncs["n"] == 0, syncs
        monkeypatch.undo()


def test_bad_options():
    with pytest.raises(OptionError, match="adam, sgd|sgd, adam"):
        solverhub.solve(QUADRATIC_AT_MIN, "gala", options={"base": "foo"})
    for bad in ({"lr": 0.0}, {"lr": -1.0}, {"eta_min": 1.0, "eta_max": 0.5}, {"reg": -1.0}, {"beta1": 1.0}):
        with pytest.raises(OptionError):
            solverhub.solve(QUADRATIC_AT_MIN, "gala", options=bad)
    with pytest.raises(ValueError, match="sgd, adam"):
        GALAOptions(base="foo")


def test_cli_bad_base_is_one_line_exit_2(tmp_path):
    from click.testing import CliRunner
    from solverhub.cli import main
    path = tmp_path / "p.yaml"
    path.write_text(QUADRATIC_AT_MIN)
    out = CliRunner().invoke(main, ["solve", str(path), "--solver", "gala", "--option", "base=foo"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    lines = [line for line in out.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "sgd" in lines[0] and "adam" in lines[0] and "base" in lines[0], out.output


def test_plugin_loads_without_torch():
    code = ("import sys, solverhub_gala, solverhub_gala.plugin; assert 'torch' not in sys.modules; "
            "from solverhub.registry import get_registry; assert 'gala' in get_registry().solvers")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu(logistic):
    problem, _, _ = logistic
    cpu = solverhub.solve(problem, "gala", device="cpu", options={"max_iterations": 100, "lr": 1e-3})
    gpu = solverhub.solve(problem, "gala", device="cuda", options={"max_iterations": 100, "lr": 1e-3})
    assert gpu.device.startswith("cuda") and gpu.objective == pytest.approx(cpu.objective, rel=1e-8)


@pytest.mark.parametrize("base", ["sgd", "adam"])
def test_float32_agrees_with_float64(base):
    from solverhub.testing import TINY_PROBLEMS
    p = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    options = {"tolerance": 1e-4, "max_iterations": 3000, "base": base}
    r64 = solverhub.solve(p, "gala", options=options)
    r32 = solverhub.solve(p, "gala", dtype="float32", options=options)
    assert r64.status is Status.CONVERGED and r32.status is Status.CONVERGED
    assert r32.dtype == "float32" and r32.objective == pytest.approx(r64.objective, rel=1e-5)
