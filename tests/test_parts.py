"""Tests of the shared method parts (solverhub/parts): each against a closed form or an
independent reference: torch.optim.Adam's trajectory, the ball projection's KKT conditions,
numpy episode bookkeeping, the weak Wolfe conditions and one host sync per line-search trial."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from solverhub.plugin import (  # noqa: E402
    LineFunction, adam_direction, adam_init, adam_step, conversion_report, episode_round, episodes_start,
    ogd_ball_step, project_ball, weak_wolfe_search)
from solverhub.testing import ALL_HOST_SYNCS  # noqa: E402

_rng = np.random.default_rng(3)
_Q, _ = np.linalg.qr(_rng.standard_normal((6, 6)))
H = _Q @ np.diag(np.geomspace(0.05, 20.0, 6)) @ _Q.T
H = 0.5 * (H + H.T)
B = _rng.standard_normal(6)
X0 = _rng.standard_normal(6)
QUAD_YAML = (f"name: quad6\nkind: minimize\nvariables: {{x: {{shape: [6], x0: {json.dumps(X0.tolist())}}}}}\n"
             f"data:\n  H: {json.dumps(H.tolist())}\n  b: {json.dumps(B.tolist())}\n"
             "objective: \"0.5 * quad_form(x, H) + b @ x\"\n")


def _grad(x):
    return torch.as_tensor(H) @ x + torch.as_tensor(B)


# -- Adam ------------------------------------------------------------------------------
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_step_follows_torch_optim_adam(weight_decay):
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 1e-8
    param = torch.tensor(X0, requires_grad=True)
    reference = torch.optim.Adam([param], lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)
    x, moments = torch.tensor(X0), adam_init(torch.tensor(X0))
    for _ in range(200):
        param.grad = _grad(param.detach())
        reference.step()
        x, moments = adam_step(x, moments, _grad(x), lr, b1, b2, eps, weight_decay)
        assert torch.allclose(x, param.detach(), rtol=0, atol=1e-12)
    assert moments.t == 200
    assert float(torch.linalg.vector_norm(x - param.detach())) <= 1e-12


def test_adam_direction_is_the_bias_corrected_ratio_and_matches_the_step():
    b1, b2, eps = 0.9, 0.999, 1e-8
    moments = adam_init(torch.zeros(6, dtype=torch.float64))
    m, v = np.zeros(6), np.zeros(6)
    x = torch.tensor(X0)
    for t in range(1, 30):
        g = _grad(x)
        d, moments = adam_direction(moments, g, b1, b2, eps)
        gn = g.numpy()
        m, v = b1 * m + (1 - b1) * gn, b2 * v + (1 - b2) * gn * gn     # Kingma & Ba, Algorithm 1
        expected = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(d.numpy(), expected, rtol=1e-12, atol=1e-15)
        x_step, _ = adam_step(x, adam_init(x) if t == 1 else prev, g, 0.01, b1, b2, eps)
        np.testing.assert_allclose((x - 0.01 * d).numpy(), x_step.numpy(), rtol=0, atol=1e-14)
        prev, x = moments, x - 0.01 * d


def test_adam_direction_with_zero_eps_and_zero_gradient_is_zero():
    d, moments = adam_direction(adam_init(torch.zeros(3)), torch.tensor([0.0, 1.0, -2.0]), 0.9, 0.999, 0.0)
    assert torch.equal(d[0:1], torch.zeros(1)) and torch.allclose(d[1:], torch.tensor([1.0, -1.0]))
    assert moments.t == 1


# -- ball projection -------------------------------------------------------------------
@pytest.mark.parametrize("radius", [0.3, 1.0, 5.0])
def test_project_ball_kkt(radius):
    """p = argmin ‖p − v‖ s.t. ‖p‖ ≤ r  iff  ‖p‖ ≤ r, v − p = λ p, λ ≥ 0, λ (‖p‖ − r) = 0."""
    for v in torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2:
        p, active = project_ball(v, radius)
        norm = float(torch.linalg.vector_norm(p))
        assert norm <= radius * (1 + 1e-15)
        residual = v - p
        lam = float(residual @ p) / max(norm ** 2, 1e-300)
        assert lam >= -1e-14
        assert torch.allclose(residual, lam * p, atol=1e-12)                     # stationarity
        assert abs(lam * (norm - radius)) <= 1e-12                               # complementarity
        assert bool(active) == (float(torch.linalg.vector_norm(v)) > radius)
        assert torch.equal(p, v) or bool(active)


def test_project_ball_zero_vector_and_tensor_radius_without_host_sync(count_host_syncs):
    syncs = count_host_syncs(ALL_HOST_SYNCS)
    p, active = project_ball(torch.zeros(3, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64))
    q, _ = ogd_ball_step(torch.zeros(2), torch.tensor([3.0, 4.0]), 1.0, 1.0)
    assert syncs["n"] == 0
    assert torch.equal(p, torch.zeros(3, dtype=torch.float64)) and not bool(active)
    assert torch.allclose(q, torch.tensor([-0.6, -0.8]))


# -- O2NC episodes -----------------------------------------------------------------------
def test_episodes_against_numpy(count_host_syncs):
    rng = np.random.default_rng(0)
    K, rounds = 4, 14
    ws, gs, etas = rng.standard_normal((rounds, 3)), rng.standard_normal((rounds, 3)), rng.uniform(0.1, 1, rounds)
    x0 = torch.zeros(3, dtype=torch.float64)
    ep = episodes_start(x0, torch.tensor(7.0, dtype=torch.float64), tracked=1)
    assert float(ep.measure) == 7.0 and torch.equal(ep.output_point, x0)
    syncs = count_host_syncs(ALL_HOST_SYNCS)
    states = []
    for n in range(rounds):
        ep = episode_round(ep, torch.tensor(ws[n]), torch.tensor(gs[n]), K, torch.tensor([etas[n]]))
        states.append(ep)
    assert syncs["n"] == 0
    norms = [np.linalg.norm(gs[k * K:(k + 1) * K].mean(0)) for k in range(rounds // K)]
    best = int(np.argmin(norms))
    np.testing.assert_allclose(torch.stack(ep.norms).numpy(), norms, rtol=1e-13)
    assert ep.completed == 3 and ep.episode_rounds == 2 and ep.rounds == rounds and int(ep.best_index) == best
    assert float(ep.measure) == pytest.approx(min(norms), rel=1e-13)
    w_best = ws[best * K:(best + 1) * K]
    np.testing.assert_allclose(ep.output_point.numpy(), w_best.mean(0), rtol=1e-13, atol=1e-15)
    spread = math.sqrt(np.mean(np.sum((w_best - w_best.mean(0)) ** 2, axis=1)))
    assert float(ep.output_spread) == pytest.approx(spread, rel=1e-12)
    np.testing.assert_allclose([float(m[0]) for m in ep.tracked_means],
                               [etas[k * K:(k + 1) * K].mean() for k in range(3)], rtol=1e-13)
    # first episode in progress: the running averages
    second = states[1]
    assert float(second.measure) == pytest.approx(np.linalg.norm(gs[:2].mean(0)), rel=1e-13)
    np.testing.assert_allclose(second.output_point.numpy(), ws[:2].mean(0), rtol=1e-13)
    np.testing.assert_allclose(second.tracked.numpy(), [etas[:2].sum()], rtol=1e-14)
    assert float(states[K].measure) == float(states[K + 1].measure)     # after an episode: the best so far


def test_conversion_report_reads_the_oracle_uncounted(make_oracle):
    oracle = make_oracle(QUAD_YAML)
    x = torch.as_tensor(X0)
    ep = episodes_start(x, torch.tensor(1.0, dtype=torch.float64))
    for _ in range(3):
        ep = episode_round(ep, x, _grad(x), 2)
    rep = conversion_report(ep, oracle, x)
    assert oracle.total_calls == 0
    assert rep["episodes_completed"] == 1 and rep["rounds"] == 3 and rep["best_episode"] == 0
    assert rep["output_point_grad_norm"] == pytest.approx(float(torch.linalg.vector_norm(_grad(x))), rel=1e-12)
    assert rep["output_point_spread"] == pytest.approx(0.0, abs=1e-12)


# -- line search -------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e3])
def test_weak_wolfe_search_satisfies_the_wolfe_conditions(make_oracle, count_host_syncs, scale):
    oracle = make_oracle(QUAD_YAML)
    x = torch.as_tensor(X0)
    d = -scale * _grad(x)
    phi = LineFunction(oracle, x, d)
    phi0 = float(0.5 * x @ torch.as_tensor(H) @ x + torch.as_tensor(B) @ x)
    dphi0 = float(_grad(x) @ d)
    syncs = count_host_syncs(ALL_HOST_SYNCS)
    c1, c2 = 1e-4, 0.9
    result = weak_wolfe_search(phi, phi0, dphi0, c1=c1, c2=c2)
    assert result.found and not result.approximate
    assert syncs["n"] == result.trials                                         # one host sync per trial
    assert oracle.counts["grad"] == oracle.counts["value"] == result.trials
    eta = result.step
    xe = x + eta * d
    value = float(0.5 * xe @ torch.as_tensor(H) @ xe + torch.as_tensor(B) @ xe)
    assert value <= phi0 + c1 * eta * dphi0                                    # sufficient decrease
    assert float(_grad(xe) @ d) >= c2 * dphi0                                  # curvature
    assert torch.allclose(phi.point, xe, atol=1e-14) and float(phi.value) == pytest.approx(value, rel=1e-12)
    assert scale != 1e-4 or result.trials > 1                                   # doubling from a short step


def test_weak_wolfe_search_reports_unbounded_and_non_descent():
    unbounded = weak_wolfe_search(lambda e: (-e, -1.0), 0.0, -1.0, max_trials=10)
    assert not unbounded.found and unbounded.trials == 10 and "no upper bracket" in unbounded.message
    assert not weak_wolfe_search(lambda e: (e, 1.0), 0.0, 1.0).found
