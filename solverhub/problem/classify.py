"""Classify each ``constraints:`` line when a problem loads (issue 15): a **bound** (one
variable, or an indexed part of it, against a constant: ``x >= 0``), a **simple set** with a
cheap projection (the simplex ``sum(x) == 1`` together with ``x >= 0``; l2/l1/linf balls
``norm2(x) <= r``), **affine** (``A @ x == b``: every term affine in the variables) or a
general **smooth** constraint function (its Jacobian by autograd). The classification is
descriptive: it is stored in ``Problem.structure.constraints`` and printed by
``solverhub validate``; the cvxpy lowering and the torch constraint functions do not change.
"""
from __future__ import annotations

__all__ = ["classify_constraints"]

import math

from .expr import BinOp, Call, Compare, Const, Data, Index, Neg, Node, Param, Var
from .degree import LINEAR_ATOMS
from .structure import ConstraintInfo

_BALLS = {"norm2": "l2 ball", "norm1": "l1 ball", "norm_inf": "linf ball"}
_LINEAR_CALLS = frozenset(LINEAR_ATOMS)     # the atoms that keep a polynomial degree (degree.py)


def _constant(node: Node) -> bool:
    if isinstance(node, (Data, Param, Const)):
        return True
    if isinstance(node, Var):
        return False
    if isinstance(node, Neg):
        return _constant(node.arg)
    if isinstance(node, BinOp):
        return _constant(node.left) and _constant(node.right)
    if isinstance(node, Index):
        return _constant(node.arg)
    if isinstance(node, Call):
        return all(_constant(a) for a in node.args)
    return False


def _affine(node: Node) -> bool:
    """True when ``node`` is affine in the variables (constants count as affine)."""
    if _constant(node) or isinstance(node, Var):
        return True
    if isinstance(node, (Neg, Index)):
        return _affine(node.arg)
    if isinstance(node, BinOp):
        if node.op in "+-":
            return _affine(node.left) and _affine(node.right)
        if node.op in ("*", "@"):
            return (_constant(node.left) and _affine(node.right)) or (_affine(node.left) and _constant(node.right))
        if node.op == "/":
            return _affine(node.left) and _constant(node.right)
        return False
    if isinstance(node, Call) and node.atom in _LINEAR_CALLS:
        return all(_affine(a) for a in node.args)
    return False


def _variable_of(node: Node) -> str | None:
    """The variable name when ``node`` is a variable or an index into one."""
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Index) and isinstance(node.arg, Var):
        return node.arg.name
    return None


def _is_one(node: Node, parameters) -> bool:
    if isinstance(node, Const):
        return math.isclose(float(node.value), 1.0)
    if isinstance(node, Param):
        return math.isclose(float(parameters.get(node.name, math.nan)), 1.0)
    return False


def _ball(node: Compare) -> str | None:
    """``normX(x) <= r`` or ``normX(x - c) <= r`` (``r >= normX(...)`` too)."""
    body, bound = (node.left, node.right) if node.op == "<=" else (node.right, node.left)
    if node.op == "==" or not isinstance(body, Call) or body.atom not in _BALLS or not _constant(bound):
        return None
    (arg,) = body.args[:1]
    if isinstance(arg, BinOp) and arg.op in "+-" and _constant(arg.right):
        arg = arg.left
    name = _variable_of(arg)
    return None if name is None else f"{_BALLS[body.atom]} on {name}"


def _bound(node: Compare) -> str | None:
    if node.op == "==":
        return None
    for var_side, const_side in ((node.left, node.right), (node.right, node.left)):
        name = _variable_of(var_side)
        if name is not None and _constant(const_side):
            return f"bound on {name}"
    return None


def _nonneg_variables(nodes) -> set[str]:
    """Variables (whole, not indexed) with a ``x >= 0`` / ``0 <= x`` line."""
    out = set()
    for node in nodes:
        pairs = {">=": (node.left, node.right), "<=": (node.right, node.left)}.get(node.op)
        if pairs and isinstance(pairs[0], Var) and isinstance(pairs[1], Const) and pairs[1].value == 0:
            out.add(pairs[0].name)
    return out


def _simplex(node: Compare, nonneg: set[str], parameters) -> str | None:
    if node.op != "==":
        return None
    for total, one in ((node.left, node.right), (node.right, node.left)):
        if (isinstance(total, Call) and total.atom == "sum" and isinstance(total.args[0], Var)
                and total.args[0].name in nonneg and _is_one(one, parameters)):
            return f"simplex on {total.args[0].name} (with {total.args[0].name} >= 0)"
    return None


def _value(node: Node, parameters) -> float | None:
    if isinstance(node, Const):
        return float(node.value)
    if isinstance(node, Param) and node.name in parameters:
        return float(parameters[node.name])
    if isinstance(node, Neg):
        v = _value(node.arg, parameters)
        return None if v is None else -v
    return None


def _projection(node: Compare, nonneg: set[str], parameters) -> tuple:
    """The projection a line admits on its own (``ConstraintInfo.projection``), or ()."""
    if node.op == "==":
        for total, one in ((node.left, node.right), (node.right, node.left)):
            if isinstance(total, Call) and total.atom == "sum" and isinstance(total.args[0], Var) \
                    and total.args[0].name in nonneg and _is_one(one, parameters):
                return ("simplex", total.args[0].name, 1.0)
        return ()
    small, big = (node.left, node.right) if node.op == "<=" else (node.right, node.left)
    if isinstance(small, Call) and small.atom in _BALLS and isinstance(small.args[0], Var):
        r = _value(big, parameters)
        return ("ball", small.atom, small.args[0].name, r) if r is not None and r > 0 else ()
    for var, const, side in ((small, big, "upper"), (big, small, "lower")):
        c = _value(const, parameters)
        if isinstance(var, Var) and c is not None:
            return ("implied", var.name) if side == "lower" and c == 0 and var.name in nonneg else (side, var.name, c)
    return ()


def _size(node: Compare) -> int:
    import numpy as np
    return int(np.prod(np.broadcast_shapes(node.left.shape, node.right.shape), dtype=np.int64))


def classify_constraints(constraints, *, parameters=None, texts=(), line_of=None) -> tuple[ConstraintInfo, ...]:
    """One :class:`ConstraintInfo` per compiled ``Compare`` node (``texts``: the YAML entries, a
    string or a named entry whose ``name`` becomes the label; ``line_of(path)``: their file lines)."""
    parameters = dict(parameters or {})
    nonneg = _nonneg_variables(constraints)
    simplex_vars = {p[1] for p in (_projection(n, nonneg, parameters) for n in constraints) if p[:1] == ("simplex",)}
    out = []
    for i, node in enumerate(constraints):
        detail = _bound(node)
        cls = "bound"
        if detail is None:
            detail, cls = _simplex(node, nonneg, parameters) or _ball(node), "simple_set"
        if detail is None and _affine(node.left) and _affine(node.right):
            detail, cls = ("affine equality" if node.op == "==" else "affine inequality"), "affine"
        if detail is None:
            detail, cls = "general smooth function (Jacobian by autograd)", "smooth"
        entry = texts[i] if i < len(texts) else ""
        name = getattr(entry, "name", None)     # ``{expr: ..., name: budget}`` entries carry a name
        out.append(ConstraintInfo(index=i, label=name or f"constraints[{i}]", op=node.op, cls=cls, detail=detail,
                                  size=_size(node), line=line_of(("constraints", i)) if line_of else None,
                                  text=str(entry), projection=_projection(node, simplex_vars, parameters)))
    return tuple(out)
