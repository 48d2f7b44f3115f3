"""Kinds bilevel, monotone and minimax: the issue's files load as written, operators,
sets, baselines with known answers, monotonicity checks and bad input."""
import numpy as np
import pytest
import torch

import solverhub
from solverhub.baseline import NoBaseline, compute_baseline
from solverhub.errors import ProblemError
from solverhub.oracle import Oracle
from solverhub.problem.model import load_problem

BILEVEL = """
name: minnorm-bilevel
kind: bilevel
variables: {x: {shape: [30]}}
data:
  A: {generate: normal, shape: [10, 30], seed: 0}
  b: {generate: normal, shape: [10], seed: 1}
upper: {objective: "0.5 * sum_squares(x)"}
lower: {objective: "0.5 * sum_squares(A @ x - b)"}
"""
MONOTONE = """
name: linear-monotone
kind: monotone
variables: {z: {shape: [40]}}
data:
  M: {file: M.npy}
  q: {file: q.npy}
operator: "M @ z + q"
"""
MINIMAX = """
name: bilinear-saddle
kind: minimax
variables: {x: {shape: [10]}, y: {shape: [10]}}
data: {B: {generate: normal, shape: [10, 10], seed: 0}}
min: x
max: y
objective: "0.5 * sum_squares(x) + x @ (B @ y) - 0.5 * sum_squares(y)"
"""


@pytest.fixture
def monotone_file(tmp_path):
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    S = Q @ np.diag(np.linspace(0.01, 1, 40)) @ Q.T
    K = rng.normal(size=(40, 40))
    K = (K - K.T) / np.linalg.norm(K - K.T, 2)
    np.save(tmp_path / "M.npy", S + K)
    np.save(tmp_path / "q.npy", rng.normal(size=40))
    (tmp_path / "p.yaml").write_text(MONOTONE)
    return tmp_path / "p.yaml"


def test_bilevel_baseline_is_the_min_norm_solution():
    p = load_problem(BILEVEL)
    A, b = p.data["A"], p.data["b"]
    x_star = np.linalg.pinv(A) @ b
    base = compute_baseline(p)
    assert base.objective == pytest.approx(0.5 * x_star @ x_star, rel=1e-3)
    assert np.linalg.norm(base.x - x_star) <= 1e-2 * np.linalg.norm(x_star)
    assert "two-stage" in base.message and "g <= g* +" in base.message
    result = solverhub.solve(p, "cvxpy")
    assert result.stationarity.name == "bilevel_eps"
    assert {"eps_f", "eps_g", "lower_objective"} <= set(result.extras)
    assert result.stationarity.value == pytest.approx(max(result.extras["eps_f"], result.extras["eps_g"]))
    # the reference's own numbers reach the run: A (10 x 30) has full row rank, so min g = 0
    said = solverhub.solve(p, "cvxpy", baseline=True).extras["baseline"]["extras"]
    assert said["g_star"] == pytest.approx(0.0, abs=1e-8) and said["tolerance"] == pytest.approx(1e-9)


def test_bilevel_eps_identities():
    from solverhub.problem.kinds.bilevel import bilevel_eps
    gf, gg = torch.tensor([1.0, 0.0]), torch.tensor([-2.0, 0.0])      # balanced by lambda = 0.5
    eps_f, eps_g = bilevel_eps(gf, gg)
    assert float(eps_f) == 0.0 and float(eps_g) == 2.0
    eps_f, _ = bilevel_eps(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0]))   # lambda clipped at 0
    assert float(eps_f) == pytest.approx(np.sqrt(2))
    eps_f, eps_g = bilevel_eps(torch.tensor([3.0, 4.0]), torch.zeros(2))     # no lower gradient
    assert float(eps_f) == 5.0 and float(eps_g) == 0.0


def test_bilevel_oracle_counts_lower_calls_separately():
    p = load_problem(BILEVEL)
    tp = p.lower_torch("cpu", torch.float64)
    oracle = Oracle.for_problem(tp, p)
    x = torch.ones(30, dtype=torch.float64)
    g = oracle.grad(x, of="lower")
    A, b = p.data["A"], p.data["b"]
    np.testing.assert_allclose(g.numpy(), A.T @ (A @ np.ones(30) - b), rtol=1e-12)
    oracle.grad(x)
    assert oracle.counts["grad_lower"] == 1 and oracle.counts["grad"] == 1


def test_monotone_file_loads_and_baseline_solves_the_system(monotone_file):
    p = load_problem(monotone_file)
    M, q = p.data["M"], p.data["q"]
    ok, why = p.kind.monotonicity(p)
    assert ok is True and "monotone" in why
    base = compute_baseline(p)
    np.testing.assert_allclose(base.x, np.linalg.solve(M, -q), atol=1e-6)
    assert base.certificate.name == "operator_residual" and base.certificate.value < 1e-6


def test_monotone_lcp_baseline_satisfies_complementarity(tmp_path):
    p = load_problem("""
name: lcp
kind: monotone
variables: {z: {shape: [6]}}
data:
  M: [[2,1,0,0,0,0],[-1,2,0,0,0,0],[0,0,1,0,0,0],[0,0,0,3,1,0],[0,0,0,-1,1,0],[0,0,0,0,0,1]]
  q: [-1, 1, -2, 0.5, -1, 3]
operator: "M @ z + q"
set: {z: {lower: 0}}
""")
    base = compute_baseline(p)
    z = base.x
    w = p.data["M"] @ z + p.data["q"]
    assert z.min() > -1e-7 and w.min() > -1e-7 and abs(z @ w) < 1e-6
    assert base.certificate.value < 1e-6


def test_non_monotone_operator_is_detected():
    p = load_problem("""
name: nonmono
kind: monotone
variables: {z: {shape: [2]}}
data: {M: [[1.0, 0.0], [0.0, -1.0]]}
operator: "M @ z"
""")
    ok, why = p.kind.monotonicity(p)
    assert ok is False and "not monotone" in why


def test_minimax_operator_is_grad_x_and_minus_grad_y():
    p = load_problem(MINIMAX.replace("- 0.5 * sum_squares(y)", "- 0.5 * sum_squares(y) + sum(x) - 2 * sum(y)"))
    B = p.data["B"]
    tp = p.lower_torch("cpu", torch.float64)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=10), rng.normal(size=10)
    F = tp.operator(torch.as_tensor(np.concatenate([x, y]))).numpy()
    np.testing.assert_allclose(F[:10], x + B @ y + 1, rtol=1e-12)
    np.testing.assert_allclose(F[10:], -(B.T @ x - y - 2), rtol=1e-12)
    # F by generated reverse mode above; through autograd when z carries a graph (Jacobians, HVPs)
    J = np.block([[np.eye(10), B], [-B.T, np.eye(10)]])
    jac = torch.autograd.functional.jacobian(tp.operator, torch.as_tensor(np.concatenate([x, y])))
    np.testing.assert_allclose(jac.numpy(), J, atol=1e-12)
    base = compute_baseline(p)        # saddle point: solve the linear system F(z) = 0
    J = np.block([[np.eye(10), B], [-B.T, np.eye(10)]])
    z_star = np.linalg.solve(J, -np.concatenate([np.ones(10), 2 * np.ones(10)]))
    np.testing.assert_allclose(base.x, z_star, atol=1e-6)


def test_issue_minimax_file_loads_as_written():
    p = load_problem(MINIMAX)
    assert p.sections.minimize_over == ("x",) and p.sections.maximize_over == ("y",)
    assert compute_baseline(p).objective == pytest.approx(0.0, abs=1e-9)


def test_sets_project_and_natural_residual():
    p = load_problem("""
name: box-ball
kind: monotone
variables: {u: {shape: [3]}, v: {shape: [2]}}
operator: ["u - 2", "v"]
set: {u: {lower: -1, upper: 1}, v: {ball: 0.5}}
""")
    tp = p.lower_torch("cpu", torch.float64)
    z = torch.tensor([3.0, -4.0, 0.2, 3.0, 4.0], dtype=torch.float64)
    np.testing.assert_allclose(tp.project(z).numpy(), [1.0, -1.0, 0.2, 0.3, 0.4])
    # the VI solution: u = 1 (F = u - 2 < 0 pushes up to the bound), v = 0
    z_star = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    assert float(tp.objective(z_star)) == pytest.approx(0.0, abs=1e-15)
    assert float(tp.objective(z)) > 0.1
    with pytest.raises(NoBaseline, match="nonnegative orthant"):
        compute_baseline(p)


@pytest.mark.parametrize("text, message, line", [
    ("name: b\nkind: bilevel\nvariables: {x: {shape: [2]}}\nupper: {objective: 'sum(x)'}\n", "lower", 1),
    ("name: m\nkind: minimax\nvariables: {x: {shape: [2]}, y: {shape: [2]}}\nmin: x\nmax: y\n"
     "objective: 'sum_squares(x) - norm1(y)'\n", "not differentiable", 6),
    ("name: m\nkind: minimax\nvariables: {x: {shape: [2]}, y: {shape: [2]}}\nmin: x\nmax: x\n"
     "objective: 'sum_squares(x)'\n", "split the variables", 5),
    ("name: o\nkind: monotone\nvariables: {z: {shape: [3]}}\ndata: {M: {generate: normal, shape: [2, 3]}}\n"
     "operator: 'M @ z'\n", "shape (2,), expected (3,)", 5),
    ("name: o\nkind: monotone\nvariables: {z: {shape: [3]}}\noperator: 'z'\nset: {w: {lower: 0}}\n",
     "unknown variable 'w'", 5),
])
def test_bad_operator_and_bilevel_files(tmp_path, text, message, line):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProblemError) as err:
        load_problem(path)
    assert message in str(err.value) and f"p.yaml:{line}:" in str(err.value)


def test_constant_lower_level_has_a_zero_gradient():
    p = load_problem("name: c\nkind: bilevel\nvariables: {x: {shape: [2], x0: [1.0, 2.0]}}\n"
                     "upper: {objective: 'sum_squares(x)'}\nlower: {objective: '3.0'}\n")
    tp = p.lower_torch("cpu", torch.float64)
    oracle = Oracle.for_problem(tp, p)
    assert torch.equal(oracle.grad(tp.x0, of="lower"), torch.zeros(2, dtype=torch.float64))
    assert float(oracle.value(tp.x0, of="lower")) == 3.0
