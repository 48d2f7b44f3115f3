"""L-BFGS with a line search on the directional derivative only (no function values), for
auglag's convex inner problems once function values stop resolving progress.

On an LP in epigraph form (the Chebyshev fit, f* = 4.5e-5) L_ρ at ρ = 1e5 is evaluated with an
absolute rounding error near 1e-17 (the rows ``V c - y`` are O(1) numbers), while the decrease a
step can make near the inner minimizer is about ‖∇L‖²/λmax ≈ 1e-19: scipy's L-BFGS-B and
torch's strong-Wolfe search then stop (``ABNORMAL_TERMINATION_IN_LNSRCH``) with ‖∇L‖∞ ≈ 1e-6.
The gradient is still accurate, so the step is chosen by a safeguarded secant search for
``φ'(α) = dᵀ∇L(z + αd)`` within ``|φ'(α)| <= c |φ'(0)|`` (the curvature condition of Wolfe;
for convex L, φ' is nondecreasing, so a point with ``φ'(α) <= 0`` also decreased L). Direction:
the two-loop recursion (Nocedal & Wright 2006, Alg. 7.4; ``lbfgs.two_loop``). No bounds.
"""
from __future__ import annotations

__all__ = ["gradient_lbfgs"]

import math

from .._lazy import lazy_module
from .lbfgs import two_loop

torch = lazy_module("torch")


def _direction(g, pairs):
    """−H g from the (s, y, 1/(yᵀs)) pairs, oldest first, H₀ = (sᵀy / yᵀy) I of the newest pair."""
    if not pairs:
        return -g
    steps, diffs, rhos = zip(*pairs)
    return two_loop(g, steps, diffs, rhos, torch.dot(steps[-1], diffs[-1]) / torch.dot(diffs[-1], diffs[-1]))


def gradient_lbfgs(grad_fn, z, g, *, iterations: int, tolerance: float, memory: int = 10, curvature: float = 0.5,
                   searches: int = 30):
    """Minimize a convex function from ``z`` (gradient ``g``) given only ``grad_fn``:
    ``(z, g, iterations used, converged)``. One host sync per gradient (the search's tests)."""
    pairs = []
    for k in range(iterations):
        if float(torch.max(torch.abs(g))) <= tolerance:
            return z, g, k, True
        d = _direction(g, pairs)
        slope0 = float(torch.dot(g, d))
        if not slope0 < 0:                      # not a descent direction: steepest descent, memory reset
            pairs, d = [], -g
            slope0 = float(torch.dot(g, d))
        lo, hi, s_lo, s_hi, alpha = 0.0, math.inf, slope0, math.nan, 1.0
        for _ in range(searches):
            gn = grad_fn(z + alpha * d)
            slope = float(torch.dot(gn, d))
            if abs(slope) <= curvature * abs(slope0):
                break
            if slope < 0:
                lo, s_lo = alpha, slope
            else:
                hi, s_hi = alpha, slope
            if math.isinf(hi):
                alpha *= 4.0
            else:                               # secant on φ', kept inside the bracket
                trial = lo - s_lo * (hi - lo) / (s_hi - s_lo)
                width = hi - lo
                alpha = min(max(trial, lo + 0.05 * width), hi - 0.05 * width)
        else:
            return z, g, k, False
        step = alpha * d
        y = gn - g
        sy = torch.dot(step, y)
        if float(sy) > 0:
            pairs = (pairs + [(step, y, 1.0 / sy)])[-memory:]
        z, g = z + step, gn
    return z, g, iterations, float(torch.max(torch.abs(g))) <= tolerance
