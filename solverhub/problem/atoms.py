"""The atoms of the expression language, each defined once: its arity, its shape
rule, its torch form, its cvxpy form and its curvature (cf. cvxpy's atoms).

``cvxpy=None`` marks an atom without a convex form: a problem using it has no
cvxpy baseline ("no convex baseline: atom 'tanh' has no cvxpy form").
"""
from __future__ import annotations

__all__ = ["Atom", "ATOMS"]

from dataclasses import dataclass
from typing import Callable

from .._lazy import lazy_module

torch = lazy_module("torch")
cp = lazy_module("cvxpy")

ELEMENTWISE = "elementwise"
REDUCE = "reduce"
BROADCAST2 = "broadcast2"
QUAD_FORM = "quad_form"


@dataclass(frozen=True)
class Atom:
    name: str
    arity: int
    shape_rule: str          # elementwise | reduce | broadcast2 | quad_form
    torch: Callable
    cvxpy: Callable | None
    curvature: str           # convex | concave | affine | nonconvex (cvxpy decides DCP)
    doc: str
    smooth: bool = True      # differentiable everywhere on its domain (abs, norms, relu, max/min are not)


def _t_maximum(a, b):
    return torch.maximum(*_as_tensors(a, b))


def _t_minimum(a, b):
    return torch.minimum(*_as_tensors(a, b))


def _as_tensors(a, b):
    if not torch.is_tensor(a):
        a = torch.as_tensor(a, dtype=b.dtype, device=b.device)
    if not torch.is_tensor(b):
        b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
    return a, b


def _cp_flat(x):
    return cp.vec(x, order="C") if getattr(x, "ndim", 0) > 1 else x


def _cp_norm2(x):
    return cp.norm(_cp_flat(x), 2)


def _cp_mean(x):
    return cp.sum(x) / max(1, int(getattr(x, "size", 1)))


_ATOM_LIST = [
    Atom("sum", 1, REDUCE, lambda x: torch.sum(x), lambda x: cp.sum(x), "affine", "sum of all entries"),
    Atom("mean", 1, REDUCE, lambda x: torch.mean(x), _cp_mean, "affine", "mean of all entries"),
    Atom("sum_squares", 1, REDUCE, lambda x: torch.sum(x * x), lambda x: cp.sum_squares(x), "convex",
         "sum of squared entries"),
    Atom("norm1", 1, REDUCE, lambda x: torch.sum(torch.abs(x)), lambda x: cp.norm1(_cp_flat(x)), "convex",
         "l1 norm of all entries", smooth=False),
    Atom("norm2", 1, REDUCE, lambda x: torch.linalg.vector_norm(x), _cp_norm2, "convex",
         "Euclidean (Frobenius) norm of all entries", smooth=False),
    Atom("log_sum_exp", 1, REDUCE, lambda x: torch.logsumexp(x.reshape(-1), 0), lambda x: cp.log_sum_exp(x),
         "convex", "log(sum(exp(x)))"),
    Atom("abs", 1, ELEMENTWISE, lambda x: torch.abs(x), lambda x: cp.abs(x), "convex", "|x| elementwise", smooth=False),
    Atom("square", 1, ELEMENTWISE, lambda x: x * x, lambda x: cp.square(x), "convex", "x**2 elementwise"),
    Atom("exp", 1, ELEMENTWISE, lambda x: torch.exp(x), lambda x: cp.exp(x), "convex", "exp elementwise"),
    Atom("log", 1, ELEMENTWISE, lambda x: torch.log(x), lambda x: cp.log(x), "concave", "natural log elementwise"),
    Atom("log1p", 1, ELEMENTWISE, lambda x: torch.log1p(x), lambda x: cp.log1p(x), "concave", "log(1+x) elementwise"),
    Atom("logistic", 1, ELEMENTWISE, lambda x: torch.nn.functional.softplus(x), lambda x: cp.logistic(x), "convex",
         "log(1+exp(x)) elementwise, computed stably"),
    Atom("relu", 1, ELEMENTWISE, lambda x: torch.relu(x), lambda x: cp.pos(x), "convex", "max(x, 0) elementwise", smooth=False),
    Atom("sqrt", 1, ELEMENTWISE, lambda x: torch.sqrt(x), lambda x: cp.sqrt(x), "concave", "square root elementwise"),
    Atom("tanh", 1, ELEMENTWISE, lambda x: torch.tanh(x), None, "nonconvex", "hyperbolic tangent elementwise"),
    Atom("sigmoid", 1, ELEMENTWISE, lambda x: torch.sigmoid(x), None, "nonconvex", "1/(1+exp(-x)) elementwise"),
    Atom("sin", 1, ELEMENTWISE, lambda x: torch.sin(x), None, "nonconvex", "sine elementwise"),
    Atom("cos", 1, ELEMENTWISE, lambda x: torch.cos(x), None, "nonconvex", "cosine elementwise"),
    Atom("maximum", 2, BROADCAST2, _t_maximum, lambda a, b: cp.maximum(a, b), "convex", "elementwise max of two", smooth=False),
    Atom("minimum", 2, BROADCAST2, _t_minimum, lambda a, b: cp.minimum(a, b), "concave", "elementwise min of two", smooth=False),
    Atom("quad_form", 2, QUAD_FORM, lambda x, P: x @ (P @ x), lambda x, P: cp.quad_form(x, P),
         "convex", "x' P x for a vector x and a constant matrix P (convex when P is PSD; cvxpy checks)"),
]

ATOMS: dict[str, Atom] = {a.name: a for a in _ATOM_LIST}
