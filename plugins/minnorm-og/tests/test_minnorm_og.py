"""The ``minnorm-og`` plugin: the ``unlearning`` kind, MinNorm-OG (arXiv 2505.22601) and the
baselines retrain / gd-retain / ga-forget / neggrad-plus.

What must hold (method note 06-unlearning-minnorm-og.md):
* T1, linear model: the trained model is the minimum-norm interpolator pinv(X) y, the retain
  loss gradient is exactly zero there (gradient descent on retain does not move), and ONE
  MinNorm-OG step with λ = 0 (reg_coef = 1) gives the minimum-norm retain interpolator
  pinv(X_r) y_r to 1e-10;
* T2, the sine "poisoning" replica: MinNorm-OG's sup-norm error to sin is below GD's and GA's
  (each at its best learning rate of the paper's grid);
* T3, the orthogonal step: JΔ = 0, ‖θ + Δ‖ ≤ ‖θ‖, and Δ solves min ‖θ+Δ‖² + λ‖Δ‖² s.t. JΔ = 0
  (checked against the KKT system solved by numpy);
and the kind's YAML errors, measures, reports, reference, and no host syncs in ``step``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import solverhub
from solverhub.errors import ProblemError
from solverhub.reference import ReferenceStatus
from solverhub.result import Status
from solverhub.testing import check_entry_point, check_solver
from solverhub_minnorm_og import (GAForget, GDRetain, MinNormOG, MinNormOGOptions, NegGradPlus, Retrain,
                                  null_component, orthogonal_step)
from solverhub_minnorm_og.kind import Unlearning
from solverhub_minnorm_og.model import ACTIVATIONS, ModelSpec, TorchModel, init_params

ROOT = Path(__file__).resolve().parents[3]
LINEAR = ROOT / "problems/structured/unlearning/linear_minnorm.yaml"
SINE = ROOT / "problems/structured/unlearning/sine_poisoning.yaml"

TINY = Unlearning.tiny_problem   # the kind's own tiny instance (the conformance kit's default)


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


@pytest.fixture(scope="module")
def linear():
    p = solverhub.load_problem(LINEAR)
    X, y = p.data["X"], p.data["y"]
    retain = np.arange(X.shape[0]) >= 10                 # forget: {first: 10}
    return p, X, y, retain, np.linalg.pinv(X) @ y, np.linalg.pinv(X[retain]) @ y[retain]


@pytest.fixture(scope="module")
def sine():
    return solverhub.load_problem(SINE)


def w(result):
    return np.asarray(result.solution["w"], dtype=np.float64)


# -- conformance ----------------------------------------------------------------
# gd-retain, ga-forget and neggrad-plus are the paper's failing baselines: at the trained
# interpolator their loss gradients vanish, so they are not asked to close the gap.
@pytest.mark.parametrize("cls,progress", [(MinNormOG, 0.99), (Retrain, 0.99), (GDRetain, -math.inf),
                                          (GAForget, -math.inf), (NegGradPlus, -math.inf)],
                         ids=lambda v: getattr(v, "name", ""))
def test_conformance(cls, progress):
    check_solver(cls, problems={"unlearning": TINY}, max_iterations=300, progress=progress)


# -- T1: the linear model ---------------------------------------------------------
def test_trained_model_is_min_norm_interpolator_with_zero_retain_gradient(linear):
    p, X, y, retain, theta_star, theta_r = linear
    start = solverhub.solve(p, "gd-retain", options={"max_iterations": 0})
    np.testing.assert_allclose(w(start), theta_star, atol=1e-12)
    tp = p.lower_torch()
    oracle = solverhub.oracle.Oracle.for_problem(tp, p)
    assert float(torch.linalg.vector_norm(oracle.peek_grad(tp.x0, of="retain"))) < 1e-13
    assert float(torch.linalg.vector_norm(oracle.peek_grad(tp.x0, of="forget"))) < 1e-13
    assert np.linalg.norm(theta_star - theta_r) > 0.1           # unlearning has something to do


def test_one_minnorm_og_step_is_the_min_norm_retain_interpolator(linear):
    p, X, y, retain, theta_star, theta_r = linear
    r = solverhub.solve(p, "minnorm-og", options={"max_iterations": 1, "reg_coef": 1.0})
    assert r.iterations == 1 and r.status is Status.CONVERGED, r.message
    np.testing.assert_allclose(w(r), theta_r, atol=1e-10)
    assert np.abs(X[retain] @ w(r) - y[retain]).max() < 1e-10        # still interpolates the retain set
    assert r.extras["distance_to_retrain"] < 1e-10
    assert r.extras["model_gradients"] == retain.sum() and r.oracle_calls["grad_retain"] == 1
    assert r.stationarity.name == "minnorm_kkt" and r.stationarity.value < 1e-10


def test_gradient_methods_do_not_move_from_the_interpolator(linear):
    p, X, y, retain, theta_star, theta_r = linear
    gap = np.linalg.norm(theta_star - theta_r)
    # (plain gradient steps; Adam divides a zero-up-to-rounding gradient by √v̂ + ε, a step of
    # lr/ε times rounding, which is unstable: it does drift off the interpolator.)
    for solver, opts in (("gd-retain", {}), ("neggrad-plus", {})):
        r = solverhub.solve(p, solver, options={"max_iterations": 50, **opts})
        assert np.abs(w(r) - theta_star).max() < 1e-9, solver
        assert r.extras["distance_to_retrain"] == pytest.approx(gap, rel=1e-8)
        assert r.stationarity.value == pytest.approx(gap, rel=1e-8)     # KKT residual = ‖P_null θ*‖
        assert r.status is Status.MAX_ITERATIONS


def test_partial_coefficient_and_decay(linear):
    """c_t = reg_coef · decay^k: the null component θ* − θ_r shrinks by (1 − c0)(1 − c0·decay)."""
    p, X, y, retain, theta_star, theta_r = linear
    r1 = solverhub.solve(p, "minnorm-og", options={"max_iterations": 1, "reg_coef": 0.3})
    np.testing.assert_allclose(w(r1), theta_r + 0.7 * (theta_star - theta_r), atol=1e-10)
    r2 = solverhub.solve(p, "minnorm-og", options={"max_iterations": 2, "reg_coef": 0.3, "reg_coef_decay": 0.5})
    np.testing.assert_allclose(w(r2), theta_r + 0.7 * 0.85 * (theta_star - theta_r), atol=1e-10)
    assert r2.extras["projections"] == 2 and r2.extras["last_reg_coef"] == pytest.approx(0.15)
    r3 = solverhub.solve(p, "minnorm-og", options={"max_iterations": 3, "reg_coef": 0.3, "proj_every": 2})
    assert r3.extras["projections"] == 2                           # iterations 0 and 2
    r4 = solverhub.solve(p, "minnorm-og", options={"max_iterations": 3, "reg_coef": 0.3, "projection_steps": 1})
    assert r4.extras["projections"] == 1


def test_retrain_from_zero_reaches_the_reference(linear):
    p, X, y, retain, theta_star, theta_r = linear
    r = solverhub.solve(p, "retrain", options={"max_iterations": 500, "tolerance": 1e-9})
    assert r.status is Status.CONVERGED, r.message
    np.testing.assert_allclose(w(r), theta_r, atol=1e-8)
    assert r.oracle_calls["grad_retain"] == r.iterations


def test_subsampled_jacobian(linear):
    """n_pert < n_retain: the rows come from the oracle's seeded generator; with a negligible loss
    step one iteration gives the min-norm interpolator of exactly those rows."""
    p, X, y, retain, theta_star, theta_r = linear
    opts = {"max_iterations": 3, "reg_coef": 1.0, "n_pert": 10, "tolerance": 0.0}
    a, b = (solverhub.solve(p, "minnorm-og", options=opts, seed=s) for s in (0, 1))
    again = solverhub.solve(p, "minnorm-og", options=opts, seed=0)
    assert a.extras["model_gradients"] == 30 and a.extras["projections"] == 3
    assert w(a).tolist() == w(again).tolist() and np.abs(w(a) - w(b)).max() > 1e-6
    for seed in (0, 3):
        one = solverhub.solve(p, "minnorm-og", seed=seed,
                              options={**opts, "max_iterations": 1, "optimizer": "gd", "lr": 1e-30})
        rows = torch.randperm(30, generator=torch.Generator().manual_seed(seed))[:10].numpy()
        Xs, ys = X[retain][rows], y[retain][rows]
        np.testing.assert_allclose(w(one), np.linalg.pinv(Xs) @ ys, atol=1e-10)
        assert one.extras["distance_to_retrain"] > 1e-2        # 10 of 30 rows: not the retain interpolator


def test_reference_measure_and_report_in_numpy(linear):
    p, X, y, retain, theta_star, theta_r = linear
    base = solverhub.compute_baseline(p)
    assert base.status is ReferenceStatus.CERTIFIED            # the closed form is θ_r* itself
    np.testing.assert_allclose(base.x, theta_r, atol=1e-12)
    assert base.objective == pytest.approx(0.5 * theta_r @ theta_r, rel=1e-12)
    assert base.certificate.name == "minnorm_kkt" and base.certificate.value < 1e-12
    r = solverhub.solve(p, "minnorm-og", options={"max_iterations": 1, "reg_coef": 0.5})
    x, e = w(r), r.extras
    f = ~retain
    assert e["forget_mse"] == pytest.approx(np.mean((X[f] @ x - y[f]) ** 2), rel=1e-10)
    assert e["forget_mse_of_retrain"] == pytest.approx(np.mean((X[f] @ theta_r - y[f]) ** 2), rel=1e-10)
    assert e["forget_max_output_gap_to_retrain"] == pytest.approx(np.abs(X[f] @ (x - theta_r)).max(), rel=1e-8)
    assert e["distance_to_retrain"] == pytest.approx(np.linalg.norm(x - theta_r), rel=1e-8)
    assert e["start_distance_to_retrain"] == pytest.approx(np.linalg.norm(theta_star - theta_r), rel=1e-10)
    assert e["n_retain"] == 30 and e["n_forget"] == 10
    assert r.objective == pytest.approx(0.5 * x @ x, rel=1e-12)


# -- T3: the orthogonal step --------------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 0.5, 9.0])
@pytest.mark.parametrize("duplicate_rows", [False, True])
def test_orthogonal_step_solves_the_perturbation_problem(lam, duplicate_rows):
    spec = ModelSpec("mlp", 2, (8, 6), "tanh", True)
    model = TorchModel(spec, torch.device("cpu"), torch.float64)
    gen = torch.Generator().manual_seed(3)
    theta = torch.tensor(init_params(spec, 1, 1.0)) + 0.1 * torch.randn(model.dim, generator=gen, dtype=torch.float64)
    X = torch.randn(12, 2, generator=gen, dtype=torch.float64)
    if duplicate_rows:
        X = torch.cat([X, X[:4]])                   # J is rank deficient: 16 rows, rank 12
    J = model.jacobian(theta, X)
    new, delta = orthogonal_step(theta, J, 1.0 / (1.0 + lam))
    assert float(torch.linalg.vector_norm(J @ delta)) <= 1e-8 * float(torch.linalg.vector_norm(delta))
    assert float(torch.linalg.vector_norm(new)) <= float(torch.linalg.vector_norm(theta))
    # KKT of min ‖θ+Δ‖² + λ‖Δ‖² s.t. JΔ = 0 in numpy (lstsq: J may be rank deficient)
    Jn, th, d = J.numpy(), theta.numpy(), theta.numel()
    kkt = np.block([[2 * (1 + lam) * np.eye(d), Jn.T], [Jn, np.zeros((Jn.shape[0],) * 2)]])
    rhs = np.concatenate([-2 * th, np.zeros(Jn.shape[0])])
    expected = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:d]
    np.testing.assert_allclose(delta.numpy(), expected, atol=1e-10)
    # and the step is not trivial
    assert float(torch.linalg.vector_norm(delta)) > 0.1


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hand_jacobian_matches_autograd(activation):
    spec = ModelSpec("mlp", 3, (7, 5), activation, True, (0.1, -0.2, 0.3), (1.0, 2.0, 0.5))
    model = TorchModel(spec, torch.device("cpu"), torch.float64)
    theta = torch.tensor(init_params(spec, 2, 1.0))
    X = torch.randn(9, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    autograd = torch.func.jacrev(lambda t: model(t, X))(theta)
    np.testing.assert_allclose(model.jacobian(theta, X).numpy(), autograd.numpy(), atol=1e-13)


def test_null_component_of_a_linear_model_is_theta_minus_the_min_norm_part():
    rng = np.random.default_rng(0)
    A, theta = rng.normal(size=(5, 20)), rng.normal(size=20)
    expected = theta - np.linalg.pinv(A) @ (A @ theta)
    np.testing.assert_allclose(null_component(torch.tensor(theta), torch.tensor(A)).numpy(), expected, atol=1e-13)


# -- T2: the sine poisoning replica ------------------------------------------------
def _sine_claim(sine, grid):
    def sup(solver, **options):
        return solverhub.solve(sine, solver, options=options).extras["sup_error_vs_target"]
    start = solverhub.solve(sine, "gd-retain", options={"max_iterations": 0})
    assert start.extras["trained_mse"] < 1e-9                          # trained to interpolation
    assert start.extras["retrain_reference_mse"] < 1e-9
    assert start.extras["sup_error_vs_target"] > 2.0                   # the poison shows
    mnog = sup("minnorm-og")                                           # the defaults: 100 iterations
    gd = min(sup("gd-retain", lr=lr) for lr in grid)
    ga = min(sup("ga-forget", lr=lr) for lr in grid)
    assert mnog < 0.6 * gd and mnog < 0.6 * ga, (mnog, gd, ga)
    assert mnog < 0.6 * start.extras["sup_error_vs_target"]


def test_sine_poisoning_minnorm_og_beats_gd_and_ga(sine):
    """Paper §5.1 (MinNorm-OG 1.08 vs GD 2.76 vs GA 23.8 after 100 epochs), fast: the baselines at
    the grid's extreme learning rates (the full grid is the slow test below)."""
    _sine_claim(sine, (1e-3, 1e-4))


@pytest.mark.slow
def test_sine_poisoning_minnorm_og_beats_gd_and_ga_over_the_paper_grid(sine):
    _sine_claim(sine, (1e-3, 5e-4, 1e-4))                              # the paper's learning rates


def test_sine_problem_shape(sine):
    assert [(v.name, v.shape) for v in sine.variables] == [
        ("W1", (24, 1)), ("b1", (24,)), ("W2", (24, 24)), ("b2", (24,)), ("W3", (1, 24)), ("b3", (1,))]
    assert sine.dim == 673
    s = sine.kind.setup(sine)
    assert s.X.shape == (55, 1) and s.forget.sum() == 5 and np.all(s.y[s.forget] == 1.5)
    np.testing.assert_allclose(s.y[~s.forget], np.sin(s.X[~s.forget, 0]), atol=0)


def test_mlp_reference_is_a_local_retrained_interpolator(sine):
    """Retraining an MLP on the retain rows interpolates them but is not θ_r*: a local reference."""
    base = solverhub.compute_baseline(sine)
    assert base.status is ReferenceStatus.LOCAL and base.backend_status == "retrained"
    assert base.solver.startswith("retrain from scratch: gauss_newton")
    assert base.objective == pytest.approx(0.5 * base.x @ base.x, rel=1e-12)
    assert base.certificate.name == "minnorm_kkt" and base.certificate.value > 1.0    # its own KKT residual


# -- no host syncs in step ---------------------------------------------------------
def test_step_has_no_host_syncs(sine, count_host_syncs):
    sine.lower_torch()                                     # the set-up (training) is cached first
    syncs = count_host_syncs(phases={"in_step": (MinNormOG, "step"),
                                     "in_report": [(MinNormOG, "report"), (type(sine.kind), "report")]})
    options = {"max_iterations": 200, "tolerance": 0.0, "trace_every": 50, "n_pert": 20, "projection_steps": None}
    r = solverhub.solve(sine, "minnorm-og", options=options)
    assert r.iterations == 200 and len(r.trace) == 5 and r.extras["projections"] == 200
    assert syncs["in_step"] == 0
    assert syncs["n"] - syncs["in_report"] <= 2 * len(r.trace) + 10, syncs


# -- the kind's YAML -----------------------------------------------------------------
BAD = [
    ("model: {type: cubic}", "model.type"),
    ("model: {type: mlp}", "model.widths"),
    ("model: {type: linear, widths: [3]}", "no hidden layers"),
    ("model: {type: linear}\nforget: {rows: [0, 40]}", "forget.rows"),
    ("model: {type: linear}\nforget: {first: 2, last: 3}", "exactly one"),
    ("model: {type: linear}", "forget: required"),
    ("model: {type: linear}\nforget: {first: 12}", "no retain set"),
    ("model: {type: mlp, widths: [4]}\nforget: {first: 2}\ntrain: {method: min_norm}", "closed form of a linear"),
    ("model: {type: linear}\nforget: {first: 2}\nvariables: {w: {shape: [3]}}", "variables"),
    ("model: {type: linear}\nforget: {first: 2}\nsynthetic: {sine_poisoning: {}}", "synthetic"),
    ("model: {type: linear}\nforget: {first: 2}\ninputs: Z", "no data entry 'Z'"),
]


@pytest.mark.parametrize("extra,match", BAD, ids=[b[1] for b in BAD])
def test_bad_yaml_is_a_problem_error_with_a_line(extra, match, write_problem):
    path = write_problem("name: bad\nkind: unlearning\ndata:\n  X: {generate: normal, shape: [12, 5]}\n"
                         "  y: {generate: normal, shape: [12]}\n" + extra + "\n")
    with pytest.raises(ProblemError, match=match) as err:
        solverhub.load_problem(path)
    assert str(path) in str(err.value) and f"{path}:" in str(err.value)


def test_x0_and_bad_mask_are_refused_at_set_up(write_problem):
    head = "name: m\nkind: unlearning\nmodel: {type: linear}\ndata:\n  X: [[1, 0], [0, 1], [1, 1]]\n  y: [1, 2, 3]\n"
    p = solverhub.load_problem(write_problem(head + "  f: [0, 2, 1]\nforget: {mask: f}\n"))
    with pytest.raises(ProblemError, match="forget.mask"):
        solverhub.solve(p, "minnorm-og")
    p = solverhub.load_problem(write_problem(head + "forget: {last: 1}\nx0: {w: [1, 1]}\n", "x0.yaml"))
    with pytest.raises(ProblemError, match="x0"):
        solverhub.solve(p, "minnorm-og")


def test_mask_forget_set_and_dispatch(write_problem):
    p = solverhub.load_problem(write_problem("""
        name: masked
        kind: unlearning
        model: {type: linear, bias: true}
        data:
          X: {generate: normal, shape: [10, 25], seed: 2}
          y: {generate: normal, shape: [10], seed: 3}
          f: [0, 1, 0, 0, 1, 0, 0, 0, 0, 0]
        forget: {mask: f}
        solve: {reg_coef: 1.0}
        """))
    assert [(v.name, v.shape) for v in p.variables] == [("w", (25,)), ("b", (1,))]
    r = solverhub.solve(p, options={"max_iterations": 1})
    assert r.solver == "minnorm-og"                                     # priority 20 on unlearning problems
    keep = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0, 0]) == 0
    A = np.c_[p.data["X"], np.ones(10)]
    x = np.r_[r.solution["w"], r.solution["b"]]
    np.testing.assert_allclose(x, np.linalg.pinv(A[keep]) @ p.data["y"][keep], atol=1e-10)


def test_baseline_cli_and_other_kinds_refused(run_cli):
    out = run_cli("baseline", LINEAR)
    assert out.exit_code == 0 and "closed form: minimum-norm retain interpolator" in out.output, out.output
    ridge = solverhub.load_problem(ROOT / "problems/smooth/ridge.yaml")
    ok, why = MinNormOG().accepts(ridge)
    assert not ok and "unlearning" in why
    with pytest.raises(ValueError):
        MinNormOGOptions(reg_coef=1.5)


def test_plugin_registered_without_importing_torch():
    """Registered by its entry point; loading it imports no torch."""
    check_entry_point('minnorm-og', solvers=('ga-forget', 'gd-retain', 'minnorm-og', 'neggrad-plus', 'retrain'), kinds=('unlearning',))


# -- an independent written-out reference (no plugin function) ----------------------
def _mlp(theta, X, shapes, shift, scale):
    """f(θ, x) of a tanh MLP with the problem's declared variables (W1, b1, ...), row-major."""
    h, at = (X - shift) / scale, 0
    params = []
    for shape in shapes:
        size = int(np.prod(shape))
        params.append(theta[at:at + size].reshape(shape))
        at += size
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = torch.tanh(h)
    return h[:, 0]


SMALL_SINE = """
name: small_sine
kind: unlearning
synthetic:
  sine_poisoning: {n_retain: 12, n_forget: 3, low: -6.0, high: 6.0, forget_value: 1.5, seed: 4}
model: {type: mlp, widths: [10, 10], activation: tanh, standardize: true, init: {seed: 1}}
train: {method: gauss_newton, max_iterations: 200, tolerance: 1.0e-20}
"""


@pytest.fixture(scope="module")
def small_sine(tmp_path_factory):
    """A well-conditioned MLP (the sine file's retain Jacobian has σ_min/σ_max = 4e-13, below
    rank_rtol: its projector is only accurate to ~1e-7, too loose for a 1e-10 reference)."""
    path = tmp_path_factory.mktemp("mnog") / "small_sine.yaml"
    path.write_text(SMALL_SINE)
    return solverhub.load_problem(path)


def _reference_iterates(sine, steps, *, batch_size=None, n_pert=None, weight_decay=0.0, seed=0):
    """Alg. 1 written out: J at the CURRENT θ (torch.func.jacrev), Δ = −c_t(θ − J⁺Jθ) by numpy's
    pinv, then one Adam(W) step on the retain mse (autograd), torch.optim.Adam's formulas."""
    s = sine.kind.setup(sine)
    X = torch.tensor(s.X[~s.forget], dtype=torch.float64).reshape(-1, 1)
    y = torch.tensor(s.y[~s.forget], dtype=torch.float64)
    shift, scale = float(s.X.mean()), float(s.X.std())
    shapes = [v.shape for v in sine.variables]
    f = lambda th, Z: _mlp(th, Z, shapes, shift, scale)                      # noqa: E731
    theta = torch.tensor(s.trained.theta, dtype=torch.float64)
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    lr, b1, b2, eps, c, decay = 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.9             # the documented defaults
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=gen) if batch_size else None
    out = []
    for t in range(steps):
        rows = torch.arange(len(y)) if order is None else order[(t * batch_size + torch.arange(batch_size)) % len(y)]
        Xb, yb = X[rows], y[rows]
        Xs = Xb if n_pert is None else Xb[torch.randperm(len(yb), generator=gen)[:n_pert]]
        J = torch.func.jacrev(f)(theta, Xs).numpy()
        th = theta.numpy()
        theta = torch.tensor(th - c * decay ** t * (th - np.linalg.pinv(J, rcond=1e-10) @ (J @ th)))
        g = torch.func.grad(lambda th: torch.mean((f(th, Xb) - yb) ** 2))(theta)
        theta = theta * (1 - lr * weight_decay)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1 ** (t + 1))) / (torch.sqrt(v / (1 - b2 ** (t + 1))) + eps)
        out.append(theta.numpy().copy())
    return out


@pytest.mark.parametrize("variant", [{}, {"batch_size": 5, "n_pert": 3, "weight_decay": 0.01}],
                         ids=["full-batch-adam", "official-batch-adamw"])
def test_iterates_match_a_written_out_algorithm_1(small_sine, variant):
    """Alg. 1 (and the authors' per-batch AdamW loop): the Jacobian is taken at the current θ
    (after the previous loss step), then the orthogonal step, then the loss step; 3 iterates
    agree with an independent torch/numpy loop to 1e-10."""
    sine = small_sine
    ref = _reference_iterates(sine, 3, **variant)
    names = [v.name for v in sine.variables]
    for t in (1, 3):
        r = solverhub.solve(sine, "minnorm-og", seed=0, options={"max_iterations": t, "tolerance": 0.0, **variant})
        x = np.concatenate([np.ravel(r.solution[n]) for n in names])
        assert np.abs(x - ref[t - 1]).max() < 1e-10 * max(1.0, np.abs(ref[t - 1]).max()), t
    assert np.abs(ref[2] - ref[1]).max() > 1e-4                         # the iterates move


def test_method_page_option_tables_match_the_code():
    """Every default (and bound) is pinned by the page: changing one without regenerating the
    tables of docs/methods/minnorm-og.md (`python scripts/option_tables.py`) fails here."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("option_tables", ROOT / "scripts" / "option_tables.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = (ROOT / "docs/methods/minnorm-og.md").read_text()
    assert set(script.marked(page)) == {"minnorm-og", "retrain", "gd-retain", "ga-forget", "neggrad-plus"}
    assert script.render(page) == page, "run `python scripts/option_tables.py`"
    assert MinNormOGOptions().reg_coef == 0.1 and MinNormOGOptions().lr == 1e-3   # the sine claim's setting


def test_baseline_steps_written_out_on_an_overdetermined_linear_model(write_problem):
    """Where θ* = pinv(X) y does not interpolate (20 rows, 3 features) the loss gradients are not
    zero, so each baseline's one gradient step is visible: numpy's mse gradients 2/n Xᵀ(Xθ − y)."""
    p = solverhub.load_problem(write_problem("""
        name: over
        kind: unlearning
        model: {type: linear}
        data:
          X: {generate: normal, shape: [20, 3], seed: 5}
          y: {generate: normal, shape: [20], seed: 6}
        forget: {first: 6}
        """))
    X, y = p.data["X"], p.data["y"]
    Xf, yf, Xr, yr = X[:6], y[:6], X[6:], y[6:]
    theta = np.linalg.pinv(X) @ y
    gf, gr = 2 / 6 * Xf.T @ (Xf @ theta - yf), 2 / 14 * Xr.T @ (Xr @ theta - yr)
    assert np.linalg.norm(gf) > 0.1 and np.linalg.norm(gr) > 0.1
    lr, c = 0.05, 0.3
    opts = {"max_iterations": 1, "tolerance": 0.0, "optimizer": "gd", "lr": lr}
    expect = {"ga-forget": theta + lr * gf, "gd-retain": theta - lr * gr,
              "neggrad-plus": theta - lr * (gr - c * gf), "retrain": np.zeros(3) - lr * 2 / 14 * Xr.T @ (-yr)}
    for solver, want in expect.items():
        extra = {"ga_coef": c} if solver == "neggrad-plus" else {}
        np.testing.assert_allclose(w(solverhub.solve(p, solver, options={**opts, **extra})), want, atol=1e-12,
                                   err_msg=solver)
