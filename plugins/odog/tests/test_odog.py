"""Tests of the ``odog`` plugin: solvers ``o2nc`` (Cutkosky, Mehta, Orabona 2023) and ``odog``
(arXiv 2510.03167). Tests 1-4 are the method note's (02-odog.md); each compares against a
number computed without the solver (numpy) or against the other method at equal gradient calls.
"""
import json

import numpy as np
import pytest
import torch

import solverhub
from solverhub.testing import TINY_PROBLEMS, check_entry_point, check_solver, drive, make_oracle
from solverhub.plugin import ogd_ball_step as ogd_update, project_ball
from solverhub_odog import O2NC, ODOG, O2NCOptions, ODOGOptions, optimistic_update


BIG = 10**7   # max_iterations when the gradient-call budget is the limit


def _yaml(name, x0, data, objective, extra=""):
    data_lines = "".join(f"  {k}: {json.dumps(np.asarray(v).tolist())}\n" for k, v in data.items())
    return (f"name: {name}\nkind: minimize\nvariables: {{x: {{shape: [{len(x0)}], "
            f"x0: {json.dumps(np.asarray(x0).tolist())}}}}}\ndata:\n{data_lines}objective: \"{objective}\"\n{extra}")


# -- test 1 problem: a quadratic, f and ∇f recomputed in numpy ---------------------------
_rng = np.random.default_rng(7)
_Q, _ = np.linalg.qr(_rng.standard_normal((10, 10)))
QUAD_H = _Q @ np.diag(np.linspace(0.1, 2.0, 10)) @ _Q.T
QUAD_H = 0.5 * (QUAD_H + QUAD_H.T)
QUAD_B = _rng.standard_normal(10)
QUAD_X0 = 2.0 * _rng.standard_normal(10)
QUAD_YAML = _yaml("quad10", QUAD_X0, {"H": QUAD_H, "b": QUAD_B}, "0.5 * quad_form(x, H) + b @ x")


def quad_f(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x @ QUAD_H @ x + QUAD_B @ x


def quad_grad(x):
    return QUAD_H @ np.asarray(x, dtype=np.float64) + QUAD_B


def identity_errors(rounds):
    """|f(x_n) − f(x_{n−1}) − ⟨g_n, Δ_n⟩| per round, f in numpy; rounds = (x_prev, x, g, Δ)."""
    return np.array([abs(quad_f(x) - quad_f(xp) - np.dot(g, d)) for xp, x, g, d in rounds])


def rounds_of(run):
    """(rounds (x_prev, x, g, Δ), states, oracle) of a ``solverhub.testing.drive`` run."""
    rounds = []
    for state, new in zip(run.states, run.states[1:]):
        assert torch.equal(new.last_delta, state.delta)          # Δ_n is what the learner chose before
        rounds.append((state.iterate.numpy(), new.iterate.numpy(), new.last_g.numpy(), new.last_delta.numpy()))
    return rounds, run.states, run.oracle


def reference_odog(oracle, x0, n_rounds, eta, radius, *, shifted_query=False, shifted_hint=False):
    """The note's recursion written out (torch, no plugin function); the two flags are deliberate
    off-by-one variants. Δ_{n+1} = Proj_D(Δ_n − η h_{n+1} − η (g_n − h_n))."""
    x, delta, hint = x0.clone(), torch.zeros_like(x0), oracle.grad(x0)
    rounds = []
    for _ in range(n_rounds):
        x_new, w = x + delta, x + 0.5 * delta
        extrapolated = x_new + 0.5 * delta
        g = oracle.grad(extrapolated if shifted_query else w)   # shifted: g_n taken from round n+1's point
        hint_next = oracle.grad(extrapolated)
        v = delta - eta * hint_next - eta * (g - (hint_next if shifted_hint else hint))
        delta_next = v * torch.clamp(radius / torch.linalg.vector_norm(v), max=1.0)
        rounds.append((x.numpy(), x_new.numpy(), g.numpy(), delta.numpy()))
        x, delta, hint = x_new, delta_next, hint_next
    return rounds


def reference_conversion_numpy(grad, x0, n_rounds, *, eta, D, K, adaptive, optimistic=True,
                               gamma=1.0, alpha=1e-12):
    """ODOG (optimistic=True) or O2NC-OGD in numpy, from paper-facts 02 and method note 02:
    h_1 = ∇f(x_0); x_n = x_{n−1} + Δ_n, w_n = x_{n−1} + Δ_n/2, g_n = ∇f(w_n), h_{n+1} = ∇f(x_n + Δ_n/2);
    η_n = η, or adaptive η_n = γ D / sqrt(α + Σ_{i ≤ n in the episode} e_i) with e_i = ‖g_i − h_i‖²
    (ODOG) or ‖g_i‖² (O2NC), the sum restarted every K rounds (paper Sec. 4: "n mod T");
    Δ_{n+1} = Proj_D(Δ_n − η_n h_{n+1} − η_n (g_n − h_n)) (ODOG) or Proj_D(Δ_n − η_n g_n) (O2NC).
    Returns per round (x_n, Δ_{n+1}, η_n)."""
    x, delta = np.array(x0, dtype=np.float64), np.zeros(len(x0))
    hint = grad(x) if optimistic else None
    episode_sum, out = 0.0, []
    for n in range(1, n_rounds + 1):
        w, x_new = x + 0.5 * delta, x + delta
        g = grad(w)
        if optimistic:
            hint_next = grad(x_new + 0.5 * delta)
            episode_sum += np.sum((g - hint) ** 2)
        else:
            episode_sum += g @ g
        eta_n = gamma * D / np.sqrt(alpha + episode_sum) if adaptive else eta
        v = delta - eta_n * hint_next - eta_n * (g - hint) if optimistic else delta - eta_n * g
        delta = v * min(1.0, D / np.linalg.norm(v))
        out.append((x_new, delta, eta_n))
        if optimistic:
            hint = hint_next
        x = x_new
        if n % K == 0:
            episode_sum = 0.0
    return out


@pytest.mark.parametrize("solver", ["odog", "o2nc"])
@pytest.mark.parametrize("adaptive", [False, True])
def test_learner_update_matches_an_independent_numpy_loop(solver, adaptive):
    """45 rounds with K = 7 (six episode restarts of the adaptive sum), the defaults of γ and α:
    x_n, Δ_{n+1} and η_n equal the numpy loop to 1e-12 relative. Pins the optimistic update, the
    hint's point, the adaptive rule (its numerator γD, its square root, the sum of ‖g − h‖² for
    ODOG and ‖g‖² for O2NC, the restart at each episode and the round's own term in the sum)."""
    cls, opts = {"odog": (ODOG, ODOGOptions), "o2nc": (O2NC, O2NCOptions)}[solver]
    options = opts(D=0.1, eta=0.3, K=7, adaptive=adaptive)
    states = drive(cls, QUAD_YAML, options, 45).states
    ref = reference_conversion_numpy(quad_grad, QUAD_X0, 45, eta=0.3, D=0.1, K=7, adaptive=adaptive,
                                     optimistic=solver == "odog")
    etas = [r[2] for r in ref]
    assert (len(set(etas)) > 20) == adaptive          # the adaptive step does vary
    for st, (x, delta, eta_n) in zip(states[1:], ref):
        np.testing.assert_allclose(st.iterate.numpy(), x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(st.delta.numpy(), delta, rtol=1e-12, atol=1e-14)
        assert float(st.last_eta) == pytest.approx(eta_n, rel=1e-12)


def test_adaptive_step_values_on_a_known_sequence():
    """The adaptive rule on hand-computed numbers (f = ½‖x‖², x_0 = (3, 4), D = 1, γ = 1, α = 1e-12):
    round 1 has Δ_1 = 0, so g_1 = h_1 = x_0, its error is 0 and η_1 = γD/sqrt(α) = 1e6; the projection
    then plays Δ_2 = −x_0/‖x_0‖ = (−0.6, −0.8). Round 2: g_2 = x_0 + Δ_2/2 = (2.7, 3.6), h_2 = x_0
    (the hint made in round 1 at x_1 + Δ_1/2 = x_0), e_2 = ‖(−0.3, −0.4)‖² = 0.25, η_2 = 1/sqrt(0.25 + α) ≈ 2."""
    text = _yaml("half-norm", [3.0, 4.0], {"c": [0.0, 0.0]}, "0.5 * sum(square(x)) + c @ x")
    states = drive(ODOG, text, ODOGOptions(D=1.0, K=50, adaptive=True), 2).states
    assert float(states[1].last_eta) == pytest.approx(1e6, rel=1e-9)
    np.testing.assert_allclose(states[1].delta.numpy(), [-0.6, -0.8], rtol=0, atol=1e-15)
    assert float(states[2].last_eta) == pytest.approx(1.0 / np.sqrt(0.25 + 1e-12), rel=1e-14)   # 2 − 4e-12
    assert ODOGOptions().adaptive is True and O2NCOptions().adaptive is False
    assert (ODOGOptions().gamma, ODOGOptions().alpha, ODOGOptions().eta) == (1.0, 1e-12, 0.3)


def test_defaults_are_the_documented_ones():
    """The option tables of docs/methods/odog.md are the ones generated from the Options, so a default
    changed in the code without the page fails here (and in tests/test_options.py)."""
    import re
    from pathlib import Path
    from solverhub.options import options_table
    page = (Path(__file__).resolve().parents[3] / "docs/methods/odog.md").read_text()
    for name, opts in (("odog", ODOGOptions), ("o2nc", O2NCOptions)):
        table = re.search(rf"<!-- options: {name} -->\n(.*?)\n<!-- /options -->", page, re.S).group(1)
        assert table == options_table(opts), name


# -- test 1: quadratic identity and exact call counts ------------------------------------
@pytest.mark.parametrize("adaptive", [False, True])
def test_odog_quadratic_identity_and_2n_plus_1_calls(adaptive):
    n = 300
    options = ODOGOptions(D=0.1, eta=0.3, adaptive=adaptive)
    rounds, states, oracle = rounds_of(drive(ODOG, QUAD_YAML, options, n))
    errors = identity_errors(rounds)
    assert errors.max() <= 1e-12, errors.max()
    assert oracle.counts == {"value": 0, "grad": 2 * n + 1, "hvp": 0, "stochastic_grad": 0}
    for xp, _, g, d in rounds:    # g_n really is ∇f(w_n), w_n = x_{n−1} + Δ_n/2 (numpy)
        np.testing.assert_allclose(g, quad_grad(xp + 0.5 * d), rtol=0, atol=1e-12)
    # the hint carried into round n+1 is ∇f(x_n + Δ_n/2)
    for (_, x, _, d), st in zip(rounds, states[1:]):
        np.testing.assert_allclose(st.hint.numpy(), quad_grad(x + 0.5 * d), rtol=0, atol=1e-12)
    assert all(np.linalg.norm(st.delta.numpy()) <= 0.1 * (1 + 1e-12) for st in states)
    assert quad_f(rounds[-1][1]) < quad_f(QUAD_X0) - 1.0    # and it descends


@pytest.mark.parametrize("point", ["midpoint", "random"])
def test_o2nc_quadratic_identity_and_n_calls(point):
    n = 300
    rounds, states, oracle = rounds_of(drive(O2NC, QUAD_YAML, O2NCOptions(D=0.1, eta=0.3, point=point), n))
    assert oracle.counts["grad"] == n and oracle.total_calls == n     # exactly one call per round
    errors = identity_errors(rounds)
    if point == "midpoint":
        assert errors.max() <= 1e-12, errors.max()
    else:   # s_n ~ U[0,1]: the identity holds only in expectation; it must visibly break
        assert errors.max() > 1e-6
    for (xp, x, g, d), st in zip(rounds, states[1:]):   # OGD: Δ_{n+1} = Proj(Δ_n − η g_n)
        expected = d - 0.3 * g
        expected *= min(1.0, 0.1 / np.linalg.norm(expected))
        np.testing.assert_allclose(st.delta.numpy(), expected, rtol=0, atol=1e-14)


def test_solver_matches_the_written_out_recursion():
    """The solver's iterates are the note's recursion (so the shifted variants below are shifts of it)."""
    n = 100
    rounds, _, _ = rounds_of(drive(ODOG, QUAD_YAML, ODOGOptions(D=0.1, eta=0.3, adaptive=False), n))
    oracle = make_oracle(solverhub.load_problem(QUAD_YAML))
    x0 = oracle.x0.clone()
    ref = reference_odog(oracle, x0, n, 0.3, 0.1)
    for a, b in zip(rounds, ref):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


# -- test 7: off-by-one guards -------------------------------------------------------------
def test_off_by_one_query_breaks_the_identity():
    """g_n taken at round n+1's point (x_n + Δ_n/2 instead of x_{n−1} + Δ_n/2) breaks test 1."""
    oracle = make_oracle(solverhub.load_problem(QUAD_YAML))
    x0 = oracle.x0.clone()
    correct = identity_errors(reference_odog(oracle, x0, 100, 0.3, 0.1))
    oracle = make_oracle(solverhub.load_problem(QUAD_YAML))
    x0 = oracle.x0.clone()
    shifted = identity_errors(reference_odog(oracle, x0, 100, 0.3, 0.1, shifted_query=True))
    assert correct.max() <= 1e-12 and shifted.max() > 1e-4, (correct.max(), shifted.max())


def test_off_by_one_hint_collapses_to_ogd():
    """h_{n+1} in place of h_n in the correction cancels the optimism: the update *is* OGD.
    (Test 1's identity holds for any Δ, so it cannot see this shift; test 2 does, below.)"""
    gen = torch.Generator().manual_seed(0)
    delta, g, h, h_next = (0.05 * torch.randn(6, generator=gen, dtype=torch.float64) for _ in range(4))
    shifted, _ = optimistic_update(delta, g, h_next, h_next, 0.3, 0.1)
    ogd, _ = ogd_update(delta, g, 0.3, 0.1)
    torch.testing.assert_close(shifted, ogd, rtol=0, atol=1e-15)
    right, _ = optimistic_update(delta, g, h, h_next, 0.3, 0.1)
    assert torch.linalg.vector_norm(right - ogd) > 1e-3


def test_projection():
    v = torch.tensor([3.0, 4.0], dtype=torch.float64)
    p, active = project_ball(v, 1.0)
    torch.testing.assert_close(p, torch.tensor([0.6, 0.8], dtype=torch.float64))
    assert bool(active)
    p, active = project_ball(torch.zeros(2, dtype=torch.float64), 1.0)
    assert torch.equal(p, torch.zeros(2, dtype=torch.float64)) and not bool(active)


# -- test 2/3 problem: d = 20, ½xᵀHx + ¼Σ_{i<2}(x_i² − 1)², x0 = 5 N(0, I), seed 1 ------------
_rng = np.random.default_rng(1)
_Q, _ = np.linalg.qr(_rng.standard_normal((20, 20)))
NOTE_H = _Q @ np.diag(np.logspace(0, -2, 20)) @ _Q.T
NOTE_H = 0.5 * (NOTE_H + NOTE_H.T)
NOTE_X0 = 5.0 * _rng.standard_normal(20)
NOTE_YAML = _yaml("odog-note-test2", NOTE_X0, {"H": NOTE_H},
                  "0.5 * quad_form(x, H) + 0.25 * sum(square(square(x[:2]) - 1))")


def note_grad_norm(x):
    x = np.asarray(x)
    g = NOTE_H @ x
    g[:2] += (x[:2] ** 2 - 1) * x[:2]
    return np.linalg.norm(g)


def _solve(problem, solver, seed=0, **options):
    run = {"max_oracle_calls": 4000, "max_iterations": BIG, "tolerance": 0.0, "trace_every": 500}
    return solverhub.solve(problem, solver, options={**run, **options}, seed=seed)


@pytest.fixture(scope="module")
def note_problem():
    return solverhub.load_problem(NOTE_YAML)


@pytest.mark.parametrize("D", [0.03, 0.1, 0.3])
def test_odog_beats_o2nc_at_equal_gradient_calls(note_problem, D):
    odog = _solve(note_problem, "odog", D=D, eta=0.3, adaptive=False)
    o2nc = _solve(note_problem, "o2nc", D=D, eta=0.3)
    assert odog.oracle_calls["grad"] == o2nc.oracle_calls["grad"] == 4000
    odog_g = note_grad_norm(odog.extras["last_iterate"])      # ‖∇f(x_N)‖ recomputed in numpy
    o2nc_g = note_grad_norm(o2nc.extras["last_iterate"])
    assert odog.extras["last_iterate_grad_norm"] == pytest.approx(odog_g, rel=1e-9)
    assert odog_g <= 0.2 * o2nc_g, (odog_g, o2nc_g)   # note: ODOG 2–6e-3, O2NC-OGD 0.09–0.6
    assert odog_g <= 1e-2


def test_off_by_one_hint_fails_test_2(note_problem):
    """The shifted-hint variant (= OGD with 2 calls per round) does not pass test 2's criterion."""
    oracle = make_oracle(note_problem)
    x0 = oracle.x0.clone()
    rounds = reference_odog(oracle, x0, 1999, 0.3, 0.1, shifted_hint=True)
    shifted_g = note_grad_norm(rounds[-1][1])
    o2nc_g = note_grad_norm(_solve(note_problem, "o2nc", D=0.1, eta=0.3, output="last").solution["x"])
    assert shifted_g > 0.2 * o2nc_g, (shifted_g, o2nc_g)


def test_adaptive_odog_reaches_1e_3_independent_of_eta(note_problem):
    runs = [_solve(note_problem, "odog", D=0.1, adaptive=True, eta=eta) for eta in (0.3, 1e-3)]
    # min over episodes of ‖mean of g_n‖ (note: measured 3.2e-4)
    assert runs[0].stationarity.name == "goldstein_grad_norm"
    assert runs[0].stationarity.value <= 1e-3, runs[0].stationarity.value
    assert runs[0].stationarity.value == min(runs[0].extras["episode_grad_norms"])
    assert runs[0].extras["output_point_grad_norm"] <= 2e-3     # exact ∇f at the mean of w
    assert runs[0].solution == runs[1].solution and runs[0].stationarity == runs[1].stationarity
    fixed = [_solve(note_problem, "odog", D=0.1, adaptive=False, eta=eta, max_oracle_calls=401)
             for eta in (0.3, 0.1)]                                 # negative control: fixed η matters
    assert fixed[0].solution != fixed[1].solution


# -- test 4: stochastic oracle, same code path -------------------------------------------
NOISY_YAML = NOTE_YAML + "oracle: {noise: {sigma: 0.01, seed: 0}}\n"


def test_noisy_oracle_goes_through_the_same_recursion():
    """With noise every call is counted as stochastic_grad and the solver's iterates are the
    written-out recursion fed by the same oracle draws: no separate stochastic code path."""
    problem = solverhub.load_problem(NOISY_YAML)
    n = 60
    options = ODOGOptions(D=0.1, eta=0.3, adaptive=False)
    rounds, _, oracle = rounds_of(drive(ODOG, NOISY_YAML, options, n))
    assert oracle.counts == {"value": 0, "grad": 0, "hvp": 0, "stochastic_grad": 2 * n + 1}
    ref_oracle = make_oracle(problem)
    x0 = ref_oracle.x0.clone()
    for a, b in zip(rounds, reference_odog(ref_oracle, x0, n, 0.3, 0.1)):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    exact = rounds_of(drive(ODOG, NOTE_YAML, options, n))[0]
    assert not np.array_equal(exact[-1][1], rounds[-1][1])     # the noise did reach the iterates


def test_odog_beats_o2nc_with_noisy_gradients():
    problem = solverhub.load_problem(NOISY_YAML)
    odog = [_solve(problem, "odog", seed=s, D=0.1, max_oracle_calls=2000) for s in range(3)]
    o2nc = [_solve(problem, "o2nc", seed=s, D=0.1, max_oracle_calls=2000) for s in range(3)]
    assert all(r.oracle_calls["stochastic_grad"] == 2000 for r in odog + o2nc)
    assert len({json.dumps(r.solution) for r in odog}) == 3          # the seeds differ
    out = [np.mean([r.extras[k] for r in odog]) / np.mean([r.extras[k] for r in o2nc])
           for k in ("output_point_grad_norm", "last_iterate_grad_norm")]
    assert out[0] < 0.5 and out[1] < 0.5, out     # exact ‖∇f‖, mean over seeds (measured 0.21 and 0.16)


# -- the measure and the output point ------------------------------------------------------
def test_goldstein_measure_is_min_over_episodes_of_averaged_gradients():
    K, n = 7, 30
    rounds, states, _ = rounds_of(drive(ODOG, QUAD_YAML, ODOGOptions(D=0.1, K=K), n))
    gs = np.array([g for _, _, g, _ in rounds])
    ws = np.array([xp + 0.5 * d for xp, _, _, d in rounds])
    norms = [np.linalg.norm(gs[i * K:(i + 1) * K].mean(axis=0)) for i in range(n // K)]
    for m, st in enumerate(states[1:], start=1):
        done = m // K
        expected = (np.linalg.norm(gs[:m].mean(axis=0)) if done == 0 else min(norms[:done]))
        assert float(st.goldstein_grad_norm) == pytest.approx(expected, rel=1e-12), m
    best = int(np.argmin(norms))
    np.testing.assert_allclose(states[-1].episodes.output_point.numpy(), ws[best * K:(best + 1) * K].mean(axis=0),
                               rtol=1e-12, atol=1e-14)
    assert int(states[-1].episodes.best_index) == best
    episode = ws[best * K:(best + 1) * K]
    spread = np.sqrt(np.mean(np.sum((episode - episode.mean(axis=0)) ** 2, axis=1)))
    assert float(states[-1].episodes.output_spread) == pytest.approx(spread, rel=1e-9)
    assert float(states[0].goldstein_grad_norm) == pytest.approx(np.linalg.norm(quad_grad(QUAD_X0)))


def test_o2nc_output_point_beats_its_oscillating_last_iterate():
    """The plain conversion's last iterate circles the minimizer at radius ~D; the output
    (mean of w over the best episode) is the method's answer, the run's x, and far closer."""
    problem = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    options = {"max_iterations": 1000, "trace_every": 100}
    r = solverhub.solve(problem, "o2nc", options=options, seed=1)
    last = solverhub.solve(problem, "o2nc", options={**options, "output": "last"}, seed=1)
    assert r.solution["x"] == r.extras["output_point"] and r.objective == r.extras["output_point_objective"]
    assert last.solution["x"] == last.extras["last_iterate"] == r.extras["last_iterate"]
    assert last.objective == r.extras["last_iterate_objective"]
    f_star = solverhub.compute_baseline(problem).objective
    assert r.objective - f_star < 1e-3 * (last.objective - f_star)
    assert r.extras["output_point_grad_norm"] < 0.02 * r.extras["last_iterate_grad_norm"]
    # f is quadratic, so ∇f(mean of w) = mean of ∇f(w): the measure is the output point's gradient norm
    assert r.extras["output_point_grad_norm"] == pytest.approx(r.stationarity.value, rel=1e-9)


def test_report_and_call_roles(note_problem):
    r = _solve(note_problem, "odog", D=0.1, max_oracle_calls=1001)
    e = r.extras
    assert e["rounds"] == r.iterations == 500 and e["episodes_completed"] == 10
    assert e["grad_calls_by_role"] == {"h_1 at x_0": 1, "g_n at w_n": 500, "h_{n+1} at x_n + Δ_n/2": 500}
    assert sum(e["grad_calls_by_role"].values()) == r.oracle_calls["grad"] == 1001
    assert 0 < e["active_projections"] <= 500 and e["hint_error_sum_sq"] > 0
    assert (e["D"], e["K"], e["adaptive"]) == (0.1, 50, True) and len(e["eta_episode_means"]) == 10
    assert e["eta"] > 0 and all(v > 0 for v in e["eta_episode_means"])
    assert len(e["output_point"]) == 20 and e["best_episode"] == int(np.argmin(e["episode_grad_norms"]))
    o = _solve(note_problem, "o2nc", max_oracle_calls=120).extras
    assert o["grad_calls_by_role"] == {"g_n at w_n": 120} and o["hint_error_sum_sq"] is None
    assert o["eta"] == 0.3 and o["episodes_completed"] == 2


# -- test 5, 6: conformance kit and host syncs ---------------------------------------------
# check_solver(cls) with its defaults runs on every registered solver in tests/test_conformance.py



@pytest.mark.parametrize("solver", ["odog", "o2nc"])
def test_no_host_syncs_per_round(solver, count_host_syncs):
    problem = solverhub.load_problem(NOTE_YAML)
    cls = {"odog": ODOG, "o2nc": O2NC}[solver]
    syncs = count_host_syncs(("__float__", "item", "__bool__", "__int__", "__index__"), phases={"in_step": (cls, "step")})
    result = solverhub.solve(problem, solver, options={"max_iterations": 200, "tolerance": 0.0,
                                                       "trace_every": 50, "K": 20})
    assert result.iterations == 200 and len(result.trace) == 5
    assert syncs["in_step"] == 0, syncs
    assert syncs["n"] <= 2 * len(result.trace) + 10, syncs["n"]


# -- options, YAML, entry point ------------------------------------------------------------
@pytest.mark.parametrize("bad", [dict(D=0.0), dict(D=-1.0), dict(eta=0.0), dict(K=0), dict(gamma=0.0),
                                 dict(alpha=0.0), dict(D=float("inf"))])
def test_invalid_options_rejected(bad):
    for options in (ODOGOptions, O2NCOptions):
        with pytest.raises(ValueError):
            options(**bad)


def test_bad_option_from_the_api_is_an_option_error():
    from solverhub.errors import OptionError
    with pytest.raises(OptionError, match="'D' must be"):
        solverhub.solve(QUAD_YAML, "odog", options={"D": -1})
    with pytest.raises(OptionError, match="point"):
        solverhub.solve(QUAD_YAML, "o2nc", options={"point": "middle"})


def test_minibatch_finite_sum_is_accepted_and_counted():
    text = TINY_PROBLEMS["finite_sum"] + "oracle: {stochastic: {batch_size: 2, seed: 0}}\n"
    for name, calls in (("odog", 2 * 40 + 1), ("o2nc", 40)):
        r = solverhub.solve(text, name, options={"max_iterations": 40, "tolerance": 0.0})
        assert r.oracle_calls["stochastic_grad"] == calls and r.oracle_calls["grad"] == 0


def test_plugin_registered_without_importing_torch():
    """Registered by its entry point; loading it imports no torch."""
    check_entry_point('odog', solvers=('o2nc', 'odog'))
