"""Gradient descent with Armijo backtracking (a plain baseline).

With a stochastic oracle (or ``backtracking=false``) it takes the constant step ``lr``,
by default 1/L with L = ‖∇²f(x₀)‖₂ estimated by power iteration (``lipschitz_estimate``,
10 hvp calls): the step that guarantees descent on an L-smooth f (Nesterov 2004,
*Introductory Lectures on Convex Optimization*, §1.2.3); 1/(2L) with a stochastic oracle,
whose minibatch curvature and noise exceed the full-batch L (Bottou, Curtis & Nocedal 2018,
SIAM Review 60(2), Thm 4.6: α ≤ μ/(L M_G) with unbiased gradients (μ = 1) is at most 1/L;
1/(2L) holds while E‖g‖² ≤ 2‖∇f‖² + M).
"""
from __future__ import annotations

__all__ = ["GradientDescent", "GDOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import SolverOptions, option
from ..parts.lipschitz import lipschitz_estimate
from ..solver import Capabilities, IterState, Solver

torch = lazy_module("torch")


class GDOptions(SolverOptions):
    lr: float | None = option(None, "initial (or constant) step size; null: 1 with backtracking, else 1/L "
                              "(1/(2L) stochastic), L estimated at x₀", symbol="α₀", gt=0)
    backtracking: bool = option(True, "Armijo backtracking; ignored with stochastic oracles")
    shrink: float = option(0.5, "step multiplier on a failed Armijo test", symbol="ρ", gt=0, lt=1)
    grow: float = option(1.0, "step multiplier tried after an accepted step (1: never grow)", ge=1)
    c1: float = option(1e-4, "Armijo sufficient-decrease constant", symbol="c₁", gt=0, lt=1)
    max_backtracks: int = option(60, "backtracking trials per step", ge=0)


@dataclass(frozen=True, kw_only=True)
class GDState(IterState):
    lr: Any = None
    backtracks: int = 0
    grad_sq: Any = None     # ‖grad‖², computed by the Armijo test of the step that made this state


class GradientDescent(Solver):
    name = "gd"
    paper = "Cauchy (1847); Armijo (1966) backtracking"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 0
    Options = GDOptions
    description = "gradient descent with Armijo backtracking (constant step when stochastic)"
    # the Armijo test reads one bool per backtracking trial (the accepted trial: one per step on the kit's problems)
    host_syncs_per_step = 1

    def init(self, problem, oracle, x0, options):
        if oracle.stochastic or not options.backtracking:
            lr = options.lr
            if lr is None:
                lr = (0.5 if oracle.stochastic else 1.0) / lipschitz_estimate(oracle, x0)
            return GDState(x=x0, lr=lr)
        value, grad = oracle.value_and_grad(x0)
        return GDState(x=x0, value=value, grad=grad, lr=1.0 if options.lr is None else options.lr)

    def step(self, state, oracle, options):
        if oracle.stochastic or not options.backtracking:
            return GDState(x=state.x - state.lr * oracle.grad(state.x), lr=state.lr)
        x, f, g = state.x, state.value, state.grad
        gg = torch.dot(g, g) if state.grad_sq is None else state.grad_sq
        # Near the optimum f(x) - f(x_new) drops below the float resolution of f and the
        # Armijo test rejects every step; there, accept a step that keeps f within
        # rounding and decreases the gradient norm (cf. Hager & Zhang's approximate Wolfe).
        # Written with fused ops (add with alpha): a tiny problem's step is op-count bound.
        f_ceiling = torch.add(f, torch.abs(f), alpha=4 * torch.finfo(f.dtype).eps)
        lr, c1 = state.lr, options.c1
        backtracks = 0
        while True:
            x_new = torch.add(x, g, alpha=-lr)
            f_new, g_new = oracle.value_and_grad(x_new)
            gg_new = torch.dot(g_new, g_new)
            accept = (f_new <= torch.add(f, gg, alpha=-c1 * lr)) | ((f_new <= f_ceiling) & (gg_new < gg))
            if bool(accept) or backtracks >= options.max_backtracks:
                break
            lr *= options.shrink
            backtracks += 1
        return GDState(x=x_new, value=f_new, grad=g_new, grad_sq=gg_new, lr=lr * options.grow,
                       backtracks=state.backtracks + backtracks)

    def report(self, state, oracle, options):
        return {"backtracks": state.backtracks, "final_step_size": float(state.lr)}
