"""The linear algebra of MinNorm-OG, shared by the solver and the kind's measures.

With J the stacked model gradients ∇_θ f(θ, x_i) (rows), the perturbation problem
of the paper (arXiv 2505.22601, §5, Alg. 1)

    min_Δ ‖θ + Δ‖² + λ‖Δ‖²   s.t.   JΔ = 0

has the closed form Δ = −P_null(J) θ / (1 + λ) (reconstructed: stationarity on
null(J) gives P(θ + Δ) + λΔ = 0 with Δ = PΔ). The official code writes the
factor as ``reg_coef`` = 1/(1 + λ) ∈ (0, 1].

P_range is built from the SVD of J, keeping singular values above
``rtol``·σ_max (a rank-revealing QR of Jᵀ, as in the paper's code, gives the
same projector when J has full row rank; the SVD also handles repeated or
dependent rows). Everything here is tensor algebra: no host syncs.
"""
from __future__ import annotations

__all__ = ["range_basis", "null_component", "orthogonal_step"]

from solverhub.plugin import lazy_module

torch = lazy_module("torch")

DEFAULT_RTOL = 1e-10


def range_basis(J, rtol: float = DEFAULT_RTOL):
    """Orthonormal columns spanning range(Jᵀ) (columns below the rank threshold zeroed), from
    the thin SVD of the tall matrix Jᵀ."""
    U, S, _ = torch.linalg.svd(J.T, full_matrices=False)
    keep = (S > rtol * S[:1]).to(U.dtype)
    return U * keep


def null_component(theta, J, rtol: float = DEFAULT_RTOL):
    """P_null(J) θ = θ − P_range(Jᵀ) θ."""
    B = range_basis(J, rtol)
    return theta - B @ (B.T @ theta)


def orthogonal_step(theta, J, coef, rtol: float = DEFAULT_RTOL):
    """(θ + Δ, Δ) with Δ = −coef · P_null(J) θ, coef = 1/(1 + λ)."""
    delta = -coef * null_component(theta, J, rtol)
    return theta + delta, delta
