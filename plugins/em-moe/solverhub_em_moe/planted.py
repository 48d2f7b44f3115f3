"""The planted-model generator of ``kind: mixture_of_experts`` (numpy, seeded).

``planted: {n, d, snr, gate_norm, seed}`` draws, with ``rng = numpy.random.default_rng(seed)``
and in this order:

1. expert directions ``u_k`` (K x d standard normal rows, each scaled to norm 1);
2. gate directions ``v_j`` ((K-1) x d standard normal rows, each scaled to norm 1);
3. ``X``: n x d standard normal;
4. ``z_i`` ~ Categorical(softmax([W* x_i; 0])) by inverse CDF of one uniform per row;
5. ``y_i = beta*_{z_i}ᵀ x_i + noise_std * eps_i`` (linear, eps ~ N(0, 1)) or
   ``y_i ~ Bernoulli(sigmoid(beta*_{z_i}ᵀ x_i))`` (logistic, one uniform per row).

Truth: ``W*_j = gate_norm * v_j`` (expert K is the gate's reference, logit 0) and
``beta*_k = snr * noise_std * u_k`` (linear; snr = ‖beta*_k‖ / noise_std) or
``snr * u_k`` (logistic: snr = ‖beta*_k‖, the logit scale). With K = 2 the experts
are the paper's symmetric pair: ``beta*_2 = -beta*_1`` (u_2 is drawn but unused), so
``P(z = 1 | x) = sigmoid(w*ᵀx)`` and ``y = z beta*ᵀx + eps`` with z = ±1 (SymMoLinE /
SymMoLogE of arXiv 2411.06056).
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
    """Draw (X, y) and the planted parameters; see the module docstring for the definition."""
    rng = np.random.default_rng(seed)
    K = int(experts)
    u = _unit_rows(rng, K, d)
    v = _unit_rows(rng, K - 1, d)
    scale = snr * noise_std if expert == "linear" else snr
    beta = scale * u
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
