"""Lower the expression IR to a torch function (autograd-ready, on any device)."""
from __future__ import annotations

__all__ = ["compile_torch"]

from typing import Callable

from .._lazy import lazy_module
from ..problem.atoms import ATOMS
from ..problem.expr import BinOp, Call, Compare, Const, Data, Index, Neg, Node, Param, Var

torch = lazy_module("torch")

_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a ** b,
    "@": lambda a, b: a @ b,
}


def compile_torch(node: Node, parameters: dict[str, float]) -> Callable[[dict], "torch.Tensor"]:
    """Return ``fn(env)`` evaluating ``node``; ``env`` maps variable and data names to tensors.

    The function is generated as straight-line code, one statement per node (every name and
    value passed in its namespace, no text of the problem file in the source): the torch calls
    of nested per-node closures (the previous lowering, kept as the reference in
    tests/torch_closures.py) without a Python call per node (issue 16:
    on the logistic n=2000 d=200 of ``bench_overhead.py`` the closures cost ~3-4 us of CPU a
    forward pass over a hand-written one, the generated code ~0-1 us)."""
    lines: list[str] = []
    namespace: dict = {"_tensor": _tensor}
    out = _emit(node, parameters, lines, namespace)
    source = "def _fn(env):\n" + "".join(f"    {line}\n" for line in lines) + f"    return {out}\n"
    exec(compile(source, "<solverhub.lower.to_torch>", "exec"), namespace)      # noqa: S102 - generated from the IR only
    return namespace["_fn"]


def _tensor_valued(node: Node) -> bool:
    """The node's value is a tensor (it reads a variable or data), not a Python number."""
    if isinstance(node, (Var, Data)):
        return True
    if isinstance(node, Call):
        return any(_tensor_valued(a) for a in node.args)
    if isinstance(node, (Neg, Index)):
        return _tensor_valued(node.arg)
    if isinstance(node, (BinOp, Compare)):
        return _tensor_valued(node.left) or _tensor_valued(node.right)
    return False


def _emit(node: Node, parameters, lines: list[str], ns: dict) -> str:
    """Append the statements computing ``node`` to ``lines``; return the name holding its value."""
    def const(value) -> str:
        name = f"_c{len(ns)}"
        ns[name] = value
        return name

    def local(expr: str) -> str:
        name = f"_v{len(lines)}"
        lines.append(f"{name} = {expr}")
        return name

    if isinstance(node, (Var, Data)):
        return local(f"env[{const(node.name)}]")
    if isinstance(node, Param):
        return const(float(parameters[node.name]))
    if isinstance(node, Const):
        return const(node.value)
    if isinstance(node, Neg):
        return local(f"-{_emit(node.arg, parameters, lines, ns)}")
    if isinstance(node, (BinOp, Compare)):
        left = _emit(node.left, parameters, lines, ns)
        right = _emit(node.right, parameters, lines, ns)
        if isinstance(node, Compare):   # lowered as "violation form": g(x) <= 0 or h(x) == 0
            return local(f"{right} - {left}" if node.op == ">=" else f"{left} - {right}")
        if node.op not in _OPS:
            raise TypeError(f"cannot lower operator {node.op!r} to torch")   # pragma: no cover
        return local(f"{left} {node.op} {right}")
    if isinstance(node, Index):
        return local(f"{_emit(node.arg, parameters, lines, ns)}[{const(node.key)}]")
    if isinstance(node, Call):
        fn = const(ATOMS[node.atom].torch)
        args = _call_args(node, [_emit(a, parameters, lines, ns) for a in node.args])
        return local(f"{fn}({', '.join(args)})")
    raise TypeError(f"cannot lower {type(node).__name__} to torch")  # pragma: no cover


def _call_args(node: Call, values: list[str]) -> list[str]:
    """The argument expressions of an atom call, given each argument's emitted name: constant
    arguments (power's p) stay floats, other non-tensor values become tensors like the variables'."""
    constants = ATOMS[node.atom].constants if len(node.args) > 1 else ()
    return [value if i in constants or _tensor_valued(a) else f"_tensor({value}, env)"
            for i, (a, value) in enumerate(zip(node.args, values))]


def _tensor(value, env):
    if torch.is_tensor(value):
        return value
    ref = next(iter(env.values()))
    return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
