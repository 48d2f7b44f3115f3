"""Factor recovery for data with known generating factors (a simple score, not MIG/DCI)."""
from __future__ import annotations

__all__ = ["factor_recovery"]

import numpy as np


def factor_recovery(z, factors) -> np.ndarray:
    """For each factor (column of ``factors``, shape (n, k)), the largest |Pearson correlation|
    with any latent dimension (column of ``z``, shape (n, d)). 1: some latent is an affine
    function of the factor; about 0: no latent tracks it linearly."""
    z, s = np.asarray(z, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    if z.ndim != 2 or s.ndim != 2 or z.shape[0] != s.shape[0]:
        raise ValueError(f"factor_recovery: z (n, d) and factors (n, k) with the same n, got {z.shape}, {s.shape}")
    zc, sc = z - z.mean(0), s - s.mean(0)
    zn, sn = np.linalg.norm(zc, axis=0), np.linalg.norm(sc, axis=0)
    corr = (sc.T @ zc) / np.maximum(np.outer(sn, zn), 1e-300)
    corr[:, zn <= 1e-12] = 0.0
    return np.abs(corr).max(axis=1)
