"""compile_torch's generated code computes what the nested closures compute (the lowering it
replaced for speed, issue 16): the same values and gradients on every expression of
test_lowering (every atom and operator) and on the objective, constraints and functions of
every shipped expression problem."""
from pathlib import Path

import numpy as np
import pytest
import torch

from solverhub.lower.to_torch import compile_torch
from solverhub.problem.kinds.base import TorchEvaluator
from solverhub.problem.model import load_problem

ROOT = Path(__file__).resolve().parents[1]
CORE_KINDS = {"minimize", "constrained", "finite_sum", "bilevel", "monotone", "minimax"}


def _nodes(problem):
    s = problem.sections
    nodes = [("objective", s.objective)] if s.objective is not None else []
    nodes += [(f"constraint {i}", c) for i, c in enumerate(s.constraints) if hasattr(c, "shape")]
    nodes += [(f"function {k}", v) for k, v in s.functions.items() if hasattr(v, "shape")]
    op = getattr(s, "operator", None)
    nodes += [(f"operator {i}", v) for i, v in enumerate(op if isinstance(op, tuple) else ()) if hasattr(v, "shape")]
    return nodes


def _agree(problem, seed=0):
    ev = TorchEvaluator(problem, torch.device("cpu"), torch.float64)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(np.abs(problem.x0) + 0.5 + rng.random(problem.dim)).requires_grad_(True)
    checked = 0
    for label, node in _nodes(problem):
        env = ev.env(x)
        ours, ref = ev.tensor(compile_torch(node, ev.params)(env)), ev.tensor(compile_closures(node, ev.params)(env))
        assert ours.shape == ref.shape, label
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12, equal_nan=True, msg=label)
        if ref.requires_grad and torch.isfinite(ref).all():
            (g1,) = torch.autograd.grad(ours.sum(), x, allow_unused=True)
            (g2,) = torch.autograd.grad(ref.sum(), x, allow_unused=True)
            assert (g1 is None) == (g2 is None), label
            if g2 is not None:
                torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12, equal_nan=True, msg=label)
        checked += 1
    return checked


from expression_cases import EXPRESSIONS, HEADER  # noqa: E402  (shared with test_lowering; tests/ is on sys.path)
from torch_closures import compile_closures  # noqa: E402  (the reference lowering, tests/torch_closures.py)


def test_every_lowering_expression():
    for i, (expr, _) in enumerate(EXPRESSIONS):
        assert _agree(load_problem(HEADER.format(i=i, expr=expr))) >= 1, expr


def test_every_shipped_expression_problem():
    checked = 0
    for path in sorted((ROOT / "problems").rglob("*.yaml")):
        kind = next((line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
                     if line.startswith("kind:")), None)
        if kind in CORE_KINDS:
            checked += _agree(load_problem(path))
    assert checked >= 40, checked


def test_a_long_sum_is_straight_line_code():
    """As deep a sum as the parser takes: one statement per node, no nesting for Python's parser."""
    p = load_problem(LONG.format(expr="+".join(["x[0]"] * 300)))
    ev = TorchEvaluator(p, torch.device("cpu"), torch.float64)
    x = torch.full((2,), 1.5, dtype=torch.float64)
    assert float(compile_torch(p.sections.objective, ev.params)(ev.env(x))) == pytest.approx(450.0, rel=1e-12)


LONG = """
name: long
kind: minimize
variables: {{x: {{shape: [2]}}}}
objective: "{expr}"
"""
