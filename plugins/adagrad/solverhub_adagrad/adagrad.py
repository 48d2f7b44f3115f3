"""Diagonal AdaGrad, measured in the ℓ1 gradient norm.

Reference: D. Maladkar, R. Jiang, A. Mokhtari, arXiv 2406.04592 (AdaGrad analysed in the
ℓ1 norm of the gradient; v3: COLT 2025; no algorithm box or constants were found, paper facts 12).
Method note: /work/shared/methods/12-adagrad-l1.md.
Per coordinate, with g_t the oracle's gradient at x_t (exact, minibatch or noisy)::

    v_t = v_{t-1} + g_t ⊙ g_t,   v_{-1} = 0
    x_{t+1} = x_t − η g_t / (sqrt(v_t) + eps),   0/0 := 0

Reconstructed: the order "update v, then step", eps outside the root, the 0/0
convention (a ``torch.where``: no host sync) and the defaults η = 0.1, eps = 1e-10
(eps = 0 is the "theory mode", exactly invariant to scaling f). Details and
claims: docs/methods/adagrad.md.
"""
from __future__ import annotations

__all__ = ["AdaGradOptions", "AdaGradState", "AdaGrad", "adagrad_direction"]

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module
from solverhub.plugin import SolverOptions, option

from .stats import GradNormStats, stats_gradient, stats_report

torch = lazy_module("torch")


class AdaGradOptions(SolverOptions):
    """Options of ``adagrad``."""

    eta: float = option(0.1, "step scale (reconstructed default: the note's 0.1 when ‖x0 − x*‖∞ is not known)",
                        symbol="η", gt=0)
    eps: float = option(1e-10, "added to sqrt(v): 1e-10 safe mode, 0 theory mode (scale invariant)",
                        symbol="ε", ge=0)
    grad_stats: Literal["exact", "oracle", "off"] = option("exact", "gradient behind the min/mean-over-t extras")


@dataclass(frozen=True, kw_only=True)
class AdaGradState(IterState):
    """Iterate, the accumulated squared gradients v and the running gradient-norm statistics."""

    v: Any                      # Σ_{s ≤ t} g_s ⊙ g_s, per coordinate
    stats: GradNormStats


def adagrad_direction(g, v, eps: float):
    """g / (sqrt(v) + eps) per coordinate, with 0/0 = 0 (and x/0 = 0 if g² underflowed to 0)."""
    denom = torch.sqrt(v) + eps
    positive = denom > 0
    return torch.where(positive, g / torch.where(positive, denom, torch.ones_like(denom)), torch.zeros_like(g))


class AdaGrad(Solver):
    """Diagonal AdaGrad (current gradient in the accumulator); stationarity in ‖∇f‖₁."""

    name = "adagrad"
    paper = "arXiv:2406.04592"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 2
    Options = AdaGradOptions
    stationarity_measure = "grad_norm_l1"
    description = "diagonal AdaGrad, l1 gradient-norm stationarity (arXiv 2406.04592); stochastic ok"

    def init(self, problem, oracle, x0, options: AdaGradOptions) -> AdaGradState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        return AdaGradState(x=x, v=torch.zeros_like(x), stats=GradNormStats.empty(x))

    def step(self, state: AdaGradState, oracle, options: AdaGradOptions) -> AdaGradState:
        g = oracle.grad(state.x)
        v = state.v + g * g
        x_new = state.x - options.eta * adagrad_direction(g, v, options.eps)
        stats = state.stats.update(stats_gradient(oracle, state.x, g, options.grad_stats))
        return replace(state, x=x_new, v=v, stats=stats, value=None, grad=None)

    def report(self, state: AdaGradState, oracle, options) -> dict:
        return {**stats_report(state.stats, options.grad_stats, state.x, oracle), **effective_steps(state, options)}


def effective_steps(state: AdaGradState, options: AdaGradOptions) -> dict:
    """Summary over coordinates of the last iteration's step η/(sqrt(v) + eps); coordinates with
    sqrt(v) + eps = 0 (0/0 convention) are left out and counted in ``frozen_coordinates``."""
    denom = torch.sqrt(state.v) + options.eps
    live = denom > 0
    steps = torch.where(live, options.eta / torch.where(live, denom, torch.ones_like(denom)), torch.nan).double()
    summary = torch.stack([steps.nanmedian(),                       # lower median over live coordinates
                           steps.nan_to_num(math.inf).min(),
                           steps.nan_to_num(-math.inf).max(),
                           steps.nansum() / live.sum().clamp(min=1),
                           (~live).sum().double()])
    median, lo, hi, mean, frozen = summary.tolist()       # one transfer to the host
    frozen = int(frozen)
    if frozen == denom.numel():
        return {"effective_step": None, "frozen_coordinates": frozen}
    return {
        "effective_step": {"min": lo, "median": median, "max": hi, "mean": mean,
                           "max_over_min": hi / lo if lo > 0 else None},
        "frozen_coordinates": frozen,
    }
