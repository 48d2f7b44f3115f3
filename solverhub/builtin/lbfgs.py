"""L-BFGS (Liu & Nocedal 1989, doi:10.1007/BF01589116) with a strong Wolfe line search,
written on flat tensors in ``torch.optim.LBFGS``'s arithmetic.

Each solverhub iteration is one ``torch.optim.LBFGS.step`` with ``max_iter=1``: f and its
gradient are evaluated at the start of every iteration (counted like any other call), the
two-loop recursion and the first step ``min(1, 1/‖g‖₁)·lr`` are torch's, and the line search
is torch's own ``_strong_wolfe`` (More & Thuente-style bracketing and cubic zoom), so the
iterates are torch's to rounding (tests/test_startup_lbfgs.py). No optimizer object is built:
constructing any ``torch.optim.Optimizer`` imports ``torch._dynamo`` (seconds at start-up).
The state holds the memory (curvature pairs, direction, step, H_diag) as immutable values.
"""
from __future__ import annotations

__all__ = ["LBFGS", "LBFGSOptions", "two_loop"]

from dataclasses import dataclass
from typing import Any, Literal

from .._lazy import lazy_module
from ..result import Status
from ..options import SolverOptions, option
from ..solver import Capabilities, IterState, Solver

torch = lazy_module("torch")
torch_lbfgs = lazy_module("torch.optim.lbfgs")     # for _strong_wolfe only; no Optimizer is built


class LBFGSOptions(SolverOptions):
    lr: float = option(1.0, "initial step size", symbol="α", gt=0)
    history_size: int = option(10, "curvature pairs kept", symbol="m", ge=1)
    max_evaluations: int = option(25, "f evaluations per iteration (torch max_eval; 1 would starve the line search)",
                                  ge=1)
    line_search: Literal["strong_wolfe", "none"] = option("strong_wolfe", "line search (none: fixed step lr)")


@dataclass(frozen=True, kw_only=True)
class LBFGSState(IterState):
    n_iter: int = 0            # iterations that computed a direction (torch's state["n_iter"])
    d: Any = None              # last direction
    t: Any = None              # last step length
    old_dirs: tuple = ()       # y_i (gradient differences), oldest first
    old_stps: tuple = ()       # s_i (steps)
    ro: tuple = ()             # 1 / (y_i · s_i)
    H_diag: Any = 1            # scale of the initial inverse Hessian, y·s / y·y
    prev_flat_grad: Any = None


def _direction(state: LBFGSState, g, history_size: int) -> dict:
    """torch.optim.LBFGS's memory update and two-loop recursion for the gradient ``g``."""
    if state.n_iter == 0:
        return {"d": g.neg(), "old_dirs": (), "old_stps": (), "ro": (), "H_diag": 1}
    dirs, stps, ro, H_diag = list(state.old_dirs), list(state.old_stps), list(state.ro), state.H_diag
    y = g.sub(state.prev_flat_grad)
    s = state.d.mul(state.t)
    ys = y.dot(s)
    if ys > 1e-10:
        if len(dirs) == history_size:
            dirs.pop(0), stps.pop(0), ro.pop(0)
        dirs.append(y), stps.append(s), ro.append(1.0 / ys)
        H_diag = ys / y.dot(y)
    d = two_loop(g, stps, dirs, ro, H_diag)
    return {"d": d, "old_dirs": tuple(dirs), "old_stps": tuple(stps), "ro": tuple(ro), "H_diag": H_diag}


def two_loop(g, steps, diffs, rhos, scale):
    """The L-BFGS direction −H g by the two-loop recursion (Nocedal & Wright 2006, Alg. 7.4; torch.optim.LBFGS's
    arithmetic): pairs (s_i, y_i, ρ_i = 1/(y_iᵀs_i)) oldest first, H₀ = ``scale`` · I."""
    al = [None] * len(diffs)
    q = g.neg()
    for i in range(len(diffs) - 1, -1, -1):
        al[i] = steps[i].dot(q) * rhos[i]
        q.add_(diffs[i], alpha=-al[i])
    r = torch.mul(q, scale)
    for i in range(len(diffs)):
        be_i = diffs[i].dot(r) * rhos[i]
        r.add_(steps[i], alpha=al[i] - be_i)
    return r


class LBFGS(Solver):
    name = "lbfgs"
    paper = "Liu & Nocedal (1989), doi:10.1007/BF01589116"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities()
    priority = 10
    Options = LBFGSOptions
    description = "limited-memory BFGS (torch.optim.LBFGS's iteration, strong Wolfe)"
    # as torch.optim.LBFGS: float(f), the tests ys > 1e-10 and g·d > 0, the line search's comparisons
    host_syncs_per_step = 7

    def init(self, problem, oracle, x0, options):
        return LBFGSState(x=x0.detach().clone())

    def step(self, state, oracle, options):
        x = state.x
        value, g = oracle.value_and_grad(x)
        loss = float(value)
        if g.abs().max() <= 0.0:     # torch returns before any update (tolerance_grad = 0)
            return _no_step(state)
        memory = _direction(state, g, options.history_size)
        d = memory["d"]
        t = min(1.0, 1.0 / g.abs().sum()) * options.lr if state.n_iter == 0 else options.lr
        remembered = dict(memory, n_iter=state.n_iter + 1, prev_flat_grad=g)
        gtd = g.dot(d)
        if gtd > 0.0:                # not a descent direction (torch: gtd > -tolerance_change)
            return _no_step(LBFGSState(x=x, t=t, **remembered))
        if options.line_search == "strong_wolfe":
            def obj_func(x0, step, direction):
                f, grad = oracle.value_and_grad(x0.add(direction, alpha=step))
                return float(f), grad
            try:
                _, _, t, _ = torch_lbfgs._strong_wolfe(obj_func, x, t, d, loss, g, gtd,
                                                       max_ls=options.max_evaluations - 1)
            except (IndexError, RuntimeError) as err:   # torch's line search breaks on inf/nan values
                return LBFGSState(x=x, **_memory_of(state),
                                  stop=(Status.DIVERGED, f"L-BFGS line search stopped on non-finite values ({err})"))
        x_new = x.add(d, alpha=t)
        new = LBFGSState(x=x_new, t=t, **remembered)
        return _no_step(new) if torch.equal(x_new, x) else new


def _memory_of(state: LBFGSState) -> dict:
    return {name: getattr(state, name) for name in ("n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                                                    "prev_flat_grad")}


def _no_step(state: LBFGSState) -> LBFGSState:
    return LBFGSState(x=state.x, **_memory_of(state),
                      stop=(Status.FAILED, "no progress: L-BFGS made no step (search direction not a descent "
                                           "direction or line search failed; tolerance below attainable accuracy?)"))
