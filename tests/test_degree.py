"""The polynomial-degree pass (solverhub/problem/degree.py) on a table of expressions with known
degrees, and ``smooth_quadratic`` on composite problems (the part fista differentiates)."""
from __future__ import annotations

import pytest

from solverhub.problem.degree import degree, smooth_quadratic
from solverhub.problem.expr import Symbols, parse_expression
from solverhub.problem.model import load_problem

SYMBOLS = Symbols(variables={"x": (3,), "y": (3,), "X": (3, 3)},
                  data={"A": (4, 3), "b": (4,), "P": (3, 3), "c": (3,)}, parameters={"lam": 0.5, "two": 2.0})

TABLE = [
    ("1 + lam", 0), ("sum_squares(A @ c - b)", 0), ("exp(lam) * sum(c)", 0),
    ("sum(x)", 1), ("c @ x + 3", 1), ("sum(A @ x - b) / lam", 1), ("-x[0] + y[1:2].T @ c[0:1]", 1),
    ("trace(X) + sum(diag(X))", 1), ("mean(transpose(X) @ c)", 1),
    ("0.5 * sum_squares(A @ x - b)", 2), ("x @ y", 2), ("quad_form(x, P) + c @ x", 2), ("sum(square(x - c))", 2),
    ("sum(x ** 2)", 2), ("sum(power(x, two))", 2), ("x[0] * x[1] + lam * sum_squares(y)", 2),
    ("sum(x * x * x)", 3), ("sum_squares(x * y)", 4), ("sum(x ** 3)", 3), ("sum(power(x, 4))", 4),
    ("x[0] * x[1] * x[2] * y[0]", 4), ("sum(x ** 0)", 0),
    ("sum(exp(x))", None), ("norm2(x)", None), ("norm1(x)", None), ("sum(abs(x))", None), ("sum(1 / x)", None),
    ("sum(x ** 0.5)", None), ("sum(power(x, 1.5))", None), ("sum(huber(x, 1))", None), ("log_sum_exp(x)", None),
    ("sum(maximum(x, y))", None), ("min(x)", None), ("sum(x ** lam)", None), ("sum(sqrt(x))", None),
    ("sum_squares(A @ x - b) + sum(logistic(x))", None), ("sum(x / x)", None),
]


@pytest.mark.parametrize("text,expected", TABLE, ids=[t for t, _ in TABLE])
def test_degree_table(text, expected):
    node = parse_expression(text, SYMBOLS)
    assert degree(node, SYMBOLS.parameters) == expected


def _problem(objective, extra=""):
    return load_problem(f"""
name: q
kind: minimize
variables: {{x: {{shape: [4]}}}}
data:
  A: {{generate: normal, shape: [6, 4], seed: 1}}
  b: {{generate: normal, shape: [6], seed: 2}}
parameters: {{lam: 0.3}}
objective: "{objective}"
{extra}""")


@pytest.mark.parametrize("objective,expected", [
    ("0.5 * sum_squares(A @ x - b) + lam * norm1(x)", True),        # lasso: the smooth part is quadratic
    ("sum_squares(A @ x - b) + lam * sum_squares(x) + norm2(x)", True),   # elastic-net-like, group term
    ("sum(logistic(A @ x)) + lam * norm1(x)", False),                # l1-logistic: not polynomial
    ("sum_squares(A @ x - b)", True),                                 # smooth only: the objective itself
    ("sum(x ** 4) + lam * norm1(x)", False),                          # degree 4
])
def test_smooth_quadratic(objective, expected):
    assert smooth_quadratic(_problem(objective)) is expected


def test_smooth_quadratic_false_for_noisy_oracle_and_no_problem():
    noisy = _problem("sum_squares(A @ x - b) + lam * norm1(x)", "oracle: {noise: {sigma: 0.1, seed: 0}}")
    assert not smooth_quadratic(noisy)
    assert not smooth_quadratic(None)
