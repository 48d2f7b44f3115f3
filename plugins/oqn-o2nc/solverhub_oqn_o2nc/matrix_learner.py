"""The online Hessian learner of OQN (arXiv 2412.02175): projected online gradient
descent in the space of symmetric matrices.

Round n sees the secant pair of two consecutive query points,
s = w_n − w_{n−1}, y = g_n − g_{n−1}, and suffers the loss (method note 07, [R])::

    loss_n(B) = ‖y − B s‖² / ‖s‖²,      ∇loss_n(B) = −2 (y − B s) sᵀ / ‖s‖²

    B_{n+1} = Proj_{sym, ‖B‖_op ≤ L}(B_n − ρ ∇loss_n(B_n))

loss_n is 2-smooth in B (Frobenius), so ρ = 1/2 is the 1/L step; the unprojected
step is then Broyden's secant correction B + (y − Bs)sᵀ/sᵀs (B_new s = y exactly).
The projection onto {symmetric, ‖B‖_op ≤ L} in the Frobenius norm is
symmetrization followed by clipping the eigenvalues to [−L, L] (``torch.linalg.eigh``).

Properties the tests check: for a quadratic (y = H s, ‖H‖_op ≤ L) the error
E = B − H never grows in the Frobenius norm, the round's own loss falls at least
4× (unclipped: E_new s = (I − ssᵀ/sᵀs) E s / 2), and on an orthonormal cycle of
directions one pass zeroes diag(E) in that basis and quarters the rest.

Everything is tensor arithmetic: a zero step s = 0 (no information) leaves B
unchanged through ``torch.where``, never through a Python ``if`` on a value.
"""
from __future__ import annotations

__all__ = ["secant_loss", "project_operator_norm", "learner_step"]

from solverhub.plugin import lazy_module

torch = lazy_module("torch")


def secant_loss(B, s, y):
    """‖y − B s‖² / ‖s‖² as a 0-d tensor (0 when s = 0)."""
    ss = s @ s
    residual = y - B @ s
    return torch.where(ss > 0, (residual @ residual) / torch.where(ss > 0, ss, torch.ones_like(ss)),
                       torch.zeros_like(ss))


def project_operator_norm(B, bound):
    """Frobenius projection of B onto {symmetric, ‖·‖_op ≤ bound}.

    Returns ``(B_proj, eigenvalues, eigenvectors)`` of the projected matrix
    (the solver reuses the decomposition for its subproblem). ``bound`` may be a
    float or a 0-d tensor (the running estimate), never read on the host.
    """
    bound = torch.as_tensor(bound, dtype=B.dtype, device=B.device)
    sym = 0.5 * (B + B.transpose(0, 1))
    eigenvalues, eigenvectors = torch.linalg.eigh(sym)
    clipped = torch.clamp(eigenvalues, min=-bound, max=bound)
    return (eigenvectors * clipped) @ eigenvectors.transpose(0, 1), clipped, eigenvectors


def learner_step(B, s, y, rho: float, bound):
    """One projected gradient step on loss_n; returns ``(B_new, eigenvalues, eigenvectors, loss_n(B))``.

    ``loss_n(B)`` is the loss of the matrix *played* this round (before the update),
    the quantity whose sum is the learner's regret.
    """
    ss = s @ s
    valid = ss > 0
    safe_ss = torch.where(valid, ss, torch.ones_like(ss))
    residual = y - B @ s
    loss = torch.where(valid, (residual @ residual) / safe_ss, torch.zeros_like(ss))
    scale = torch.where(valid, (2.0 * rho) / safe_ss, torch.zeros_like(ss))
    stepped = B + scale * torch.outer(residual, s)           # B − ρ ∇loss_n(B)
    B_new, eigenvalues, eigenvectors = project_operator_norm(stepped, bound)
    return B_new, eigenvalues, eigenvectors, loss
