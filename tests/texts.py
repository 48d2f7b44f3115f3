"""Problem texts shared by several test modules (imported as ``from texts import RIDGE``)."""

RIDGE = """\
name: ridge
kind: minimize
variables:
  x: {shape: [3]}
data:
  A: {generate: normal, shape: [4, 3], seed: 0}
  b: [1.0, 2.0, 3.0, 4.0]
parameters:
  lam: 0.1
objective: "0.5 * sum_squares(A @ x - b) + lam * sum_squares(x)"
"""
"""A small valid problem (line 4: x, 6: A, 7: b, 9: lam, 10: objective); tests derive variants with ``.replace``."""

LOGREG = """\
name: logreg-baseline
kind: finite_sum
variables: {x: {shape: [8]}}
data:
  A: {generate: normal, shape: [200, 8], seed: 0}
  y: {generate: sign, shape: [200], seed: 1}
parameters: {mu: 0.01}
objective: "mean(logistic(-y * (A @ x))) + 0.5 * mu * sum_squares(x)"
baseline: {solver: SCS, tolerance: 1e-8}
"""
"""A logistic regression whose SCS baseline misses its 1e-8 certificate until polished."""
