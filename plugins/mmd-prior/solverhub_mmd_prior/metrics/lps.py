"""Latent Predictability Score (LPS), arXiv 2510.11953 -- reconstructed.

The paper (per its public reviews; no code was released) defines, for each latent
dimension i, a regressor predicting z_i from the other dimensions z_{-i}; the score is its
held-out R^2, clipped at 0, and LPS is the mean over i. Lower means the dimensions are
less predictable from each other (more independent). Neither the regressor family, the
split nor mean-vs-max is specified anywhere we found, so this module fixes them
(reconstruction, see docs/methods/mmd-prior.md):

* z is standardised per dimension (mean 0, std 1; a constant dimension scores 0);
* one random 50/50 split of the rows (``seed``): fit on one half, score on the other;
* the regressor is k-nearest-neighbour regression (uniform weights, ``k=10``, Euclidean
  distance on the standardised z_{-i}), so that nonlinear dependence (z_2 = z_1^2) counts;
* R^2 = 1 - SSE / SST on the held-out half (SST around the held-out mean, as sklearn's
  ``r2_score``), clipped at 0; with one dimension there is nothing to predict from: 0.
* at most ``max_points`` rows are used (a random subset), so the cost stays
  O(max_points^2 * dims).

Known blind spot (the method note's caveat): dependence that does not move the
conditional mean (a rotated uniform square) scores only ~0.04.
"""
from __future__ import annotations

__all__ = ["lps", "lps_summary"]

import numpy as np


def lps(z, *, k: int = 10, seed: int = 0, split: float = 0.5, max_points: int = 4000) -> np.ndarray:
    """Per-dimension held-out R^2 (clipped at 0) of predicting z_i from z_{-i} by kNN.

    ``z``: array of shape (n, dims). Returns a float64 array of shape (dims,).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"lps: z must have shape (n, dims), got {z.shape}")
    n, dims = z.shape
    if not np.all(np.isfinite(z)):
        raise ValueError("lps: z has non-finite entries")
    if not 0 < split < 1:
        raise ValueError(f"lps: split must be in (0, 1), got {split}")
    if k < 1:
        raise ValueError(f"lps: k must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)[:max_points]
    n_used = order.size
    n_fit = int(round(split * n_used))
    if n_fit < k or n_used - n_fit < 2:
        raise ValueError(f"lps: need at least {k} fitting rows and 2 held-out rows, got {n} rows")
    scores = np.zeros(dims)
    if dims < 2:
        return scores
    std = z.std(axis=0)
    live = std > 1e-12 * (1.0 + np.abs(z).max())
    zs = np.zeros_like(z)
    zs[:, live] = (z[:, live] - z[:, live].mean(axis=0)) / std[live]
    fit, held = zs[order[:n_fit]], zs[order[n_fit:]]
    # squared distances over all dimensions; the distance over z_{-i} subtracts dimension i's term
    sq_all = (np.sum(held ** 2, axis=1)[:, None] + np.sum(fit ** 2, axis=1)[None, :] - 2.0 * held @ fit.T)
    kk = min(k, n_fit)
    for i in range(dims):
        if not live[i]:
            continue
        sq = sq_all - (held[:, i][:, None] - fit[:, i][None, :]) ** 2
        nearest = np.argpartition(sq, kk - 1, axis=1)[:, :kk]
        pred = fit[nearest, i].mean(axis=1)
        target = held[:, i]
        sst = np.sum((target - target.mean()) ** 2)
        r2 = 1.0 - np.sum((target - pred) ** 2) / sst if sst > 0 else 0.0
        scores[i] = max(0.0, r2)
    return scores


def lps_summary(z, **kwargs) -> dict:
    """``{"mean": LPS (the paper's score), "max": the most predictable dimension's R^2}``."""
    scores = lps(z, **kwargs)
    return {"mean": float(scores.mean()), "max": float(scores.max())}
