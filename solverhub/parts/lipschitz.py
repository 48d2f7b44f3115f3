"""Lipschitz and strong-monotonicity estimates by power iteration, for safe default steps.

``lipschitz_estimate`` approximates L = ‖∇²f(x)‖₂ (power iteration on v ↦ ∇²f(x)v,
``oracle.hvp``) or, for operator problems, L = ‖J_F(z)‖₂ (power iteration on
v ↦ J_F(z)ᵀJ_F(z)v, ``oracle.operator_jvp``): Golub & Van Loan, *Matrix
Computations* (4th ed., 2013), §8.2.1. ``monotonicity_estimate`` approximates
μ = λ_min(½(J + Jᵀ)) by power iteration on the shifted v ↦ Lv − ½(J + Jᵀ)v.
Every product is an oracle call (``hvp`` or ``operator``); no host sync inside.
Power iteration approaches the top eigenvalue from below, so the steps built on it
keep a factor 2 of margin (see the solvers' docstrings). The estimate is local (at x):
exact for quadratics and affine operators.
"""
from __future__ import annotations

__all__ = ["lipschitz_estimate", "monotonicity_estimate"]

from .._lazy import lazy_module

torch = lazy_module("torch")


def _power(apply, x, iterations: int, seed: int):
    """(‖A v_k‖, v_k) after ``iterations`` products, from a seeded Gaussian start."""
    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    v = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    v = v / torch.linalg.vector_norm(v)
    tiny = torch.finfo(x.dtype).tiny
    est = torch.zeros((), device=x.device, dtype=x.dtype)
    for _ in range(iterations):
        w = apply(v)
        est = torch.linalg.vector_norm(w)
        v = w / est.clamp_min(tiny)
    return est, v


def lipschitz_estimate(oracle, x, iterations: int = 10, *, seed: int = 0):
    """0-d tensor L ≈ ‖∇²f(x)‖₂, or ‖J_F(x)‖₂ when the oracle has an operator.
    Costs ``iterations`` hvp calls, or 2 · ``iterations`` operator calls."""
    x = x.detach().reshape(-1)
    if oracle.has_operator:
        est, _ = _power(lambda v: oracle.operator_jvp(x, oracle.operator_jvp(x, v), transpose=True),
                        x, iterations, seed)
        return est.sqrt()
    return _power(lambda v: oracle.hvp(x, v), x, iterations, seed)[0]


def monotonicity_estimate(oracle, z, L, iterations: int = 10, *, seed: int = 1):
    """0-d tensor μ ≈ λ_min(½(J_F(z) + J_F(z)ᵀ)) given L ≥ ‖J_F(z)‖₂ (from
    :func:`lipschitz_estimate`); 2 · ``iterations`` operator calls."""
    z = z.detach().reshape(-1)

    def shifted(v):
        return L * v - 0.5 * (oracle.operator_jvp(z, v) + oracle.operator_jvp(z, v, transpose=True))
    est, v = _power(shifted, z, iterations, seed)
    return L - est
