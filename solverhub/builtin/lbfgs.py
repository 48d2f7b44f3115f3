"""L-BFGS through ``torch.optim.LBFGS`` (Liu & Nocedal 1989) with a strong Wolfe line search.

Each solverhub iteration is one ``LBFGS.step`` with ``max_iter=1``; torch
re-evaluates f and its gradient at the start of every ``step`` call, and those
evaluations are counted like any other. The solver state holds no live optimizer:
it holds torch's L-BFGS memory (curvature pairs, direction, step, H_diag, ...) as
immutable values, and each step hands torch fresh copies of its mutable parts, so a
state is never changed by a later step.
"""
from __future__ import annotations

__all__ = ["LBFGS", "LBFGSOptions"]

from dataclasses import dataclass
from typing import Literal

from .._lazy import lazy_module
from ..result import Status
from ..options import SolverOptions, option
from ..solver import Capabilities, IterState, Solver

torch = lazy_module("torch")


class LBFGSOptions(SolverOptions):
    lr: float = option(1.0, "initial step size", symbol="α", gt=0)
    history_size: int = option(10, "curvature pairs kept", symbol="m", ge=1)
    max_evaluations: int = option(25, "f evaluations per iteration (torch max_eval; 1 would starve the line search)",
                                  ge=1)
    line_search: Literal["strong_wolfe", "none"] = option("strong_wolfe", "line search (none: fixed step lr)")


@dataclass(frozen=True, kw_only=True)
class LBFGSState(IterState):
    memory: tuple = ()   # torch.optim.LBFGS's state as (name, value) pairs; its lists as tuples


def _thaw(memory: tuple) -> dict:
    """torch's L-BFGS state from ``memory``: fresh lists (it appends and pops) and a fresh
    ``prev_flat_grad`` (it is updated in place)."""
    return {name: list(value) if isinstance(value, tuple) else
            value.clone() if name == "prev_flat_grad" else value for name, value in memory}


def _freeze(state: dict) -> tuple:
    return tuple((name, tuple(value) if isinstance(value, list) else value) for name, value in state.items())


class LBFGS(Solver):
    name = "lbfgs"
    paper = "Liu & Nocedal (1989), doi:10.1007/BF01589116"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities()
    priority = 10
    Options = LBFGSOptions
    description = "limited-memory BFGS (torch.optim.LBFGS's iteration, strong Wolfe)"
    # torch.optim.LBFGS and its strong-Wolfe search read scalars with .item()/float() (7 per step measured)
    host_syncs_per_step = 7

    @classmethod
    def prepare(cls):
        # the first torch.optim optimizer built in a process costs seconds (torch._dynamo import)
        torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])

    def init(self, problem, oracle, x0, options):
        return LBFGSState(x=x0.detach().clone())

    def step(self, state, oracle, options):
        param = state.x.clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([param], lr=options.lr, max_iter=1, max_eval=options.max_evaluations,
                                      history_size=options.history_size, tolerance_grad=0.0, tolerance_change=0.0,
                                      line_search_fn=None if options.line_search == "none" else "strong_wolfe")
        optimizer.state[param].update(_thaw(state.memory))

        def closure():
            value, grad = oracle.value_and_grad(param.detach())
            param.grad = grad
            return value

        try:
            optimizer.step(closure)
        except (IndexError, RuntimeError) as err:   # torch's line search breaks on inf/nan values
            return LBFGSState(x=state.x, memory=state.memory,
                              stop=(Status.DIVERGED, f"torch LBFGS stopped on non-finite values ({err})"))
        x_new = param.detach()
        memory = _freeze(optimizer.state[param])
        if torch.equal(x_new, state.x):   # torch returns without a step when d is not a descent direction
            return LBFGSState(x=x_new, memory=memory,
                              stop=(Status.FAILED, "no progress: torch LBFGS made no step (search direction "
                                                   "not a descent direction or line search failed; tolerance "
                                                   "below attainable accuracy?)"))
        return LBFGSState(x=x_new, memory=memory)
