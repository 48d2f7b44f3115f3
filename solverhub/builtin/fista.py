"""FISTA: accelerated proximal gradient with backtracking and adaptive restart, for f = s + g
(s smooth, g prox-able terms and/or the indicators of the variables' bounds and of simple-set
``constraints:`` lines: simplex, l2/l1/linf balls, constant bounds).

    x_k = P(prox_{t g}(y_k - t ∇s(y_k)))          (t backtracked as in proxgrad)
    t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2,  y_{k+1} = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1})

Beck & Teboulle, SIAM J. Imaging Sci. 2(1), 2009, §4 (FISTA with backtracking; O(1/k²) in f).
Adaptive restart, gradient scheme: O'Donoghue & Candès, "Adaptive restart for accelerated
gradient schemes", Found. Comput. Math. 15, 2015, eq. (12): when (y_k - x_k)ᵀ(x_k - x_{k-1}) > 0
the momentum is reset (t = 1, y = x_k), a ``torch.where`` (no host sync).
See docs/methods/fista.md.
"""
from __future__ import annotations

__all__ = ["FISTA", "FISTAOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import option
from ..problem.composite import nonsmooth_value
from ..solver import Capabilities, IterState, Solver
from .proxgrad import ProxGradOptions, composite_refusal, prox_gradient_step, smooth_of, structure_of

torch = lazy_module("torch")


class FISTAOptions(ProxGradOptions):
    restart: bool = option(True, "adaptive restart of the momentum (gradient scheme of O'Donoghue & Candès)")


@dataclass(frozen=True, kw_only=True)
class FISTAState(IterState):
    y: Any = None                # the extrapolated point
    smooth_y: Any = None         # s(y)
    grad_y: Any = None           # ∇s(y)
    t: Any = None                # momentum parameter (0-d tensor)
    lr: float = 1.0
    backtracks: int = 0
    restarts: Any = 0            # count (0-d tensor after the first step)


class FISTA(Solver):
    name = "fista"
    paper = ("Beck & Teboulle (2009), SIAM J. Imaging Sci. 2(1):183-202, doi:10.1137/080716542; adaptive restart: "
             "O'Donoghue & Candès (2015), Found. Comput. Math. 15:715-732, doi:10.1007/s10208-013-9150-3")
    kinds = ("minimize", "finite_sum", "constrained")     # constrained: simple sets only (projection)
    capabilities = Capabilities(bounds=True, constraints=True)
    priority = 1
    Options = FISTAOptions
    description = "FISTA with backtracking and adaptive restart: the default for composite (smooth + prox) problems"
    host_syncs_per_step = 1      # one bool per backtracking trial (the accepted one: one per step)

    def priority_for(self, problem):
        return 110 if problem.structure.nonsmooth else self.priority    # composite: above lbfgsb (100)

    def accepts_problem(self, problem):
        return composite_refusal(problem)

    def init(self, problem, oracle, x0, options):
        s, g = oracle.value_and_grad(x0, of=smooth_of(oracle))
        one = torch.ones((), dtype=x0.dtype, device=x0.device)
        return FISTAState(x=x0, value=s + nonsmooth_value(structure_of(oracle), x0), y=x0, smooth_y=s, grad_y=g,
                          t=one, lr=options.lr)

    def step(self, state, oracle, options):
        structure = structure_of(oracle)
        x, y, t = state.x, state.y, state.t
        z, s_z, _, lr, bt = prox_gradient_step(oracle, structure, y, state.smooth_y, state.grad_y, state.lr,
                                               options, with_grad=False)
        t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = (t - 1) / t_next
        restarts = state.restarts
        if options.restart:
            restart = torch.dot(y - z, z - x) > 0
            beta = torch.where(restart, torch.zeros_like(beta), beta)
            t_next = torch.where(restart, torch.ones_like(t_next), t_next)
            restarts = restarts + restart.to(torch.int64)
        y_next = z + beta * (z - x)
        s_y, g_y = oracle.value_and_grad(y_next, of=smooth_of(oracle))
        return FISTAState(x=z, value=s_z + nonsmooth_value(structure, z), y=y_next, smooth_y=s_y, grad_y=g_y,
                          t=t_next, lr=lr * options.grow, backtracks=state.backtracks + bt, restarts=restarts)

    def report(self, state, oracle, options):
        return {"backtracks": state.backtracks, "restarts": int(state.restarts), "final_step_size": float(state.lr)}
