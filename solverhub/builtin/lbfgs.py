"""L-BFGS through ``torch.optim.LBFGS`` (Liu & Nocedal 1989) with a strong Wolfe line search.

Each solverhub iteration is one ``LBFGS.step`` with ``max_iter=1``; torch
re-evaluates f and its gradient at the start of every ``step`` call, and those
evaluations are counted like any other.
"""
from __future__ import annotations

__all__ = ["LBFGS", "LBFGSOptions"]

from dataclasses import dataclass
from typing import Any, Literal

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


@dataclass(kw_only=True)
class LBFGSState(IterState):
    param: Any = None
    optimizer: Any = None


class LBFGS(Solver):
    name = "lbfgs"
    paper = "Liu & Nocedal (1989), doi:10.1007/BF01589116"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities()
    priority = 10
    Options = LBFGSOptions
    description = "limited-memory BFGS (torch.optim.LBFGS, strong Wolfe)"
    # torch.optim.LBFGS and its strong-Wolfe search read scalars with .item()/float() (7 per step measured)
    host_syncs_per_step = 7

    @classmethod
    def prepare(cls):
        # the first torch.optim optimizer built in a process costs seconds (torch._dynamo import)
        torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])

    def init(self, problem, oracle, x0, options):
        param = x0.detach().clone().requires_grad_(True)
        opt = torch.optim.LBFGS([param], lr=options.lr, max_iter=1, max_eval=options.max_evaluations,
                                history_size=options.history_size,
                                tolerance_grad=0.0, tolerance_change=0.0,
                                line_search_fn=None if options.line_search == "none" else "strong_wolfe")
        return LBFGSState(x=param.detach().clone(), param=param, optimizer=opt)

    def step(self, state, oracle, options):
        param = state.param

        def closure():
            value, grad = oracle.value_and_grad(param.detach())
            param.grad = grad
            return value

        try:
            state.optimizer.step(closure)
        except (IndexError, RuntimeError) as err:   # torch's line search breaks on inf/nan values
            return LBFGSState(x=state.x, param=param, optimizer=state.optimizer,
                              stop=(Status.DIVERGED, f"torch LBFGS stopped on non-finite values ({err})"))
        x_new = param.detach().clone()
        if torch.equal(x_new, state.x):   # torch returns without a step when d is not a descent direction
            return LBFGSState(x=x_new, param=param, optimizer=state.optimizer,
                              stop=(Status.FAILED, "no progress: torch LBFGS made no step (search direction "
                                                   "not a descent direction or line search failed; tolerance "
                                                   "below attainable accuracy?)"))
        return LBFGSState(x=x_new, param=param, optimizer=state.optimizer)
