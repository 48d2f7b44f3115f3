"""Reverse-mode gradient code generation for the expression IR: value and gradient without autograd.

``compile_torch_value_and_grad`` generates, as :func:`compile_torch` does, one straight-line
function from the IR: the forward statements, then one adjoint statement per variable-dependent
node in reverse order (Griewank & Walther, "Evaluating Derivatives", 2nd ed., SIAM 2008, ch. 3:
the reverse mode of a straight-line program). On a tiny problem the graph that autograd records
and walks costs more than the arithmetic (issue 16: ~105 us of ~190 us a gd step); the generated
adjoints are a handful of tensor ops with no graph.

The vector-Jacobian products are a table here, not a field of ``Atom``: they are code templates
of this generator (names, broadcasting and aliasing of the generated source), and an atom without
a rule simply keeps autograd. Each rule reproduces autograd's formula (torch's
``derivatives.yaml``), including its choice at nonsmooth points: ``norm2`` has gradient 0 at 0,
``abs``/``norm1`` use ``sign`` (0 at 0), ``relu``/``pos``/``neg`` are 0 at the kink, ties of
``max``/``min``/``norm_inf`` share the adjoint evenly and ties of ``maximum``/``minimum`` halve it,
``kl_div`` follows autograd through the atom's ``xlogy`` form (NaN at x = 0, as autograd),
``logistic`` calls ``softplus_backward`` (its threshold 20), ``x ** 0`` has gradient 0. Every atom
has a rule; ``huber`` whose ``M`` is known only when running (``2 * lam``), ``quad_form`` with a
variable matrix and comparisons have none: an expression using them on a variable gets ``None``
here and the evaluator keeps autograd (decided once, when the problem is lowered).

Adjoints are propagated "lazily broadcast": an adjoint may have fewer dimensions than its node
(a scalar for ``sum``), meaning its broadcast; it is materialised only where a rule needs the
full shape (``@``, the final gradient) and reduced (``sum_to_size``) where an operand of a
broadcasting ``+ - * /`` is smaller than the result (shapes equal: no reduction). Generated code
makes no host sync (no ``.item()``, no tensor in a Python ``if``), so it runs on CUDA as is.
"""
from __future__ import annotations

__all__ = ["compile_torch_value_and_grad", "VJP_ATOMS"]

from dataclasses import dataclass
from typing import Callable, Sequence

from .._lazy import lazy_module
from ..problem.atoms import ATOMS
from ..problem.expr import BinOp, Call, Compare, Const, Data, Index, Neg, Node, Param, Var
from .to_torch import _call_args, _emit, _tensor

torch = lazy_module("torch")


@dataclass(frozen=True)
class _Adj:
    """An adjoint in the generated code: ``expr`` (a name, or a namespace constant) whose broadcast
    to its node's shape is the adjoint. ``shape`` is its static shape; ``value`` is set when it is
    a number known while generating (folded); ``env`` when it may be an input tensor (x, data)
    or a view of one, so the final gradient must be copied."""

    expr: str
    shape: tuple
    value: float | None = None
    env: bool = False


@dataclass
class _Rec:
    """One emitted variable-dependent node: its forward name, its arguments' names, and the
    record of each argument (None: the argument does not depend on the variables)."""

    node: Node
    out: str
    args: list
    kids: list
    extra: str | None = None


def _broadcast(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    return tuple(max(x, y) for x, y in zip(a, b))


class _Gen:
    def __init__(self, parameters, var_shapes: dict):
        self.params, self.var_shapes = parameters, var_shapes
        self.lines: list[str] = []
        self.ns: dict = {"_tensor": _tensor, "torch": torch, "_sum_to": _sum_to, "_full": _full,
                         "_fresh": _fresh, "_pow_vjp": _pow_vjp}
        self.recs: list[_Rec] = []
        self._depends: dict[int, bool] = {}

    def depends(self, node: Node) -> bool:
        """The node reads a variable (memoised: ``forward`` asks at every level)."""
        known = self._depends.get(id(node))
        if known is None:
            known = self._depends[id(node)] = any(self.depends(c) for c in _children(node)) or isinstance(node, Var)
        return known

    # -- emission helpers ------------------------------------------------------------------
    def const(self, value) -> str:
        name = f"_c{len(self.ns)}"
        self.ns[name] = value
        return name

    def local(self, expr: str, prefix: str = "_v") -> str:
        name = f"{prefix}{len(self.lines)}"
        self.lines.append(f"{name} = {expr}")
        return name

    def number(self, value: float) -> _Adj:
        return _Adj(self.const(float(value)), (), value=float(value))

    def bind(self, expr: str, shape: tuple) -> _Adj:
        return _Adj(self.local(expr, "_g"), tuple(shape))

    def scale(self, a: _Adj, factor: float) -> _Adj:
        """``factor * a`` (folded when a is a number)."""
        if a.value is not None:
            return self.number(factor * a.value)
        if factor == 1:
            return a
        return self.bind(f"{a.expr} * {self.const(float(factor))}", a.shape)

    def times(self, a: _Adj, expr: str, shape: tuple, node: Node | None = None) -> _Adj:
        """``a * expr`` (``expr`` a tensor of static ``shape``: the value of ``node``, or a new local)."""
        if a.value == 1:
            return _Adj(expr, tuple(shape), env=node is not None and _may_alias(node))
        return self.bind(f"{expr} * {a.expr}", _broadcast(a.shape, shape))

    def full(self, a: _Adj, rec: _Rec) -> str:
        """The adjoint materialised at its node's full shape (an expression)."""
        if a.shape == rec.node.shape and a.value is None:
            return a.expr
        return f"_full({a.expr}, {rec.out})"

    # -- forward ---------------------------------------------------------------------------
    def forward(self, node: Node):
        """Emit ``node``; return ``(name, record index or None)`` (None: no variable in it)."""
        if not self.depends(node):
            return _emit(node, self.params, self.lines, self.ns), None
        if isinstance(node, Var):
            return self.record(node, f"env[{self.const(node.name)}]", [], [])
        if isinstance(node, Neg):
            arg, k = self.forward(node.arg)
            return self.record(node, f"-{arg}", [arg], [k])
        if isinstance(node, BinOp):
            left, kl = self.forward(node.left)
            right, kr = self.forward(node.right)
            return self.record(node, f"{left} {node.op} {right}", [left, right], [kl, kr])
        if isinstance(node, Index):
            arg, k = self.forward(node.arg)
            return self.record(node, f"{arg}[{self.const(node.key)}]", [arg], [k])
        if isinstance(node, Call):
            atom = ATOMS[node.atom]
            emitted = [self.forward(a) for a in node.args]
            names, kids = _call_args(node, [name for name, _ in emitted]), [k for _, k in emitted]
            if node.atom == "quad_form":         # x @ (P @ x), as the atom, keeping P @ x for the adjoint
                px = self.local(f"{names[1]} @ {names[0]}")
                rec = self.record(node, f"{names[0]} @ {px}", names, kids)
                self.recs[rec[1]].extra = px
                return rec
            return self.record(node, f"{self.const(atom.torch)}({', '.join(names)})", names, kids)
        raise _NoRule(type(node).__name__)

    def record(self, node, expr, args, kids):
        out = self.local(expr)
        self.recs.append(_Rec(node, out, args, kids))
        return out, len(self.recs) - 1

    # -- reverse ---------------------------------------------------------------------------
    def reverse(self, wrt: Sequence[str]) -> list:
        """Adjoint statements in reverse order; returns the gradient expression of each of ``wrt``."""
        adjoints: dict[int, list[_Adj]] = {len(self.recs) - 1: [self.number(1.0)]}
        grads: dict[str, list[_Adj]] = {}
        for i in range(len(self.recs) - 1, -1, -1):
            parts = adjoints.pop(i, None)
            if not parts:
                continue                       # a zero adjoint (x ** 0): nothing flows
            rec = self.recs[i]
            a = self.combine(parts)
            if isinstance(rec.node, Var):
                grads.setdefault(rec.node.name, []).append(a)
                continue
            for k, adj in self.vjp(rec, a):
                if rec.kids[k] is not None and adj is not None:
                    adjoints.setdefault(rec.kids[k], []).append(adj)
        return [self.final(grads.get(name), name) for name in wrt]

    def combine(self, parts: list[_Adj]) -> _Adj:
        if len(parts) == 1:
            return parts[0]
        number = sum(p.value for p in parts if p.value is not None)
        tensors = [p for p in parts if p.value is None]
        if not tensors:
            return self.number(number)
        shape = ()
        for p in tensors:
            shape = _broadcast(shape, p.shape)
        terms = [p.expr for p in tensors] + ([self.const(number)] if number != 0 else [])
        if len(terms) == 1:
            return tensors[0]
        return self.bind(" + ".join(terms), shape)

    def final(self, parts, name: str) -> str:
        """The flat gradient of variable ``name``: fresh, full, one dimension."""
        ref = f"env[{self.const(name)}]"
        if not parts:
            return f"{ref}.new_zeros({ref}.numel())"
        a = self.combine(parts)
        shape = self.var_shapes[name]
        if a.value is not None:
            expr = f"torch.full_like({ref}, {a.expr})"
        elif a.shape != shape:
            expr = f"_fresh({a.expr}, {ref})"
        else:
            expr = f"{a.expr}.clone()" if a.env else a.expr
        return expr if len(shape) == 1 else f"{expr}.reshape(-1)"

    def vjp(self, rec: _Rec, a: _Adj) -> list:
        node = rec.node
        if isinstance(node, Neg):
            return [(0, self.scale(a, -1.0))]
        if isinstance(node, Index):
            g = self.local(f"torch.zeros_like({rec.args[0]})", "_g")
            self.lines.append(f"{g}[{self.const(node.key)}] = {a.expr}")
            return [(0, _Adj(g, node.arg.shape))]
        if isinstance(node, BinOp):
            return _BINOP_RULES[node.op](self, rec, a)
        rule = _ATOM_RULES.get(node.atom)
        if rule is None:
            raise _NoRule(node.atom)
        return rule(self, rec, a)

    def reduce(self, rec: _Rec, k: int, a: _Adj | None):
        """``a`` (an adjoint of the result of a broadcasting op) summed to operand k's shape."""
        if a is None or rec.kids[k] is None:
            return None
        node = rec.node
        operand = node.args[k] if isinstance(node, Call) else (node.left, node.right)[k]
        if operand.shape == rec.node.shape:
            return a                                           # the fast path: no broadcast
        return self.bind(f"_sum_to({a.expr}, {rec.out}, {rec.args[k]})", operand.shape)


def _may_alias(node: Node) -> bool:
    """The node's tensor may be an input (x, data) or a view of one, not a new tensor (or, for
    ``exp`` at the root, the returned value itself)."""
    return isinstance(node, (Var, Data, Index, Call)) and (not isinstance(node, Call) or node.atom in
                                                           ("transpose", "diag", "exp"))


class _NoRule(Exception):
    """A variable-dependent node with no reverse rule: the caller keeps autograd."""


def _children(node: Node) -> tuple:
    if isinstance(node, Call):
        return node.args
    if isinstance(node, (Neg, Index)):
        return (node.arg,)
    if isinstance(node, (BinOp, Compare)):
        return node.left, node.right
    return ()


# -- runtime helpers (called from the generated code; no host syncs) ------------------------------
def _full(g, like):
    """``g`` broadcast to ``like``'s shape (a view when ``g`` is a tensor)."""
    if torch.is_tensor(g):
        return g if g.shape == like.shape else g.expand_as(like)
    return torch.full_like(like, g)


def _fresh(g, like):
    """``g`` broadcast to ``like``'s shape, as a new tensor."""
    return g.expand_as(like).clone() if torch.is_tensor(g) else torch.full_like(like, g)


def _sum_to(g, out, ref):
    """The adjoint ``g`` of a broadcast result ``out`` summed to the operand ``ref``'s shape."""
    return _full(g, out).sum_to_size(ref.shape)


def _pow_vjp(a, x, p):
    """``a * d(x ** p)/dx`` for a constant ``p`` only known when running (autograd's pow_backward)."""
    if torch.is_tensor(p):
        return torch.where(p == 0, torch.zeros_like(x), a * (p * x ** (p - 1)))
    return torch.zeros_like(x) if p == 0 else a * (p * x ** (p - 1))


# -- the rules -------------------------------------------------------------------------------
def _value_of(node: Node, parameters) -> float | None:
    """A constant known while generating (a number or a parameter), else None."""
    if isinstance(node, Const):
        return float(node.value)
    if isinstance(node, Param):
        return float(parameters[node.name])
    return None


def _add(g, rec, a, sign=1.0):
    return [(0, g.reduce(rec, 0, a)), (1, g.reduce(rec, 1, g.scale(a, sign) if rec.kids[1] is not None else None))]


def _mul(g, rec, a):
    (left, right), (l, r) = rec.args, (rec.node.left, rec.node.right)
    out = []
    for k, other, node in ((0, right, r), (1, left, l)):
        if rec.kids[k] is None:
            continue
        c = _value_of(node, g.params)
        adj = g.scale(a, c) if c is not None else g.times(a, other, node.shape, node)
        out.append((k, g.reduce(rec, k, adj)))
    return out


def _div(g, rec, a):
    right, r = rec.args[1], rec.node.right
    out = []
    if rec.kids[0] is not None:
        c = _value_of(r, g.params)
        adj = g.scale(a, 1.0 / c) if c else g.bind(f"{a.expr} / {right}", _broadcast(a.shape, r.shape))
        out.append((0, g.reduce(rec, 0, adj)))
    if rec.kids[1] is not None:                      # d(l/r)/dr = -(l/r)/r
        adj = g.bind(f"-{a.expr} * {rec.out} / {right}", rec.node.shape)
        out.append((1, g.reduce(rec, 1, adj)))
    return out


def _pow_rule(g, rec, a, base: str, base_node: Node, exponent: Node, exponent_name: str):
    p = _value_of(exponent, g.params)
    shape = rec.node.shape
    if p is None:
        return [(0, g.bind(f"_pow_vjp({a.expr}, {base}, {exponent_name})", shape))]
    if p == 0:
        return [(0, None)]
    if p == 1:
        return [(0, a)]
    if p == 2:
        return [(0, g.times(g.scale(a, 2.0), base, shape, base_node))]
    return [(0, g.times(g.scale(a, p), f"{base} ** {g.const(p - 1.0)}", shape))]


def _pow(g, rec, a):
    return _pow_rule(g, rec, a, rec.args[0], rec.node.left, rec.node.right, rec.args[1])


def _matmul(g, rec, a):
    (left, right), (l, r) = rec.args, (rec.node.left, rec.node.right)
    out = []
    if len(l.shape) == 1 and len(r.shape) == 1:                 # vector . vector: a scalar adjoint
        if rec.kids[0] is not None:
            out.append((0, g.times(a, right, r.shape, r)))
        if rec.kids[1] is not None:
            out.append((1, g.times(a, left, l.shape, l)))
        return out
    if a.value is not None:              # a number c: c * (1 @ r.T) and c * (l.T @ 1), as sums
        if rec.kids[0] is not None:
            s = f"{right}.sum(-1)" if len(r.shape) == 2 else right          # l: (m, k) or (k,)
            out.append((0, g.times(a, g.local(s, "_g"), (r.shape[0],))))
        if rec.kids[1] is not None:
            if len(l.shape) == 2:
                s = f"{left}.sum(0)" if len(r.shape) == 1 else f"{left}.sum(0).unsqueeze(-1)"
                out.append((1, g.times(a, g.local(s, "_g"), (l.shape[1],) if len(r.shape) == 1 else (l.shape[1], 1))))
            else:                                                           # (k,) @ (k, n): r gets l ⊗ 1
                out.append((1, g.times(a, g.local(f"{left}.unsqueeze(-1)", "_g"), (l.shape[0], 1))))
        return out
    full = g.full(a, rec)
    if rec.kids[0] is not None:
        if len(l.shape) == 2 and len(r.shape) == 2:
            out.append((0, g.bind(f"{full} @ {right}.T", l.shape)))
        elif len(l.shape) == 2:                                     # (m, k) @ (k,): outer(a, r)
            out.append((0, g.bind(f"{full}.unsqueeze(-1) * {right}", l.shape)))
        else:                                                       # (k,) @ (k, n): r @ a
            out.append((0, g.bind(f"{right} @ {full}", l.shape)))
    if rec.kids[1] is not None:
        if len(l.shape) == 2 and len(r.shape) == 2:
            out.append((1, g.bind(f"{left}.T @ {full}", r.shape)))
        elif len(l.shape) == 2:                                     # a @ l
            out.append((1, g.bind(f"{full} @ {left}", r.shape)))
        else:                                                       # outer(l, a)
            out.append((1, g.bind(f"{left}.unsqueeze(-1) * {full}", r.shape)))
    return out


def _elementwise(template: str):
    """A unary elementwise rule ``a * f'(...)``; ``template`` names ``{x}`` (the argument) and ``{o}``."""
    def rule(g, rec, a):
        shape = rec.node.shape
        deriv = g.local(template.format(x=rec.args[0], o=rec.out), "_g")
        root = rec is g.recs[-1] and template == "{o}"     # exp of the root: the gradient is the value
        return [(0, g.times(a, deriv, shape, rec.node if root else None))]
    return rule


def _sum(g, rec, a):
    return [(0, a)]


def _mean(g, rec, a):
    return [(0, g.bind(f"{a.expr} / {rec.args[0]}.numel()", ()))]


def _sum_squares(g, rec, a):
    return [(0, g.times(g.scale(a, 2.0), rec.args[0], rec.node.args[0].shape, rec.node.args[0]))]


def _square(g, rec, a):
    return [(0, g.times(g.scale(a, 2.0), rec.args[0], rec.node.shape, rec.node.args[0]))]


def _norm2(g, rec, a):          # autograd's norm_backward: x * (a / ||x||), 0 where ||x|| = 0
    ratio = g.local(f"({a.expr} / {rec.out}).masked_fill({rec.out} == 0, 0)", "_g")
    return [(0, g.bind(f"{rec.args[0]} * {ratio}", rec.node.args[0].shape))]


def _norm1(g, rec, a):
    return [(0, g.times(a, g.local(f"torch.sign({rec.args[0]})", "_g"), rec.node.args[0].shape))]


def _log_sum_exp(g, rec, a):
    return [(0, g.times(a, g.local(f"torch.exp({rec.args[0]} - {rec.out})", "_g"), rec.node.args[0].shape))]


def _logistic(g, rec, a):       # torch's softplus_backward (beta 1, threshold 20), exactly
    return [(0, g.bind(f"torch.ops.aten.softplus_backward({g.full(a, rec)}, {rec.args[0]}, 1.0, 20.0)",
                       rec.node.shape))]


def _power(g, rec, a):
    return _pow_rule(g, rec, a, rec.args[0], rec.node.args[0], rec.node.args[1], rec.args[1])


def _huber(g, rec, a):
    M = _value_of(rec.node.args[1], g.params)
    if M is None or rec.kids[1] is not None:
        raise _NoRule("huber")
    x = rec.args[0]
    deriv = g.local(f"torch.where(torch.abs({x}) <= {g.const(M)}, 2 * {x}, {g.const(2 * M)} * torch.sign({x}))", "_g")
    return [(0, g.times(a, deriv, rec.node.shape))]


def _quad_form(g, rec, a):      # x'Px: a (Px + P'x)
    if rec.kids[1] is not None:
        raise _NoRule("quad_form of a variable matrix")
    x, P = rec.args
    return [(0, g.times(a, g.local(f"{rec.extra} + {x} @ {P}", "_g"), rec.node.args[0].shape))]


def _transpose(g, rec, a):
    if a.value is not None or len(rec.node.shape) < 2:
        return [(0, a)]
    return [(0, _Adj(f"{g.full(a, rec)}.T", rec.node.args[0].shape, env=a.env))]


def _diag(g, rec, a):
    if len(rec.node.shape) == 2:                       # vector -> matrix: the adjoint's diagonal (a view)
        return [(0, _Adj(g.local(f"torch.diagonal({g.full(a, rec)})", "_g"), rec.node.args[0].shape, env=a.env))]
    return [(0, g.bind(f"torch.diag({g.full(a, rec)})", rec.node.args[0].shape))]


def _trace(g, rec, a):
    x = rec.args[0]
    return [(0, g.times(a, g.local(f"torch.eye({x}.shape[0], dtype={x}.dtype, device={x}.device)", "_g"),
                        rec.node.args[0].shape))]


def _extreme(g, rec, a):       # max/min: evenly_distribute_backward (its CUDA form: ties share, NaN picks NaN)
    x, o = rec.args[0], rec.out
    mask = g.local(f"(({x} == {o}) | ({x}.isnan() & {o}.isnan())).to({x}.dtype)", "_g")
    return [(0, g.bind(f"{mask} * ({a.expr} / {mask}.sum())", rec.node.args[0].shape))]


def _norm_inf(g, rec, a):       # linalg_vector_norm_backward for inf: sgn(x) (a / #argmax) at the argmaxes
    x, o = rec.args[0], rec.out
    mask = g.local(f"((torch.abs({x}) == {o}) | torch.abs({x}).isnan()).to({x}.dtype)", "_g")
    return [(0, g.bind(f"torch.sign({x}) * (({a.expr} / {mask}.sum()) * {mask})", rec.node.args[0].shape))]


def _pairwise(smaller_wins: bool):
    """maximum/minimum: the adjoint to the larger (smaller) one, halved at ties (autograd's rule)."""
    def rule(g, rec, a):
        (l, r), out = rec.args, []
        half = g.local(f"torch.where({l} == {r}, {a.expr} / 2, {a.expr})", "_g")
        for k, loses in ((0, ">" if smaller_wins else "<"), (1, "<" if smaller_wins else ">")):
            if rec.kids[k] is not None:
                adj = g.bind(f"{half}.masked_fill({l} {loses} {r}, 0)", rec.node.shape)
                out.append((k, g.reduce(rec, k, adj)))
        return out
    return rule


def _kl_div(g, rec, a):         # autograd through the atom's xlogy(x, x / w) - x + y, w = where(x == 0, 1, y)
    (x, y), out = rec.args, []
    w = g.local(f"torch.where({x} == 0, torch.ones_like({y}), {y})", "_g")
    q = g.local(f"{x} / {w}", "_g")
    r = g.local(f"{x} / {q}", "_g")          # xlogy's derivative in its second argument (NaN at x = 0, as autograd)
    if rec.kids[0] is not None:
        adj = g.bind(f"{a.expr} * (torch.special.xlogy(({x} != 0).to({x}.dtype), {q}) + {r} / {w} - 1)",
                     _broadcast(a.shape, rec.node.shape))
        out.append((0, g.reduce(rec, 0, adj)))
    if rec.kids[1] is not None:
        adj = g.bind(f"{a.expr} * (1 - ({r} * {x} / ({w} * {w})).masked_fill({x} == 0, 0))", rec.node.shape)
        out.append((1, g.reduce(rec, 1, adj)))
    return out


def _relu(g, rec, a):           # threshold_backward: a where relu(x) > 0
    return [(0, g.times(a, g.local(f"({rec.out} > 0).to({rec.out}.dtype)", "_g"), rec.node.shape))]


def _neg_part(g, rec, a):       # relu(-x): -a where relu(-x) > 0
    return [(0, g.times(a, g.local(f"-({rec.out} > 0).to({rec.out}.dtype)", "_g"), rec.node.shape))]


_BINOP_RULES: dict[str, Callable] = {
    "+": _add, "-": lambda g, rec, a: _add(g, rec, a, -1.0), "*": _mul, "/": _div, "**": _pow, "@": _matmul,
}

_ATOM_RULES: dict[str, Callable] = {
    "sum": _sum, "mean": _mean, "sum_squares": _sum_squares, "square": _square, "norm2": _norm2,
    "norm1": _norm1, "abs": _elementwise("torch.sign({x})"), "log_sum_exp": _log_sum_exp,
    "exp": _elementwise("{o}"), "log": _elementwise("1 / {x}"), "log1p": _elementwise("1 / ({x} + 1)"),
    "logistic": _logistic, "sigmoid": _elementwise("{o} * (1 - {o})"), "tanh": _elementwise("1 - {o} * {o}"),
    "sin": _elementwise("torch.cos({x})"), "cos": _elementwise("-torch.sin({x})"),
    "sqrt": _elementwise("1 / (2 * {o})"), "entr": _elementwise("-(1 + torch.log({x}))"),
    "power": _power, "huber": _huber, "quad_form": _quad_form, "transpose": _transpose, "diag": _diag,
    "trace": _trace, "relu": _relu, "pos": _relu, "neg": _neg_part, "max": _extreme, "min": _extreme,
    "norm_inf": _norm_inf, "maximum": _pairwise(False), "minimum": _pairwise(True), "kl_div": _kl_div,
}

VJP_ATOMS: frozenset[str] = frozenset(_ATOM_RULES)
"""The atoms with a reverse rule (the others keep autograd when they read a variable)."""


def compile_torch_value_and_grad(node: Node, parameters: dict[str, float],
                                 wrt: Sequence[tuple[str, tuple]]) -> Callable | None:
    """Return ``fn(env) -> (0-d value, flat gradient)`` for the scalar ``node``, or None when some
    variable-dependent node has no reverse rule (or nothing depends on a variable): keep autograd.

    ``wrt`` lists the variables as ``(name, shape)`` in layout order; the gradient is their
    gradients flattened and concatenated (zeros for one the expression does not read). ``env``
    is :meth:`TorchEvaluator.env`'s (rows of a finite sum included); the results are new tensors
    on the inputs' device and dtype, not attached to any graph when the inputs are not.

    The function holds no data (names and constants only), so it is kept for the same node,
    parameters and variables (a solve per seed lowers the same problem again); a node with a
    slice, unhashable before Python 3.12, is generated each time."""
    wrt = tuple((name, tuple(shape)) for name, shape in wrt)
    try:
        key = (node, tuple(sorted(parameters.items())), wrt)
        return _CACHE[key]
    except TypeError:          # a slice in an Index key
        key = None
    except KeyError:
        pass
    fn = _generate(node, parameters, wrt)
    if key is not None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = fn
    return fn


_CACHE: dict = {}
_CACHE_SIZE = 256


def _generate(node: Node, parameters, wrt) -> Callable | None:
    gen = _Gen(parameters, dict(wrt))
    if node.shape not in ((), (1,)) or not gen.depends(node):
        return None
    try:
        root, _ = gen.forward(node)
        grads = gen.reverse([name for name, _ in wrt])
    except _NoRule:
        return None
    value = root if node.shape == () else f"{root}.reshape(())"
    grad = grads[0] if len(grads) == 1 else f"torch.cat([{', '.join(grads)}])"
    source = "def _fn(env):\n" + "".join(f"    {line}\n" for line in gen.lines) + f"    return {value}, {grad}\n"
    exec(compile(source, "<solverhub.lower.to_torch_grad>", "exec"), gen.ns)      # noqa: S102 - from the IR only
    fn = gen.ns["_fn"]
    fn.source = source
    return fn
