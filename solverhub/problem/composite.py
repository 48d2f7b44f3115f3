"""Composite objectives f(x) = s(x) + Σ_j w_j h_j(x_j): the split of an objective into a smooth
part ``s`` and prox-able nonsmooth terms, done once when a ``minimize``/``finite_sum`` problem
loads, and the torch side the prox methods and the ``prox_grad_norm`` measure use.

A top-level additive term is split off when it is ``c * h(v)`` (or ``h(v) * c``, ``h(v) / c``)
with ``c > 0`` a constant or parameter expression, ``h`` a nonsmooth atom with a prox
(``norm1``, ``norm2``, ``norm_inf``, ``max``; ``sum``/``mean`` of ``abs``, ``pos``, ``neg``,
``relu``) and ``v`` a whole variable or a contiguous slice ``x[a:b]`` of a vector variable, and
when its block overlaps no other split term (the prox of the sum is then the blockwise prox).
Smooth atoms with a prox (``sum_squares``, ``huber``) stay in the smooth part: their gradient is
Lipschitz. Everything else stays in ``s``; a nonsmooth atom left there is recorded in
``Structure.unsplit`` (prox methods refuse such a problem, see docs/yaml-reference.md).

Proximal gradient: Beck & Teboulle, SIAM J. Imaging Sci. 2(1), 2009; the prox-gradient
mapping ``x - prox_g(x - ∇s(x))`` (step 1) is zero exactly at the minimizers of a convex f
(Parikh & Boyd, "Proximal Algorithms", 2014, §4.2). With bounds, the prox is followed by the
projection onto the box: exact for separable terms (abs, norm1, pos, neg; a 1-D convex prox
clipped to an interval is the prox of the sum), a documented approximation for the others.
"""
from __future__ import annotations

__all__ = ["split_objective", "torch_terms", "prox", "nonsmooth_value", "prox_grad_mapping", "polish", "SPLIT_ATOMS",
           "set_projection"]

import math

from .._lazy import lazy_module
from .atoms import ATOMS
from .expr import BinOp, Call, Const, Index, Neg, Param, Var, walk
from .structure import NonsmoothTerm, TorchNonsmooth

torch = lazy_module("torch")

REDUCTIONS = ("norm1", "norm2", "norm_inf", "max")       # h(v) is the term
SUMMED = ("abs", "pos", "neg", "relu")                    # sum(h(v)) or mean(h(v)) is the term
SPLIT_ATOMS = REDUCTIONS + SUMMED


def _constant(node, parameters) -> float | None:
    """The value of a constant scalar expression of numbers and parameters, else None."""
    if isinstance(node, Const):
        return float(node.value)
    if isinstance(node, Param):
        return float(parameters[node.name])
    if isinstance(node, Neg):
        v = _constant(node.arg, parameters)
        return None if v is None else -v
    if isinstance(node, BinOp) and node.op in ("+", "-", "*", "/"):
        a, b = _constant(node.left, parameters), _constant(node.right, parameters)
        if a is None or b is None:
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else math.nan}[node.op]
    return None


def _block(node, variables) -> tuple[str, int, int | None] | None:
    """``(variable, start, stop)`` when ``node`` is a whole variable or a contiguous slice of a vector one."""
    if isinstance(node, Var):
        return node.name, 0, None
    if isinstance(node, Index) and isinstance(node.arg, Var) and len(node.arg.shape) == 1 \
            and len(node.key) == 1 and isinstance(node.key[0], slice) and node.key[0].step in (None, 1):
        start, stop, _ = node.key[0].indices(node.arg.shape[0])
        return node.arg.name, start, (None if (start, stop) == (0, node.arg.shape[0]) else stop)
    return None


def _atom_term(node, variables, parameters):
    """``(weight, NonsmoothTerm)`` for ``h(v)``, ``sum(h(v))`` or ``mean(h(v))`` with h prox-able, else None."""
    scale = 1.0
    if isinstance(node, Call) and node.atom in ("sum", "mean") and isinstance(node.args[0], Call) \
            and node.args[0].atom in SUMMED:
        scale = 1.0 / math.prod(node.args[0].shape) if node.atom == "mean" else 1.0
        node = node.args[0]
    elif not (isinstance(node, Call) and node.atom in REDUCTIONS):
        return None
    block = _block(node.args[0], variables)
    if block is None:
        return None
    return scale, NonsmoothTerm(node.atom, block[0], 1.0, block[1], block[2])


def _term(node, sign, variables, parameters):
    """``NonsmoothTerm`` for ``sign * node`` when it is ``c * h(v)`` with ``c > 0``, else None."""
    weight, core = float(sign), node
    while isinstance(core, (BinOp, Neg)):
        if isinstance(core, Neg):
            weight, core = -weight, core.arg
        elif core.op == "*" and _constant(core.left, parameters) is not None:
            weight, core = weight * _constant(core.left, parameters), core.right
        elif core.op in ("*", "/") and _constant(core.right, parameters) is not None:
            c = _constant(core.right, parameters)
            if core.op == "/" and c == 0:
                return None
            weight, core = weight * (c if core.op == "*" else 1.0 / c), core.left
        else:
            return None
    found = _atom_term(core, variables, parameters)
    if found is None or not (weight > 0 and math.isfinite(weight)):
        return None
    scale, term = found
    return NonsmoothTerm(term.name, term.variable, weight * scale, term.start, term.stop)


def _additive(node, sign=1.0):
    """Top-level additive terms of ``node`` as ``(sign, term)``."""
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        return _additive(node.left, sign) + _additive(node.right, sign if node.op == "+" else -sign)
    if isinstance(node, Neg):
        return _additive(node.arg, -sign)
    return [(sign, node)]


def _span(term, variables) -> tuple[int, int]:
    var = next(v for v in variables if v.name == term.variable)
    return var.offset + term.start, var.offset + (var.size if term.stop is None else term.stop)


def _unsplit(node) -> tuple[str, ...]:
    """Nonsmooth atoms in ``node``, except ``h(...) ** p`` with a constant ``p > 1`` (C¹)."""
    found = []
    for n, ancestors in walk(node):
        if isinstance(n, Call) and not ATOMS[n.atom].smooth:
            parent = ancestors[-1] if ancestors else None
            smoothed = (isinstance(parent, BinOp) and parent.op == "**" and parent.left is n
                        and isinstance(parent.right, Const) and parent.right.value > 1)
            if not smoothed and n.atom not in found:
                found.append(n.atom)
    return tuple(found)


def split_objective(objective, variables, parameters):
    """``(smooth node, (NonsmoothTerm, ...), unsplit atom names)`` for a scalar objective.
    The smooth node is the objective itself when nothing splits."""
    terms, rest, taken = [], [], []
    for sign, node in _additive(objective):
        term = _term(node, sign, variables, parameters)
        span = _span(term, variables) if term is not None else None
        if term is None or any(a < span[1] and span[0] < b for a, b in taken):
            rest.append((sign, node))
            continue
        terms.append(term)
        taken.append(span)
    if not terms:
        return objective, (), _unsplit(objective)
    smooth = None
    for sign, node in rest:
        if smooth is None:
            smooth = node if sign > 0 else Neg(shape=node.shape, arg=node)
        else:
            smooth = BinOp(shape=objective.shape, op="+" if sign > 0 else "-", left=smooth, right=node)
    if smooth is None:
        smooth = Const(shape=objective.shape, value=0.0)
    return smooth, tuple(terms), _unsplit(smooth)


# -- torch side ------------------------------------------------------------------------------
def torch_terms(terms, variables) -> tuple[TorchNonsmooth, ...]:
    """Each term's ``value(x_flat)`` (0-d) and ``prox(x_flat, step)`` (flat; only its block moves)."""
    out = []
    for term in terms:
        a, b = _span(term, variables)
        var = next(v for v in variables if v.name == term.variable)
        shape = var.shape if term.stop is None and term.start == 0 else (b - a,)
        atom = ATOMS[term.name]

        def value(x, a=a, b=b, shape=shape, atom=atom, w=term.weight, c=term.constants):
            return w * torch.sum(atom.torch(x[a:b].reshape(shape), *c))

        def block_prox(x, step, a=a, b=b, shape=shape, atom=atom, w=term.weight, c=term.constants):
            return torch.cat([x[:a], atom.prox(x[a:b].reshape(shape), w * step, *c).reshape(-1), x[b:]])
        out.append(TorchNonsmooth(term, value, block_prox))
    return tuple(out)


def set_projection(infos, variables):
    """``P(x_flat)``: the Euclidean projection onto the simple sets of the ``constraints:`` lines
    (``Structure.simple_sets``: one set per variable, blocks disjoint, so it is blockwise): simplex
    and l1 ball by sorting (Duchi et al. 2008, ``prox.py``), l2 ball by scaling, linf ball and
    constant bounds by clipping. No host sync."""
    from ..parts.projections import project_ball
    from .prox import project_l1_ball, project_simplex
    ops: dict[str, list] = {}
    for info in infos:
        kind, name, *rest = info.projection
        if kind == "ball":
            name, rest = rest[0], (name, rest[1])
        ops.setdefault(name, []).append((kind, *rest))
    layout = [(v.name, v.offset, v.size, v.shape) for v in variables]

    def block(v, kind, *args):
        if kind == "simplex":
            return project_simplex(v, args[0])
        if kind == "ball":
            atom, r = args
            return project_ball(v, r)[0] if atom == "norm2" else project_l1_ball(v, r) if atom == "norm1" \
                else torch.clamp(v, -r, r)
        if kind == "lower":
            return torch.clamp(v, min=args[0])
        return v if kind == "implied" else torch.clamp(v, max=args[0])

    def project(x):
        out = []
        for name, off, size, shape in layout:
            v = x[off:off + size]
            for op in ops.get(name, ()):
                v = block(v.reshape(shape), *op).reshape(-1)
            out.append(v)
        return torch.cat(out)
    return project


def prox(structure, x, step):
    """``prox_{step g}`` of all nonsmooth terms (blockwise), then the projection onto the bounds
    and onto the constraint lines' simple sets (``structure.sets``)."""
    for term in structure.nonsmooth:      # disjoint blocks: the composition is the blockwise prox
        x = term.prox(x, step)
    x = structure.project_bounds(x)
    return x if structure.sets is None else structure.sets(x)


def nonsmooth_value(structure, x):
    """``Σ_j w_j h_j(x)`` as a 0-d tensor (0 without terms)."""
    total = torch.zeros((), dtype=x.dtype, device=x.device)
    for term in structure.nonsmooth:
        total = total + term.value(x)
    return total


def prox_grad_mapping(structure, x, smooth_grad, step=1.0):
    """``(x - prox_{step g}(x - step ∇s(x))) / step``: zero exactly at the stationary points of s + g
    (on the box); the projected gradient when there are only bounds, ∇s when there is nothing."""
    return (x - prox(structure, x - step * smooth_grad, step)) / step


def polish(structure, oracle, x, iterations: int = 2000):
    """FISTA iterations with adaptive restart and backtracking from ``x``
    (numpy, float64), uncounted (``oracle.peek_*`` of the smooth part): the baseline's polish of a
    cvxpy answer to a composite problem (L-BFGS would not keep its zeros). Returns numpy."""
    x_prev = z = y = torch.as_tensor(x, dtype=torch.float64)
    t, step = 1.0, 1.0
    for _ in range(iterations):
        s, g = oracle.peek_value_and_grad(y, of="smooth")
        if float(torch.linalg.vector_norm(prox_grad_mapping(structure, y, g))) < 1e-14:
            return y.numpy()
        while True:
            z = prox(structure, y - step * g, step)
            d = z - y
            if float(oracle.peek_value(z, of="smooth")) <= float(s + torch.dot(g, d) + torch.dot(d, d) / (2 * step)) \
                    + 1e-15 * abs(float(s)) or step < 1e-20:
                break
            step /= 2
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        if float(torch.dot(y - z, z - x_prev)) > 0:      # O'Donoghue & Candès restart
            t, t_next = 1.0, 1.0
        y, x_prev, t = z + (t - 1) / t_next * (z - x_prev), z, t_next
    return z.numpy()
