"""``penalty-gd``: gradient descent on the fixed penalty f + lam·g, the reference for ``dbgd``
(the classical penalty method, not from a paper; SGD on f + lam·g with a noisy oracle)::

    x_{k+1} = x_k − lr (∇f(x_k) + lam ∇g(x_k)).

Its fixed points are biased by O(1/lam), and a large lam forces lr·lam·L_g < 2:
the trade-off DBGD's dynamic λ_k removes. Details: docs/methods/dbgd.md.
"""
from __future__ import annotations

__all__ = ["PenaltyGD", "PenaltyGDOptions", "PenaltyState"]

import math
from dataclasses import dataclass
from typing import Any

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module
from solverhub.plugin import SolverOptions, option

torch = lazy_module("torch")


class PenaltyGDOptions(SolverOptions):
    """Options of ``penalty-gd`` (a baseline: defaults are a starting point, tune lam and lr)."""

    lam: float = option(10.0, "fixed penalty weight on the lower objective", symbol="λ", ge=0)
    lr: float = option(1e-3, "constant step (stable while lr·(L_f + lam·L_g) < 2)", symbol="η", gt=0)


@dataclass(frozen=True, kw_only=True)
class PenaltyState(IterState):
    k: int = 0
    direction_norm: Any = None        # ‖∇f + lam ∇g‖ at the last step's x_k


class PenaltyGD(Solver):
    """Gradient descent on f + lam·g with a fixed penalty; two gradient calls per step."""

    name = "penalty-gd"
    paper = "classical fixed-penalty method (reference for dbgd, arXiv:2507.23155)"
    kinds = ("bilevel",)
    capabilities = Capabilities(stochastic_ok=True)    # SGD on f + lam·g with noisy gradients
    priority = 1
    Options = PenaltyGDOptions
    description = "gradient descent on f + lam*g with a fixed penalty (bilevel reference for dbgd)"

    def init(self, problem, oracle, x0, options: PenaltyGDOptions) -> PenaltyState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        return PenaltyState(x=x, direction_norm=torch.full((), math.nan, device=x.device, dtype=x.dtype))

    def step(self, state: PenaltyState, oracle, options: PenaltyGDOptions) -> PenaltyState:
        x = state.x
        d = oracle.grad(x) + options.lam * oracle.grad(x, of="lower")
        return PenaltyState(x=x - options.lr * d, k=state.k + 1, direction_norm=torch.linalg.vector_norm(d))

    def report(self, state: PenaltyState, oracle, options) -> dict:
        norm = float(state.direction_norm)
        return {"lam": options.lam, "lr": options.lr,
                "penalized_grad_norm": None if math.isnan(norm) else norm}
