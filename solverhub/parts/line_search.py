"""One line search for the shared method parts: weak Wolfe by doubling/bisection, one host
sync per trial.

:func:`weak_wolfe_search` is a pure function of the one-dimensional restriction
φ(η) = f(x + η d): it sees only φ(η) and φ'(η) = ∇f(x + η d)ᵀd, never x, d or their
norms, which keeps BFGS with it affine invariant (arXiv:2507.00361).
:class:`LineFunction` evaluates φ and φ' on the oracle with one device-to-host transfer
per trial and keeps the last trial's point, value and gradient, so the caller has f and
∇f at the accepted step for free.

The weak Wolfe conditions (0 < c1 < c2 < 1; arXiv:2507.00361 calls them α, β)::

    φ(η) ≤ φ(0) + c1 η φ'(0)      (sufficient decrease, Armijo 1966)
    φ'(η) ≥ c2 φ'(0)              (curvature)

Bracketing (Lewis & Overton, "Nonsmooth optimization via quasi-Newton methods", Math.
Program. 141, 2013): first trial η = 1; a sufficient-decrease failure is an upper bracket,
a curvature failure a lower one; the next trial is the bracket's midpoint, or twice the
lower end while no upper end is known. While φ is bounded below along a descent direction
this finds a weak Wolfe step in finitely many trials. Option ``interpolate``
(reconstructed): after a sufficient-decrease failure, the safeguarded minimizer of the
quadratic through φ(lo), φ'(lo), φ(hi) replaces the midpoint; it costs fewer trials when
η = 1 overshoots by orders of magnitude.

Near a minimizer φ(η) − φ(0) drops below the rounding of f and the decrease test becomes
noise. There (|φ(η) − φ(0)| ≤ ROUNDING·|φ(0)|) a trial is also accepted under Hager &
Zhang's approximate Wolfe conditions (SIAM J. Optim. 16, 2005):
(2c1 − 1) φ'(0) ≥ φ'(η) ≥ c2 φ'(0), which use only φ' and so keep the search affine
invariant. Such steps are counted (``approximate``).
"""
from __future__ import annotations

__all__ = ["LineSearchResult", "LineFunction", "weak_wolfe_search"]

import math
from dataclasses import dataclass
from typing import Any, Callable

from .._lazy import lazy_module

torch = lazy_module("torch")

_EPS = 2.0 ** -52   # float64 machine epsilon: η is a Python float
ROUNDING = 1e3 * _EPS   # |φ(η) − φ(0)| below this·|φ(0)| is treated as rounding noise


@dataclass(frozen=True)
class LineSearchResult:
    """Outcome of one search. ``step`` is the accepted η (the last trial), or
    ``None`` when no weak Wolfe step was found within the trial budget."""

    step: float | None
    trials: int
    message: str = ""
    approximate: bool = False   # accepted under the approximate Wolfe conditions

    @property
    def found(self) -> bool:
        return self.step is not None


class LineFunction:
    """φ(η) = f(x + η d) and φ'(η) on the oracle: ``phi(η) -> (φ, φ')`` as Python floats,
    read back in one transfer per trial; ``point``, ``value`` and ``grad`` hold the last
    trial (tensors), i.e. the accepted one when :func:`weak_wolfe_search` succeeds."""

    def __init__(self, oracle, x, d):
        self.oracle, self.x, self.d = oracle, x, d
        self.point: Any = None
        self.value: Any = None
        self.grad: Any = None

    def __call__(self, eta: float) -> tuple[float, float]:
        self.point = torch.add(self.x, self.d, alpha=eta)
        self.value, self.grad = self.oracle.value_and_grad(self.point)
        value, slope = torch.stack([self.value.reshape(()), self.grad @ self.d]).tolist()   # the one host sync
        return value, slope


def weak_wolfe_search(phi: Callable[[float], tuple[float, float]], phi0: float, dphi0: float, *,
                      c1: float = 1e-4, c2: float = 0.9, max_trials: int = 60,
                      first_step: float = 1.0, interpolate: bool = False) -> LineSearchResult:
    """Find η with both weak Wolfe inequalities, by doubling/bisection.

    ``phi(η) -> (φ(η), φ'(η))`` evaluates one trial point; ``phi0``, ``dphi0``
    are φ(0) and φ'(0) < 0. The accepted step is always the *last* trial, so a
    caller that caches its last evaluation has f and ∇f at the new point for
    free. A non-finite φ(η) or φ'(η) counts as "too far" (upper bracket).
    ``interpolate``: after a sufficient-decrease failure, try the safeguarded
    quadratic minimizer instead of the midpoint (still a function of φ only).
    """
    if not dphi0 < 0:
        return LineSearchResult(None, 0, f"not a descent direction: φ'(0) = {dphi0:.3g}")
    lower, upper = 0.0, math.inf
    lower_value, lower_slope = phi0, dphi0
    step = first_step
    for trial in range(1, max_trials + 1):
        value, slope = phi(step)
        finite = math.isfinite(value) and math.isfinite(slope)
        if finite and value > phi0 + c1 * step * dphi0 and abs(value - phi0) <= ROUNDING * abs(phi0) \
                and c2 * dphi0 <= slope <= (2 * c1 - 1) * dphi0:
            return LineSearchResult(step, trial, approximate=True)   # decrease test lost in rounding
        if not finite or value > phi0 + c1 * step * dphi0:
            upper = step                      # sufficient decrease fails: too far
        elif slope < c2 * dphi0:
            lower, lower_value, lower_slope = step, value, slope   # curvature fails: too short
        else:
            return LineSearchResult(step, trial)
        if math.isinf(upper):
            step = 2.0 * lower
        elif upper - lower <= 4 * _EPS * upper:
            return LineSearchResult(None, trial, f"bracket [{lower:.6g}, {upper:.6g}] collapsed to rounding "
                                    "width: f is flat to machine precision along d (tolerance below "
                                    "attainable accuracy?)")
        elif interpolate and upper == step and finite:
            step = _safeguarded_quadratic(lower, lower_value, lower_slope, upper, value)
        else:
            step = 0.5 * (lower + upper)
    if math.isinf(upper):
        why = (f"no upper bracket after {max_trials} doublings (η = {lower:.3g}); "
               "f may be unbounded below along d")
    else:
        why = (f"no weak Wolfe step in {max_trials} trials, bracket [{lower:.3g}, {upper:.3g}]; "
               "likely rounding in f near a minimizer (tolerance below attainable accuracy?)")
    return LineSearchResult(None, max_trials, why)


def _safeguarded_quadratic(lower, lower_value, lower_slope, upper, upper_value, low_fraction=1e-3):
    """Minimizer of the quadratic through φ(lower), φ'(lower), φ(upper), kept in
    [lower + low_fraction·w, lower + w/2], w = upper − lower, so a bracket at
    least halves on every sufficient-decrease failure, as with bisection."""
    width = upper - lower
    curvature = upper_value - lower_value - lower_slope * width
    fraction = 0.5
    if curvature > 0:
        fraction = min(0.5, max(low_fraction, -lower_slope * width / (2.0 * curvature) / width))
    return lower + fraction * width
