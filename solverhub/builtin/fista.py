"""FISTA: accelerated proximal gradient with backtracking and adaptive restart, for f = s + g
(s smooth, g prox-able terms and/or the indicators of the variables' bounds and of simple-set
``constraints:`` lines: simplex, l2/l1/linf balls, constant bounds).

    t_{k+1} = (1 + sqrt(1 + 4 θ_k t_k²)) / 2,   θ_k = μ_k / μ_{k+1},   t_0 = 0
    y_{k+1} = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1})
    x_{k+1} = P(prox_{μ g}(y_{k+1} - μ ∇s(y_{k+1})))        μ = μ_{k+1}, backtracked

Beck & Teboulle, SIAM J. Imaging Sci. 2(1), 2009, §4 (FISTA with backtracking; O(1/k²) in f):
θ = 1 and a non-increasing step. A step may also grow (``grow``, tried after each accepted step)
with θ_k as in Scheinberg, Goldfarb & Bai, Found. Comput. Math. 14, 2014, Alg. 2 (FISTA-BKTR:
μ_{k+1} t_{k+1}(t_{k+1} - 1) = μ_k t_k² gives f(x_k) - f* <= ‖x_0 - x*‖² / (2 μ_k t_k²) and
μ_k t_k² >= (Σ_{i<=k} √μ_i)² / 4); y and t are recomputed at each trial. Adaptive restart, gradient scheme: O'Donoghue & Candès, Found. Comput. Math. 15, 2015,
eq. (12): when (y_k - x_k)ᵀ(x_k - x_{k-1}) > 0 FISTA starts afresh from x_k (t = 0), by
``torch.where`` (no host sync).

Quadratic smooth part (``problem.degree.smooth_quadratic``: degree <= 2 in the IR): ∇s is
affine, so with e = x_k - x_{k-1}, ∇s(y) = ∇s(x_k) + β(∇s(x_k) - ∇s(x_{k-1})) and
s(y) = s(x_k) + β ∇s(x_k)ᵀe + β²/2 (∇s(x_k) - ∇s(x_{k-1}))ᵀe: one value_and_grad per trial (at
the prox point) instead of a value there and a value_and_grad at y; and the backtracking test
s(z) <= s(y) + ∇s(y)ᵀd + ‖d‖²/(2μ) is the exact dᵀ(∇s(z) - ∇s(y)) <= ‖d‖²/μ, free of the
cancellation of s(z) - s(y) that lets a growing step pass on rounding near the optimum.
See docs/methods/fista.md.
"""
from __future__ import annotations

__all__ = ["FISTA", "FISTAOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import option
from ..problem.composite import nonsmooth_value, prox
from ..problem.degree import smooth_quadratic
from ..solver import Capabilities, IterState, Solver
from .proxgrad import ProxGradOptions, composite_refusal, grow_of, smooth_of, structure_of, sufficient_decrease

torch = lazy_module("torch")


class FISTAOptions(ProxGradOptions):
    restart: bool = option(True, "adaptive restart of the momentum (gradient scheme of O'Donoghue & Candès)")
    affine_gradient: bool = option(True, "when the smooth part is quadratic (degree <= 2): s and ∇s at the "
                                         "extrapolated point by the affine identity (one value_and_grad per step) "
                                         "and the backtracking test on the exact curvature dᵀ(∇s(z) - ∇s(y))")


@dataclass(frozen=True, kw_only=True)
class FISTAState(IterState):
    x_prev: Any = None           # x_{k-1} (x is x_k)
    smooth: Any = None           # s(x_k)
    smooth_grad: Any = None      # ∇s(x_k) when ∇s is affine (quadratic s), else None
    smooth_grad_prev: Any = None  # ∇s(x_{k-1}), idem
    t: Any = None                # momentum parameter t_k (0-d tensor; 1 after a restart)
    step_size: float = 1.0       # μ_k, the accepted step (θ = μ_k / μ_{k+1} in the momentum update)
    lr: float = 1.0              # the first trial step of the next iteration (μ_k · grow)
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
    # one bool per backtracking trial: one per step when the first trial is accepted, two when a grown
    # step (the default on a quadratic s) fails once, as it does about one step in three
    host_syncs_per_step = 2

    def priority_for(self, problem):
        return 110 if problem.structure.nonsmooth else self.priority    # composite: above lbfgsb (100)

    def accepts_problem(self, problem):
        return composite_refusal(problem)

    def init(self, problem, oracle, x0, options):
        s, g = oracle.value_and_grad(x0, of=smooth_of(oracle))
        zero = torch.zeros((), dtype=x0.dtype, device=x0.device)     # t_0 = 0: the first step makes t_1 = 1
        affine = options.affine_gradient and smooth_quadratic(problem, oracle.config)
        return FISTAState(x=x0, value=s + nonsmooth_value(structure_of(oracle), x0), x_prev=x0, smooth=s,
                          smooth_grad=g if affine else None, smooth_grad_prev=g if affine else None, t=zero,
                          step_size=options.lr, lr=options.lr)

    def step(self, state, oracle, options):
        structure, of = structure_of(oracle), smooth_of(oracle)
        x, t, mu = state.x, state.t, state.lr
        affine = state.smooth_grad is not None
        e = x - state.x_prev
        if affine:      # ∇s affine: s, ∇s at y = x + β e from those at x_k and x_{k-1}, no oracle call
            de = state.smooth_grad - state.smooth_grad_prev
            g_e, curv = torch.dot(state.smooth_grad, e), torch.dot(de, e)
        backtracks = 0
        while True:     # trials: the momentum depends on the trial step (Scheinberg, Goldfarb & Bai 2014)
            t_next = (1 + torch.sqrt(1 + 4 * (state.step_size / mu) * t * t)) / 2
            beta = (t - 1) / t_next
            y = x + beta * e
            if affine:
                s_y = state.smooth + beta * g_e + 0.5 * beta * beta * curv
                g_y = state.smooth_grad + beta * de
            else:
                s_y, g_y = oracle.value_and_grad(y, of=of)
            z = prox(structure, y - mu * g_y, mu)
            if affine:
                s_z, g_z = oracle.value_and_grad(z, of=of)
            else:
                s_z, g_z = oracle.value(z, of=of), None
            if not options.backtracking:
                break
            # s quadratic: s(z) - s(y) - ∇s(y)ᵀd = dᵀ(∇s(z) - ∇s(y))/2 exactly (the affine test)
            if bool(sufficient_decrease(s_y, g_y, s_z, g_z, z - y, mu, affine)) \
                    or backtracks >= options.max_backtracks:
                break
            mu *= options.shrink
            backtracks += 1
        restarts, x_prev, g_prev = state.restarts, x, state.smooth_grad
        if options.restart:     # O'Donoghue & Candès eq. (12): FISTA starts afresh from z (t_0 = 0, no momentum)
            restart = torch.dot(y - z, z - x) > 0
            t_next = torch.where(restart, torch.zeros_like(t_next), t_next)
            x_prev = torch.where(restart, z, x)
            g_prev = None if g_z is None else torch.where(restart, g_z, state.smooth_grad)
            restarts = restarts + restart.to(torch.int64)
        grow = grow_of(options, affine)
        return FISTAState(x=z, value=s_z + nonsmooth_value(structure, z), x_prev=x_prev, smooth=s_z, smooth_grad=g_z,
                          smooth_grad_prev=g_prev, t=t_next, step_size=mu, lr=mu * grow if options.backtracking else mu,
                          backtracks=state.backtracks + backtracks, restarts=restarts)

    def report(self, state, oracle, options):
        return {"backtracks": state.backtracks, "restarts": int(state.restarts), "final_step_size": float(state.lr)}
