"""The generated reverse-mode gradient (solverhub.lower.to_torch_grad) agrees with autograd over
compile_torch's function: to 1e-12 relative in float64 on every expression of the shared corpus
(tests/expression_cases.py) and on the objective and scalar functions of every shipped expression
problem (with row subsets for finite sums); broadcast adjoints are reduced to the operand's shape;
a node without a rule keeps autograd; no host syncs, no gradient aliasing an input."""
from pathlib import Path

import numpy as np
import pytest
import torch

from solverhub.lower.to_torch_grad import VJP_ATOMS, compile_torch_value_and_grad
from solverhub.oracle import Oracle
from solverhub.problem.expr import Call, Node, Var, free_names
from solverhub.problem.kinds.base import TorchEvaluator
from solverhub.problem.model import load_problem
from solverhub.testing import ALL_HOST_SYNCS, count_host_syncs

from expression_cases import EXPRESSIONS, HEADER  # noqa: E402  (tests/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
EXPRESSION_KINDS = {"minimize", "constrained", "finite_sum", "bilevel", "minimax"}
TOL = dict(rtol=1e-12, atol=1e-12)


def _autograd(value, x, rows=None):
    xg = x.detach().clone().requires_grad_(True)
    v = value(xg, rows)
    (g,) = torch.autograd.grad(v, xg, allow_unused=True) if v.requires_grad else (None,)
    return v.detach(), torch.zeros_like(x) if g is None else g


def _check(problem, x, label, rows=None, syncs=None) -> bool:
    """Compare every scalar function of ``problem`` at ``x``; True when reverse mode applied to all.
    ``syncs`` (count_host_syncs'): the generated code makes none."""
    ev = TorchEvaluator(problem, torch.device("cpu"), torch.float64)
    nodes = [("objective", problem.sections.objective)]
    nodes += [(k, v) for k, v in problem.sections.functions.items() if getattr(v, "shape", None) in ((), (1,))]
    everywhere = True
    for name, node in nodes:
        value = ev.scalar(node)
        vg = getattr(value, "value_and_grad", None)
        if vg is None:
            everywhere &= not free_names(node, Var)      # a constant function needs no gradient code
            continue
        before = syncs["n"] if syncs is not None else 0
        v, g = vg(x, rows)
        assert syncs is None or syncs["n"] == before, f"{label} {name}: a host sync"
        v_ref, g_ref = _autograd(value, x, rows)
        assert v.shape == () and g.shape == x.shape and g.dtype == x.dtype, f"{label} {name}"
        assert not v.requires_grad and not g.requires_grad, f"{label} {name}"
        torch.testing.assert_close(v, v_ref, **TOL, equal_nan=True, msg=f"{label} {name}: value")
        torch.testing.assert_close(g, g_ref, **TOL, equal_nan=True, msg=f"{label} {name}: gradient")
    return everywhere


def _point(problem, seed=0, positive=True):
    rng = np.random.default_rng(seed)
    x = rng.random(problem.dim) + 0.25 if positive else rng.standard_normal(problem.dim)
    return torch.as_tensor(x, dtype=torch.float64)


def _atoms(node) -> set:
    """The atoms called anywhere in ``node``."""
    found = {node.atom} if isinstance(node, Call) else set()
    for child in vars(node).values():
        for c in child if isinstance(child, tuple) else (child,):
            if isinstance(c, Node):
                found |= _atoms(c)
    return found


def test_every_corpus_expression(monkeypatch):
    syncs = count_host_syncs(monkeypatch, ALL_HOST_SYNCS)
    reversed_, expected = [], []
    for i, (expr, domain) in enumerate(EXPRESSIONS):
        p = load_problem(HEADER.format(i=i, expr=expr))
        points = [_point(p, i)] + ([] if domain == "pos" else [_point(p, i, positive=False)])
        if all([_check(p, x, expr, syncs=syncs) for x in points]):
            reversed_.append(expr)
        if _atoms(p.sections.objective) <= VJP_ATOMS:
            expected.append(expr)
    # every corpus expression made of atoms with a rule is done in reverse mode (the others: autograd)
    missing = sorted(set(expected) - set(reversed_))
    assert reversed_ == expected and len(expected) == len(EXPRESSIONS), (len(expected), missing)


def test_every_shipped_expression_problem():
    checked = rowed = 0
    for path in sorted((ROOT / "problems").rglob("*.yaml")):
        kind = next((line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
                     if line.startswith("kind:")), None)
        if kind not in EXPRESSION_KINDS:
            continue
        p = load_problem(path)
        x = _point(p, 1, positive=True)
        checked += _check(p, x, path.name)
        if p.sections.n_rows:
            rows = torch.as_tensor([0, p.sections.n_rows - 1, 0, p.sections.n_rows // 2])
            rowed += _check(p, x, f"{path.name} rows", rows)
    assert checked >= 25 and rowed >= 3, (checked, rowed)


BROADCAST = """
name: broadcast
kind: minimize
variables:
  x: {{shape: [3]}}
  s: {{shape: []}}
  c: {{shape: [2, 1]}}
  unused: {{shape: [2]}}
data:
  A: [[1.0, 2.0, -1.0], [0.5, -3.0, 2.0]]
  u: [0.5, -1.0, 2.0]
parameters:
  lam: 0.7
objective: "{expr}"
"""


@pytest.mark.parametrize("expr", [
    "sum_squares(x + lam)", "sum_squares(x * A)", "sum(A / x)", "sum(exp(A - x))", "sum_squares(A * c + x)",
    "sum_squares(s * u - x) + s ** 2", "sum((s + A) * (c - x))", "sum(A @ x * c) / s",
    "norm2(x - s) + log_sum_exp(A * s)",
    "mean(logistic(A @ x)) + sum(u @ A.T)", "sum_squares(c.T @ A) + trace(diag(x) @ diag(u))",
    "sum(power(x * x + 1, 1.5)) + sum(sqrt(c * c + 2)) + sum(tanh(x) * sigmoid(u))",
    "sum(sin(x) * cos(u - x)) - sum(entr(x * x + 1)) + sum(huber(A @ x, 0.5))",
    "quad_form(x, A.T @ A) + sum(log1p(square(x)))", "x[0] * x[1] - sum(x[1:]) / lam + sum(A[:, 1:] @ x[1:])",
])
def test_broadcast_adjoints_are_reduced(expr, monkeypatch):
    """Each operand's adjoint summed to its shape: x (3) against A (2, 3), s (scalar), c (2, 1);
    the variable 'unused' gets zeros."""
    p = load_problem(BROADCAST.format(expr=expr))
    syncs = count_host_syncs(monkeypatch, ALL_HOST_SYNCS)
    for seed in (0, 1):
        assert _check(p, _point(p, seed, positive=True), expr, syncs=syncs), f"{expr}: no reverse mode"


def test_kinks_follow_autograd():
    """At nonsmooth points the rules take autograd's choice: norm2 at 0, abs/relu/pos/neg at 0, x ** 0,
    ties of max/min/norm_inf (shared evenly) and of maximum/minimum (halved), kl_div at x = 0."""
    for expr in ["norm2(x) + norm2(c)", "sum(abs(x)) + norm1(c)", "sum(relu(x) + pos(x) - 3 * neg(x))",
                 "sum(x ** 0) + sum(power(x, 0)) + sum(x ** 1)", "max(x) - 2 * min(c) + norm_inf(x - 1)",
                 "max(x) + min(x) + max(A @ x)",
                 "sum(maximum(x, 0) + minimum(c, x) * u) + sum(maximum(A, c))", "sum(kl_div(x, c * c + 1))"]:
        p = load_problem(BROADCAST.format(expr=expr))
        x = torch.zeros(p.dim, dtype=torch.float64)
        x[0] = 1.0 if "x ** 0" in expr else 0.0
        x[1] = -1.0 if "norm_inf" in expr else 0.0          # |x - 1| ties at x = -1 and x = 3
        x[2] = 3.0 if "norm_inf" in expr else 0.0
        assert _check(p, x, expr), expr


def test_a_node_without_a_rule_keeps_autograd(monkeypatch):
    """huber's M known only when running (2 * lam) has no rule; nor has logistic once its rule is gone."""
    import solverhub.lower.to_torch_grad as reverse
    monkeypatch.delitem(reverse._ATOM_RULES, "logistic")
    monkeypatch.setattr(reverse, "_CACHE", {})          # nothing generated before the rule went
    for expr in ("sum(huber(x, 2 * lam)) + sum_squares(x)", "sum(logistic(A @ x)) + s * sum(x)"):
        p = load_problem(BROADCAST.format(expr=expr))
        assert compile_torch_value_and_grad(p.sections.objective, p.parameters,
                                            [(v.name, v.shape) for v in p.variables]) is None
        assert not _check(p, _point(p), "fallback")
        tp = p.kind.lower_torch(p, torch.device("cpu"), torch.float64)
        oracle = Oracle.for_problem(tp, p)
        assert oracle._vg is None
        x = _point(p, 2, positive=False)
        x_ref = x.clone().requires_grad_(True)
        (g_ref,) = torch.autograd.grad(tp.objective(x_ref), x_ref)
        torch.testing.assert_close(oracle.grad(x), g_ref, **TOL)
        assert float(g_ref.abs().sum()) > 0


def test_the_oracle_uses_reverse_mode_without_syncs(monkeypatch):
    p = load_problem(BROADCAST.format(expr="0.5 * sum_squares(x) + sum(x * u) + sum(A @ x * c) + s ** 2"))
    tp = p.kind.lower_torch(p, torch.device("cpu"), torch.float64)
    oracle = Oracle.for_problem(tp, p)
    assert oracle._vg is not None
    x = _point(p, 3)
    keep = x.clone()
    _, g_ref = _autograd(tp.objective, x)
    syncs = count_host_syncs(monkeypatch, ALL_HOST_SYNCS)
    v, g = oracle.value_and_grad(x)
    g2 = oracle.grad(x)
    assert syncs["n"] == 0
    torch.testing.assert_close(g, g_ref, **TOL)
    torch.testing.assert_close(g2, g_ref, **TOL)
    assert oracle.counts["grad"] == 2 and oracle.counts["value"] == 1
    g.mul_(0.0)                        # the gradient is a new tensor: neither x nor the data change
    g2.mul_(0.0)
    torch.testing.assert_close(x, keep, **TOL)
    torch.testing.assert_close(oracle.grad(x), g_ref, **TOL)


def test_the_gradient_never_aliases_an_input():
    """``0.5 * sum_squares(x)``'s gradient is x and ``u @ x``'s is u: copies, not the tensors themselves."""
    for expr in ("0.5 * sum_squares(x)", "u @ x", "sum(x * u)", "sum(u.T * x)", "sum(u[0:3] * x)", "sum(x * 1.0)"):
        q = load_problem(f"""
name: alias
kind: minimize
variables: {{x: {{shape: [3]}}}}
data: {{u: [1.0, 2.0, 3.0]}}
objective: "{expr}"
""")
        ev = TorchEvaluator(q, torch.device("cpu"), torch.float64)
        x = _point(q)
        _, g = ev.scalar(q.sections.objective).value_and_grad(x)
        assert g.data_ptr() not in (x.data_ptr(), ev.data["u"].data_ptr()), expr
        assert _check(q, x, expr)


def test_float32_stays_float32():
    p = load_problem(BROADCAST.format(expr="mean(logistic(A @ x)) + sum_squares(c * x) + s ** 2 + max(x)"))
    ev = TorchEvaluator(p, torch.device("cpu"), torch.float32)
    value = ev.scalar(p.sections.objective)
    x = _point(p, 4).to(torch.float32)
    v, g = value.value_and_grad(x)
    v_ref, g_ref = _autograd(value, x)
    assert v.dtype == g.dtype == torch.float32
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(v, v_ref, rtol=1e-6, atol=1e-6)


def test_generated_once_per_node_and_parameters():
    p = load_problem(BROADCAST.format(expr="sum_squares(A @ x - lam) + s * s"))
    wrt = [(v.name, v.shape) for v in p.variables]
    fn = compile_torch_value_and_grad(p.sections.objective, p.parameters, wrt)
    assert compile_torch_value_and_grad(p.sections.objective, dict(p.parameters), wrt) is fn
    other = compile_torch_value_and_grad(p.sections.objective, {**p.parameters, "lam": 2.0}, wrt)
    assert other is not fn and other is not None


def test_a_long_sum():
    """300 terms (as test_torch_codegen's long sum): straight-line code, every adjoint accumulated."""
    p = load_problem("name: long\nkind: minimize\nvariables: {x: {shape: [2]}}\nobjective: \""
                     + "+".join(["x[0] * x[1]"] * 300) + "\"\n")
    value = TorchEvaluator(p, torch.device("cpu"), torch.float64).scalar(p.sections.objective)
    v, g = value.value_and_grad(torch.tensor([1.5, 2.0], dtype=torch.float64))
    assert float(v) == pytest.approx(900.0, rel=1e-12)
    torch.testing.assert_close(g, torch.tensor([600.0, 450.0], dtype=torch.float64), **TOL)


RANDOM = """
name: random-{i}
kind: minimize
variables:
  x: {{shape: [3]}}
  s: {{shape: []}}
  c: {{shape: [2, 1]}}
  M: {{shape: [2, 3]}}
data:
  A: [[1.0, 2.0, -1.0], [0.5, -3.0, 2.0]]
  P: [[2.0, 0.1, 0.0], [0.1, 1.0, 0.3], [0.0, 0.3, 3.0]]
  u: [0.5, -1.0, 2.0]
  v: [1.5, -0.5]
parameters:
  lam: 0.7
objective: "{expr}"
"""
_LEAVES = {(): ["s", "s", "lam", "0.5"], (3,): ["x", "x", "u"], (2, 3): ["M", "M", "A"], (2, 1): ["c"],
           (2,): ["v", "M[:, 0]", "c[:, 0]"]}
_UNARY = ["exp(tanh({}))", "sin({})", "cos({})", "sigmoid({})", "logistic({})", "square({})", "sqrt(square({}) + 1)",
          "log(square({}) + 1)", "log1p(square({}))", "entr(sigmoid({}))", "power(square({}) + 1, 1.5)", "abs({})",
          "relu({})", "neg({})", "huber({}, 0.5)", "-{}", "({}) ** 2", "({}) ** 3"]
_REDUCE = ["sum({})", "mean({})", "norm2({})", "log_sum_exp({})", "max({})", "min({})", "norm_inf({})",
           "norm1({})", "sum_squares({})"]


def _random_expr(rng, shape, depth):
    """A random expression of ``shape`` (broadcasting binary ops, matmuls, indexing, atoms)."""
    pick = rng.integers(1, 6) if depth > 0 else 0
    if pick == 0:
        return str(rng.choice(_LEAVES[shape]))
    if pick == 1:
        return rng.choice(_UNARY).format(_random_expr(rng, shape, depth - 1))
    if pick in (2, 3):                              # a broadcasting binary op: one side may be smaller
        smaller = {(): [()], (3,): [(), (3,)], (2, 3): [(), (3,), (2, 1), (2, 3)], (2, 1): [(), (2, 1)],
                   (2,): [(), (2,)]}[shape]
        a, b = _random_expr(rng, shape, depth - 1), _random_expr(rng, smaller[rng.integers(len(smaller))], depth - 1)
        op = rng.choice(["+", "-", "*", "/"])
        if op == "/":
            b = f"(square({b}) + 1)"
        return f"({a} {op} {b})" if rng.integers(2) else f"({b} {op} {a})" if op in "+*" else f"({a} {op} {b})"
    if pick == 4:                                   # a matmul of that shape
        forms = {(): ["({}) @ u".format(_random_expr(rng, (3,), depth - 1)), "quad_form({}, P)".format(
                    _random_expr(rng, (3,), depth - 1))],
                 (3,): ["v @ ({})".format(_random_expr(rng, (2, 3), depth - 1)), "P @ ({})".format(
                    _random_expr(rng, (3,), depth - 1))],
                 (2,): ["({}) @ x".format(_random_expr(rng, (2, 3), depth - 1)), "A @ ({})".format(
                    _random_expr(rng, (3,), depth - 1))],
                 (2, 3): ["({}) @ P".format(_random_expr(rng, (2, 3), depth - 1)),
                          "c @ P[0:1] + ({})".format(_random_expr(rng, (2, 3), depth - 1))],
                 (2, 1): ["({}) @ P[:, 0:1]".format(_random_expr(rng, (2, 3), depth - 1))]}[shape]
        return f"({rng.choice(forms)})"
    if shape == ():                                 # a reduction
        return str(rng.choice(_REDUCE)).format(_random_expr(rng, [(3,), (2, 3), (2, 1)][rng.integers(3)], depth - 1))
    index = {(3,): "(({}) @ P)[1]", (2,): "({})[:, 1]", (2, 3): "({}).T.T", (2, 1): "({})[:, 2:3]"}[shape]
    return index.format(_random_expr(rng, (2, 3), depth - 1))


def test_random_expressions():
    """60 random expressions over every shape pairing the parser allows, at a generic point."""
    rng = np.random.default_rng(7)
    done = variable = 0
    for i in range(60):
        expr = f"sum({_random_expr(rng, [(), (3,), (2, 3), (2, 1)][i % 4], 3)})"
        p = load_problem(RANDOM.format(i=i, expr=expr))
        done += _check(p, _point(p, i, positive=False), expr)
        variable += bool(free_names(p.sections.objective, Var))
    assert done == 60 and variable >= 50, (done, variable)


@pytest.mark.parametrize("expr", ["x[0:1] * 2 + c[0] * s", "exp(x[1:2])", "exp(s)", "s", "c[1] ** 2"])
def test_scalar_and_one_entry_objectives(expr):
    """Objectives of shape () and (1,): a 0-d value, and a gradient that is not the value's tensor."""
    p = load_problem(BROADCAST.format(expr=expr))
    x = _point(p, 5)
    assert _check(p, x, expr)
    v, g = TorchEvaluator(p, torch.device("cpu"), torch.float64).scalar(p.sections.objective).value_and_grad(x)
    assert v.shape == () and g.data_ptr() != v.data_ptr()
