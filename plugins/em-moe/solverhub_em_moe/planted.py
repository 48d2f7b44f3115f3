"""The planted-model generator of ``kind: mixture_of_experts`` (numpy, seeded).

With ``rng = numpy.random.default_rng(seed)``, in this order: unit expert directions u_k (K x d),
unit gate directions v_j ((K-1) x d), X (n x d normal), z_i ~ softmax([W* x_i; 0]) by inverse CDF,
then y_i = beta*_{z_i}ᵀx_i + noise_std eps_i (linear) or Bernoulli(sigmoid(beta*_{z_i}ᵀx_i)).
Truth: W*_j = gate_norm v_j, beta*_k = snr noise_std u_k (logistic: snr u_k); with K = 2,
beta*_2 = -beta*_1 (arXiv 2411.06056's SymMoLinE / SymMoLogE). See docs/methods/em-moe.md.
"""
from __future__ import annotations

__all__ = ["PlantedModel", "generate_planted"]

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlantedModel:
    X: np.ndarray          # (n, d)
    y: np.ndarray          # (n,)
    z: np.ndarray          # (n,) expert index 0..K-1 of every row
    beta: np.ndarray       # (K, d) expert coefficients
    gate: np.ndarray       # (K-1, d) gate rows (expert K is the reference, logit 0)


def _unit_rows(rng, k: int, d: int) -> np.ndarray:
    rows = rng.standard_normal((k, d))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def generate_planted(*, n: int, d: int, experts: int, expert: str, snr: float, gate_norm: float,
                     noise_std: float = 1.0, seed: int = 0) -> PlantedModel:
    """Draw (X, y) and the planted parameters (the module docstring's definition)."""
    rng = np.random.default_rng(seed)
    K = int(experts)
    u, v = _unit_rows(rng, K, d), _unit_rows(rng, K - 1, d)
    beta = (snr * noise_std if expert == "linear" else snr) * u
    if K == 2:
        beta[1] = -beta[0]
    gate = gate_norm * v
    X = rng.standard_normal((n, d))
    logits = np.concatenate([X @ gate.T, np.zeros((n, 1))], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    cdf = np.cumsum(prob, axis=1)
    z = np.minimum((rng.uniform(size=(n, 1)) > cdf).sum(axis=1), K - 1)
    mean = np.einsum("nd,nd->n", X, beta[z])
    if expert == "linear":
        y = mean + noise_std * rng.standard_normal(n)
    else:
        y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-mean))).astype(np.float64)
    return PlantedModel(X=X, y=y, z=z, beta=beta, gate=gate)
