"""Adam (Kingma & Ba, arXiv:1412.6980) through the shared sync-free ``adam_step``
(solverhub/parts/adam.py), which reproduces ``torch.optim.Adam``'s iterates."""
from __future__ import annotations

__all__ = ["Adam", "AdamOptions"]

from dataclasses import dataclass
from typing import Any

from ..options import SolverOptions, option
from ..parts.adam import adam_init, adam_step
from ..solver import Capabilities, IterState, Solver


class AdamOptions(SolverOptions):
    lr: float = option(1e-2, "step size", symbol="α", ge=0)
    beta1: float = option(0.9, "first-moment decay", symbol="β₁", ge=0, lt=1)
    beta2: float = option(0.999, "second-moment decay", symbol="β₂", ge=0, lt=1)
    eps: float = option(1e-8, "denominator guard", symbol="ε", ge=0)
    weight_decay: float = option(0.0, "L2 penalty added to the gradient", symbol="λ", ge=0)


@dataclass(frozen=True, kw_only=True)
class AdamState(IterState):
    moments: Any = None     # solverhub.parts.adam.AdamMoments (m_t, v_t, t)


class Adam(Solver):
    name = "adam"
    paper = "arXiv:1412.6980"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 5
    Options = AdamOptions
    description = "Adam (iterates as torch.optim.Adam's); the default for stochastic oracles"

    def priority_for(self, problem):
        return 30 if problem.oracle_config.stochastic else self.priority

    def init(self, problem, oracle, x0, options):
        x = x0.detach().clone()
        return AdamState(x=x, moments=adam_init(x))

    def step(self, state, oracle, options):
        x, moments = adam_step(state.x, state.moments, oracle.grad(state.x), options.lr, options.beta1,
                               options.beta2, options.eps, options.weight_decay)
        return AdamState(x=x, moments=moments)
