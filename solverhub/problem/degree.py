"""Polynomial degree of an expression in the variables, decided exactly from the IR.

``degree(node, parameters)`` is the degree of ``node`` as a polynomial in the problem's
variables, or None when it is not a polynomial (an atom such as ``exp``, ``abs`` or ``norm2``
of a non-constant argument, a division by a variable, a non-integer power). The rules:
data, parameters and numbers 0; a variable 1; ``+``/``-`` the max; ``*`` and ``@`` the sum;
``/`` by a constant the numerator's; ``**`` and ``power(., p)`` by a constant integer p >= 0,
p times; the linear atoms (``sum``, ``mean``, ``transpose``, ``diag``, ``trace``) and
indexing keep it; ``square``/``sum_squares`` double it; ``quad_form(x, P)`` (P constant)
2 · deg x; any atom of constant arguments 0. A sum whose terms cancel (``x*x - x*x``) keeps
the bound: the degree is an upper bound that is exact for the expressions users write.

Used by fista/proxgrad (:func:`smooth_quadratic`): when the smooth part s has degree <= 2,
∇s is affine, so ∇s and s at an affine combination of evaluated points follow without an
oracle call (Beck & Teboulle 2009 FISTA's extrapolated point; see docs/methods/fista.md).
"""
from __future__ import annotations

__all__ = ["degree", "smooth_quadratic"]

from typing import Mapping

from .composite import _constant
from .expr import BinOp, Call, Const, Data, Index, Neg, Node, Param, Var

LINEAR_ATOMS = ("sum", "mean", "transpose", "diag", "trace")
SQUARING_ATOMS = ("square", "sum_squares")


def _integer_power(node: Node, parameters: Mapping[str, float]) -> int | None:
    """A constant non-negative integer exponent, else None."""
    value = _constant(node, parameters)
    if value is None or value < 0 or value != int(value):
        return None
    return int(value)


def degree(node: Node, parameters: Mapping[str, float] = {}) -> int | None:   # noqa: B006 (read only)
    """Degree of ``node`` in the variables, or None when it is not a polynomial."""
    if isinstance(node, Var):
        return 1
    if isinstance(node, (Data, Param, Const)):
        return 0
    if isinstance(node, (Neg, Index)):
        return degree(node.arg, parameters)
    if isinstance(node, BinOp):
        left, right = degree(node.left, parameters), degree(node.right, parameters)
        if left is None or right is None:
            return None
        if node.op in ("+", "-"):
            return max(left, right)
        if node.op in ("*", "@"):
            return left + right
        if node.op == "/":
            return left if right == 0 else None
        if node.op == "**":
            if right != 0:
                return None
            p = _integer_power(node.right, parameters)
            return 0 if left == 0 else (None if p is None else left * p)
        return None
    if isinstance(node, Call):
        args = [degree(a, parameters) for a in node.args]
        if any(a is None for a in args):
            return None
        if all(a == 0 for a in args):
            return 0
        if node.atom in LINEAR_ATOMS:
            return args[0]
        if node.atom in SQUARING_ATOMS:
            return 2 * args[0]
        if node.atom == "quad_form":
            return 2 * args[0] if args[1] == 0 else None
        if node.atom == "power" and args[1] == 0:
            p = _integer_power(node.args[1], parameters)
            return None if p is None else args[0] * p
        return None
    return None


def smooth_quadratic(problem, config=None) -> bool:
    """Whether the smooth part that fista/proxgrad differentiate (``sections.functions["smooth"]`` of a
    composite problem, else the objective) is a polynomial of degree <= 2 in the unknowns, so that its
    gradient is affine. False for model kinds (no expression) and for a stochastic or noisy oracle
    (``config``: the oracle's ``OracleConfig``, default the problem's); False without a problem."""
    if problem is None:
        return False
    sections, config = problem.sections, config or problem.oracle_config
    node = (sections.functions or {}).get("smooth", sections.objective)
    if node is None or config.stochastic or config.noisy:
        return False
    d = degree(node, problem.parameters)
    return d is not None and d <= 2
