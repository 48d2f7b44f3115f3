"""What every unlearning solver here shares: the loss step (gradient descent or Adam,
as in the paper's code, which steps every method with AdamW) and the state.

Adam is written out on tensors (no ``torch.optim``: no host-side step counter, no
dynamo import): m ← β1 m + (1 − β1) g, v ← β2 v + (1 − β2) g², x ← x − lr m̂ / (√v̂ + ε)
with the bias corrections taken from a Python step count. At an exact zero gradient
both optimizers leave x unchanged.
"""
from __future__ import annotations

__all__ = ["StepOptions", "UnlearnState", "UnlearningSolver", "loss_step"]

from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module
from solverhub.plugin import SolverOptions, option

torch = lazy_module("torch")


class StepOptions(SolverOptions):
    """The loss step of every solver of this plugin."""

    lr: float = option(1e-3, "loss step (paper's grid: 1e-3, 5e-4, 1e-4)", symbol="η", gt=0)
    optimizer: Literal["adam", "gd"] = option("adam", "step rule (paper: AdamW; weight decay not modelled)")
    beta1: float = option(0.9, "Adam first-moment decay", symbol="β₁", ge=0, lt=1)
    beta2: float = option(0.999, "Adam second-moment decay", symbol="β₂", ge=0, lt=1)
    eps: float = option(1e-8, "Adam denominator guard", symbol="ε", gt=0)


@dataclass(kw_only=True)
class UnlearnState(IterState):
    m: Any = None             # Adam's first moment (tensor)
    v: Any = None             # Adam's second moment (tensor)
    steps: int = 0            # loss steps taken (Python int: no sync)
    model: Any = None         # kind.UnlearningModel: the set-up on the run's device (read-only)


def loss_step(state: UnlearnState, x, g, options: StepOptions) -> UnlearnState:
    """One optimizer step along −g from x; returns the new state (no host sync)."""
    t = state.steps + 1
    if options.optimizer == "gd":
        return replace(state, x=x - options.lr * g, steps=t)
    b1, b2 = options.beta1, options.beta2
    m = b1 * state.m + (1 - b1) * g
    v = b2 * state.v + (1 - b2) * g * g
    step = (m / (1 - b1 ** t)) / (torch.sqrt(v / (1 - b2 ** t)) + options.eps)
    return replace(state, x=x - options.lr * step, m=m, v=v, steps=t)


class UnlearningSolver(Solver):
    """Base of this plugin's solvers: kind ``unlearning``, exact oracles, one loss step per iteration."""

    kinds = ("unlearning",)
    capabilities = Capabilities(stochastic_ok=False)
    State = UnlearnState

    def start_point(self, model, x0):
        """Where the method starts: the trained model (the run's x0) unless overridden."""
        return x0

    def init(self, problem, oracle, x0, options):
        model = problem.kind.torch_model(problem, oracle.device, oracle.dtype)
        x = self.start_point(model, x0).detach().clone().to(device=oracle.device, dtype=oracle.dtype)
        return self.State(x=x, m=torch.zeros_like(x), v=torch.zeros_like(x), model=model)
