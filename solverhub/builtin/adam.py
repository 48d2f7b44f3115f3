"""Adam through ``torch.optim.Adam`` (Kingma & Ba, arXiv:1412.6980)."""
from __future__ import annotations

__all__ = ["Adam", "AdamOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import SolverOptions, option
from ..solver import Capabilities, IterState, Solver

torch = lazy_module("torch")


class AdamOptions(SolverOptions):
    lr: float = option(1e-2, "step size", symbol="α", ge=0)
    beta1: float = option(0.9, "first-moment decay", symbol="β₁", ge=0, lt=1)
    beta2: float = option(0.999, "second-moment decay", symbol="β₂", ge=0, lt=1)
    eps: float = option(1e-8, "denominator guard", symbol="ε", ge=0)
    weight_decay: float = option(0.0, "L2 penalty added to the gradient", symbol="λ", ge=0)


@dataclass(kw_only=True)
class AdamState(IterState):
    param: Any = None
    optimizer: Any = None


class Adam(Solver):
    name = "adam"
    paper = "arXiv:1412.6980"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 5
    Options = AdamOptions
    description = "Adam (torch.optim.Adam); the default for stochastic oracles"
    # torch.optim.Adam reads its step counter with .item(): a CPU tensor (not a device sync on GPU)
    host_syncs_per_step = 1

    def priority_for(self, problem):
        return 30 if problem.oracle_config.stochastic else self.priority

    @classmethod
    def prepare(cls):
        # the first torch.optim optimizer built in a process costs seconds (torch._dynamo import)
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    def init(self, problem, oracle, x0, options):
        param = x0.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([param], lr=options.lr, betas=(options.beta1, options.beta2), eps=options.eps,
                               weight_decay=options.weight_decay)
        return AdamState(x=param.detach().clone(), param=param, optimizer=opt)

    def step(self, state, oracle, options):
        param = state.param
        param.grad = oracle.grad(param.detach())
        state.optimizer.step()
        return AdamState(x=param.detach().clone(), param=param, optimizer=state.optimizer)
