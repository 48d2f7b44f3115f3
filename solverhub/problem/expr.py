"""The safe expression language: a whitelist over Python's ``ast`` compiled to a
small typed IR with shapes (never ``eval``).

Grammar: numbers in any float form, names of variables / data / parameters,
``+ - * / ** @``, unary minus, indexing and slicing with integer constants
(``x[0]``, ``x[1:]``, ``A[:, 2]``), calls to atoms (``solverhub.problem.atoms``),
the postfix transpose ``A.T`` (compiled exactly as ``transpose(A)``: axes reversed, a vector
or a scalar unchanged, as in NumPy), and -- in constraints only -- one comparison ``<=``,
``>=`` or ``==``. Any other attribute access, dunder names, keyword arguments, lambdas,
comprehensions and calls to anything but an atom are rejected before anything is evaluated.

Numbers are checked where they enter: a literal must be a finite float (a
400-digit integer or ``1e999`` is an error, not an OverflowError or an infinity),
and every constant scalar sub-expression -- numbers and parameters combined by
``+ - * / **``, unary minus and atoms, such as ``x / (1 - 1)``, ``1e308*10 - 1e308*10``,
``exp(1000)`` or ``log(lam - lam)`` -- is evaluated while compiling and must be finite
(numbers alone are folded into one constant; with parameters the node stays, so
``--set`` changes its value and is checked again).
"""
from __future__ import annotations

__all__ = ["Node", "Var", "Data", "Param", "Const", "Neg", "BinOp", "Index", "Call", "Compare",
           "Symbols", "parse_expression", "free_names"]

import ast
import math
from dataclasses import dataclass
from typing import Mapping

from ..errors import Location, ProblemError
from .atoms import ATOMS, BROADCAST2, DIAG, ELEMENTWISE, ELEMENTWISE_CONST, QUAD_FORM, REDUCE, TRACE, TRANSPOSE

MAX_EXPRESSION_CHARS = 20_000


@dataclass(frozen=True)
class Node:
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Var(Node):
    name: str


@dataclass(frozen=True)
class Data(Node):
    name: str


@dataclass(frozen=True)
class Param(Node):
    name: str


@dataclass(frozen=True)
class Const(Node):
    value: float


@dataclass(frozen=True)
class Neg(Node):
    arg: Node


@dataclass(frozen=True)
class BinOp(Node):
    op: str          # + - * / ** @
    left: Node
    right: Node


@dataclass(frozen=True)
class Index(Node):
    arg: Node
    key: tuple       # of int | slice


@dataclass(frozen=True)
class Call(Node):
    atom: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str          # <= >= ==
    left: Node
    right: Node


@dataclass(frozen=True)
class Symbols:
    """Names an expression may use, with their shapes."""

    variables: Mapping[str, tuple[int, ...]]
    data: Mapping[str, tuple[int, ...]]
    parameters: Mapping[str, float]
    constants_only: bool = False   # True: variables are not allowed (e.g. in data expressions)

    def describe(self) -> str:
        parts = []
        if self.variables and not self.constants_only:
            parts.append("variables " + ", ".join(self.variables))
        if self.data:
            parts.append("data " + ", ".join(self.data))
        if self.parameters:
            parts.append("parameters " + ", ".join(self.parameters))
        parts.append("atoms " + ", ".join(sorted(ATOMS)))
        return "; ".join(parts)


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}
_CMPOPS = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "=="}
_HINTS = {
    ast.BitXor: "use ** for powers",
    ast.Lt: "strict inequalities are not allowed; use <=",
    ast.Gt: "strict inequalities are not allowed; use >=",
    ast.Attribute: "attribute access is not allowed (only .T, the transpose)",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.JoinedStr: "strings (f-strings) are not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed",
    ast.BoolOp: "and/or are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Await: "await is not allowed",
    ast.List: "list literals are not allowed; put arrays under data:",
    ast.Tuple: "tuple literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Dict: "dict literals are not allowed",
}


class _Compiler:
    def __init__(self, text: str, symbols: Symbols, where: str, location: Location):
        self.text = text
        self.symbols = symbols
        self.where = where
        self.location = location
        # id(node) -> (node, value) for constant scalar sub-expressions; holding the node keeps its id
        # from being reused by a later node after the folded one is dropped
        self.values: dict[int, tuple[Node, float]] = {}
        self.source = text.strip()

    def fail(self, message: str, allowed: str | None = None, node: ast.AST | None = None):
        col = f" (column {node.col_offset + 1})" if node is not None and hasattr(node, "col_offset") else ""
        raise ProblemError(f"{self.where}: {message}{col} in {self.text!r}", location=self.location,
                           allowed=allowed)

    # -- entry ---------------------------------------------------------------
    def compile(self, allow_compare: bool) -> Node:
        if len(self.text) > MAX_EXPRESSION_CHARS:
            self.fail(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as err:
            raise ProblemError(f"{self.where}: syntax error in {self.text!r}: {err.msg}",
                               location=self.location) from None
        except (RecursionError, MemoryError):
            self.fail("expression nested too deeply")
        body = tree.body
        if isinstance(body, ast.Compare):
            if not allow_compare:
                self.fail("a comparison is only allowed in constraints", node=body)
            return self.compare(body)
        if allow_compare:
            self.fail("a constraint needs one comparison <=, >= or ==", allowed="<=, >=, ==")
        try:
            return self.visit(body)
        except RecursionError:
            self.fail("expression nested too deeply")

    def compare(self, node: ast.Compare) -> Node:
        if len(node.ops) != 1:
            self.fail("chained comparisons are not allowed; write one constraint per line", node=node)
        op = _CMPOPS.get(type(node.ops[0]))
        if op is None:
            hint = _HINTS.get(type(node.ops[0]), "unsupported comparison")
            self.fail(hint, allowed="<=, >=, ==", node=node)
        left, right = self.visit(node.left), self.visit(node.comparators[0])
        self.broadcast(left.shape, right.shape, op, node)
        return Compare(shape=(), op=op, left=left, right=right)

    # -- nodes ---------------------------------------------------------------
    def visit(self, node: ast.AST) -> Node:
        out = self._visit(node)
        self.check_constant(out, node)
        return out

    def check_constant(self, out: Node, node: ast.AST) -> None:
        """Evaluate ``out`` if it is a constant scalar (numbers, parameters, atoms of them); fail
        unless the value is finite. Children were checked first, so each node costs O(1)."""
        if isinstance(out, Const):
            value = out.value
        elif isinstance(out, Param):
            value = float(self.symbols.parameters[out.name])
        elif out.shape != () or not isinstance(out, (Neg, BinOp, Call)):
            return
        else:
            args = _children(out)
            if not all(id(a) in self.values for a in args):
                return
            vals = [self.values[id(a)][1] for a in args]
            try:
                value = _evaluate(out, vals)
            except (OverflowError, ValueError, ZeroDivisionError) as err:
                self.fail(f"constant {self.segment(node)} cannot be computed ({_why(err)})", node=node,
                          allowed="finite constants (NaN and infinity are input errors)")
            if value is None:
                return
            if isinstance(value, complex):
                self.fail(f"constant {self.segment(node)} is not a real number", node=node)
        if not math.isfinite(value):
            self.fail(f"constant {self.segment(node)} is {value} (not finite)", node=node,
                      allowed="finite constants (NaN and infinity are input errors)")
        self.values[id(out)] = (out, value)

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node) or "sub-expression"
        return repr(text if len(text) <= 60 else text[:57] + "...")

    def _visit(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self.fail(f"literal {_short(node.value)} is not a number", node=node)
            try:
                value = float(node.value)
            except OverflowError:
                self.fail(f"number literal {_short(node.value)} is too large for a float", node=node,
                          allowed="numbers of magnitude below 1.8e308")
            if not math.isfinite(value):
                self.fail(f"number literal {self.segment(node)} is not finite", node=node,
                          allowed="numbers of magnitude below 1.8e308")
            return Const(shape=(), value=value)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                arg = self.visit(node.operand)
                if isinstance(arg, Const):
                    return Const(shape=(), value=-arg.value)
                return Neg(shape=arg.shape, arg=arg)
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand)
            self.fail(f"operator {type(node.op).__name__} is not allowed", allowed="+ - * / ** @", node=node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            arg = self.visit(node.value)
            return Call(shape=tuple(reversed(arg.shape)), atom="transpose", args=(arg,))
        hint = _HINTS.get(type(node))
        self.fail(hint or f"{type(node).__name__} is not allowed",
                  allowed="numbers, names, + - * / ** @, indexing, atom calls", node=node)

    def name(self, node: ast.Name) -> Node:
        n = node.id
        if n.startswith("__") or n.startswith("_"):
            self.fail(f"name {n!r} is not allowed", allowed=self.symbols.describe(), node=node)
        s = self.symbols
        if n in s.variables:
            if s.constants_only:
                self.fail(f"variable {n!r} cannot appear here", node=node)
            return Var(shape=tuple(s.variables[n]), name=n)
        if n in s.data:
            return Data(shape=tuple(s.data[n]), name=n)
        if n in s.parameters:
            return Param(shape=(), name=n)
        if n in ATOMS:
            self.fail(f"atom {n!r} must be called, e.g. {n}(x)", node=node)
        self.fail(f"unknown name {n!r}", allowed=s.describe(), node=node)

    def binop(self, node: ast.BinOp) -> Node:
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.fail(_HINTS.get(type(node.op), f"operator {type(node.op).__name__} is not allowed"),
                      allowed="+ - * / ** @", node=node)
        left, right = self.visit(node.left), self.visit(node.right)
        if op == "/" and self.values.get(id(right), (None, None))[1] == 0:
            self.fail(f"division by zero: the divisor {self.segment(node.right)} is a constant 0", node=node)
        if op == "@":
            return BinOp(shape=self.matmul_shape(left.shape, right.shape, node), op=op, left=left, right=right)
        if op == "**":
            if right.shape != () or not _is_constant(right):
                self.fail("the exponent of ** must be a scalar constant or parameter", node=node)
            if isinstance(left, Const) and isinstance(right, Const):
                try:
                    value = left.value ** right.value
                except (OverflowError, ZeroDivisionError) as err:
                    self.fail(f"constant {left.value:g} ** {right.value:g} cannot be computed ({_why(err)})",
                              node=node)
                if isinstance(value, complex):
                    self.fail(f"constant {left.value:g} ** {right.value:g} is not a real number", node=node)
                return Const(shape=(), value=float(value))
            return BinOp(shape=left.shape, op=op, left=left, right=right)
        if isinstance(left, Const) and isinstance(right, Const):
            a, b = left.value, right.value
            try:
                value = {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b
            except ZeroDivisionError:
                self.fail("division by zero", node=node)
            return Const(shape=(), value=value)     # checked finite by check_constant
        return BinOp(shape=self.broadcast(left.shape, right.shape, op, node), op=op, left=left, right=right)

    def call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            self.fail("only atoms can be called", allowed=", ".join(sorted(ATOMS)), node=node)
        name = node.func.id
        if name.startswith("_"):
            self.fail(f"name {name!r} is not allowed", allowed=", ".join(sorted(ATOMS)), node=node)
        atom = ATOMS.get(name)
        if atom is None:
            self.fail(f"unknown atom {name!r}", allowed=", ".join(sorted(ATOMS)), node=node)
        if node.keywords:
            self.fail(f"atom {name!r} takes no keyword arguments", node=node)
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail("starred arguments are not allowed", node=node)
        if len(node.args) != atom.arity:
            hint = {"max": "; maximum(a, b) is the elementwise max of two",
                    "min": "; minimum(a, b) is the elementwise min of two"}.get(name, "") if node.args else ""
            self.fail(f"atom {name!r} takes {atom.arity} argument(s), got {len(node.args)}{hint}", node=node)
        args = tuple(self.visit(a) for a in node.args)
        for i in atom.constants:
            if args[i].shape != () or not _is_constant(args[i]):
                self.fail(f"{name}(...): argument {i + 1} must be a scalar constant or parameter, got "
                          f"{self.segment(node.args[i])} of shape {_fmt(args[i].shape)}", node=node)
        if name == "huber" and self.values.get(id(args[1]), (None, 0.0))[1] < 0:
            self.fail(f"huber(x, M): M must be >= 0, got {self.values[id(args[1])][1]:g}", node=node,
                      allowed="M >= 0")
        if atom.shape_rule in (ELEMENTWISE, ELEMENTWISE_CONST):
            shape = args[0].shape
        elif atom.shape_rule == REDUCE:
            shape = ()
        elif atom.shape_rule == BROADCAST2:
            shape = self.broadcast(args[0].shape, args[1].shape, name, node)
        elif atom.shape_rule == QUAD_FORM:
            x, P = args
            if len(x.shape) != 1 or P.shape != (x.shape[0], x.shape[0]):
                self.fail(f"quad_form(x, P) needs a vector x and a square P of matching size; "
                          f"got shapes {_fmt(x.shape)} and {_fmt(P.shape)}", node=node)
            if not _is_constant(P):
                self.fail("quad_form(x, P): P must be data or a constant", node=node)
            shape = ()
        elif atom.shape_rule == TRANSPOSE:
            shape = tuple(reversed(args[0].shape))
        elif atom.shape_rule == DIAG:
            (a,) = args
            if len(a.shape) == 1:
                shape = (a.shape[0], a.shape[0])
            elif len(a.shape) == 2 and a.shape[0] == a.shape[1]:
                shape = (a.shape[0],)
            else:
                self.fail(f"diag(x) needs a vector or a square matrix; got shape {_fmt(a.shape)}", node=node)
        elif atom.shape_rule == TRACE:
            (a,) = args
            if len(a.shape) != 2 or a.shape[0] != a.shape[1]:
                self.fail(f"trace(X) needs a square matrix; got shape {_fmt(a.shape)}", node=node)
            shape = ()
        else:  # pragma: no cover - atoms table is closed
            raise AssertionError(atom.shape_rule)
        return Call(shape=shape, atom=name, args=args)

    def subscript(self, node: ast.Subscript) -> Node:
        base = self.visit(node.value)
        sl = node.slice
        items = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if len(items) > len(base.shape):
            self.fail(f"too many indices ({len(items)}) for shape {_fmt(base.shape)}", node=node)
        key, shape = [], []
        for axis, item in enumerate(items):
            size = base.shape[axis]
            if isinstance(item, ast.Slice):
                bounds = [self.index_int(b, node) if b is not None else None
                          for b in (item.lower, item.upper, item.step)]
                if bounds[2] == 0:
                    self.fail("slice step cannot be zero", node=node)
                s = slice(*bounds)
                key.append(s)
                shape.append(len(range(*s.indices(size))))
            else:
                i = self.index_int(item, node)
                if not -size <= i < size:
                    self.fail(f"index {_short(i)} out of range for axis {axis} of size {size}", node=node)
                key.append(i)
        shape.extend(base.shape[len(items):])
        if 0 in shape:
            self.fail("slice selects no elements", node=node)
        return Index(shape=tuple(shape), arg=base, key=tuple(key))

    def index_int(self, item: ast.AST, node: ast.AST) -> int:
        neg = False
        if isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub):
            neg, item = True, item.operand
        if isinstance(item, ast.Constant) and isinstance(item.value, int) and not isinstance(item.value, bool):
            return -item.value if neg else item.value
        self.fail("indices must be integer constants", node=node)

    # -- shapes --------------------------------------------------------------
    def broadcast(self, a: tuple, b: tuple, op: str, node) -> tuple:
        out = []
        for i in range(1, max(len(a), len(b)) + 1):
            da = a[-i] if i <= len(a) else 1
            db = b[-i] if i <= len(b) else 1
            if da != db and 1 not in (da, db):
                self.fail(f"shape mismatch for {op}: {_fmt(a)} and {_fmt(b)}", node=node)
            out.append(max(da, db))
        return tuple(reversed(out))

    def matmul_shape(self, a: tuple, b: tuple, node) -> tuple:
        if not a or not b or len(a) > 2 or len(b) > 2:
            self.fail(f"@ needs vectors or matrices, got shapes {_fmt(a)} and {_fmt(b)}", node=node)
        inner_a = a[-1]
        inner_b = b[0]
        if inner_a != inner_b:
            self.fail(f"shape mismatch for @: {_fmt(a)} and {_fmt(b)} (inner sizes {inner_a} != {inner_b})",
                      node=node)
        return tuple(a[:-1]) + tuple(b[1:])


def _short(value) -> str:
    """``repr`` for a message: huge integers (which ``str`` may refuse past 4300 digits) abridged."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"{'-' if value < 0 else ''}<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _why(err: Exception) -> str:
    if isinstance(err, OverflowError):
        return "it overflows: larger than 1.8e308"
    if isinstance(err, ValueError):
        return "outside the domain of the function"
    return str(err)


def _evaluate(node: Node, vals: list[float]):
    """The value of a constant scalar node from its children's values (None: not evaluated here)."""
    if isinstance(node, Neg):
        return -vals[0]
    if isinstance(node, BinOp):
        a, b = vals
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if node.op == "/":
            return a / b
        if node.op == "**":
            return a ** b
        return None
    if isinstance(node, Call):
        fn = ATOMS[node.atom].scalar
        if fn is None:
            return None
        value = fn(*vals)
        return value if isinstance(value, complex) else float(value)
    return None


def _fmt(shape: tuple) -> str:
    return "scalar" if shape == () else "(" + ", ".join(map(str, shape)) + ")"


def _is_constant(node: Node) -> bool:
    if isinstance(node, Var):
        return False
    if isinstance(node, (Data, Param, Const)):
        return True
    return all(_is_constant(child) for child in _children(node))


def _children(node: Node):
    if isinstance(node, Neg):
        return (node.arg,)
    if isinstance(node, (BinOp, Compare)):
        return (node.left, node.right)
    if isinstance(node, Index):
        return (node.arg,)
    if isinstance(node, Call):
        return node.args
    return ()


def free_names(node: Node, kind: type) -> set[str]:
    """Names of ``kind`` (``Var``/``Data``/``Param``) appearing in ``node``."""
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            out.add(n.name)
        stack.extend(_children(n))
    return out


def walk(node: Node):
    """Yield ``(node, ancestors)`` pairs, depth first."""
    stack = [(node, ())]
    while stack:
        n, anc = stack.pop()
        yield n, anc
        stack.extend((c, anc + (n,)) for c in _children(n))


def parse_expression(text, symbols: Symbols, *, where: str = "expression",
                     location: Location | None = None, allow_compare: bool = False) -> Node:
    """Compile ``text`` into the IR, checking names and shapes."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ProblemError(f"{where}: expected an expression string, got {type(text).__name__}",
                           location=location)
    return _Compiler(str(text), symbols, where, location or Location()).compile(allow_compare)
