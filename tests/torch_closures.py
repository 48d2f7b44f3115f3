"""The reference lowering of test_torch_codegen: the expression IR as nested torch closures, one per
node (solverhub's lowering before ``compile_torch`` generated straight-line code)."""
from __future__ import annotations

import operator
from typing import Callable

from solverhub.lower.to_torch import _tensor
from solverhub.problem.atoms import ATOMS
from solverhub.problem.expr import BinOp, Call, Compare, Const, Data, Index, Neg, Node, Param, Var

__all__ = ["compile_closures"]

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow,
       "@": operator.matmul}


def compile_closures(node: Node, parameters: dict[str, float]) -> Callable[[dict], "torch.Tensor"]:
    """``compile_torch`` as nested closures, one per node (solverhub's lowering before the
    generated code): the reference the generated code is tested against."""
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
        arg = compile_closures(node.arg, parameters)
        return lambda env: -arg(env)
    if isinstance(node, (BinOp, Compare)):
        left, right = compile_closures(node.left, parameters), compile_closures(node.right, parameters)
        if isinstance(node, Compare):   # lowered as "violation form": g(x) <= 0 or h(x) == 0
            if node.op == ">=":
                return lambda env: right(env) - left(env)
            return lambda env: left(env) - right(env)
        op = OPS[node.op]
        return lambda env: op(left(env), right(env))
    if isinstance(node, Index):
        arg, key = compile_closures(node.arg, parameters), node.key
        return lambda env: arg(env)[key]
    if isinstance(node, Call):
        atom = ATOMS[node.atom]
        fn = atom.torch
        args = [compile_closures(a, parameters) for a in node.args]
        if len(args) == 1:
            (a0,) = args
            return lambda env: fn(_tensor(a0(env), env))
        # constant arguments (power's p, huber's M) stay Python floats; the others become tensors
        keep = tuple(i in atom.constants for i in range(len(args)))
        return lambda env: fn(*[a(env) if k else _tensor(a(env), env) for a, k in zip(args, keep)])
    raise TypeError(f"cannot lower {type(node).__name__} to torch")  # pragma: no cover
