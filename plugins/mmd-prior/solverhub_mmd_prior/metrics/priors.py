"""Latent priors (numpy): ``dim``, ``sample(n, rng) -> (n, dim)``, ``marginal_cdf(values, i)`` and
``moments()``; and the per-dimension Kolmogorov-Smirnov distance to their marginals.
"""
from __future__ import annotations

__all__ = ["GaussianPrior", "UniformPrior", "MixturePrior", "ks_distance", "ks_to_prior"]

from dataclasses import dataclass

import numpy as np


def _vec(value, dim: int, what: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (dim,)).copy()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite")
    return arr


@dataclass(frozen=True, eq=False)
class GaussianPrior:
    """Factorised Gaussian N(mean, diag(std^2)); ``mean``/``std`` scalars or length-dim arrays."""

    dim: int
    mean: np.ndarray | float = 0.0
    std: np.ndarray | float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "mean", _vec(self.mean, self.dim, "mean"))
        object.__setattr__(self, "std", _vec(self.std, self.dim, "std"))
        if np.any(self.std <= 0):
            raise ValueError("std must be > 0")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mean + self.std * rng.standard_normal((n, self.dim))

    def marginal_cdf(self, values, i: int):
        from scipy.special import ndtr          # the normal CDF; scipy loads on first use
        return ndtr((np.asarray(values, dtype=np.float64) - self.mean[i]) / self.std[i])

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean.copy(), self.std ** 2


@dataclass(frozen=True, eq=False)
class UniformPrior:
    """Uniform on the box [low, high]^dim (scalars or length-dim arrays)."""

    dim: int
    low: np.ndarray | float = -1.0
    high: np.ndarray | float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "low", _vec(self.low, self.dim, "low"))
        object.__setattr__(self, "high", _vec(self.high, self.dim, "high"))
        if np.any(self.high <= self.low):
            raise ValueError("need low < high in every dimension")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.low + (self.high - self.low) * rng.random((n, self.dim))

    def marginal_cdf(self, values, i: int):
        return np.clip((np.asarray(values, dtype=np.float64) - self.low[i]) / (self.high[i] - self.low[i]), 0.0, 1.0)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.low + self.high) / 2, (self.high - self.low) ** 2 / 12


@dataclass(frozen=True, eq=False)
class MixturePrior:
    """Gaussian mixture sum_c w_c N(means[c], std_c^2 I); ``means`` (components, dim)."""

    means: np.ndarray
    std: np.ndarray | float = 0.5
    weights: np.ndarray | None = None

    def __post_init__(self):
        means = np.asarray(self.means, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape (components, dim), got {means.shape}")
        c = means.shape[0]
        std = _vec(self.std, c, "std")
        weights = np.full(c, 1.0 / c) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if np.any(std <= 0) or weights.shape != (c,) or np.any(weights < 0) or not weights.sum() > 0:
            raise ValueError("mixture: std > 0, and one non-negative weight per component")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "weights", weights / weights.sum())

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        comp = rng.choice(self.means.shape[0], size=n, p=self.weights)
        return self.means[comp] + self.std[comp][:, None] * rng.standard_normal((n, self.dim))

    def marginal_cdf(self, values, i: int):
        from scipy.special import ndtr
        v = np.asarray(values, dtype=np.float64)[..., None]
        return np.sum(self.weights * ndtr((v - self.means[:, i]) / self.std), axis=-1)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.weights @ self.means
        second = self.weights @ (self.means ** 2 + (self.std ** 2)[:, None])
        return mean, second - mean ** 2


def ks_distance(values, cdf) -> float:
    """sup_t |F_n(t) - F(t)| of the sample ``values`` (1-d) against the CDF ``cdf`` (exact)."""
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    n = v.size
    if n == 0:
        raise ValueError("ks_distance: empty sample")
    f = np.asarray(cdf(v), dtype=np.float64)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def ks_to_prior(z, prior) -> np.ndarray:
    """Per-dimension KS distance of the columns of ``z`` (n, dim) to the prior's marginals."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != prior.dim:
        raise ValueError(f"ks_to_prior: z must have shape (n, {prior.dim}), got {z.shape}")
    return np.array([ks_distance(z[:, i], lambda t, i=i: prior.marginal_cdf(t, i)) for i in range(prior.dim)])
