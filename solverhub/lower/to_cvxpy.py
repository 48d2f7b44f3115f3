"""Lower the expression IR to cvxpy expressions (DCP is checked by cvxpy itself)."""
from __future__ import annotations

__all__ = ["compile_cvxpy", "NoCvxpyForm"]

from .._lazy import lazy_module
from ..problem.atoms import ATOMS
from ..problem.expr import BinOp, Call, Compare, Const, Data, Index, Neg, Node, Param, Var

cp = lazy_module("cvxpy")
np = lazy_module("numpy")


class NoCvxpyForm(Exception):
    """The expression uses something without a cvxpy form (e.g. ``tanh``)."""


def _is_numeric(v) -> bool:
    return isinstance(v, (int, float)) or type(v).__module__ == "numpy"


def compile_cvxpy(node: Node, env: dict, parameters: dict[str, float]):
    """Evaluate ``node`` with cvxpy: ``env`` maps variable names to ``cp.Variable``
    and data names to numpy arrays. Returns a cvxpy expression, number or
    (for a Compare) a cvxpy constraint."""
    def go(n: Node):
        if isinstance(n, (Var, Data)):
            return env[n.name]
        if isinstance(n, Param):
            return float(parameters[n.name])
        if isinstance(n, Const):
            return n.value
        if isinstance(n, Neg):
            return -go(n.arg)
        if isinstance(n, Index):
            return go(n.arg)[n.key]
        if isinstance(n, Compare):
            a, b = go(n.left), go(n.right)
            return {"<=": lambda: a <= b, ">=": lambda: a >= b, "==": lambda: a == b}[n.op]()
        if isinstance(n, BinOp):
            a, b = go(n.left), go(n.right)
            if n.op == "+":
                return a + b
            if n.op == "-":
                return a - b
            if n.op == "@":
                return a @ b
            if n.op == "/":
                return a / b
            if n.op == "*":
                if _is_numeric(a) and _is_numeric(b):
                    return a * b
                if np.ndim(a) == 0 or np.ndim(b) == 0 or getattr(a, "shape", ()) == () \
                        or getattr(b, "shape", ()) == ():
                    return a * b
                return cp.multiply(a, b)
            if n.op == "**":
                if _is_numeric(a):
                    return np.power(a, b)
                return cp.power(a, b)
        if isinstance(n, Call):
            atom = ATOMS[n.atom]
            if atom.cvxpy is None:
                raise NoCvxpyForm(f"atom {n.atom!r} has no cvxpy form")
            return atom.cvxpy(*[go(a) for a in n.args])
        raise NoCvxpyForm(f"cannot lower {type(n).__name__}")  # pragma: no cover

    return go(node)
