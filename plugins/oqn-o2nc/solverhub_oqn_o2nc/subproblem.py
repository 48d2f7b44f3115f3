"""The ball-constrained subproblem of OQN's optimistic step, solved without host syncs.

With the implicit hint m(Δ) = c + (B/2) Δ (see ``solver.py``), the optimistic
step Δ = Proj_{‖Δ‖≤D}(center − η m(Δ)) is the optimality condition of the
trust-region-type problem (reconstructed, [R])::

    minimize  ½ Δᵀ A Δ − bᵀ Δ   subject to ‖Δ‖ ≤ D,     A = I + (η/2) B,   b = center − η c.

:func:`solve_ball_quadratic` takes A through its eigendecomposition
A = V diag(a) Vᵀ (the matrix learner's projection already computes V) and
returns the global minimizer (Moré–Sorensen conditions):

* interior: a_min > 0 and ‖A⁻¹b‖ ≤ D gives Δ = A⁻¹ b;
* boundary: Δ(μ) = V diag(1/(a + μ)) Vᵀ b with μ > max(0, −a_min) the root of the
  secular equation ‖Δ(μ)‖ = D. φ(μ) = ‖Δ(μ)‖ decreases on that interval and
  φ(lo + ‖b‖/D) ≤ D, so the root is bracketed; the bracket is narrowed by a
  fixed number of multisection steps (bisection with ``points`` sub-intervals
  per step, all evaluated at once), so the work is fixed and nothing is read
  on the host. The feasible end of the bracket is kept, and Δ is rescaled to
  ‖Δ‖ = D at the end.
* hard case (a_min ≤ 0 and b nearly orthogonal to the bottom eigenvector, so
  φ stays below D down to μ = −a_min, and the search never leaves lo): the
  bottom eigenvector fills the rest of the radius, Δ = Δ(μ) + τ v_min, ‖Δ‖ = D.

Every case is computed and selected with ``torch.where``.
"""
from __future__ import annotations

__all__ = ["solve_ball_quadratic", "multisection_steps"]

from solverhub.plugin import lazy_module

torch = lazy_module("torch")

POINTS = 512     # sub-intervals per multisection step: the bracket shrinks 512x per step
_GRIDS: dict = {}


def multisection_steps(dtype) -> int:
    """Fixed step count: the bracket shrinks by 512^S (1.3e8 in float32, 6.9e10 in float64);
    the final rescaling onto the sphere makes the answer feasible whatever is left.
    (Measured on CPU at d = 20: 512 points × 4 steps costs 0.77× of 128 × 5.)"""
    return 3 if dtype in (torch.float32, torch.float16, torch.bfloat16) else 4


def _grid(points: int, dtype, device):
    key = (points, dtype, str(device))
    grid = _GRIDS.get(key)
    if grid is None:
        grid = _GRIDS[key] = (torch.arange(1, points + 1, dtype=dtype, device=device) / points)[:, None]
    return grid


def solve_ball_quadratic(a, V, b, radius: float, steps: int | None = None, points: int = POINTS):
    """argmin_{‖Δ‖ ≤ radius} ½ ΔᵀAΔ − bᵀΔ for A = V diag(a) Vᵀ (a ascending, as from ``eigh``).

    Returns ``(Δ, on_boundary)`` with ``on_boundary`` a 0-d bool tensor.
    """
    steps = multisection_steps(b.dtype) if steps is None else steps
    bt = V.transpose(0, 1) @ b                                   # b in the eigenbasis
    a_min = a[0]
    # interior candidate (valid only when A is positive definite)
    inside = bt / torch.where(a > 0, a, 1.0)
    interior = (a_min > 0) & (torch.linalg.vector_norm(inside) <= radius)
    # boundary: the secular root lies in (lo, lo + width], φ(lo + width) ≤ D
    lo = torch.clamp(-a_min, min=0.0)
    width = torch.clamp(torch.linalg.vector_norm(b) / radius,
                        min=torch.finfo(b.dtype).eps)            # b = 0: keep the bracket open
    grid = _grid(points, b.dtype, b.device)                       # (P, 1): 1/P, ..., 1
    shifted = a + lo                                             # a_i + μ with μ = lo + t: shifted + t ≥ 0
    offset = torch.zeros_like(lo)                                # μ − lo at the bracket's left end
    for _ in range(steps):
        mus = torch.addcmul(offset, width, grid)                             # (P, 1): offset + width·j/P
        norms = torch.linalg.vector_norm(bt / (shifted + mus), dim=1)        # φ at the P points, decreasing
        above = (norms > radius).sum(dtype=b.dtype)                          # how many have φ > D
        offset = torch.addcmul(offset, width, above, value=1.0 / points)     # last point with φ > D
        width = width / points
    coeffs = bt / (shifted + (offset + width))                   # the feasible end: φ ≤ D
    # hard case (A not positive definite and φ ≤ D on the whole interval, so the search never left
    # lo): fill the remaining radius with the bottom eigenvector. Elsewhere the fill would be
    # sqrt(D² − φ²) ~ sqrt(2D·ε) from the bracket's width ε, so it is applied only there.
    hard = (a_min <= 0) & (offset == 0)
    fill = torch.sqrt(torch.clamp(radius * radius - coeffs @ coeffs, min=0.0))
    fill = torch.where(hard, torch.where(bt[0] >= 0, fill, -fill), torch.zeros_like(fill))
    boundary = V @ coeffs + fill * V[:, 0]
    boundary = boundary * (radius / torch.linalg.vector_norm(boundary))      # exactly on the sphere
    return torch.where(interior, V @ inside, boundary), ~interior
