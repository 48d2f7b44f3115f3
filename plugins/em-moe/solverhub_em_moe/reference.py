"""A numpy NLL and gradient of the mixture of experts, written independently of the
torch model: the classical baseline (L-BFGS-B on the NLL) uses it, and the tests
check the torch objective against it. Also: parameter error up to sign/permutation."""
from __future__ import annotations

__all__ = ["nll_and_grad", "expand", "equivalent_truths", "parameter_error"]

import itertools
import math

import numpy as np

MAX_ENUMERATED_EXPERTS = 6     # above: the permutation is chosen by Hungarian matching


def expand(theta, cfg):
    """Flat parameters -> (B (K, d), W (K-1, d))."""
    theta = np.asarray(theta, dtype=np.float64)
    d, K = cfg.d, cfg.experts
    if cfg.symmetric:
        beta, w = theta[:d], theta[d:]
        return np.stack([beta, -beta]), w.reshape(1, d)
    return theta[:K * d].reshape(K, d), theta[K * d:].reshape(K - 1, d)


def _flat(B, W):
    return np.concatenate([B.ravel(), W.ravel()])


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll_and_grad(theta, X, y, cfg):
    """(NLL, gradient) at the flat theta, in numpy float64."""
    B, W = expand(theta, cfg)
    n = X.shape[0]
    logits = np.concatenate([X @ W.T, np.zeros((n, 1))], axis=1)
    log_pi = _log_softmax(logits)
    m = X @ B.T
    if cfg.expert == "linear":
        s = cfg.noise_std
        log_p = -0.5 * ((y[:, None] - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        dlog_p = (y[:, None] - m) / s ** 2                       # d log p_k / d m_k
    else:
        sign = (2 * y - 1)[:, None]
        log_p = -np.logaddexp(0.0, -sign * m)
        dlog_p = y[:, None] - 1.0 / (1.0 + np.exp(-m))
    L = log_pi + log_p
    top = L.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(L - top).sum(axis=1))
    r = np.exp(L - lse[:, None])
    gB = -(r * dlog_p).T @ X / n                                  # (K, d)
    gW = -(r - np.exp(log_pi))[:, :-1].T @ X / n                  # (K-1, d)
    value = -lse.mean()
    if cfg.symmetric:
        return value, np.concatenate([gB[0] - gB[1], gW[0]])
    return value, _flat(gB, gW)


def _relabel(B, W, perm):
    """The same model with expert k called perm[k]: rows permuted, gate re-referenced."""
    L = np.concatenate([W, np.zeros((1, W.shape[1]))])[list(perm)]
    return B[list(perm)], L[:-1] - L[-1]


def equivalent_truths(truth, cfg):
    """Every flat parameter vector describing the same model as ``truth``
    (symmetric: ±; general: the K! relabellings, or None when K is too large)."""
    truth = np.asarray(truth, dtype=np.float64)
    if cfg.symmetric:
        return [truth, -truth]
    if cfg.experts > MAX_ENUMERATED_EXPERTS:
        return None
    B, W = expand(truth, cfg)
    return [_flat(*_relabel(B, W, perm)) for perm in itertools.permutations(range(cfg.experts))]


def _hungarian_truth(theta, truth, cfg):
    """The relabelling of ``truth`` nearest ``theta``: Hungarian matching on the experts and centred gate logits."""
    from scipy.optimize import linear_sum_assignment
    (B, W), (Bt, Wt) = expand(theta, cfg), expand(truth, cfg)
    Lc, Ltc = (np.r_[V, np.zeros((1, V.shape[1]))] for V in (W, Wt))
    Lc, Ltc = Lc - Lc.mean(0), Ltc - Ltc.mean(0)
    cost = ((B[:, None] - Bt[None]) ** 2).sum(-1) + ((Lc[:, None] - Ltc[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return _flat(*_relabel(Bt, Wt, cols[np.argsort(rows)]))


def parameter_error(theta, truth, cfg) -> dict:
    """min over the model's symmetries of ‖theta - truth'‖ (and its beta / gate parts)."""
    theta = np.asarray(theta, dtype=np.float64)
    candidates = equivalent_truths(truth, cfg)
    if candidates is None:
        candidates = [_hungarian_truth(theta, truth, cfg)]
    errors = [np.linalg.norm(theta - t) for t in candidates]
    best = int(np.argmin(errors))
    t = candidates[best]
    nb = cfg.d if cfg.symmetric else cfg.experts * cfg.d
    return {"param_error": float(errors[best]),
            "param_error_relative": float(errors[best] / max(np.linalg.norm(t), 1e-300)),
            "beta_error": float(np.linalg.norm(theta[:nb] - t[:nb])),
            "gate_error": float(np.linalg.norm(theta[nb:] - t[nb:]))}
