"""Tests of the ``qn-hpe`` plugin: ``qn-hpe`` (arXiv 2410.02626), ``extragradient``
and ``gda``, after the method note /work/shared/methods/11-qn-hpe.md (section c)
and the shipped problems in problems/monotone/. All in float64.

Every check has an answer computed without the solver: numpy re-implementations
of the iterations, linear solves, the cvxpy baselines, complementarity,
closed-form duality gaps, exact identities of the Jacobian learner.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import solverhub  # noqa: E402
from solverhub.baseline import compute_baseline  # noqa: E402
from solverhub.errors import SolverRefused  # noqa: E402
from solverhub.result import Status  # noqa: E402
from solverhub.testing import TINY_PROBLEMS, check_solver, drive  # noqa: E402
from solverhub_qn_hpe import GDA, QNHPE, Extragradient, project_jacobian, secant_update  # noqa: E402

MONOTONE = Path(__file__).resolve().parents[3] / "problems" / "monotone"
F64 = torch.float64

TINY = {kind: TINY_PROBLEMS[kind] for kind in ("monotone", "minimax")}

NON_MONOTONE = """
name: saddle-operator
kind: monotone
variables: {z: {shape: [2], x0: [1.0, 1.0]}}
data: {M: [[1.0, 0.0], [0.0, -1.0]]}
operator: "M @ z"
"""

BILINEAR = """
name: bilinear
kind: minimax
variables: {x: {shape: [5], x0: {generate: normal, seed: 1}}, y: {shape: [5], x0: {generate: normal, seed: 2}}}
data: {B: {generate: normal, shape: [5, 5], seed: 3}}
min: x
max: y
objective: "x @ (B @ y)"
"""


def load(name: str):
    return solverhub.load_problem(MONOTONE / f"{name}.yaml")


def stopped_or_below(tolerance=None):
    """``until`` for solverhub.testing's drive: the solver stopped, or ‖F(x)‖ <= tolerance."""
    def until(state, oracle):
        return state.stop is not None or (
            tolerance is not None and float(torch.linalg.vector_norm(oracle.peek_operator(state.x))) <= tolerance)
    return until


def ratios(result) -> np.ndarray:
    st = np.array([p.stationarity for p in result.trace])
    return st[1:] / st[:-1]


@pytest.fixture(scope="module")
def affine50():
    p = load("skew_affine50")
    return p, p.data["A"], p.data["b"]


# -- numpy reference of the note's iteration (section b) --------------------------
def numpy_qn_hpe(A, b, *, learn=True, tol=1e-10, sigma0=1.0, alpha=0.5, beta=0.5, max_iter=2000):
    """The note's QN-HPE on F(z) = Az − b, B_0 = 0, ρ = 1/2, no projection; asserts the
    HPE inequality at every accepted trial. Returns (etas, trials, residuals)."""
    d = len(b)
    F = lambda z: A @ z - b  # noqa: E731
    B, z = np.zeros((d, d)), np.zeros(d)
    Fz, sigma = F(z), sigma0
    etas, trials, residuals = [], [], [np.linalg.norm(Fz)]
    while residuals[-1] > tol and len(etas) < max_iter:
        eta, rejected, n = sigma, None, 0
        while True:
            n += 1
            s = np.linalg.solve(np.eye(d) + eta * B, -eta * Fz)
            Fh = F(z + s)
            if np.linalg.norm(s + eta * Fh) <= alpha * np.linalg.norm(s):
                assert np.linalg.norm(s + eta * Fh) <= alpha * np.linalg.norm(s)   # the HPE inequality
                break
            rejected, eta = (s, Fh - Fz), eta * beta
        if learn and rejected is not None:
            s_r, y_r = rejected
            B = B + np.outer(y_r - B @ s_r, s_r) / (s_r @ s_r)
        z = z - eta * Fh
        Fz, sigma = F(z), eta / beta
        etas.append(eta)
        trials.append(n)
        residuals.append(np.linalg.norm(Fz))
    return etas, trials, np.array(residuals)


# -- conformance, registration ------------------------------------------------------
@pytest.mark.parametrize("cls", [QNHPE, Extragradient, GDA])
def test_conformance(cls):
    check_solver(cls, problems=TINY)


def test_plugin_registers_three_solvers_without_importing_torch():
    code = ("import sys, solverhub_qn_hpe, solverhub_qn_hpe.plugin as p; "
            "assert 'torch' not in sys.modules; print(sorted(p.solverhub_solvers()))")    # {name: 'module:Class'}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['extragradient', 'gda', 'qn-hpe']"
    solvers = solverhub.get_registry().solvers
    assert {solvers[n].distribution for n in ("qn-hpe", "extragradient", "gda")} == {"solverhub-qn-hpe"}


# -- the note's claim (test c.1, c.2) -------------------------------------------------
def test_note_claim_calls_and_contraction(affine50):
    """d = 50, A = S + K, seed 4, z0 = 0, ‖F‖ ≤ 1e-10: QN-HPE uses ≤ 0.75× the operator calls of
    extragradient with the note's step 1/(2‖A‖) (266 iterations in the note), its last-10 contraction
    is ≤ 0.85 (EG ≈ 0.91), and calls = Σ trials + iterations + 1."""
    p, A, b = affine50
    every = {"tolerance": 1e-10, "trace_every": 1}     # every iteration traced and tested for the tolerance
    qn = solverhub.solve(p, "qn-hpe", options=every)
    eg = solverhub.solve(p, "extragradient", options={**every, "adaptive": False,
                                                     "step": 1 / (2 * np.linalg.norm(A, 2))})
    assert qn.status is Status.CONVERGED and eg.status is Status.CONVERGED
    assert eg.iterations == 266 and eg.oracle_calls["operator"] == 1 + 2 * 266      # the note's [M] numbers
    calls = qn.oracle_calls["operator"]
    assert calls <= 0.75 * eg.oracle_calls["operator"], (calls, eg.oracle_calls["operator"])
    assert calls == sum(qn.extras["line_search_trials"]) + qn.iterations + 1
    assert qn.extras["hpe_ratio_max"] <= 0.5                                         # α1 + α2
    np.testing.assert_allclose(np.asarray(qn.solution["z"]), np.linalg.solve(A, b), atol=1e-9)
    r_qn, r_eg = ratios(qn), ratios(eg)
    assert r_qn[-10:].mean() <= 0.85 and r_eg[-10:].mean() >= 0.88
    # 5-iteration moving average of ‖F_{k+1}‖/‖F_k‖: decreasing trend, no rise above 0.05 per step.
    # (Strictly non-increasing it is not: about 1/3 of its steps go up, by at most 0.03.)
    ma = np.convolve(r_qn, np.ones(5) / 5, mode="valid")
    assert np.diff(ma).max() <= 0.05
    assert ma[-1] <= ma[0] - 0.03 and np.polyfit(np.arange(len(r_qn)), r_qn, 1)[0] < 0
    # No superlinear tail at d = 50 before 1e-10 (see test_why_no_superlinear_tail); if this fails,
    # the superlinear phase appeared: update docs/methods/qn-hpe.md.
    assert r_qn[-10:].min() >= 0.5 and max(qn.extras["eta"]) <= 4


def test_why_no_superlinear_tail(affine50):
    """The learner is the exact-secant step: ‖B_{k+1} − A‖_F² = ‖B_k − A‖_F² − ℓ_k, so Σℓ_k ≤ ‖B_0 − A‖_F².
    A backtracked iteration rejected η_k/β, i.e. (η_k/β)‖(A − B_k)s̃‖ > α‖s̃‖: ℓ_k > (αβ/η_k)². With
    η_k ≤ 2 every such loss exceeds 1/64 while the budget ‖A‖_F² ≈ 32.5 allows ~2000 of them: the run
    reaches 1e-10 after ~100 iterations with B still far from A (no Dennis–Moré, no superlinear phase)."""
    p, A, _ = affine50
    states = drive(QNHPE, p, {"projection": "none"}, 10_000, until=stopped_or_below(1e-10)).states
    errors = [np.linalg.norm(A - s.B.numpy(), "fro") ** 2 for s in states]
    for k in range(1, len(states)):
        new_losses = states[k].losses[len(states[k - 1].losses):]
        drop = sum(float(v) for v in new_losses)
        if float(torch.linalg.vector_norm(states[k - 1].F)) > 1e-5:
            # (later, y = F(z̃) − F(z) carries rounding of order eps·‖b‖/‖s‖ relative to A s)
            assert errors[k - 1] - errors[k] == pytest.approx(drop, rel=1e-7)
        if states[k].trials[-1] > 1:           # backtracked: one update with the last rejected pair
            assert len(new_losses) == 1 and float(new_losses[0]) > (0.5 * 0.5 / states[k].etas[-1]) ** 2
        else:
            assert len(new_losses) == 0
    total = sum(float(v) for v in states[-1].losses)
    assert total <= errors[0] + 1e-9
    assert np.sqrt(errors[-1]) >= 0.7 * np.sqrt(errors[0])         # ‖B − A‖_F: 5.70 → 4.2 over the run
    assert max(states[-1].etas) <= 2.0


@pytest.mark.parametrize("learn", [True, False])
def test_matches_numpy_reference_and_hpe_inequality(affine50, learn):
    """Same η and trial sequences as the note's iteration in numpy (which asserts the HPE inequality
    at every accepted step). learn=False (B = 0, no updates) is extragradient with the HPE search
    and still converges (note test c.3)."""
    p, A, b = affine50
    etas, trials, residuals = numpy_qn_hpe(A, b, learn=learn)
    r = solverhub.solve(p, "qn-hpe", options={"tolerance": 1e-10, "projection": "none", "learn_jacobian": learn,
                                              "trace_every": 1})
    assert r.status is Status.CONVERGED
    assert r.extras["eta"] == etas and r.extras["line_search_trials"] == trials
    st = np.array([t.stationarity for t in r.trace])
    np.testing.assert_allclose(st, residuals, rtol=1e-6, atol=1e-14)
    assert r.oracle_calls["operator"] == sum(trials) + len(trials) + 1
    assert r.extras["hpe_ratio_max"] <= 0.5
    if not learn:
        assert r.extras["jacobian_updates"] == 0 and r.extras["online_loss_total"] == 0


# -- minimax and sets: known answers ------------------------------------------------
@pytest.mark.parametrize("name", ["bilinear_saddle", "scsc_quadratic_saddle"])
@pytest.mark.parametrize("solver", ["qn-hpe", "extragradient"])
def test_minimax_matches_the_cvxpy_saddle_point(name, solver):
    p = load(name)
    base = compute_baseline(p)
    r = solverhub.solve(p, solver, options={"tolerance": 1e-10})
    assert r.status is Status.CONVERGED, r.message
    z = np.concatenate([np.asarray(r.solution["x"]), np.asarray(r.solution["y"])])
    np.testing.assert_allclose(z, base.x, atol=1e-8)
    # and the saddle is the zero of the (affine) operator: (∇x f, −∇y f) = J z + q = 0
    tp = p.lower_torch("cpu", F64)
    J = torch.autograd.functional.jacobian(tp.operator, torch.zeros(p.dim, dtype=F64)).numpy()
    q = tp.operator(torch.zeros(p.dim, dtype=F64)).numpy()
    np.testing.assert_allclose(z, np.linalg.solve(J, -q), atol=1e-8)
    assert r.objective == pytest.approx(base.objective, abs=1e-9)


@pytest.mark.parametrize("solver", ["qn-hpe", "extragradient", "gda"])
def test_lcp_complementarity(solver):
    p = load("lcp_monotone")
    M, q = p.data["M"], p.data["q"]
    r = solverhub.solve(p, solver, options={"tolerance": 1e-10})
    assert r.status is Status.CONVERGED, r.message
    z = np.asarray(r.solution["z"])
    w = M @ z + q
    assert z.min() >= 0 and w.min() >= -1e-9 and abs(z @ w) <= 1e-9
    z_star = compute_baseline(p).x
    assert 8 <= np.sum(z_star <= 1e-8) <= 22               # both active and inactive bounds
    np.testing.assert_allclose(z, z_star, atol=1e-6)


def test_box_bilinear_game_duality_gap_and_gda_cycling():
    """Saddle of xᵀCy + cᵀx − eᵀy over boxes: gap(x, y) = max_y' f(x, y') − min_x' f(x', y)
    = (‖Cᵀx − e‖₁ + cᵀx) − (−‖Cy + c‖₁ − eᵀy) in closed form, 0 exactly at a saddle point."""
    p = load("box_bilinear_game")
    C, c, e = p.data["C"], p.data["c"], p.data["e"]

    def gap(x, y):
        return (np.abs(C.T @ x - e).sum() + c @ x) - (-np.abs(C @ y + c).sum() - e @ y)
    r = solverhub.solve(p, "qn-hpe", options={"tolerance": 1e-9})
    assert r.status is Status.CONVERGED, r.message
    x, y = np.asarray(r.solution["x"]), np.asarray(r.solution["y"])
    assert np.abs(x).max() <= 1 and np.abs(y).max() <= 1
    assert 0 <= gap(x, y) <= 1e-7
    assert r.objective == pytest.approx(p.baseline.objective, abs=1e-8)      # the declared LP value
    # gda with a constant step does not converge here: it keeps circling inside the boxes
    g = solverhub.solve(p, "gda", options={"max_iterations": 2000, "trace_every": 100})
    assert g.status is Status.MAX_ITERATIONS and min(t.stationarity for t in g.trace[5:]) > 0.1
    gx, gy = np.asarray(g.solution["x"]), np.asarray(g.solution["y"])
    assert np.abs(gx).max() <= 1 and np.abs(gy).max() <= 1 and gap(gx, gy) > 0.1


def test_ball_set_known_projection_answer():
    """VI of F(z) = z − c over the unit ball: z* = c/‖c‖ (curved set: the projection's Jacobian
    in the QN-HPE subproblem is not a 0/1 diagonal)."""
    text = ("name: ball\nkind: monotone\nvariables: {z: {shape: [2]}}\ndata: {c: [3.0, 4.0]}\n"
            "operator: \"z - c\"\nset: {z: {ball: 1.0}}\n")
    for solver in ("qn-hpe", "extragradient", "gda"):
        r = solverhub.solve(text, solver, options={"tolerance": 1e-12})
        assert r.status is Status.CONVERGED, (solver, r.message)
        np.testing.assert_allclose(r.solution["z"], [0.6, 0.8], atol=1e-11)


# -- gda: honest failure on bilinear games ------------------------------------------------
def test_gda_spirals_out_on_a_bilinear_game_while_hpe_converges():
    """F(z) = (By, −Bᵀx) is skew: ⟨z, F(z)⟩ = 0, so every gda step obeys
    ‖z_{k+1}‖² = ‖z_k‖² + η²‖F(z_k)‖² exactly and the iterates leave the saddle (0, 0)."""
    p = solverhub.load_problem(BILINEAR)
    run = drive(GDA, p, {"step": 0.1}, 30, until=stopped_or_below())
    states, oracle = run.states, run.oracle
    for s0, s1 in zip(states, states[1:]):
        F = oracle.peek_operator(s0.x)
        assert float(s1.x @ s1.x) == pytest.approx(float(s0.x @ s0.x) + 0.01 * float(F @ F), rel=1e-12)
    r = solverhub.solve(p, "gda", options={"max_iterations": 5000})
    assert r.status is Status.DIVERGED and "grew beyond" in r.message
    qn = solverhub.solve(p, "qn-hpe", options={"tolerance": 1e-10, "max_iterations": 2000})
    assert qn.status is Status.CONVERGED
    np.testing.assert_allclose(np.concatenate([qn.solution["x"], qn.solution["y"]]), 0.0, atol=1e-9)


# -- bad input: non-monotone operators ------------------------------------------------
def test_non_monotone_operator_is_refused_with_the_reason():
    p = solverhub.load_problem(NON_MONOTONE)
    for cls in (QNHPE, Extragradient):
        ok, why = cls().accepts(p)
        assert not ok and "requires a monotone operator" in why and "not monotone" in why
        with pytest.raises(SolverRefused, match="not monotone"):
            solverhub.solve(p, cls.name)
    assert GDA().accepts(p)[0]                 # the naive method runs, and says how it ended
    r = solverhub.solve(p, "gda", options={"max_iterations": 100_000})
    assert r.status is Status.DIVERGED and r.iterations < 1000


def test_non_monotone_cli_exit_2(tmp_path):
    from click.testing import CliRunner
    from solverhub.cli import main
    path = tmp_path / "p.yaml"
    path.write_text(NON_MONOTONE)
    out = CliRunner().invoke(main, ["solve", str(path), "--solver", "qn-hpe"])
    assert out.exit_code == 2 and "requires a monotone operator" in out.output and "gda" in out.output


@pytest.mark.parametrize("solver", ["qn-hpe", "extragradient"])
def test_unknown_monotonicity_blowup_stops_as_diverged(solver):
    """F(z) = −z − 0.001 z³ is not affine (monotonicity unknown to the kind) and anti-monotone:
    the run must end `diverged` in a few dozen iterations, not loop."""
    text = ("name: anti\nkind: monotone\nvariables: {z: {shape: [3], x0: [1.0, -0.5, 0.25]}}\n"
            "operator: \"-z - 0.001 * z ** 3\"\n")
    p = solverhub.load_problem(text)
    assert p.kind.monotonicity(p)[0] is None
    assert QNHPE().accepts(p)[0]
    r = solverhub.solve(p, solver, options={"max_iterations": 100_000})
    assert r.status is Status.DIVERGED and "not monotone" in r.message and r.iterations <= 100


def test_noisy_operator_gda_runs_the_others_refuse():
    """oracle noise (σ = 0.01 per call): gda (stochastic_ok) stays near z* = −M⁻¹q with a constant
    step, and a different seed gives a different run; qn-hpe and extragradient refuse."""
    text = TINY["monotone"].replace("name: tiny-monotone", "name: noisy") + "oracle: {noise: {sigma: 0.01, seed: 0}}\n"
    p = solverhub.load_problem(text)
    for cls in (QNHPE, Extragradient):
        ok, why = cls().accepts(p)
        assert not ok and "stochastic" in why
    z_star = np.linalg.solve(p.data["M"], -p.data["q"])
    r = solverhub.solve(p, "gda", options={"max_iterations": 2000, "tolerance": 0.0, "trace_every": 100})
    assert r.oracle_calls["operator"] == 2000 + 40     # + the default step's estimates of L and μ (2 × 10 × 2)
    assert np.abs(np.asarray(r.solution["z"]) - z_star).max() <= 0.02
    other = solverhub.solve(p, "gda", options={"max_iterations": 2000, "tolerance": 0.0, "trace_every": 100}, seed=1)
    assert other.solution["z"] != r.solution["z"]


# -- the Jacobian learner ---------------------------------------------------------
def test_secant_update_identities():
    g = torch.Generator().manual_seed(0)
    J = torch.randn(6, 6, generator=g, dtype=F64)
    B = torch.randn(6, 6, generator=g, dtype=F64)
    s = torch.randn(6, generator=g, dtype=F64)
    y = J @ s
    B1, loss = secant_update(B, s, y, 0.5)
    torch.testing.assert_close(B1 @ s, y)                                           # exact secant
    assert float(loss) == pytest.approx(float(((y - B @ s) ** 2).sum() / (s @ s)))
    drop = torch.linalg.norm(J - B) ** 2 - torch.linalg.norm(J - B1) ** 2
    assert float(drop) == pytest.approx(float(loss), rel=1e-10)
    Bh, _ = secant_update(B, s, y, 0.25)                                             # half step
    torch.testing.assert_close(Bh, 0.5 * (B + B1))
    S = B + B.T
    S1, _ = secant_update(S, s, y, 0.5, symmetric=True)
    torch.testing.assert_close(S1, S1.T)


def test_jacobian_projections():
    g = torch.Generator().manual_seed(1)
    B = 3 * torch.randn(8, 8, generator=g, dtype=F64)
    clipped = project_jacobian(B, "svd_clip", torch.tensor(1.5, dtype=F64))
    sv, sv_b = torch.linalg.svdvals(clipped), torch.linalg.svdvals(B)
    torch.testing.assert_close(sv, torch.clamp(sv_b, max=1.5))
    mono = project_jacobian(B, "monotone")
    assert float(torch.linalg.eigvalsh(mono + mono.T).min()) >= -1e-12
    torch.testing.assert_close(mono - mono.T, B - B.T)                             # skew part kept
    W = B - B.T + torch.eye(8, dtype=F64)                                          # already monotone
    torch.testing.assert_close(project_jacobian(W, "monotone"), W)
    both = project_jacobian(B, "svd_clip+monotone", torch.tensor(1.5, dtype=F64))
    assert float(torch.linalg.eigvalsh(both + both.T).min()) >= -1e-12
    with pytest.raises(ValueError, match="svd_clip"):
        project_jacobian(B, "oracle")


def test_svd_clip_bounds_B_and_symmetric_structure_keeps_symmetry():
    p = load("skew_affine50")
    states = drive(QNHPE, p, {"jacobian_bound": 0.8}, 40, until=stopped_or_below()).states
    for s in states[1:]:
        assert float(torch.linalg.matrix_norm(s.B, 2)) <= 0.8 + 1e-10
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    H = Q @ np.diag(np.linspace(0.1, 2, 12)) @ Q.T
    text = ("name: sym\nkind: monotone\nvariables: {z: {shape: [12]}}\n"
            f"data: {{H: {np.round(H, 12).tolist()}, g: {np.ones(12).tolist()}}}\noperator: \"H @ z - g\"\n")
    sym = solverhub.load_problem(text)
    states = drive(QNHPE, sym, {"structure": "symmetric"}, 10_000, until=stopped_or_below(1e-10)).states
    assert float(torch.linalg.vector_norm(states[-1].F)) <= 1e-10
    assert any(len(s.losses) for s in states)
    for s in states:
        torch.testing.assert_close(s.B, s.B.T, rtol=0, atol=1e-13)


# -- options, budgets, report, host syncs --------------------------------------------
ROTATION = """
name: scaled-rotation
kind: monotone
variables: {z: {shape: [2], x0: [1.0, -2.0]}}
data: {R: [[0.6, -0.8], [0.8, 0.6]]}
operator: "R @ z"
"""


def test_estimated_clip_is_twice_the_largest_secant_ratio():
    """Default jacobian_bound = 0: the svd clip is at 2 × max ‖y‖/‖s‖. For F(z) = R z with R a rotation
    (monotone: cos θ = 0.6 > 0) every secant ratio is exactly ‖R s‖/‖s‖ = 1, so the bound is 2. With
    B_0 = 10 I (singular values 10 > 2) the first update must be clipped: ‖B_1‖₂ = 2 exactly, and the
    secant direction keeps B_1 s = R s. A changed factor (or clip default) moves ‖B_1‖₂."""
    states = drive(QNHPE, ROTATION, {"initial_jacobian": 10.0, "update_on": "every_trial"}, 1).states
    B1 = states[1].B.numpy()
    assert float(states[1].secant_max) == pytest.approx(1.0, rel=1e-12)
    assert np.linalg.svd(B1, compute_uv=False)[0] == pytest.approx(2.0, rel=1e-12)
    assert QNHPE.Options().jacobian_bound == 0.0 and QNHPE.Options().projection == "svd_clip"


def test_defaults_are_the_documented_ones():
    """The option tables of docs/methods/qn-hpe.md are the ones generated from the Options, so a default
    changed in the code without the page fails here (and in tests/test_options.py)."""
    import re
    from pathlib import Path
    from solverhub.options import options_table
    page = (Path(__file__).resolve().parents[3] / "docs/methods/qn-hpe.md").read_text()
    for name, cls in (("qn-hpe", QNHPE), ("extragradient", Extragradient), ("gda", GDA)):
        table = re.search(rf"<!-- options: {name} -->\n(.*?)\n<!-- /options -->", page, re.S).group(1)
        assert table == options_table(cls.Options), name


@pytest.mark.parametrize("cls, bad", [(QNHPE, {"alpha1": 0.5, "alpha2": 0.5}), (QNHPE, {"rho": 1.0}),
                                      (QNHPE, {"projection": "oracle"}), (Extragradient, {"theta": 1.0}),
                                      (GDA, {"step": -1.0})])
def test_bad_options(cls, bad):
    with pytest.raises(ValueError):
        cls.Options(**bad)


@pytest.mark.parametrize("budget", [1, 2, 7, 40])
def test_operator_budget(budget):
    p = load("linear_monotone")
    for solver in ("qn-hpe", "extragradient", "gda"):
        r = solverhub.solve(p, solver, options={"max_oracle_calls": budget})
        assert r.total_oracle_calls <= budget and r.status is Status.BUDGET_EXHAUSTED, (solver, r.status)


def test_report_fields():
    r = solverhub.solve(load("linear_monotone"), "qn-hpe", options={"tolerance": 1e-8})
    x = r.extras
    assert len(x["eta"]) == len(x["line_search_trials"]) == r.iterations
    assert x["backtracks_total"] == sum(x["line_search_trials"]) - r.iterations
    assert x["operator_calls_trials"] + x["operator_calls_extragradient"] + 1 == r.oracle_calls["operator"]
    assert x["projection"] == "svd_clip" and x["jacobian_bound_estimated"] and x["jacobian_bound"] > 0
    assert x["online_loss_total"] == pytest.approx(sum(x["online_losses"]))
    assert len(x["online_losses"]) == x["jacobian_updates"] == sum(t > 1 for t in x["line_search_trials"])


@pytest.mark.parametrize("cls", [GDA, Extragradient, QNHPE])
def test_host_syncs(cls, count_host_syncs):
    """gda and extragradient: no per-iteration host sync (float, item, bool, int, tolist) -- only the
    trace samples and the blow-up check every 50 iterations. qn-hpe: exactly one per line-search trial."""
    qn = cls is QNHPE
    p = load("lcp_monotone" if qn else "skew_affine50")
    syncs = count_host_syncs(("__float__", "item", "__bool__", "__int__", "tolist"), phases={"in_step": (cls, "step")})
    iterations = 40 if qn else 200
    options = {"max_iterations": iterations, "tolerance": 0.0, "trace_every": 20 if qn else 50}
    if cls is GDA:
        options["step"] = 0.05
    r = solverhub.solve(p, cls, options=options)
    assert r.iterations == iterations and len(r.trace) == iterations // options["trace_every"] + 1, r.message
    if qn:
        assert syncs["in_step"] == sum(r.extras["line_search_trials"])
    else:
        assert syncs["in_step"] == iterations // 50                      # the blow-up checks
        assert syncs["n"] <= 2 * len(r.trace) + 10, syncs
