"""Lower the expression IR to torch closures (autograd-ready, on any device)."""
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
    """Return ``fn(env)`` evaluating ``node``; ``env`` maps variable and data names to tensors."""
    if isinstance(node, (Var, Data)):
        name = node.name
        return lambda env: env[name]
    if isinstance(node, Param):
        value = float(parameters[node.name])
        return lambda env: value
    if isinstance(node, Const):
        value = node.value
        return lambda env: value
    if isinstance(node, Neg):
        arg = compile_torch(node.arg, parameters)
        return lambda env: -arg(env)
    if isinstance(node, (BinOp, Compare)):
        left, right = compile_torch(node.left, parameters), compile_torch(node.right, parameters)
        if isinstance(node, Compare):   # lowered as "violation form": g(x) <= 0 or h(x) == 0
            if node.op == ">=":
                return lambda env: right(env) - left(env)
            return lambda env: left(env) - right(env)
        op = _OPS[node.op]
        return lambda env: op(left(env), right(env))
    if isinstance(node, Index):
        arg, key = compile_torch(node.arg, parameters), node.key
        return lambda env: arg(env)[key]
    if isinstance(node, Call):
        atom = ATOMS[node.atom]
        fn = atom.torch
        args = [compile_torch(a, parameters) for a in node.args]
        if len(args) == 1:
            (a0,) = args
            return lambda env: fn(_tensor(a0(env), env))
        # constant arguments (power's p, huber's M) stay Python floats; the others become tensors
        keep = tuple(i in atom.constants for i in range(len(args)))
        return lambda env: fn(*[a(env) if k else _tensor(a(env), env) for a, k in zip(args, keep)])
    raise TypeError(f"cannot lower {type(node).__name__} to torch")  # pragma: no cover


def _tensor(value, env):
    if torch.is_tensor(value):
        return value
    ref = next(iter(env.values()))
    return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
