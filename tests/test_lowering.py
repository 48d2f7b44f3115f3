"""The two lowerings of one IR agree: torch(x) == cvxpy(x) for every atom and operator."""
import numpy as np
import pytest
import torch

from solverhub.problem.atoms import ATOMS
from solverhub.problem.model import load_problem

cp = pytest.importorskip("cvxpy")

HEADER = """
name: lowering-{i}
kind: minimize
variables:
  x: {{shape: [4]}}
  Y: {{shape: [2, 3]}}
data:
  A: [[1.0, 2.0, -1.0, 0.5], [0.0, -1.0, 3.0, 1.0], [2.0, 0.5, 0.5, -2.0]]
  P: [[2.0, 0.1, 0.0, 0.0], [0.1, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.2], [0.0, 0.0, 0.2, 1.0]]
  v: [0.5, -1.5, 2.0]
parameters:
  lam: 0.25
objective: "{expr}"
"""

# (expression, domain) -- domain "pos" evaluates at a strictly positive point
EXPRESSIONS = [
    ("sum(x)", None), ("mean(x)", None), ("sum_squares(A @ x - v)", None), ("norm1(x)", None),
    ("norm2(x)", None), ("norm2(Y)", None), ("norm1(Y)", None), ("log_sum_exp(x)", None), ("sum(abs(x))", None),
    ("sum(square(x))", None), ("sum(exp(x))", None), ("sum(log(x))", "pos"), ("sum(log1p(x))", "pos"),
    ("sum(logistic(A @ x))", None), ("sum(relu(x))", None), ("sum(sqrt(x))", "pos"),
    ("sum(maximum(x, 0.5))", None), ("sum(minimum(x, -0.5))", None), ("quad_form(x, P)", None),
    ("x[0] - x[-1] + sum(x[1:3]) * lam", None), ("sum(Y[:, 1]) + Y[1, 2] - sum(Y[0])", None),
    ("-sum(x ** 2) / 2 + 3e-1 * x[2]", None), ("sum((A @ x) * v) + 1.5e+0", None),
    ("sum(Y @ x[0:3])", None), ("v @ A @ x", None), ("sum(x * x) - 2 * lam ** 2", None),
    ("sum(huber(A @ x - v, 0.5))", None), ("max(x) - min(A @ x) + norm_inf(Y)", None), ("sum(entr(x))", "pos"),
    ("sum(kl_div(x, 0.5 + x ** 2))", "pos"), ("sum(pos(x) - 2 * neg(x))", None), ("sum(power(x, 3))", "pos"),
    ("sum(power(x, lam))", "pos"), ("sum(Y.T @ v[0:2]) + sum(transpose(A) @ v)", None),
    ("trace(P @ diag(x)) + sum(diag(P) * x)", None),
]


@pytest.mark.parametrize("i, expr, domain", [(i, e, d) for i, (e, d) in enumerate(EXPRESSIONS)])
def test_torch_and_cvxpy_agree(i, expr, domain):
    problem = load_problem(HEADER.format(i=i, expr=expr))
    rng = np.random.default_rng(i)
    x = rng.normal(size=problem.dim)
    if domain == "pos":
        x = np.abs(x) + 0.1
    tp = problem.lower_torch("cpu", torch.float64)
    torch_value = float(tp.objective(torch.as_tensor(x)))
    variables = {v.name: cp.Variable(v.shape, name=v.name) for v in problem.variables}
    for name, value in problem.unflatten_numpy(x).items():
        variables[name].value = value
    cvx_value = float(_objective_expr(problem, variables).value)
    assert torch_value == pytest.approx(cvx_value, rel=1e-12, abs=1e-12)


def _objective_expr(problem, variables):
    from solverhub.lower.to_cvxpy import compile_cvxpy
    env = dict(problem.data)
    env.update(variables)
    return compile_cvxpy(problem.sections.objective, env, problem.parameters)


def test_every_atom_with_a_cvxpy_form_is_covered():
    used = {name for name in ATOMS if any(name + "(" in e for e, _ in EXPRESSIONS)}
    with_cvxpy = {name for name, atom in ATOMS.items() if atom.cvxpy is not None}
    assert with_cvxpy <= used


@pytest.mark.parametrize("name", sorted(n for n, a in ATOMS.items() if a.shape_rule == "elementwise"))
def test_elementwise_atoms_match_numpy(name):
    reference = {"abs": np.abs, "square": np.square, "exp": np.exp, "log": np.log, "log1p": np.log1p,
                 "logistic": lambda z: np.logaddexp(0, z), "relu": lambda z: np.maximum(z, 0), "sqrt": np.sqrt,
                 "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "sin": np.sin, "cos": np.cos,
                 "entr": lambda z: -z * np.log(z), "pos": lambda z: np.maximum(z, 0),
                 "neg": lambda z: np.maximum(-z, 0)}[name]
    z = np.linspace(0.05, 3.0, 7) if name in ("log", "sqrt", "log1p", "entr") else np.linspace(-30, 30, 7)
    out = ATOMS[name].torch(torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(out, reference(z), rtol=1e-12, atol=1e-300)


def test_curvature_declared_for_every_atom():
    assert {a.curvature for a in ATOMS.values() if a.rule is None} <= {"convex", "concave", "affine", "nonconvex"}
    assert all(a.curvature == "by p" for a in ATOMS.values() if a.rule is not None)   # power(x, p): curvature_at(p)
    assert all((a.cvxpy is None) == (a.curvature == "nonconvex") for a in ATOMS.values())


def test_non_dcp_problem_has_no_baseline_with_reason():
    from solverhub.baseline import NoBaseline, compute_baseline
    problem = load_problem(HEADER.format(i="r", expr="sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)"))
    with pytest.raises(NoBaseline, match="not DCP|cannot represent"):
        compute_baseline(problem)
    problem = load_problem(HEADER.format(i="t", expr="sum(tanh(x))"))
    with pytest.raises(NoBaseline, match="tanh"):
        compute_baseline(problem)
