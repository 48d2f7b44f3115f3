"""The atoms of the expression language, each defined once: its arity, its shape rule, its torch
form, its cvxpy form, its curvature and sign, its scalar form (to check constant sub-expressions)
and -- where it has a cheap one -- its proximal operator. Conventions are cvxpy's (Diamond & Boyd,
"CVXPY", JMLR 17, 2016; its atom list): ``huber(x, M)`` is x^2 inside [-M, M] and 2M|x| - M^2
outside, ``neg(x)`` is max(-x, 0) (nonnegative), ``kl_div(x, y)`` is x log(x/y) - x + y.

``cvxpy=None`` marks an atom without a convex form: a problem using it has no cvxpy baseline
("no convex baseline: atom 'tanh' has no cvxpy form").

``curvature`` and ``sign`` are what cvxpy infers for the atom applied to variables (``is_convex()``,
``is_nonneg()``): curvature ``convex | concave | affine | nonconvex``, sign ``nonneg | nonpos | unknown``.
An atom with constant arguments whose curvature depends on them (``power``'s ``p``) says ``by p``
and answers :meth:`Atom.curvature_at` / :meth:`Atom.sign_at` for given values.

``prox(v, step, *constants)`` (see :mod:`solverhub.problem.prox`) is the proximal operator of
``step * f``: ``argmin_p f(p) + ||p - v||^2 / (2 step)``, with ``f`` the atom summed over the
entries for an elementwise atom and the atom itself for a reduction; ``constants`` are the
atom's constant arguments after ``x`` (``huber``'s ``M``), none for the others.
"""
from __future__ import annotations

__all__ = ["Atom", "ATOMS", "ELEMENTWISE", "ELEMENTWISE_CONST", "REDUCE", "BROADCAST2", "QUAD_FORM",
           "TRANSPOSE", "DIAG", "TRACE"]

import math
from dataclasses import dataclass
from typing import Callable

from .._lazy import lazy_module
from . import prox as _prox

torch = lazy_module("torch")
cp = lazy_module("cvxpy")

ELEMENTWISE = "elementwise"               # f(x), shape of x
ELEMENTWISE_CONST = "elementwise_const"   # f(x, c): shape of x, c a scalar constant or parameter
REDUCE = "reduce"                         # f(x) -> scalar
BROADCAST2 = "broadcast2"                 # f(a, b): broadcast shape of a, b
QUAD_FORM = "quad_form"                   # f(x, P): x vector, P square constant -> scalar
TRANSPOSE = "transpose"                   # axes reversed (a vector or a scalar is unchanged)
DIAG = "diag"                             # vector (n) -> (n, n) matrix; square matrix (n, n) -> vector (n)
TRACE = "trace"                           # square matrix -> scalar


@dataclass(frozen=True)
class Atom:
    """One atom of the language (the module docstring says what each field means)."""

    name: str
    arity: int
    shape_rule: str          # one of the constants above
    torch: Callable
    cvxpy: Callable | None
    curvature: str           # convex | concave | affine | nonconvex, or "by p" (see ``rule``)
    doc: str
    smooth: bool = True      # differentiable everywhere on its domain (abs, norms, relu, max/min are not)
    sign: str = "unknown"    # nonneg | nonpos | unknown, for any argument (cvxpy's is_nonneg/is_nonpos), or "by p"
    scalar: Callable | None = None   # the math form on floats (raises on overflow/domain errors)
    prox: Callable | None = None     # prox(v, step, *constants) -> tensor of v's shape
    constants: tuple[int, ...] = ()  # argument positions that must be scalar constants or parameters
    rule: Callable | None = None     # (*constant values) -> (curvature, sign) where they depend on them

    def curvature_at(self, *constants: float) -> str:
        """The curvature for these values of the constant arguments (``power(x, 0.5)``: concave)."""
        return self.rule(*constants)[0] if self.rule is not None else self.curvature

    def sign_at(self, *constants: float) -> str:
        """The sign for these values of the constant arguments."""
        return self.rule(*constants)[1] if self.rule is not None else self.sign


# -- torch forms ---------------------------------------------------------------------------------
def _as_tensors(a, b):
    if not torch.is_tensor(a):
        a = torch.as_tensor(a, dtype=b.dtype, device=b.device)
    if not torch.is_tensor(b):
        b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
    return a, b


def _t_maximum(a, b):
    return torch.maximum(*_as_tensors(a, b))


def _t_minimum(a, b):
    return torch.minimum(*_as_tensors(a, b))


def _t_huber(x, M):
    a = torch.abs(x)
    return torch.where(a <= M, x * x, 2 * M * a - M * M)


def _t_kl_div(x, y):
    """x log(x/y) - x + y, with 0 log(0/y) = 0 (so kl_div(0, y) = y, also at y = 0, as scipy)."""
    x, y = _as_tensors(x, y)
    return torch.special.xlogy(x, x / torch.where(x == 0, torch.ones_like(y), y)) - x + y


def _t_transpose(x):
    return x.permute(*range(x.ndim - 1, -1, -1)) if x.ndim > 1 else x


# -- cvxpy forms ---------------------------------------------------------------------------------
def _cp_flat(x):
    return cp.vec(x, order="C") if getattr(x, "ndim", 0) > 1 else x


def _cp_norm2(x):
    return cp.norm(_cp_flat(x), 2)


def _cp_mean(x):
    return cp.sum(x) / max(1, int(getattr(x, "size", 1)))


# -- scalar forms (constant sub-expressions; math raises on overflow and domain errors) ----------
def _softplus(v: float) -> float:
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _entr(v: float) -> float:
    if v < 0:
        raise ValueError("entr of a negative number")
    return 0.0 if v == 0 else -v * math.log(v)


def _kl_div(x: float, y: float) -> float:
    if x < 0 or y < 0:
        raise ValueError("kl_div of a negative number")
    if x == 0:
        return y
    return math.inf if y == 0 else x * math.log(x / y) - x + y


def _huber(v: float, M: float) -> float:
    return v * v if abs(v) <= M else 2 * M * abs(v) - M * M


def _power_rule(p: float) -> tuple[str, str]:
    """cvxpy's ``power``: affine for p = 1 (p = 0: the constant 1), concave on x >= 0 for 0 < p < 1,
    convex otherwise (for p > 1 not an even integer and for p < 0 on its domain x >= 0 / x > 0)."""
    if p == 1:
        return "affine", "unknown"
    if p == 0:
        return "affine", "nonneg"
    return ("concave" if 0 < p < 1 else "convex"), "nonneg"


def _same(v: float) -> float:
    return v


_ATOM_LIST = [
    Atom("sum", 1, REDUCE, lambda x: torch.sum(x), lambda x: cp.sum(x), "affine", "sum of all entries",
         scalar=_same),
    Atom("mean", 1, REDUCE, lambda x: torch.mean(x), _cp_mean, "affine", "mean of all entries", scalar=_same),
    Atom("sum_squares", 1, REDUCE, lambda x: torch.sum(x * x), lambda x: cp.sum_squares(x), "convex",
         "sum of squared entries", sign="nonneg", scalar=lambda v: v * v, prox=_prox.prox_square),
    Atom("norm1", 1, REDUCE, lambda x: torch.sum(torch.abs(x)), lambda x: cp.norm1(_cp_flat(x)), "convex",
         "l1 norm of all entries", smooth=False, sign="nonneg", scalar=abs, prox=_prox.soft_threshold),
    Atom("norm2", 1, REDUCE, lambda x: torch.linalg.vector_norm(x), _cp_norm2, "convex",
         "Euclidean (Frobenius) norm of all entries", smooth=False, sign="nonneg", scalar=abs,
         prox=_prox.block_soft_threshold),
    Atom("norm_inf", 1, REDUCE, lambda x: torch.linalg.vector_norm(x, math.inf),
         lambda x: cp.norm_inf(_cp_flat(x)), "convex", "largest absolute entry", smooth=False, sign="nonneg",
         scalar=abs, prox=_prox.prox_norm_inf),
    Atom("max", 1, REDUCE, lambda x: torch.max(x), lambda x: cp.max(x), "convex", "largest entry",
         smooth=False, scalar=_same, prox=_prox.prox_max),
    Atom("min", 1, REDUCE, lambda x: torch.min(x), lambda x: cp.min(x), "concave", "smallest entry",
         smooth=False, scalar=_same),
    Atom("log_sum_exp", 1, REDUCE, lambda x: torch.logsumexp(x.reshape(-1), 0), lambda x: cp.log_sum_exp(x),
         "convex", "log(sum(exp(x)))", scalar=_same),
    Atom("abs", 1, ELEMENTWISE, lambda x: torch.abs(x), lambda x: cp.abs(x), "convex", "|x| elementwise",
         smooth=False, sign="nonneg", scalar=abs, prox=_prox.soft_threshold),
    Atom("square", 1, ELEMENTWISE, lambda x: x * x, lambda x: cp.square(x), "convex", "x**2 elementwise",
         sign="nonneg", scalar=lambda v: v * v, prox=_prox.prox_square),
    Atom("power", 2, ELEMENTWISE_CONST, lambda x, p: x ** p, lambda x, p: cp.power(x, p), "by p",
         "x**p elementwise for a constant p: convex for p > 1 or p < 0, concave for 0 < p < 1, "
         "affine for p = 1 (cvxpy restricts x >= 0 unless p is an even integer or 1)",
         sign="by p", scalar=lambda v, p: v ** p, constants=(1,), rule=_power_rule),
    Atom("huber", 2, ELEMENTWISE_CONST, _t_huber, lambda x, M: cp.huber(x, M), "convex",
         "x**2 for |x| <= M, 2M|x| - M**2 outside, elementwise (M >= 0 a constant)",
         sign="nonneg", scalar=_huber, prox=_prox.prox_huber, constants=(1,)),
    Atom("exp", 1, ELEMENTWISE, lambda x: torch.exp(x), lambda x: cp.exp(x), "convex", "exp elementwise",
         sign="nonneg", scalar=math.exp),
    Atom("log", 1, ELEMENTWISE, lambda x: torch.log(x), lambda x: cp.log(x), "concave", "natural log elementwise",
         scalar=math.log),
    Atom("log1p", 1, ELEMENTWISE, lambda x: torch.log1p(x), lambda x: cp.log1p(x), "concave",
         "log(1+x) elementwise", scalar=math.log1p),
    Atom("entr", 1, ELEMENTWISE, lambda x: torch.special.entr(x), lambda x: cp.entr(x), "concave",
         "-x log(x) elementwise (0 at x = 0)", scalar=_entr),
    Atom("kl_div", 2, BROADCAST2, _t_kl_div, lambda a, b: cp.kl_div(a, b), "convex",
         "x log(x/y) - x + y elementwise (x, y >= 0)", sign="nonneg", scalar=_kl_div),
    Atom("logistic", 1, ELEMENTWISE, lambda x: torch.nn.functional.softplus(x), lambda x: cp.logistic(x), "convex",
         "log(1+exp(x)) elementwise, computed stably", sign="nonneg", scalar=_softplus),
    Atom("relu", 1, ELEMENTWISE, lambda x: torch.relu(x), lambda x: cp.pos(x), "convex", "max(x, 0) elementwise",
         smooth=False, sign="nonneg", scalar=lambda v: max(v, 0.0), prox=_prox.prox_pos),
    Atom("pos", 1, ELEMENTWISE, lambda x: torch.relu(x), lambda x: cp.pos(x), "convex",
         "max(x, 0) elementwise (as relu)", smooth=False, sign="nonneg", scalar=lambda v: max(v, 0.0),
         prox=_prox.prox_pos),
    Atom("neg", 1, ELEMENTWISE, lambda x: torch.relu(-x), lambda x: cp.neg(x), "convex",
         "max(-x, 0) elementwise (the negative part, >= 0)", smooth=False, sign="nonneg",
         scalar=lambda v: max(-v, 0.0), prox=_prox.prox_neg),
    Atom("sqrt", 1, ELEMENTWISE, lambda x: torch.sqrt(x), lambda x: cp.sqrt(x), "concave", "square root elementwise",
         sign="nonneg", scalar=math.sqrt),
    Atom("tanh", 1, ELEMENTWISE, lambda x: torch.tanh(x), None, "nonconvex", "hyperbolic tangent elementwise",
         scalar=math.tanh),
    Atom("sigmoid", 1, ELEMENTWISE, lambda x: torch.sigmoid(x), None, "nonconvex", "1/(1+exp(-x)) elementwise",
         sign="nonneg", scalar=_sigmoid),
    Atom("sin", 1, ELEMENTWISE, lambda x: torch.sin(x), None, "nonconvex", "sine elementwise", scalar=math.sin),
    Atom("cos", 1, ELEMENTWISE, lambda x: torch.cos(x), None, "nonconvex", "cosine elementwise", scalar=math.cos),
    Atom("maximum", 2, BROADCAST2, _t_maximum, lambda a, b: cp.maximum(a, b), "convex", "elementwise max of two",
         smooth=False, scalar=max),
    Atom("minimum", 2, BROADCAST2, _t_minimum, lambda a, b: cp.minimum(a, b), "concave", "elementwise min of two",
         smooth=False, scalar=min),
    Atom("quad_form", 2, QUAD_FORM, lambda x, P: x @ (P @ x), lambda x, P: cp.quad_form(x, P),
         "convex", "x' P x for a vector x and a constant matrix P (convex when P is PSD; cvxpy checks)"),
    Atom("transpose", 1, TRANSPOSE, _t_transpose, lambda x: cp.transpose(x), "affine",
         "axes reversed, also written x.T (a vector or a scalar is unchanged, as in NumPy)", scalar=_same),
    Atom("diag", 1, DIAG, lambda x: torch.diag(x), lambda x: cp.diag(x), "affine",
         "vector -> diagonal matrix; square matrix -> its diagonal"),
    Atom("trace", 1, TRACE, lambda x: torch.trace(x), lambda x: cp.trace(x), "affine",
         "sum of the diagonal of a square matrix"),
]

ATOMS: dict[str, Atom] = {a.name: a for a in _ATOM_LIST}
