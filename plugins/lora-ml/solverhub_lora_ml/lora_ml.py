"""LoRA-ML: meta-learning with low-rank adaptations in retraining (arXiv 2410.22264).

Reference: Block, Srinivasan, Collins, Mokhtari, Shakkottai, "Meta-learning with LoRA in
retraining" (NeurIPS 2025 as "Provable Meta-Learning with Low-Rank Adaptations"), linear
case, and the official linear code [P]::

    min_A  sum_t  min_{U_t}  1/(2N) ||Y_t - (A + U_t U_tᵀ) X_t||²

One iteration = one outer step: ``inner_steps`` GD steps U ← U − lr_inner·T·∇_U f, then
A ← A − lr_outer·∇_A f (f: the oracle's meta loss, the mean over tasks); every step is one
``oracle.grad``. Reconstructed [R]: the per-task scaling T of the inner step. Details:
``docs/methods/lora-ml.md``.
"""
from __future__ import annotations

__all__ = ["LoraML", "Options", "LoraMLState"]

from dataclasses import dataclass, replace

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, lazy_module, option

torch = lazy_module("torch")


class Options(SolverOptions):
    """Options of ``lora-ml`` (defaults: the official linear code)."""

    inner_steps: int = option(10, "GD steps on every task's adapter per outer step", ge=0)
    lr_inner: float = option(0.003, "step on each task's loss (1/2N)||Y_t - W_t X_t||²", gt=0)
    lr_outer: float = option(0.03, "step on the shared A (gradient normalised by N*T)", gt=0)


@dataclass(frozen=True, kw_only=True)
class LoraMLState(IterState):
    n_shared: int = 0           # d*d: entries of A at the front of x
    tasks: int = 1
    outer_steps: int = 0
    inner_steps_total: int = 0


class LoraML(Solver):
    """LoRA-ML on kind ``lora_meta``: inner GD on the adapters, one GD step on the shared matrix."""

    name = "lora-ml"
    paper = "arXiv:2410.22264"
    kinds = ("lora_meta",)
    capabilities = Capabilities(stochastic_ok=False)
    priority = 30
    Options = Options
    description = "meta-learning with LoRA in retraining: inner GD on task adapters, outer GD on the shared A"

    def init(self, problem, oracle, x0, options: Options) -> LoraMLState:
        planted = problem.sections.model.planted
        return LoraMLState(x=x0, n_shared=planted.d ** 2, tasks=planted.tasks)

    def step(self, state: LoraMLState, oracle, options: Options) -> LoraMLState:
        nA, x = state.n_shared, state.x
        A, U = x[:nA], x[nA:]
        for _ in range(options.inner_steps):                  # U_t ← U_t − η_in ∇_{U_t} L_t (task t's loss)
            U = U - options.lr_inner * state.tasks * oracle.grad(torch.cat([A, U]))[nA:]
        A = A - options.lr_outer * oracle.grad(torch.cat([A, U]))[:nA]     # A ← A − η_out ∇_A f
        return replace(state, x=torch.cat([A, U]), outer_steps=state.outer_steps + 1,
                       inner_steps_total=state.inner_steps_total + options.inner_steps)

    def report(self, state: LoraMLState, oracle, options) -> dict:
        return {"outer_steps": state.outer_steps, "inner_steps_total": state.inner_steps_total}
