"""BFGS with a weak Wolfe line search.

Reference: arXiv 2507.00361 (BFGS with a weak Wolfe line search: global
linear, then superlinear, affine-invariant rates; title and equation numbers
not at hand: see the method note 04-bfgs-weak-wolfe.md). The iteration:

    x_{t+1} = x_t + η_t d_t,   d_t = −B_t⁻¹ g_t,
    B_{t+1} = B_t − B_t s sᵀ B_t / (sᵀ B_t s) + y yᵀ / (sᵀ y),

kept here in inverse form H = B⁻¹ (identical iterates):

    H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ,   ρ = 1 / (yᵀ s).

η_t satisfies the weak Wolfe conditions, found by :func:`weak_wolfe_search`.
Reconstructed (not stated in the paper text we could reach): the defaults
c1 = 1e-4, c2 = 0.9 and the doubling/bisection bracketing.

Affine invariance (h(y) = f(Ay), H0_h = A⁻¹ H0 A⁻ᵀ, y0 = A⁻¹ x0 gives
x_t = A y_t) holds because the search sees only φ(η) and φ'(η), always tries
η = 1 first, never clips the step by ‖d‖, and no curvature pair is skipped by
a rule keyed to ‖s‖ (a pair is skipped only if yᵀs ≤ 0, impossible after a
weak Wolfe step in exact arithmetic; the count is reported).
"""
from __future__ import annotations

__all__ = ["Options", "BFGSState", "BFGSWolfe", "inverse_bfgs_update"]

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from solverhub.plugin import Capabilities, IterState, Solver, Status, lazy_module

from .line_search import weak_wolfe_search

torch = lazy_module("torch")

NEWTON_DECREMENT_MAX_DIM = 500   # report λ(x) only where a dense Hessian is cheap


@dataclass(frozen=True)
class Options:
    """Options of ``bfgs-wolfe``."""

    c1: float = 1e-4             # sufficient decrease (paper: α)
    c2: float = 0.9              # curvature (paper: β), 0 < c1 < c2 < 1
    initial_scale: float = 1.0   # B0 = initial_scale · I, i.e. H0 = I / initial_scale
    max_line_search: int = 60    # trials per line search before giving up
    # Default on (reconstructed, not the paper's): on a sufficient-decrease failure try the
    # safeguarded minimizer of the quadratic through φ(lo), φ'(lo), φ(hi) instead of the midpoint.
    interpolate: bool = True
    # Programmatic only: H0 = B0⁻¹ as a (dim, dim) SPD tensor; overrides initial_scale.
    inverse_hessian0: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if not 0 < self.c1 < self.c2 < 1:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={self.c1}, c2={self.c2}")
        if not self.initial_scale > 0:
            raise ValueError(f"initial_scale must be > 0, got {self.initial_scale}")
        if self.max_line_search < 1:
            raise ValueError(f"max_line_search must be >= 1, got {self.max_line_search}")
        if self.inverse_hessian0 is not None and not hasattr(self.inverse_hessian0, "shape"):
            raise ValueError("inverse_hessian0 must be a (dim, dim) tensor or array "
                             "(programmatic only; from the command line use initial_scale)")


@dataclass(kw_only=True)
class BFGSState(IterState):
    """Iterate, exact f and ∇f at it, the inverse Hessian approximation and logs."""

    H: Any                                       # (dim, dim) inverse Hessian approximation
    step_sizes: tuple[float, ...] = ()           # accepted η_t
    line_search_trials: tuple[int, ...] = ()     # trial points per iteration
    unit_steps: int = 0                          # iterations with η_t = 1
    curvature_pairs_skipped: int = 0             # yᵀs ≤ 0 (rounding only)
    approximate_wolfe_steps: int = 0             # accepted under approximate Wolfe (f at rounding level)
    hessian: Callable | None = field(default=None, repr=False)   # uncounted, for the report


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
    host_syncs_per_step = 7   # the weak Wolfe search reads one bool per trial (up to 7 per step on the kit's problems)

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
        return BFGSState(x=x, value=value, grad=grad, H=H, hessian=oracle.hessian)

    def step(self, state: BFGSState, oracle, options: Options) -> BFGSState:
        x, g = state.x, state.grad
        d = -(state.H @ g)
        dphi0 = float(g @ d)
        if not dphi0 < 0:
            if dphi0 == 0 and not bool(torch.any(g != 0)):
                return replace(state, stop=(Status.CONVERGED, "gradient is exactly zero"))
            return replace(state, stop=(Status.FAILED,
                                        f"d = -H g is not a descent direction (gᵀd = {dphi0:.3g})"))

        last = {}   # the most recent trial; the accepted step is always the last one

        def phi(eta: float) -> tuple[float, float]:
            x_trial = torch.add(x, d, alpha=eta)
            value, grad = oracle.value_and_grad(x_trial)
            last.update(x=x_trial, value=value, grad=grad)
            return float(value), float(grad @ d)

        search = weak_wolfe_search(phi, float(state.value), dphi0, c1=options.c1, c2=options.c2,
                                   max_trials=options.max_line_search, interpolate=options.interpolate)
        trials = state.line_search_trials + (search.trials,)
        if not search.found:
            return replace(state, line_search_trials=trials,
                           stop=(Status.FAILED, f"line search failed: {search.message}"))

        x_new, g_new = last["x"], last["grad"]
        s, y = x_new - x, g_new - g
        ys = float(y @ s)
        H, skipped = state.H, state.curvature_pairs_skipped
        if ys > 0:
            H = inverse_bfgs_update(H, s, y, 1.0 / ys)
        else:
            skipped += 1
        return replace(state, x=x_new, value=last["value"], grad=g_new, H=H,
                       step_sizes=state.step_sizes + (search.step,),
                       line_search_trials=trials,
                       unit_steps=state.unit_steps + (search.step == 1.0),
                       approximate_wolfe_steps=state.approximate_wolfe_steps + search.approximate,
                       curvature_pairs_skipped=skipped)

    def report(self, state: BFGSState, oracle, options) -> dict:
        steps = state.step_sizes
        return {
            "step_sizes": list(steps),
            "unit_step_fraction": state.unit_steps / len(steps) if steps else None,
            "line_search_trials": list(state.line_search_trials),
            "line_search_trials_total": sum(state.line_search_trials),
            "curvature_pairs_skipped": state.curvature_pairs_skipped,
            "approximate_wolfe_steps": state.approximate_wolfe_steps,
            "newton_decrement": newton_decrement(state),
        }


def newton_decrement(state: BFGSState) -> float | None:
    """λ(x) = sqrt(gᵀ ∇²f(x)⁻¹ g), the affine-invariant measure of the paper;
    ``None`` above NEWTON_DECREMENT_MAX_DIM unknowns or if ∇²f(x) is not SPD."""
    if state.hessian is None or state.grad is None or state.x.numel() > NEWTON_DECREMENT_MAX_DIM:
        return None
    hess = state.hessian(state.x).reshape(state.x.numel(), state.x.numel())
    chol, info = torch.linalg.cholesky_ex(hess)
    if int(info) != 0:
        return None
    z = torch.cholesky_solve(state.grad.reshape(-1, 1), chol)
    return math.sqrt(max(float(state.grad @ z.reshape(-1)), 0.0))
