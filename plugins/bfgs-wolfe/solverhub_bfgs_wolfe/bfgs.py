"""BFGS with a weak Wolfe line search.

Reference: Q. Jin, A. Mokhtari, "Affine-Invariant Global Non-Asymptotic
Convergence Analysis of BFGS under Self-Concordance", arXiv 2507.00361 (BFGS
with a weak Wolfe line search: global linear, then superlinear, affine-invariant
rates; method note 04, paper-facts 04). The iteration:

    x_{t+1} = x_t + η_t d_t,   d_t = −B_t⁻¹ g_t,
    B_{t+1} = B_t − B_t s sᵀ B_t / (sᵀ B_t s) + y yᵀ / (sᵀ y),

kept here in inverse form H = B⁻¹ (identical iterates):

    H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ,   ρ = 1 / (yᵀ s).

η_t satisfies the weak Wolfe conditions, found by the core's shared line search
(``solverhub.plugin.weak_wolfe_search`` on a ``LineFunction``: one host sync per
trial, plus one per step for φ(0), φ'(0)). Reconstructed (not stated in the paper
text we could reach): the defaults c1 = 1e-4, c2 = 0.9, the doubling/bisection
bracketing and (default ``interpolate=True``) the safeguarded quadratic step
after a sufficient-decrease failure.

Affine invariance (h(y) = f(Ay), H0_h = A⁻¹ H0 A⁻ᵀ, y0 = A⁻¹ x0 gives
x_t = A y_t) holds because the search sees only φ(η) and φ'(η), always tries
η = 1 first, never clips the step by ‖d‖, and no curvature pair is skipped by
a rule keyed to ‖s‖ (a pair is skipped only if yᵀs ≤ 0, impossible after a
weak Wolfe step in exact arithmetic; the count is reported).
"""
from __future__ import annotations

__all__ = ["Options", "BFGSState", "BFGSWolfe", "inverse_bfgs_update"]

import math
from dataclasses import dataclass, replace
from typing import Any

from solverhub.plugin import (Capabilities, IterState, LineFunction, Solver, SolverOptions, Status, lazy_module,
                              model_validator, option, weak_wolfe_search)

torch = lazy_module("torch")

NEWTON_DECREMENT_MAX_DIM = 500   # report λ(x) only where a dense Hessian is cheap


class Options(SolverOptions):
    """Options of ``bfgs-wolfe``."""

    c1: float = option(1e-4, "sufficient decrease (0 < c1 < c2 < 1)", symbol="α", gt=0, lt=1)
    c2: float = option(0.9, "curvature (0 < c1 < c2 < 1)", symbol="β", gt=0, lt=1)
    initial_scale: float = option(1.0, "B0 = initial_scale · I, i.e. H0 = I / initial_scale", gt=0)
    max_line_search: int = option(60, "trials per line search before giving up", ge=1)
    interpolate: bool = option(True, "on a sufficient-decrease failure try the safeguarded quadratic minimizer "
                               "instead of the midpoint (reconstructed, not the paper's)")
    inverse_hessian0: Any = option(None, "programmatic only: H0 = B0⁻¹ as a (dim, dim) SPD tensor; overrides "
                                   "initial_scale", repr=False, exclude=True)

    @model_validator(mode="after")
    def _check(self):
        if not self.c1 < self.c2:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={self.c1}, c2={self.c2}")
        if self.inverse_hessian0 is not None and not hasattr(self.inverse_hessian0, "shape"):
            raise ValueError("inverse_hessian0 must be a (dim, dim) tensor or array "
                             "(programmatic only; from the command line use initial_scale)")
        return self


@dataclass(frozen=True, kw_only=True)
class BFGSState(IterState):
    """Iterate, exact f and ∇f at it, the inverse Hessian approximation and counters."""

    H: Any                                       # (dim, dim) inverse Hessian approximation
    history: tuple = ()                          # ((η_t, trials_t), older history): O(1) per step
    unit_steps: int = 0                          # iterations with η_t = 1
    curvature_pairs_skipped: Any = 0             # yᵀs ≤ 0 (rounding only); a 0-d tensor after a step
    approximate_wolfe_steps: int = 0             # accepted under approximate Wolfe (f at rounding level)


def inverse_bfgs_update(H, s, y, rho: float):
    """(I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ for symmetric H, in O(d²).

    Expanded: H − ρ (s uᵀ + u sᵀ) + (ρ + ρ² yᵀu) s sᵀ with u = H y, applied as
    one rank-2 ``addmm`` (no d×d temporaries besides the result).
    """
    u = H @ y
    a = rho + rho * rho * (y @ u)
    left = torch.stack((s, u), dim=1)                    # d × 2
    right = torch.stack((a * s - rho * u, -rho * s))     # 2 × d
    return torch.addmm(H, left, right)


class BFGSWolfe(Solver):
    """BFGS (inverse form) with a weak Wolfe doubling/bisection line search."""

    name = "bfgs-wolfe"
    paper = "arXiv:2507.00361"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=False, max_dim=5000)
    priority = 20
    Options = Options
    description = "BFGS with weak Wolfe line search; affine invariant, superlinear (smooth, small/medium dim)"
    host_syncs_per_step = 3   # one read of φ(0), φ'(0), then one per line-search trial (2 on the kit's problems; was 7)
    dense_dim = 300           # above this many unknowns the d × d inverse Hessian costs more than it saves
    large_priority = 9        # ... so dispatch prefers lbfgs (10); bfgs-wolfe stays accepted up to max_dim

    def priority_for(self, problem) -> int:
        """20 up to ``dense_dim`` unknowns, else 9 (below lbfgs): O(d²) memory and work per step
        (issue 15: 54 s against lbfgs's 15 s on a 1000-d chained Rosenbrock)."""
        return self.priority if problem.dim <= self.dense_dim else self.large_priority

    def init(self, problem, oracle, x0, options: Options) -> BFGSState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        if options.inverse_hessian0 is not None:
            H = torch.as_tensor(options.inverse_hessian0).to(device=oracle.device, dtype=oracle.dtype)
            if H.shape != (x.numel(), x.numel()):
                raise ValueError(f"inverse_hessian0 has shape {tuple(H.shape)}, expected {(x.numel(),) * 2}")
            H = H.clone()
        else:
            H = torch.eye(x.numel(), device=oracle.device, dtype=oracle.dtype) / options.initial_scale
        value, grad = oracle.value_and_grad(x)
        return BFGSState(x=x, value=value, grad=grad, H=H)

    def step(self, state: BFGSState, oracle, options: Options) -> BFGSState:
        x, g = state.x, state.grad
        d = -(state.H @ g)
        phi0, dphi0 = torch.stack([state.value.reshape(()), g @ d]).tolist()    # one host sync
        if not dphi0 < 0:
            if dphi0 == 0 and not bool(torch.any(g != 0)):
                return replace(state, stop=(Status.CONVERGED, "gradient is exactly zero"))
            return replace(state, stop=(Status.FAILED,
                                        f"d = -H g is not a descent direction (gᵀd = {dphi0:.3g})"))
        phi = LineFunction(oracle, x, d)          # keeps the last trial: the accepted step
        search = weak_wolfe_search(phi, phi0, dphi0, c1=options.c1, c2=options.c2,
                                   max_trials=options.max_line_search, interpolate=options.interpolate)
        history = ((search.step, search.trials), state.history)
        if not search.found:
            return replace(state, history=history, stop=(Status.FAILED, f"line search failed: {search.message}"))
        s, y = phi.point - x, phi.grad - g
        ys = y @ s
        curved = ys > 0                           # false only by rounding after a weak Wolfe step
        H = torch.where(curved, inverse_bfgs_update(state.H, s, y, 1.0 / ys), state.H)
        return replace(state, x=phi.point, value=phi.value, grad=phi.grad, H=H, history=history,
                       unit_steps=state.unit_steps + (search.step == 1.0),
                       approximate_wolfe_steps=state.approximate_wolfe_steps + search.approximate,
                       curvature_pairs_skipped=state.curvature_pairs_skipped + (~curved).to(torch.int64))

    def report(self, state: BFGSState, oracle, options) -> dict:
        steps, trials, node = [], [], state.history
        while node:
            (step, count), node = node
            steps.append(step)
            trials.append(count)
        steps, trials = steps[::-1], trials[::-1]
        accepted = [e for e in steps if e is not None]
        return {
            "step_sizes": accepted,
            "unit_step_fraction": state.unit_steps / len(accepted) if accepted else None,
            "line_search_trials": trials,
            "line_search_trials_total": sum(trials),
            "curvature_pairs_skipped": int(state.curvature_pairs_skipped),
            "approximate_wolfe_steps": state.approximate_wolfe_steps,
            "newton_decrement": newton_decrement(state, oracle),
        }


def newton_decrement(state: BFGSState, oracle) -> float | None:
    """λ(x) = sqrt(gᵀ ∇²f(x)⁻¹ g), the affine-invariant measure of the paper;
    ``None`` above NEWTON_DECREMENT_MAX_DIM unknowns or if ∇²f(x) is not SPD."""
    if state.grad is None or state.x.numel() > NEWTON_DECREMENT_MAX_DIM:
        return None
    hess = oracle.hessian(state.x).reshape(state.x.numel(), state.x.numel())
    chol, info = torch.linalg.cholesky_ex(hess)
    if int(info) != 0:
        return None
    z = torch.cholesky_solve(state.grad.reshape(-1, 1), chol)
    return math.sqrt(max(float(state.grad @ z.reshape(-1)), 0.0))
