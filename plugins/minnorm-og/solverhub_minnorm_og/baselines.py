"""The loss step every solver here shares (x ← x − η g, or Adam: solverhub's shared
sync-free Adam, or AdamW with ``weight_decay`` > 0 as the paper's code steps every method)
and the cheap baselines named in arXiv 2505.22601, as in the authors' code
(``RetrainUnlearner``, ``GDUnlearner``, ``GAUnlearner``, ``NGPUnlearner``): one loss step
per iteration on

    retrain       the retain loss, from θ0 (retrain from scratch with the unlearning budget);
    gd-retain     the retain loss, from the trained model (its gradient vanishes there);
    ga-forget     minus the forget loss (gradient ascent), from the trained model;
    neggrad-plus  retain loss − ga_coef · forget loss (NegGrad+, the code's NGP).

Reconstructed: the default ga_coef = 1e-3 (best of the paper's grid on the sine replica).
"""
from __future__ import annotations

__all__ = ["StepOptions", "UnlearnState", "UnlearningSolver", "loss_step", "Retrain", "GDRetain", "GAForget",
           "NegGradPlus", "NegGradPlusOptions"]

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, adam_init, adam_step, option


class StepOptions(SolverOptions):
    """The loss step of every solver of this plugin."""

    lr: float = option(1e-3, "loss step (paper's grid: 1e-3, 5e-4, 1e-4)", symbol="η", gt=0)
    optimizer: Literal["adam", "gd"] = option("adam", "step rule (paper: AdamW = adam with weight_decay)")
    beta1: float = option(0.9, "Adam first-moment decay", symbol="β₁", ge=0, lt=1)
    beta2: float = option(0.999, "Adam second-moment decay", symbol="β₂", ge=0, lt=1)
    eps: float = option(1e-8, "Adam denominator guard", symbol="ε", gt=0)
    weight_decay: float = option(0.0, "decoupled decay x ← (1 − η·wd) x before the Adam step "
                                 "(AdamW; official code: torch AdamW, 0.01); 0: Adam", ge=0)


@dataclass(frozen=True, kw_only=True)
class UnlearnState(IterState):
    adam: Any = None          # solverhub's AdamMoments
    steps: int = 0            # loss steps taken (Python int: no sync)
    model: Any = None         # kind.UnlearningModel: the set-up on the run's device (read-only)


def loss_step(state: UnlearnState, x, g, options: StepOptions) -> UnlearnState:
    """One optimizer step along −g from x; returns the new state (no host sync)."""
    if options.optimizer == "gd":
        return replace(state, x=x - options.lr * g, steps=state.steps + 1)
    if options.weight_decay:                                   # AdamW: decay first, then the Adam step
        x = x * (1.0 - options.lr * options.weight_decay)
    x, adam = adam_step(x, state.adam, g, options.lr, options.beta1, options.beta2, options.eps)
    return replace(state, x=x, adam=adam, steps=state.steps + 1)


class UnlearningSolver(Solver):
    """Base of this plugin's solvers: kind ``unlearning``, exact oracles, one loss step per iteration."""

    kinds = ("unlearning",)
    capabilities = Capabilities(stochastic_ok=False)
    Options = StepOptions
    State = UnlearnState

    def start_point(self, model, x0):
        """Where the method starts: the trained model (the run's x0) unless overridden."""
        return x0

    def init(self, problem, oracle, x0, options):
        model = problem.kind.torch_model(problem, oracle.device, oracle.dtype)
        x = self.start_point(model, x0).detach().clone().to(device=oracle.device, dtype=oracle.dtype)
        return self.State(x=x, adam=adam_init(x), model=model)


class Retrain(UnlearningSolver):
    """Retrain from scratch on the retain set: θ0 (the set-up's initialization), then loss steps."""

    name = "retrain"
    paper = "arXiv:2505.22601 (baseline: retrain from scratch)"
    priority = 5
    description = "unlearning baseline: retrain on the retain set from the initialization"

    def start_point(self, model, x0):
        return model.theta_init

    def step(self, state, oracle, options):
        return loss_step(state, state.x, oracle.grad(state.x, of="retain"), options)


class GDRetain(UnlearningSolver):
    """Gradient descent on the retain loss from the trained model (paper: GD)."""

    name = "gd-retain"
    conformance_progress = -math.inf   # the paper's failing baseline: it need not close the gap
    paper = "arXiv:2505.22601 (baseline: GD on the retain set)"
    description = "unlearning baseline: loss steps on the retain set from the trained model"

    def step(self, state, oracle, options):
        return loss_step(state, state.x, oracle.grad(state.x, of="retain"), options)


class GAForget(UnlearningSolver):
    """Gradient ascent on the forget loss from the trained model (paper: GA)."""

    name = "ga-forget"
    conformance_progress = -math.inf   # the paper's failing baseline: it need not close the gap
    paper = "arXiv:2505.22601 (baseline: gradient ascent on the forget set)"
    description = "unlearning baseline: gradient ascent on the forget set from the trained model"

    def step(self, state, oracle, options):
        return loss_step(state, state.x, -oracle.grad(state.x, of="forget"), options)


class NegGradPlusOptions(StepOptions):
    ga_coef: float = option(1e-3, "weight of the forget ascent (code: ga_coef; grid 1e-3 .. 1)", ge=0)


class NegGradPlus(UnlearningSolver):
    """NegGrad+: descent on retain loss − ga_coef · forget loss (paper: NGP)."""

    name = "neggrad-plus"
    conformance_progress = -math.inf   # the paper's failing baseline: it need not close the gap
    paper = "arXiv:2505.22601 (baseline: NegGrad+)"
    Options = NegGradPlusOptions
    description = "unlearning baseline: retain descent plus weighted forget ascent (NegGrad+)"

    def step(self, state, oracle, options):
        g = oracle.grad(state.x, of="retain") - options.ga_coef * oracle.grad(state.x, of="forget")
        return loss_step(state, state.x, g, options)
