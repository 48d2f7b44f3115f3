"""FISTA: accelerated proximal gradient with backtracking and adaptive restart, for f = s + g
(s smooth, g prox-able terms and/or the indicators of the variables' bounds and of simple-set
``constraints:`` lines: simplex, l2/l1/linf balls, constant bounds).

    x_k = P(prox_{t g}(y_k - t ∇s(y_k)))          (t backtracked as in proxgrad)
    t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2,  y_{k+1} = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1})

Beck & Teboulle, SIAM J. Imaging Sci. 2(1), 2009, §4 (FISTA with backtracking; O(1/k²) in f).
Adaptive restart, gradient scheme: O'Donoghue & Candès, "Adaptive restart for accelerated
gradient schemes", Found. Comput. Math. 15, 2015, eq. (12): when (y_k - x_k)ᵀ(x_k - x_{k-1}) > 0
the momentum is reset (t = 1, y = x_k), a ``torch.where`` (no host sync).
When the smooth part is quadratic (``problem.degree.smooth_quadratic``: degree <= 2 in the IR),
∇s is affine and y_{k+1} = x_k + β d (d = x_k - x_{k-1}) gives, from the values at x_k and x_{k-1},
∇s(y_{k+1}) = ∇s(x_k) + β(∇s(x_k) - ∇s(x_{k-1})) and
s(y_{k+1}) = s(x_k) + β ∇s(x_k)ᵀd + β²/2 (∇s(x_k) - ∇s(x_{k-1}))ᵀd: one value_and_grad per
accepted step (at the prox point, which the backtracking test needs anyway) instead of a value
there and a value_and_grad at y. See docs/methods/fista.md.
"""
from __future__ import annotations

__all__ = ["FISTA", "FISTAOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import option
from ..problem.composite import nonsmooth_value
from ..problem.degree import smooth_quadratic
from ..solver import Capabilities, IterState, Solver
from .proxgrad import ProxGradOptions, composite_refusal, prox_gradient_step, smooth_of, structure_of

torch = lazy_module("torch")


class FISTAOptions(ProxGradOptions):
    restart: bool = option(True, "adaptive restart of the momentum (gradient scheme of O'Donoghue & Candès)")
    affine_gradient: bool = option(True, "when the smooth part is quadratic (degree <= 2), s and ∇s at the "
                                         "extrapolated point by the affine identity: one value_and_grad per step")


@dataclass(frozen=True, kw_only=True)
class FISTAState(IterState):
    y: Any = None                # the extrapolated point
    smooth_y: Any = None         # s(y)
    grad_y: Any = None           # ∇s(y)
    t: Any = None                # momentum parameter (0-d tensor)
    lr: float = 1.0
    backtracks: int = 0
    restarts: Any = 0            # count (0-d tensor after the first step)
    grad_x: Any = None           # ∇s(x) when ∇s is affine (quadratic s), else None


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
        affine = options.affine_gradient and smooth_quadratic(problem, oracle.config)
        return FISTAState(x=x0, value=s + nonsmooth_value(structure_of(oracle), x0), y=x0, smooth_y=s, grad_y=g,
                          t=one, lr=options.lr, grad_x=g if affine else None)

    def step(self, state, oracle, options):
        structure = structure_of(oracle)
        x, y, t = state.x, state.y, state.t
        affine = state.grad_x is not None
        z, s_z, g_z, lr, bt = prox_gradient_step(oracle, structure, y, state.smooth_y, state.grad_y, state.lr,
                                                 options, with_grad=affine)
        t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = (t - 1) / t_next
        restarts = state.restarts
        if options.restart:
            restart = torch.dot(y - z, z - x) > 0
            beta = torch.where(restart, torch.zeros_like(beta), beta)
            t_next = torch.where(restart, torch.ones_like(t_next), t_next)
            restarts = restarts + restart.to(torch.int64)
        d = z - x
        y_next = z + beta * d
        if affine:       # ∇s affine: s and ∇s at y_next from those at z and x, no oracle call
            dg = g_z - state.grad_x
            g_y = g_z + beta * dg
            s_y = s_z + beta * torch.dot(g_z, d) + 0.5 * beta * beta * torch.dot(dg, d)
        else:
            s_y, g_y = oracle.value_and_grad(y_next, of=smooth_of(oracle))
        return FISTAState(x=z, value=s_z + nonsmooth_value(structure, z), y=y_next, smooth_y=s_y, grad_y=g_y,
                          t=t_next, lr=lr * options.grow, backtracks=state.backtracks + bt, restarts=restarts,
                          grad_x=g_z if affine else None)

    def report(self, state, oracle, options):
        return {"backtracks": state.backtracks, "restarts": int(state.restarts), "final_step_size": float(state.lr)}
