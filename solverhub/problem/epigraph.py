"""Epigraph reformulation of nonsmooth objective terms without a cheap prox, for the
constrained solvers (``auglag``, ``slsqp``, ``trust-constr``; issue 15).

A top-level additive term ``c * R(F)`` (``c > 0`` constant) is reformulated when ``F`` is an
elementwise *max-form* -- the elementwise maximum of smooth pieces ``p_1(x), ..., p_L(x)``:
a smooth expression (one piece), ``abs(e)`` (``e, -e``), ``pos(e)``/``relu(e)`` (``F, 0``),
``neg(e)`` (``-e, 0``), ``maximum(F, G)`` (both lists), ``F + e``, ``F - e``, ``k * F`` (``k > 0``)
-- and ``R`` is a reduction: ``sum``/``mean`` (one auxiliary ``t`` per entry), ``max`` (one ``t``),
``norm1(e)`` (``sum(abs(e))``), ``norm_inf(e)`` (``max(abs(e))``), or nothing for a scalar ``F``;
``-c * min(e)`` is ``c * max(-e)``:

    c * sum(max_l p_l(x))  ->  c * sum(t)  s.t.  p_l(x) - t <= 0  (each l, elementwise)
    c * max(max_l p_l(x))  ->  c * t       s.t.  p_l(x) - t <= 0  (every entry of every l)

(Boyd & Vandenberghe, *Convex Optimization*, 2004, §4.1.3 and §6.1: the Chebyshev fit as an
LP). The auxiliary ``t`` are appended after the problem's unknowns; the solvers report the
original variables only and the objective reported is the original f. What remains of the
objective after the reformulated terms is smooth: it is the oracle function ``smooth``
(counted as ``value_smooth``/``grad_smooth``). A nonsmooth term that fits none of these forms
(``norm2``, ``min``, a product of nonsmooth factors, a negative weight) cannot be reformulated:
:func:`reformulate` returns the reason.

The stationarity of a reformulated problem is :func:`epigraph_kkt`: the KKT residual of the
epigraph problem at ``(x, t(x))`` with ``t(x)`` the tight (smallest feasible) auxiliaries, from
the solver's multipliers, or least-squares multipliers on the active pieces when it has none.
"""
from __future__ import annotations

__all__ = ["EpigraphTerm", "Epigraph", "TorchEpigraph", "reformulate", "unsplit_epigraph", "torch_epigraph",
           "epigraph_kkt", "render"]

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._lazy import lazy_module
from .composite import _additive, _constant, _unsplit
from .expr import BinOp, Call, Const, Index, Neg, Node

torch = lazy_module("torch")

MAX_PIECES = 64          # pieces of one max-form (sums of two max-forms multiply their counts)


@dataclass(frozen=True)
class EpigraphTerm:
    """``weight * R(max_l pieces_l)``: ``reduce`` is ``sum`` (one auxiliary per entry of
    ``shape``) or ``max`` (one auxiliary); a piece ``None`` is the constant 0; ``text`` names the term."""

    text: str
    weight: float
    reduce: str
    pieces: tuple[Node | None, ...]
    shape: tuple[int, ...]

    @property
    def n_aux(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.reduce == "sum" else 1


@dataclass(frozen=True)
class Epigraph:
    """The objective as ``smooth + Σ_j terms_j`` (device-free; lowered by :func:`torch_epigraph`)."""

    smooth: Node
    terms: tuple[EpigraphTerm, ...]

    @property
    def n_aux(self) -> int:
        return sum(t.n_aux for t in self.terms)


def _shape(a, b) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(a, b))


def _neg(p):
    return None if p is None else Neg(shape=p.shape, arg=p)


def _add(p, e, op="+"):
    if p is None:
        return e if op == "+" else Neg(shape=e.shape, arg=e)
    return BinOp(shape=_shape(p.shape, e.shape), op=op, left=p, right=e)


def _max_form(node, parameters):
    """The smooth pieces whose elementwise max is ``node`` (None entries: 0), or None."""
    if not _unsplit(node):
        return [node]
    if isinstance(node, Call) and node.atom in ("abs", "neg") and not _unsplit(node.args[0]):
        e = node.args[0]
        return [e, _neg(e)] if node.atom == "abs" else [_neg(e), None]
    if isinstance(node, Call) and node.atom in ("pos", "relu"):
        inner = _max_form(node.args[0], parameters)
        return None if inner is None else inner + [None]
    if isinstance(node, Call) and node.atom == "maximum":
        a, b = (_max_form(arg, parameters) for arg in node.args)
        return None if a is None or b is None else a + b
    if isinstance(node, BinOp) and node.op in "+-":
        left, right = _max_form(node.left, parameters), _max_form(node.right, parameters)
        if left is None or right is None or (node.op == "-" and len(right) > 1) or len(left) * len(right) > MAX_PIECES:
            return None
        out = []
        for p in left:
            for q in right:
                out.append(_add(p, q, node.op) if q is not None else p)
        return out
    if isinstance(node, BinOp) and node.op in "*/":
        const_left = node.op == "*" and _constant(node.left, parameters) is not None
        c = _constant(node.left if const_left else node.right, parameters)
        if c is None or not c > 0 or not math.isfinite(c):
            return None
        inner = _max_form(node.right if const_left else node.left, parameters)
        if inner is None:
            return None
        k = Const(shape=(), value=c if node.op == "*" else 1.0 / c)
        return [None if p is None else BinOp(shape=p.shape, op="*", left=k, right=p) for p in inner]
    return None


def render(node) -> str:
    """An expression's text for messages (``max(abs(V @ c - y))``)."""
    if isinstance(node, Const):
        return f"{node.value:g}"
    if isinstance(node, Neg):
        return f"-{render(node.arg)}"
    if isinstance(node, BinOp):
        return f"{render(node.left)} {node.op} {render(node.right)}" if node.op in "+-" \
            else f"{_wrapped(node.left)} {node.op} {_wrapped(node.right)}"
    if isinstance(node, Index):
        keys = ", ".join(f"{k.start or ''}:{k.stop or ''}" if isinstance(k, slice) else str(k) for k in node.key)
        return f"{_wrapped(node.arg)}[{keys}]"
    if isinstance(node, Call):
        return f"{node.atom}({', '.join(render(a) for a in node.args)})"
    return str(getattr(node, "name", node))


def _wrapped(node) -> str:
    return f"({render(node)})" if isinstance(node, BinOp) and node.op in "+-" else render(node)


def _term(node, sign, parameters):
    """``EpigraphTerm`` for ``sign * node`` or the reason it cannot be reformulated (a str)."""
    text = render(node)
    weight, core = float(sign), node
    while isinstance(core, (BinOp, Neg)) and not (isinstance(core, BinOp) and core.op in "+-"):
        if isinstance(core, Neg):
            weight, core = -weight, core.arg
            continue
        left, right = _constant(core.left, parameters), _constant(core.right, parameters)
        if core.op == "*" and left is not None:
            weight, core = weight * left, core.right
        elif core.op in "*/" and right is not None and (core.op == "*" or right != 0):
            weight, core = weight * (right if core.op == "*" else 1.0 / right), core.left
        else:
            break
    if weight < 0 and isinstance(core, Call) and core.atom == "min" and not _unsplit(core.args[0]):
        weight, e = -weight, core.args[0]             # -c * min(e) = c * max(-e)
        return EpigraphTerm(text, weight, "max", (_neg(e),), e.shape) if math.isfinite(weight) else \
            f"{text}: a non-finite weight"
    if not weight > 0 or not math.isfinite(weight):
        return f"{text}: a nonsmooth term with a weight <= 0 is not convex (no epigraph form)"
    if isinstance(core, Call) and core.atom in ("norm1", "norm_inf") and not _unsplit(core.args[0]):
        e = core.args[0]
        return EpigraphTerm(text, weight, "sum" if core.atom == "norm1" else "max", (e, _neg(e)), e.shape)
    if isinstance(core, Call) and core.atom in ("sum", "mean", "max"):
        pieces = _max_form(core.args[0], parameters)
        if pieces is None:
            return f"{text}: {core.atom}(...) of a nonsmooth expression that is not a maximum of smooth pieces"
        shape = core.args[0].shape
        scale = 1.0 / max(1, int(np.prod(shape, dtype=np.int64))) if core.atom == "mean" else 1.0
        return EpigraphTerm(text, weight * scale, "max" if core.atom == "max" else "sum", tuple(pieces), shape)
    if core.shape in ((), (1,)):
        pieces = _max_form(core, parameters)
        if pieces is not None:
            return EpigraphTerm(text, weight, "sum", tuple(pieces), core.shape)
    atoms = ", ".join(_unsplit(core))
    return (f"{text}: {atoms} in a form with no epigraph reformulation (allowed: c * sum|mean|max of a maximum of "
            "smooth pieces, c * norm1(e), c * norm_inf(e), abs/pos/neg/maximum of smooth e, c > 0)")


def reformulate(objective, parameters) -> Epigraph | str:
    """The epigraph form of a scalar objective with nonsmooth terms, or why it has none (a str)."""
    smooth, terms = [], []
    for sign, node in _additive(objective):
        if not _unsplit(node):
            smooth.append((sign, node))
            continue
        term = _term(node, sign, dict(parameters))
        if isinstance(term, str):
            return term
        terms.append(term)
    rest = Const(shape=(), value=0.0)
    for sign, node in smooth:
        rest = BinOp(shape=_shape(rest.shape, node.shape), op="+" if sign > 0 else "-", left=rest, right=node)
    return Epigraph(rest, tuple(terms))


def unsplit_epigraph(objective, parameters):
    """``(unsplit atoms, Epigraph or None, why not)`` for a kind that splits no prox terms
    (``constrained``): every nonsmooth term goes to the epigraph form."""
    unsplit = _unsplit(objective)
    if not unsplit:
        return (), None, ""
    epi = reformulate(objective, parameters)
    return (unsplit, None, epi) if isinstance(epi, str) else (unsplit, epi, "")


# -- torch side --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TorchEpigraph:
    """The lowered epigraph: ``n_aux`` auxiliaries ``t`` (after the ``n`` unknowns), objective
    weights ``weights`` (flat, on the device; the objective is ``smooth(x) + weights · t``),
    ``rows(x, t)`` the flat ``p_l(x) - t <= 0`` rows, ``tight(x)`` the smallest feasible ``t``,
    ``row_counts`` rows per term (multipliers come one tensor per term)."""

    n: int
    n_aux: int
    weights: object
    rows: Callable
    tight: Callable
    row_counts: tuple[int, ...]
    texts: tuple[str, ...]

    def value(self, x):
        """``Σ_j`` of the reformulated terms at ``x`` (0-d)."""
        return torch.dot(self.weights, self.tight(x))


def torch_epigraph(epi: Epigraph, evaluator, n: int) -> TorchEpigraph:
    """Lower ``epi`` with a :class:`~solverhub.problem.kinds.base.TorchEvaluator` (``n``: unknowns)."""
    dtype, device = evaluator.dtype, evaluator.device
    lowered = []
    for term in epi.terms:
        fns = tuple(None if p is None else evaluator.array(p) for p in term.pieces)
        lowered.append((term, fns))

    def stacked(x, term, fns):
        """``(L, numel)`` values of the pieces, broadcast to the term's shape."""
        shape = term.shape
        vals = [torch.zeros(shape, dtype=x.dtype, device=x.device) if f is None
                else torch.broadcast_to(f(x), shape) for f in fns]
        return torch.stack([v.reshape(-1) for v in vals])

    def rows(x, t):
        out, i = [], 0
        for term, fns in lowered:
            k = term.n_aux
            out.append((stacked(x, term, fns) - t[i:i + k]).reshape(-1))
            i += k
        return torch.cat(out) if out else t[:0]

    def tight(x):
        out = []
        for term, fns in lowered:
            top = stacked(x, term, fns).max(dim=0).values
            out.append(top if term.reduce == "sum" else top.max().reshape(1))
        return torch.cat(out) if out else torch.zeros(0, dtype=x.dtype, device=x.device)

    weights = torch.cat([torch.full((t.n_aux,), t.weight, dtype=dtype, device=device) for t in epi.terms]) \
        if epi.terms else torch.zeros(0, dtype=dtype, device=device)
    counts = tuple(len(t.pieces) * int(np.prod(t.shape, dtype=np.int64)) for t in epi.terms)
    return TorchEpigraph(n, epi.n_aux, weights, rows, tight, counts, tuple(t.text for t in epi.terms))


def _ls_multipliers(epi: TorchEpigraph, x, t, smooth_grad):
    """Least-squares multipliers on the active rows (within 1e-8), clipped at 0: argmin
    ‖∇s + J_xᵀμ‖² + ‖w - Eᵀμ‖² (a measure for a point that comes without multipliers, e.g. cvxpy's)."""
    n = x.numel()
    z = torch.cat([x, t]).detach()
    with torch.enable_grad():
        jac = torch.autograd.functional.jacobian(lambda v: epi.rows(v[:n], v[n:]), z)
    r = epi.rows(x, t)
    active = (r >= -1e-8 * (1 + torch.abs(r))).to(x.dtype)
    rhs = -torch.cat([smooth_grad, epi.weights])
    sol = torch.linalg.lstsq((jac * active.unsqueeze(1)).T.cpu(), rhs.reshape(-1, 1).cpu(),
                             driver="gelsd").solution.reshape(-1).to(x.device)
    return torch.clamp(sol, min=0) * active


def _lines_grad(lines, duals, x):
    """``Σ_i ∇(λ_i · g_i)(x)`` for the constraint lines (zeros without lines)."""
    if not lines:
        return torch.zeros_like(x)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        total = sum(torch.sum(torch.as_tensor(lam, dtype=x.dtype, device=x.device).reshape(-1) * g(xg).reshape(-1))
                    for (_, g), lam in zip(lines, duals))
        (grad,) = torch.autograd.grad(total, xg, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def epigraph_kkt(tp, oracle, x, duals=None):
    """KKT residual of the epigraph problem at ``(x, t(x))``: max of the Lagrangian gradient's
    x-part (bounds as :meth:`TorchStructure.bound_kkt`) and t-part ``w - Eᵀμ``, the constraint
    lines' violation and complementarity, and the epigraph rows' complementarity ``|μ r|``
    (their violation is 0 at the tight ``t``). ``duals``: one tensor per ``constraints:`` line,
    then one per epigraph term; least-squares multipliers for the epigraph rows when only the lines'
    are given (cvxpy's) or there are no lines; NaN when lines have none."""
    epi = tp.structure.epigraph
    lines = tuple(tp.constraints)
    n = x.numel()
    t = epi.tight(x)
    smooth_grad = oracle.peek_grad(x, of="smooth")
    if duals is None or len(duals) != len(lines) + len(epi.row_counts):
        if duals is None and lines or duals is not None and len(duals) != len(lines):
            return torch.full((), float("nan"), dtype=x.dtype, device=x.device)
        line_duals = list(duals or ())   # the lines' multipliers only (cvxpy's): least-squares ones for the rows
        mu = _ls_multipliers(epi, x, t, smooth_grad + _lines_grad(lines, line_duals, x))
    else:
        line_duals = list(duals[:len(lines)])
        mu = torch.cat([torch.as_tensor(d, dtype=x.dtype, device=x.device).reshape(-1)
                        for d in duals[len(lines):]]) if epi.row_counts else t[:0]
    parts = [torch.zeros((), dtype=x.dtype, device=x.device)]
    with torch.enable_grad():
        z = torch.cat([x, t]).detach().requires_grad_(True)
        xs, ts = z[:n], z[n:]
        r = epi.rows(xs, ts)
        lagr = torch.dot(epi.weights, ts) + torch.dot(mu, r)
        for (op, g), lam in zip(lines, line_duals):
            gv = g(xs)
            lam = torch.as_tensor(lam, dtype=x.dtype, device=x.device).reshape(gv.shape)
            lagr = lagr + torch.sum(lam * gv)
            gd = gv.detach()
            parts.append(torch.max(torch.abs(gd)).reshape(()) if op == "==" else torch.max(torch.relu(gd)).reshape(()))
            if op != "==":
                parts += [torch.max(torch.abs(lam * gd)).reshape(()), torch.max(torch.relu(-lam)).reshape(())]
        (glagr,) = torch.autograd.grad(lagr, z)
    rd = r.detach()
    if rd.numel():
        parts += [torch.max(torch.abs(mu * rd)), torch.max(torch.relu(-mu)), torch.max(torch.relu(rd))]
    parts.append(torch.linalg.vector_norm(torch.cat([tp.structure.bound_kkt(x, smooth_grad + glagr[:n]),
                                                     glagr[n:]])))
    return torch.max(torch.stack(parts))
