"""Diagonal AdaGrad, measured in the ℓ1 gradient norm.

Reference: arXiv 2406.04592 (only the abstract was at hand: AdaGrad analysed
in the ℓ1 norm of the gradient, Õ(√d L/√T + √d σ/T^{1/4}) for the ℓ1 gradient
norm over the iterates, a deterministic lower bound Ω(√d/√T), and a possible √d
gain over SGD under per-coordinate smoothness/noise and a favourable ℓ1/ℓ2
gradient geometry).
Method note: /work/shared/methods/12-adagrad-l1.md.

The iteration (per coordinate i; the current gradient is included in v_t)::

    g_t = oracle gradient at x_t              (exact, minibatch or noisy)
    v_t = v_{t-1} + g_t ⊙ g_t,   v_{-1} = 0
    x_{t+1} = x_t − η g_t / (sqrt(v_t) + eps)

with the convention 0/0 = 0 per coordinate: a coordinate whose gradients have
all been 0 so far (v_t,i = 0, possible only with eps = 0) does not move.

Reconstructed (the paper's algorithm section was not available to us): the
order "update v, then step" (current g_t in v_t), where eps enters (added to
sqrt(v), outside the root), the 0/0 = 0 convention, and the defaults η = 0.1
(the note's fallback for 0.1·‖x0 − x*‖∞ when x* is unknown) and eps = 1e-10
("safe mode"; eps = 0 is the "theory mode" the analysis covers).

Exact property (tested): with eps = 0 the iterates are unchanged when f is
multiplied by a constant c > 0 (g → c g, sqrt(v) → c sqrt(v)).

No host syncs in ``step``: the 0/0 convention is a ``torch.where``.
"""
from __future__ import annotations

__all__ = ["AdaGradOptions", "AdaGradState", "AdaGrad", "adagrad_direction"]

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal

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


@dataclass(kw_only=True)
class AdaGradState(IterState):
    """Iterate, the accumulated squared gradients v and the running gradient-norm statistics."""

    v: Any                      # Σ_{s ≤ t} g_s ⊙ g_s, per coordinate
    stats: GradNormStats
    eta: float
    eps: float
    grad_stats: str = "exact"
    exact_grad: Callable | None = field(default=None, repr=False)   # oracle.peek_grad, uncounted, for report


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
        return AdaGradState(x=x, v=torch.zeros_like(x), stats=GradNormStats.empty(x),
                            eta=options.eta, eps=options.eps, grad_stats=options.grad_stats,
                            exact_grad=oracle.peek_grad)

    def step(self, state: AdaGradState, oracle, options: AdaGradOptions) -> AdaGradState:
        g = oracle.grad(state.x)
        v = state.v + g * g
        x_new = state.x - options.eta * adagrad_direction(g, v, options.eps)
        stats = state.stats.update(stats_gradient(oracle, state.x, g, options.grad_stats))
        return replace(state, x=x_new, v=v, stats=stats, value=None, grad=None)

    def report(self, state: AdaGradState, oracle, options) -> dict:
        out = stats_report(state.stats, state.grad_stats, state.x, state.exact_grad)
        out.update(effective_steps(state))
        return out


def effective_steps(state: AdaGradState) -> dict:
    """Summary over coordinates of the last iteration's step η/(sqrt(v) + eps).

    Coordinates with sqrt(v) + eps = 0 (never a nonzero gradient, eps = 0) have no
    step (0/0 convention): they are left out and counted in ``frozen_coordinates``.
    With eps > 0 such a coordinate is live with step η/eps (it still does not move: g = 0).
    """
    denom = torch.sqrt(state.v) + state.eps
    live = denom > 0
    steps = torch.where(live, state.eta / torch.where(live, denom, torch.ones_like(denom)), torch.nan).double()
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
