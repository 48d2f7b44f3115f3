"""Latent Predictability Score (LPS), arXiv 2510.11953 Sec. 4.1.

For each latent dimension i, the held-out R^2 of a regressor predicting z_i from z_{-i}; LPS is
the mean over i (lower: more independent dimensions). The paper: LightGBM ("LPS-lgbm") or an MLP
("LPS-mlp"), R^2 unclipped (it reports -0.05); no split or hyper-parameters given. Here: z
standardised per dimension, one seeded 50/50 split of at most ``max_points`` rows, and
``regressor`` "knn" (ours: k-nearest neighbours, k = 10, numpy only), "hgb" (scikit-learn's
HistGradientBoostingRegressor, the LightGBM algorithm) or "mlp" (scikit-learn's MLPRegressor, one
hidden layer of 64); ``clip`` (ours, default) clips each R^2 at 0. Details and the known blind spot
(a rotated uniform square scores ~0): docs/methods/mmd-prior.md.
"""
from __future__ import annotations

__all__ = ["lps", "lps_summary", "REGRESSORS"]

import numpy as np


REGRESSORS = ("knn", "hgb", "mlp")


def _sklearn_fit_predict(regressor: str, features, target, held, seed: int):
    """Held-out predictions of scikit-learn's regressor (imported here: the paper's LPS variants)."""
    import warnings

    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    model = (HistGradientBoostingRegressor(random_state=seed) if regressor == "hgb"
             else MLPRegressor(hidden_layer_sizes=(64,), max_iter=500, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(features, target).predict(held)


def lps(z, *, k: int = 10, seed: int = 0, split: float = 0.5, max_points: int = 4000, regressor: str = "knn",
        clip: bool = True) -> np.ndarray:
    """``z`` (n, dims) -> (dims,): per dimension, the held-out R^2 of z_i from z_{-i} (clipped at 0 if ``clip``)."""
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
    if regressor not in REGRESSORS:
        raise ValueError(f"lps: regressor must be one of {REGRESSORS}, got {regressor!r}")
    order = np.random.default_rng(seed).permutation(n)[:max_points]
    n_fit = int(round(split * order.size))
    if n_fit < k or order.size - n_fit < 2:
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
    for i in np.flatnonzero(live):         # a constant dimension scores 0
        if regressor == "knn":
            sq = sq_all - (held[:, i][:, None] - fit[:, i][None, :]) ** 2
            nearest = np.argpartition(sq, k - 1, axis=1)[:, :k]
            pred = fit[nearest, i].mean(axis=1)
        else:
            rest = np.arange(dims) != i
            pred = _sklearn_fit_predict(regressor, fit[:, rest], fit[:, i], held[:, rest], seed)
        target = held[:, i]
        sst = np.sum((target - target.mean()) ** 2)
        r2 = 1.0 - np.sum((target - pred) ** 2) / sst if sst > 0 else 0.0          # R^2 as sklearn's r2_score
        scores[i] = max(0.0, r2) if clip else r2
    return scores


def lps_summary(z, **kwargs) -> dict:
    """``{"mean": LPS (the paper's score), "max": the most predictable dimension's R^2}``."""
    scores = lps(z, **kwargs)
    return {"mean": float(scores.mean()), "max": float(scores.max())}
