"""LoRA-ML: meta-learning with low-rank adaptations in retraining (arXiv 2410.22264).

Reference: Block, Srinivasan, Collins, Mokhtari, Shakkottai, "Meta-learning with LoRA in
retraining" (NeurIPS 2025 as "Provable Meta-Learning with Low-Rank Adaptations"),
linear case. Meta objective over the shared A and the task adapters U_t::

    min_A  sum_t  min_{U_t}  1/(2N) ||Y_t - (A + U_t U_tᵀ) X_t||²

One iteration (``step``) is one outer step of the official linear code [P]:

* ``inner_steps`` (10) GD steps on every U_t, step ``lr_inner`` (0.003) on the per-task
  loss (1/2N)||Y_t - W_t X_t||², i.e. ``lr_inner * T`` times the U-gradient of the
  oracle's objective f = (1/T) sum_t (per-task loss);
* one GD step on A, step ``lr_outer`` (0.03) on the gradient summed over tasks and
  normalised by N*T, i.e. the A-gradient of f at the updated adapters.

Start (the kind's default x0) [P]: A = 0, U_t ~ N(0, 0.1²).

Oracle calls: every inner step and the outer step take one ``oracle.grad`` of the meta
loss (the full gradient; each step uses its part), so one iteration costs
``inner_steps + 1`` gradient calls. No host syncs inside ``step``.

Reconstructed [R]: nothing beyond the official code's loop; the per-task scaling of the
inner step is read from "gradient summed over tasks, normalised by N*T" for the outer step
(the inner step of task t sees only task t's loss, normalised by N).
"""
from __future__ import annotations

__all__ = ["LoraML", "Options", "LoraMLState"]

from dataclasses import dataclass

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module
from solverhub.plugin import SolverOptions, option

torch = lazy_module("torch")


class Options(SolverOptions):
    """Options of ``lora-ml`` (defaults: the official linear code)."""

    inner_steps: int = option(10, "GD steps on every task's adapter per outer step", ge=0)
    lr_inner: float = option(0.003, "step on each task's loss (1/2N)||Y_t - W_t X_t||²", gt=0)
    lr_outer: float = option(0.03, "step on the shared A (gradient normalised by N*T)", gt=0)


@dataclass(kw_only=True)
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
        scale = options.lr_inner * state.tasks
        for _ in range(options.inner_steps):
            g = oracle.grad(torch.cat([A, U]))
            U = U - scale * g[nA:]
        g = oracle.grad(torch.cat([A, U]))
        A = A - options.lr_outer * g[:nA]
        return LoraMLState(x=torch.cat([A, U]), n_shared=nA, tasks=state.tasks,
                           outer_steps=state.outer_steps + 1,
                           inner_steps_total=state.inner_steps_total + options.inner_steps)

    def report(self, state: LoraMLState, oracle, options) -> dict:
        return {"outer_steps": state.outer_steps, "inner_steps_total": state.inner_steps_total}
