"""The two lowerings of one IR agree: torch(x) == cvxpy(x) for every atom and operator."""
import numpy as np
import pytest
import torch

from solverhub.problem.atoms import ATOMS
from solverhub.problem.model import load_problem

cp = pytest.importorskip("cvxpy")

from expression_cases import EXPRESSIONS, HEADER  # noqa: E402  (tests/ is on sys.path)



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
