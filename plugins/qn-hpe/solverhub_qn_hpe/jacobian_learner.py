"""Online learning of the Jacobian approximation B_k (arXiv 2410.02626): projected
online gradient descent on the secant loss of a pair (s, y) = (z̃ − z_k, F(z̃) − F(z_k)),

    ℓ_k(B) = ‖y − B s‖² / ‖s‖²,      B_{k+1} = Proj(B_k + 2ρ (y − B_k s) sᵀ / ‖s‖²).

ρ = 1/2 is the exact secant (Broyden "good") update, B_{k+1} s = y, and for an
affine F with Jacobian J it lowers ‖B − J‖_F² by exactly ℓ_k(B_k).
Reconstructed [R]: ρ = 1/2 and ``Proj`` (the paper's separation oracle is not
reproduced): ``svd_clip`` (singular values clipped at L), ``monotone`` (the
symmetric part's negative eigenvalues set to 0), ``svd_clip+monotone`` (the
first, then the second) or ``none``. ``symmetric=True`` (F = ∇f) symmetrizes the
gradient step. No host sync. Details: docs/methods/qn-hpe.md.
"""
from __future__ import annotations

__all__ = ["secant_update", "project_jacobian", "PROJECTIONS"]

from solverhub.plugin import lazy_module

torch = lazy_module("torch")

PROJECTIONS = ("svd_clip", "monotone", "svd_clip+monotone", "none")


def secant_update(B, s, y, rho: float, *, symmetric: bool = False):
    """One online-gradient step on ℓ(B) = ‖y − Bs‖²/‖s‖²; returns (B_new, ℓ(B)) before projection."""
    ss = s @ s
    residual = y - B @ s
    loss = (residual @ residual) / ss
    gradient_step = torch.outer(residual, s) / ss
    if symmetric:
        gradient_step = 0.5 * (gradient_step + gradient_step.T)
    return B + (2.0 * rho) * gradient_step, loss


def project_jacobian(B, method: str, bound=None, *, symmetric: bool = False):
    """``Proj`` of the learner (see the module docstring); ``bound`` is a 0-d tensor for ``svd_clip``."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    if method in ("svd_clip", "svd_clip+monotone"):       # onto {‖B‖₂ ≤ L}: clip the singular values
        U, S, Vh = torch.linalg.svd(B)
        B = (U * torch.minimum(S, bound)) @ Vh
    if method in ("monotone", "svd_clip+monotone"):       # onto {B + Bᵀ ⪰ 0}: clip the symmetric part
        w, V = torch.linalg.eigh(0.5 * (B + B.T))
        B = 0.5 * (B - B.T) + (V * torch.clamp(w, min=0.0)) @ V.T
    if symmetric:
        B = 0.5 * (B + B.T)      # rounding only: both projections keep a symmetric B symmetric
    return B
