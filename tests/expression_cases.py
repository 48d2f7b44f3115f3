"""The expression corpus shared by test_lowering (torch vs cvxpy) and test_torch_codegen
(straight-line code vs closures): every atom and operator once, in a problem template."""

__all__ = ["HEADER", "EXPRESSIONS"]

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
