"""The linear algebra of MinNorm-OG (arXiv 2505.22601, §5, Alg. 1), shared by the solver
and the kind's measures: the perturbation problem min_Δ ‖θ + Δ‖² + λ‖Δ‖² s.t. JΔ = 0 has
the closed form Δ = −P_null(J) θ / (1 + λ) (reconstructed; the code's ``reg_coef`` is
1/(1 + λ)). P_range from the SVD of Jᵀ (the code: QR); tensor algebra, no host syncs."""
from __future__ import annotations

__all__ = ["null_component", "orthogonal_step"]

from solverhub.plugin import lazy_module

torch = lazy_module("torch")

DEFAULT_RTOL = 1e-10


def null_component(theta, J, rtol: float = DEFAULT_RTOL):
    """P_null(J) θ = θ − UUᵀθ, U the left singular vectors of Jᵀ above rtol·σ_max."""
    U, S, _ = torch.linalg.svd(J.T, full_matrices=False)
    U = U * (S > rtol * S[:1]).to(U.dtype)
    return theta - U @ (U.T @ theta)


def orthogonal_step(theta, J, coef, rtol: float = DEFAULT_RTOL):
    """(θ + Δ, Δ) with Δ = −coef · P_null(J) θ, coef = 1/(1 + λ)."""
    delta = -coef * null_component(theta, J, rtol)
    return theta + delta, delta
