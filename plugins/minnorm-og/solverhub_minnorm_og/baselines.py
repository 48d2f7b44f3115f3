"""The cheap baselines named in arXiv 2505.22601, as in the authors' code (``RetrainUnlearner``,
``GDUnlearner``, ``GAUnlearner``, ``NGPUnlearner``): one loss step per iteration on

    retrain       the retain loss, from θ0 (retrain from scratch with the unlearning budget);
    gd-retain     the retain loss, from the trained model (its gradient vanishes there);
    ga-forget     minus the forget loss (gradient ascent), from the trained model;
    neggrad-plus  retain loss − ga_coef · forget loss (NegGrad+, the code's NGP).

Reconstructed: the default ga_coef = 1e-3 (best of the paper's grid on the sine replica).
"""
from __future__ import annotations

import math

__all__ = ["Retrain", "GDRetain", "GAForget", "NegGradPlus", "NegGradPlusOptions"]

from solverhub.plugin import option

from .steps import StepOptions, UnlearningSolver, loss_step


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
