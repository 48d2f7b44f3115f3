"""Heavy-ball momentum (Polyak 1964), registered under the entry-point group ``solverhub``.

Reference: B. T. Polyak, "Some methods of speeding up the convergence of
iteration methods", USSR Comput. Math. Math. Phys. 4(5), 1964,
doi:10.1016/0041-5553(64)90137-5.

    v_{k+1} = momentum * v_k - lr * grad f(x_k),    x_{k+1} = x_k + v_{k+1}

Reconstructed (not from the paper): the defaults lr = 0.01 and momentum = 0.9
(the paper tunes both from the curvature bounds L and mu).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, hookimpl, lazy_module, option

torch = lazy_module("torch")   # imported on first use, so `solverhub list` stays fast


class Options(SolverOptions):
    lr: float = option(0.01, "step size", symbol="α", gt=0)
    momentum: float = option(0.9, "momentum", symbol="β", ge=0, lt=1)


@dataclass(frozen=True, kw_only=True)
class State(IterState):
    velocity: Any = None    # v_k, a tensor on the oracle's device


class HeavyBall(Solver):
    """Gradient descent with heavy-ball momentum; works with stochastic gradients."""

    name = "heavy-ball"
    paper = "Polyak (1964), doi:10.1016/0041-5553(64)90137-5"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 1
    Options = Options
    description = "heavy-ball momentum (Polyak 1964), constant step"

    def init(self, problem, oracle, x0, options: Options) -> State:
        return State(x=x0, velocity=torch.zeros_like(x0))

    def step(self, state: State, oracle, options: Options) -> State:
        grad = oracle.grad(state.x)                  # exact, minibatch or noisy: as the problem says
        velocity = options.momentum * state.velocity - options.lr * grad
        return State(x=state.x + velocity, velocity=velocity)


@hookimpl
def solverhub_solvers():
    return [HeavyBall]
