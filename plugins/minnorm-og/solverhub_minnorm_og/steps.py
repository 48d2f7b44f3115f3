"""What every unlearning solver here shares: the state and the loss step along −g,
x ← x − η g (``gd``) or Adam (``adam``: solverhub's shared sync-free Adam; the paper's
code steps every method with AdamW, weight decay not modelled)."""
from __future__ import annotations

__all__ = ["StepOptions", "UnlearnState", "UnlearningSolver", "loss_step"]

from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, adam_init, adam_step, option


class StepOptions(SolverOptions):
    """The loss step of every solver of this plugin."""

    lr: float = option(1e-3, "loss step (paper's grid: 1e-3, 5e-4, 1e-4)", symbol="η", gt=0)
    optimizer: Literal["adam", "gd"] = option("adam", "step rule (paper: AdamW; weight decay not modelled)")
    beta1: float = option(0.9, "Adam first-moment decay", symbol="β₁", ge=0, lt=1)
    beta2: float = option(0.999, "Adam second-moment decay", symbol="β₂", ge=0, lt=1)
    eps: float = option(1e-8, "Adam denominator guard", symbol="ε", gt=0)


@dataclass(kw_only=True)
class UnlearnState(IterState):
    adam: Any = None          # solverhub's AdamMoments
    steps: int = 0            # loss steps taken (Python int: no sync)
    model: Any = None         # kind.UnlearningModel: the set-up on the run's device (read-only)


def loss_step(state: UnlearnState, x, g, options: StepOptions) -> UnlearnState:
    """One optimizer step along −g from x; returns the new state (no host sync)."""
    if options.optimizer == "gd":
        return replace(state, x=x - options.lr * g, steps=state.steps + 1)
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
