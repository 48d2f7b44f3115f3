"""Counting oracles: exact gradients/HVPs, counts, budgets, minibatch and noise statistics."""
import math

import numpy as np
import pytest
import torch

from solverhub.oracle import BudgetExhausted, Oracle, OracleConfig
from solverhub.problem.model import load_problem

LOGREG = """
name: logreg-oracle
kind: finite_sum
variables: {{x: {{shape: [5]}}}}
data:
  X: {{generate: normal, shape: [64, 5], seed: 3}}
  y: {{generate: sign, shape: [64], seed: 4}}
parameters: {{mu: 0.1}}
objective: "mean(logistic(-y * (X @ x))) + 0.5 * mu * sum_squares(x)"
{oracle}
"""


def _oracle(oracle_section="", **kw):
    problem = load_problem(LOGREG.format(oracle=oracle_section))
    tp = problem.lower_torch("cpu", torch.float64)
    cfg = problem.oracle_config
    return problem, Oracle(tp.objective, x0=tp.x0, n_rows=problem.sections.n_rows, config=cfg, **kw)


def _numpy_grad(problem, x):
    X, y, mu = problem.data["X"], problem.data["y"], problem.parameters["mu"]
    z = -y * (X @ x)
    s = 1 / (1 + np.exp(-z))
    return (X.T @ (s * -y)) / len(y) + mu * x


def test_gradient_matches_closed_form_and_counts():
    problem, oracle = _oracle()
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    g = oracle.grad(x)
    np.testing.assert_allclose(g.numpy(), _numpy_grad(problem, x.numpy()), rtol=1e-12)
    v, g2 = oracle.value_and_grad(x)
    assert oracle.counts == {"value": 1, "grad": 2, "hvp": 0, "stochastic_grad": 0}
    oracle.peek_value_and_grad(x)
    assert oracle.total_calls == 3


def test_hvp_matches_exact_hessian():
    problem, oracle = _oracle()
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    X, y, mu = problem.data["X"], problem.data["y"], problem.parameters["mu"]
    s = 1 / (1 + np.exp(y * (X @ x.numpy())))
    H = (X.T * (s * (1 - s))) @ X / len(y) + mu * np.eye(5)
    v = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    np.testing.assert_allclose(oracle.hvp(x, v).numpy(), H @ v.numpy(), rtol=1e-10)
    assert oracle.counts["hvp"] == 1


def test_budget_is_never_exceeded():
    _, oracle = _oracle(max_calls=3)
    x = torch.zeros(5, dtype=torch.float64)
    oracle.grad(x)
    oracle.value_and_grad(x)
    with pytest.raises(BudgetExhausted):
        oracle.value(x)
    assert oracle.total_calls == 3


def test_minibatch_gradient_is_unbiased():
    problem, oracle = _oracle("oracle: {stochastic: {batch_size: 8, seed: 0}}")
    assert oracle.stochastic
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    draws = torch.stack([oracle.grad(x) for _ in range(4000)])
    full = _numpy_grad(problem, x.numpy())
    se = draws.std(0).numpy() / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(0).numpy() - full) < 5 * se + 1e-12)
    assert oracle.counts["stochastic_grad"] == 4000 and oracle.counts["grad"] == 0
    # a single draw is not the full gradient (it really is a minibatch)
    assert not np.allclose(draws[0].numpy(), full)


def test_noise_has_the_declared_sigma_and_is_seeded():
    problem, oracle = _oracle("oracle: {noise: {sigma: 0.5, seed: 7}}")
    x = torch.zeros(5, dtype=torch.float64)
    full = _numpy_grad(problem, x.numpy())
    draws = torch.stack([oracle.grad(x) for _ in range(4000)]).numpy() - full
    assert draws.std() == pytest.approx(0.5, rel=0.05)
    assert abs(draws.mean()) < 0.05
    _, again = _oracle("oracle: {noise: {sigma: 0.5, seed: 7}}")
    assert torch.equal(again.grad(x), torch.as_tensor(draws[0] + full))


def test_config_stochastic_flag():
    assert not OracleConfig().stochastic
    assert OracleConfig(batch_size=4).stochastic and OracleConfig(sigma=0.1).stochastic


def test_value_and_grad_is_charged_all_or_nothing():
    _, oracle = _oracle(max_calls=3)
    x = torch.zeros(5, dtype=torch.float64)
    oracle.value_and_grad(x)
    with pytest.raises(BudgetExhausted):
        oracle.value_and_grad(x)          # needs 2, only 1 left: nothing is charged
    assert oracle.total_calls == 2
    oracle.grad(x)
    assert oracle.total_calls == 3


def test_per_coordinate_and_second_moment_noise():
    problem = load_problem("""
name: q
kind: minimize
variables: {x: {shape: [3], x0: [1.0, 2.0, 0.0]}}
objective: "0.5 * sum_squares(x)"
oracle: {noise: {sigma: [0.0, 2.0, 0.5], seed: 1, model: second_moment}}
""")
    tp = problem.lower_torch("cpu", torch.float64)
    oracle = Oracle(tp.objective, x0=tp.x0, config=problem.oracle_config)
    draws = torch.stack([oracle.grad(tp.x0) for _ in range(4000)]).numpy()
    np.testing.assert_array_equal(draws[:, 0], 1.0)        # sigma 0: exact
    np.testing.assert_array_equal(draws[:, 2], 0.0)        # multiplicative: zero gradient stays zero
    assert draws[:, 1].std() == pytest.approx(2.0 * 2.0, rel=0.05)   # |g| * sigma
    from solverhub.errors import ProblemError
    with pytest.raises(ProblemError, match="2 values for 3 unknowns"):
        load_problem("""
name: q
kind: minimize
variables: {x: {shape: [3]}}
objective: "sum_squares(x)"
oracle: {noise: {sigma: [1.0, 2.0]}}
""")


def test_indefinite_quad_form_has_no_convex_baseline():
    from solverhub.baseline import NoBaseline, compute_baseline
    problem = load_problem("""
name: saddle
kind: minimize
variables: {x: {shape: [2]}}
data: {P: [[1.0, 0.0], [0.0, -1.0]]}
objective: "quad_form(x, P) + sum_squares(x) ** 2"
""")
    with pytest.raises(NoBaseline):
        compute_baseline(problem)


def test_grad_pair_uses_one_minibatch_for_both_points():
    """grad_pair(x, y): both gradients on the same rows (those grad(x) would draw), 2 calls."""
    problem, oracle = _oracle("oracle: {stochastic: {batch_size: 8, seed: 5}}")
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    y = torch.linspace(2, -0.5, 5, dtype=torch.float64)
    gx, gy = oracle.grad_pair(x, y)
    assert oracle.counts["stochastic_grad"] == 2 and oracle.total_calls == 2
    gen = torch.Generator().manual_seed(5)
    rows = torch.randint(64, (8,), generator=gen).numpy()
    X, lab, mu = problem.data["X"][rows], problem.data["y"][rows], problem.parameters["mu"]

    def batch_grad(w):
        s = 1 / (1 + np.exp(lab * (X @ w)))
        return (X.T @ (s * -lab)) / len(lab) + mu * w
    np.testing.assert_allclose(gx.numpy(), batch_grad(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(gy.numpy(), batch_grad(y.numpy()), rtol=1e-12)
    # two separate grad calls draw two batches: a pair at (x, x) agrees exactly, separate calls do not
    a, b = oracle.grad_pair(x, x)
    assert torch.equal(a, b) and not torch.equal(oracle.grad(x), oracle.grad(x))
    # exact oracle: two exact gradients, counted as grad; budget charged all or nothing
    problem, exact = _oracle(max_calls=3)
    gx, gy = exact.grad_pair(x, y)
    np.testing.assert_allclose(gy.numpy(), _numpy_grad(problem, y.numpy()), rtol=1e-12)
    assert exact.counts["grad"] == 2
    with pytest.raises(BudgetExhausted):
        exact.grad_pair(x, y)
    assert exact.total_calls == 2


def test_grad_pair_shares_the_noise_draw():
    problem, oracle = _oracle("oracle: {noise: {sigma: 0.5, seed: 7}}")
    x, y = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    gx, gy = oracle.grad_pair(x, y)
    exact = _numpy_grad(problem, x.numpy()) - _numpy_grad(problem, y.numpy())
    np.testing.assert_allclose((gx - gy).numpy(), exact, rtol=1e-10)      # additive noise cancels
    assert not np.allclose(gx.numpy(), _numpy_grad(problem, x.numpy()))   # but it is there
