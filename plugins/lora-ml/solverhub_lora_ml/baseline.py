"""Standard retraining (SR), the reference method LoRA-ML (arXiv 2410.22264) beats:
GD on the shared matrix alone over the pooled tasks, min_A (1/T) sum_t (1/2N) ||Y_t - A X_t||².

On kind ``lora_meta`` this is A ← A − lr·∇_A f(A, 0) with the adapters held at U = 0 (one
``oracle.grad`` per iteration); its limit (A_SR, 0) is a saddle of the meta loss (the
U-gradient 2 sym(G_t) U_t vanishes at U = 0). See ``docs/methods/lora-ml.md``.
"""
from __future__ import annotations

__all__ = ["RetrainStandard", "Options", "SRState"]

from dataclasses import dataclass

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, lazy_module, option

torch = lazy_module("torch")


class Options(SolverOptions):
    """Options of ``retrain-standard``."""

    lr: float = option(0.03, "GD step on A (the step LoRA-ML uses on A)", gt=0)


@dataclass(frozen=True, kw_only=True)
class SRState(IterState):
    n_shared: int = 0


class RetrainStandard(Solver):
    """Standard retraining on kind ``lora_meta``: GD on A with every adapter at 0."""

    name = "retrain-standard"
    paper = "arXiv:2410.22264 (reference: standard retraining on the pooled tasks)"
    kinds = ("lora_meta",)
    capabilities = Capabilities(stochastic_ok=False)
    priority = 10
    Options = Options
    description = "standard retraining: GD on the shared matrix with the task adapters held at zero"

    def init(self, problem, oracle, x0, options: Options) -> SRState:
        nA = problem.sections.model.planted.d ** 2
        return SRState(x=torch.cat([x0[:nA], torch.zeros_like(x0[nA:])]), n_shared=nA)

    def step(self, state: SRState, oracle, options: Options) -> SRState:
        nA, x = state.n_shared, state.x
        g = oracle.grad(x)
        return SRState(x=torch.cat([x[:nA] - options.lr * g[:nA], x[nA:]]), n_shared=nA)
