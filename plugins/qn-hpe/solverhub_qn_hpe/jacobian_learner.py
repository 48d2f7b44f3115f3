"""Online learning of the Jacobian approximation B_k (arXiv 2410.02626, the
"online convex optimization over non-symmetric matrices" of the abstract).

The loss of round k is the secant error of a pair (s, y) = (z̃ − z_k, F(z̃) − F(z_k)):

    ℓ_k(B) = ‖y − B s‖² / ‖s‖²,      ∇ℓ_k(B) = −2 (y − B s) sᵀ / ‖s‖²,

and the learner is projected online gradient descent

    B_{k+1} = Proj(B_k + 2ρ (y − B_k s) sᵀ / ‖s‖²).

With ρ = 1/2 the step is the exact secant (Broyden "good") update: B_{k+1} s = y,
and B_{k+1} − J = (B_k − J)(I − s sᵀ/‖s‖²) for an affine F with Jacobian J, so
‖B_{k+1} − J‖_F² = ‖B_k − J‖_F² − ℓ_k(B_k): the summed losses never exceed
‖B_0 − J‖_F² (the regret bound behind the paper's rates, in its simplest form).

Reconstructed [R], not the paper's: ρ = 1/2, and the projection. The paper
projects with an approximate separation oracle (keeping symmetry and sparsity);
here ``Proj`` is one of

* ``svd_clip``: singular values clipped at a bound L (the Euclidean projection
  onto {‖B‖₂ ≤ L});
* ``monotone``: the symmetric part's negative eigenvalues set to 0 (the
  Euclidean projection onto {B + Bᵀ ⪰ 0}); it keeps I + ηB invertible for all η > 0;
* ``svd_clip+monotone``: the first, then the second (a feasible point of the
  intersection, not its exact projection);
* ``none``.

``symmetric=True`` (for F = ∇f) projects the gradient onto symmetric matrices,
so a symmetric B stays symmetric. Everything here is tensor algebra: no host sync.
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


def _svd_clip(B, bound):
    U, S, Vh = torch.linalg.svd(B)
    return (U * torch.minimum(S, bound)) @ Vh


def _monotone(B):
    sym = 0.5 * (B + B.T)
    skew = 0.5 * (B - B.T)
    w, V = torch.linalg.eigh(sym)
    return skew + (V * torch.clamp(w, min=0.0)) @ V.T


def project_jacobian(B, method: str, bound=None, *, symmetric: bool = False):
    """``Proj`` of the learner (see the module docstring); ``bound`` is a 0-d tensor for ``svd_clip``."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    if method in ("svd_clip", "svd_clip+monotone"):
        B = _svd_clip(B, bound)
    if method in ("monotone", "svd_clip+monotone"):
        B = _monotone(B)
    if symmetric:
        B = 0.5 * (B + B.T)      # rounding only: both projections keep a symmetric B symmetric
    return B
