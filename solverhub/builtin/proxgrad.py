"""Proximal gradient (ISTA) with backtracking for f = s + g: s smooth, g a sum of prox-able terms
and/or the indicator of the variables' bounds and of ``constraints:`` lines that are simple sets
(simplex, l2/l1/linf balls, constant bounds; then it is projected gradient).

    x_{k+1} = P(prox_{t g}(x_k - t ∇s(x_k))),  t halved until
    s(x_{k+1}) <= s(x_k) + ∇s(x_k)ᵀ(x_{k+1} - x_k) + ||x_{k+1} - x_k||² / (2t)

Beck & Teboulle, "A fast iterative shrinkage-thresholding algorithm for linear inverse
problems", SIAM J. Imaging Sci. 2(1), 2009, §3 (ISTA with backtracking; O(1/k) in f).
Gradients are of the smooth part, counted by the oracle as ``value_smooth``/``grad_smooth``.
See docs/methods/proxgrad.md.
"""
from __future__ import annotations

__all__ = ["ProxGrad", "ProxGradOptions", "prox_gradient_step", "sufficient_decrease", "grow_of", "composite_refusal",
           "structure_of", "smooth_of"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import SolverOptions, option
from ..problem.composite import nonsmooth_value, prox
from ..problem.degree import smooth_quadratic
from ..problem.structure import TorchStructure
from ..solver import Acceptance, Capabilities, IterState, Refusal, RefusalCode, Solver

torch = lazy_module("torch")


class ProxGradOptions(SolverOptions):
    lr: float = option(1.0, "initial (or constant) step size t₀ (an upper estimate of 1/L)", symbol="t₀", gt=0)
    backtracking: bool = option(True, "backtracking on the smooth part's quadratic upper bound; "
                                      "false: the constant step lr (no host sync)")
    shrink: float = option(0.5, "step multiplier on a failed sufficient-decrease test", symbol="η", gt=0, lt=1)
    grow: float | None = option(None, "step multiplier tried after an accepted step; null: 1.1 when the smooth part "
                                      "is quadratic (exact curvature test), else 1 (never grow, as in Beck & Teboulle)",
                                ge=1)
    max_backtracks: int = option(60, "backtracking trials per step", ge=0)


def structure_of(oracle):
    """The oracle's lowered structure (bounds, nonsmooth terms); empty for a bare oracle."""
    return oracle.structure if oracle.structure is not None else TorchStructure()


def smooth_of(oracle):
    """The oracle's name of the smooth part (``"smooth"``), None when the objective is all smooth."""
    return "smooth" if "smooth" in oracle.functions else None


def composite_refusal(problem):
    """Acceptance of a problem by a prox method, or a STRUCTURE refusal naming the unsplit atoms
    or the first constraint line that is not a simple set with a projection."""
    if problem.has_constraints and not problem.structure.simple_sets:
        bad = next((c for c in problem.structure.constraints if not c.projection), None)
        what = (f"{bad.label} ({bad.text}, line {bad.line}) is {bad.detail}" if bad is not None
                else "two sets (or a set and lower/upper) on one variable")
        return Refusal(RefusalCode.NO_CONSTRAINTS,
                       f"projects only onto simple sets of whole variables (simplex, l2/l1/linf ball, constant "
                       f"bounds), one per variable: {what}; auglag/slsqp/trust-constr take it")
    unsplit = problem.structure.unsplit
    if unsplit:
        return Refusal(RefusalCode.STRUCTURE,
                       f"the objective keeps nonsmooth atom(s) {', '.join(unsplit)} outside prox-able terms "
                       "(c * h(v): c > 0, h one of norm1, norm2, norm_inf, max, sum(abs|pos|neg(.)), v a variable "
                       "or a slice x[a:b], blocks disjoint); cvxpy solves it when it is convex")
    terms = problem.structure.nonsmooth
    return Acceptance(f"accepts kind {problem.kind.name!r}"
                      + (f": smooth part + {len(terms)} prox-able term(s)" if terms else "")
                      + (" with variable bounds (projection)" if problem.has_bounds else "")
                      + (" with simple-set constraints (projected gradient)" if problem.has_constraints else ""))


GROW_QUADRATIC = 1.1     # default step growth where the backtracking test is exact (quadratic s)


def grow_of(options, quadratic: bool) -> float:
    """The step growth factor: ``options.grow``, or by default 1.1 on a quadratic smooth part, else 1."""
    if options.grow is not None:
        return options.grow
    return GROW_QUADRATIC if quadratic else 1.0


def sufficient_decrease(s, g, s_z, g_z, d, lr, quadratic: bool):
    """Beck & Teboulle's backtracking test for the trial z = x + d from x (smooth value ``s``,
    gradient ``g``) at step ``lr``, as a 0-d bool tensor: s(z) <= s + gᵀd + ‖d‖²/(2 lr) (with a
    rounding slack of 4 eps |s|), or, for a quadratic s (``quadratic``, needs ``g_z``), the exact
    dᵀ(∇s(z) - ∇s(x)) <= ‖d‖²/lr, free of the cancellation in s(z) - s(x) near the optimum."""
    if quadratic:
        return torch.dot(g_z - g, d) <= torch.dot(d, d) / lr
    slack = 4 * torch.finfo(s.dtype).eps * torch.abs(s)     # rounding of s near the optimum
    return s_z <= s + torch.dot(g, d) + torch.dot(d, d) / (2 * lr) + slack


def prox_gradient_step(oracle, structure, x, s, g, lr, options, *, with_grad=True, quadratic=False):
    """One backtracked prox-gradient step from ``x`` (smooth value ``s``, gradient ``g``):
    ``(z, s(z), ∇s(z) or None, step, backtracks)``. One host sync per trial (the test's bool).
    ``quadratic`` (s of degree <= 2, needs ``with_grad``): the test is the exact
    dᵀ(∇s(z) - ∇s(x)) <= ‖d‖²/t, free of the cancellation in s(z) - s(x) near the optimum."""
    of = smooth_of(oracle)
    backtracks = 0
    while True:
        z = prox(structure, x - lr * g, lr)
        if with_grad:
            s_z, g_z = oracle.value_and_grad(z, of=of)
        else:
            s_z, g_z = oracle.value(z, of=of), None
        if not options.backtracking:
            return z, s_z, g_z, lr, backtracks
        if bool(sufficient_decrease(s, g, s_z, g_z, z - x, lr, quadratic)) or backtracks >= options.max_backtracks:
            return z, s_z, g_z, lr, backtracks
        lr *= options.shrink
        backtracks += 1


@dataclass(frozen=True, kw_only=True)
class ProxGradState(IterState):
    smooth: Any = None           # s(x)
    smooth_grad: Any = None      # ∇s(x)
    lr: float = 1.0
    backtracks: int = 0
    quadratic: bool = False      # s of degree <= 2 (problem.degree.smooth_quadratic): exact curvature test


class ProxGrad(Solver):
    name = "proxgrad"
    paper = "Beck & Teboulle (2009), SIAM J. Imaging Sci. 2(1):183-202, doi:10.1137/080716542 (ISTA, §3)"
    kinds = ("minimize", "finite_sum", "constrained")     # constrained: simple sets only (projection)
    capabilities = Capabilities(bounds=True, constraints=True)
    priority = 0
    Options = ProxGradOptions
    description = "proximal gradient (ISTA) with backtracking: smooth part + prox-able terms and bounds"
    # one bool per backtracking trial: one per step when the first trial is accepted, two when a grown
    # step (the default on a quadratic s) fails once, as it does about one step in three
    host_syncs_per_step = 2

    def priority_for(self, problem):
        return 20 if problem.structure.nonsmooth else self.priority     # below fista

    def accepts_problem(self, problem):
        return composite_refusal(problem)

    def init(self, problem, oracle, x0, options):
        structure = structure_of(oracle)
        s, g = oracle.value_and_grad(x0, of=smooth_of(oracle))
        return ProxGradState(x=x0, value=s + nonsmooth_value(structure, x0), smooth=s, smooth_grad=g,
                             lr=options.lr, quadratic=smooth_quadratic(problem, oracle.config))

    def step(self, state, oracle, options):
        structure = structure_of(oracle)
        z, s, g, lr, bt = prox_gradient_step(oracle, structure, state.x, state.smooth, state.smooth_grad,
                                             state.lr, options, quadratic=state.quadratic)
        grow = grow_of(options, state.quadratic) if options.backtracking else 1.0
        return ProxGradState(x=z, value=s + nonsmooth_value(structure, z), smooth=s, smooth_grad=g,
                             lr=lr * grow, backtracks=state.backtracks + bt, quadratic=state.quadratic)

    def report(self, state, oracle, options):
        return {"backtracks": state.backtracks, "final_step_size": float(state.lr)}
