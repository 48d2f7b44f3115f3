"""The mixture-of-experts likelihood in torch, on flat parameters (``beta`` then ``gate``):

    pi_k(x; W) = softmax([W x; 0])_k (expert K the reference), W: (K-1, d)
    p_k(y | x; beta_k) = N(y; beta_kᵀx, noise_std²) (linear) or sigmoid((2y - 1) beta_kᵀx) (logistic)
    NLL(theta) = -(1/n) sum_i log sum_k pi_k(x_i) p_k(y_i | x_i)

Symmetric (K = 2, arXiv 2411.06056's SymMoLinE / SymMoLogE): beta (d,), gate (d,), experts ±beta.
"""
from __future__ import annotations

__all__ = ["MoEConfig", "MoEModel", "variable_shapes"]

import math
from dataclasses import dataclass
from typing import Any

from solverhub.plugin import lazy_module

torch = lazy_module("torch")


@dataclass(frozen=True)
class MoEConfig:
    experts: int
    expert: str             # "linear" | "logistic"
    symmetric: bool
    noise_std: float        # linear experts' known noise level (1.0 for logistic, unused)
    d: int


def variable_shapes(cfg: MoEConfig) -> dict[str, tuple[int, ...]]:
    if cfg.symmetric:
        return {"beta": (cfg.d,), "gate": (cfg.d,)}
    return {"beta": (cfg.experts, cfg.d), "gate": (cfg.experts - 1, cfg.d)}


@dataclass
class MoEModel:
    """Data on a device plus the likelihood; ``truth`` is the planted flat vector (numpy) or None."""

    cfg: MoEConfig
    X: Any                  # (n, d) tensor
    y: Any                  # (n,) tensor; logistic: 0/1
    truth: Any = None

    # -- parameters --------------------------------------------------------
    def split(self, x):
        """(B, W): all experts' coefficients (K, d) and the gate rows (K-1, d)."""
        cfg = self.cfg
        nb = cfg.d if cfg.symmetric else cfg.experts * cfg.d
        beta, gate = x[:nb], x[nb:]
        if cfg.symmetric:
            return torch.stack([beta, -beta]), gate.reshape(1, cfg.d)
        return beta.reshape(cfg.experts, cfg.d), gate.reshape(cfg.experts - 1, cfg.d)

    def join(self, B, W):
        """Inverse of :meth:`split` (symmetric: B's first row is beta)."""
        if self.cfg.symmetric:
            return torch.cat([B[0], W.reshape(-1)])
        return torch.cat([B.reshape(-1), W.reshape(-1)])

    # -- likelihood --------------------------------------------------------
    def log_gate(self, W, X):
        logits = torch.cat([X @ W.T, torch.zeros(X.shape[0], 1, dtype=X.dtype, device=X.device)], dim=1)
        return torch.log_softmax(logits, dim=1)

    def log_expert(self, B, X, y):
        """log p_k(y_i | x_i), (n, K)."""
        m = X @ B.T
        if self.cfg.expert == "linear":
            s = self.cfg.noise_std
            return -0.5 * ((y[:, None] - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        return torch.nn.functional.logsigmoid((2 * y[:, None] - 1) * m)

    def log_joint(self, x, rows=None):
        """log pi_k(x_i) + log p_k(y_i | x_i), (n, K)."""
        X, y = (self.X, self.y) if rows is None else (self.X.index_select(0, rows), self.y.index_select(0, rows))
        B, W = self.split(x)
        return self.log_gate(W, X) + self.log_expert(B, X, y)

    def nll(self, x, rows=None):
        return -torch.logsumexp(self.log_joint(x, rows), dim=1).mean()

    objective = nll         # the kind's objective (ModelKind.torch_model's contract)

    def posterior(self, x):
        """E-step: responsibilities r_ik = P(z_i = k | x_i, y_i; theta), (n, K)."""
        return torch.softmax(self.log_joint(x), dim=1)

    def expected_complete_nll(self, x, r):
        """Q(theta | r) = -(1/n) sum_ik r_ik log p(y_i, z_i = k | x_i; theta): EM's surrogate."""
        return -(r * self.log_joint(x)).sum(dim=1).mean()

    def predict(self, x):
        """Mixture mean E[y | x] (linear) or P(y = 1 | x) (logistic), (n,)."""
        B, W = self.split(x)
        pi = torch.exp(self.log_gate(W, self.X))
        m = self.X @ B.T
        return (pi * (m if self.cfg.expert == "linear" else torch.sigmoid(m))).sum(dim=1)
