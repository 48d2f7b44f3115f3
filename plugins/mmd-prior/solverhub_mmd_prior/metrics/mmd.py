"""Squared maximum mean discrepancy with a sum of RBF kernels k(a, b) = sum_h exp(-||a - b||^2 / (2 h^2)):

* ``estimator="unbiased"`` (Gretton et al. 2012, eq. 3; arXiv 2510.11953 eq. 4):
  MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j) - 2/(mn) sum_{i, j} k(x_i, y_j)
* ``estimator="biased"`` (the V-statistic arXiv 2510.11953 trains with, App. A.3):
  MMD^2_b = 1/m^2 sum_{i, j} k(x_i, x_j) + 1/n^2 sum_{i, j} k(y_i, y_j) - 2/(mn) sum_{i, j} k(x_i, y_j)

Bandwidths: ``bandwidth="fixed"``: h = scale * sqrt(dim), scales (0.2, 0.5, 1, 2, 5) (ours);
``bandwidth="median"`` (the paper's, App. A.3): h = scale * the median pairwise distance of the
joint sample [x; y] (over pairs i < j, the lower median as ``torch.median``; held constant in the
gradient), scales (0.5, 1, 2). :func:`mmd2` is numpy float64; :func:`mmd2_torch` the same on torch tensors.
"""
from __future__ import annotations

__all__ = ["mmd2", "mmd2_torch", "rbf_bandwidths", "DEFAULT_SCALES", "PAPER_SCALES", "ESTIMATORS", "BANDWIDTHS"]

import math

import numpy as np

from solverhub.plugin import lazy_module

torch = lazy_module("torch")

DEFAULT_SCALES = (0.2, 0.5, 1.0, 2.0, 5.0)     # fixed rule: times sqrt(dim)
PAPER_SCALES = (0.5, 1.0, 2.0)                 # median rule: times the median pairwise distance
ESTIMATORS = ("unbiased", "biased")
BANDWIDTHS = ("fixed", "median")


def rbf_bandwidths(dim: int, scales=DEFAULT_SCALES) -> tuple[float, ...]:
    """The fixed rule's RBF bandwidths h = scale * sqrt(dim)."""
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if not scales or any(not s > 0 for s in scales):
        raise ValueError(f"bandwidth scales must be positive, got {scales}")
    return tuple(float(s) * math.sqrt(dim) for s in scales)


def _check(x, y, estimator, bandwidth):
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd2: x and y must be (m, d) and (n, d), got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("mmd2: need at least 2 samples on each side")
    if estimator not in ESTIMATORS or bandwidth not in BANDWIDTHS:
        raise ValueError(f"mmd2: estimator in {ESTIMATORS} and bandwidth in {BANDWIDTHS}, "
                         f"got {estimator!r}, {bandwidth!r}")


def _estimate(kernel, m: int, n: int, estimator: str):
    """MMD^2 from the summed kernel matrix of the joint sample [x; y] (numpy or torch)."""
    if estimator == "biased":
        return kernel[:m, :m].mean() + kernel[m:, m:].mean() - 2.0 * kernel[:m, m:].mean()
    diag = kernel.diagonal()
    k_xx = kernel[:m, :m].sum() - diag[:m].sum()
    k_yy = kernel[m:, m:].sum() - diag[m:].sum()
    return k_xx / (m * (m - 1)) + k_yy / (n * (n - 1)) - 2.0 * kernel[:m, m:].mean()


def mmd2(x, y, *, scales=None, estimator: str = "unbiased", bandwidth: str = "fixed") -> float:
    """MMD^2 between samples ``x`` (m, d) and ``y`` (n, d), numpy float64 (scales None: the rule's default)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    _check(x, y, estimator, bandwidth)
    z = np.concatenate([x, y])
    sq = (z * z).sum(1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    if bandwidth == "median":
        pairs = np.sort(np.sqrt(dist[np.triu_indices(z.shape[0], 1)]))
        base = pairs[(pairs.size - 1) // 2]
        hs = [float(s) * base for s in (PAPER_SCALES if scales is None else scales)]
    else:
        hs = rbf_bandwidths(x.shape[1], DEFAULT_SCALES if scales is None else scales)
    kernel = sum(np.exp(dist * (-1.0 / (2.0 * h * h))) for h in hs)
    return float(_estimate(kernel, x.shape[0], y.shape[0], estimator))


def mmd2_torch(x, y, *, scales=None, estimator: str = "unbiased", bandwidth: str = "fixed"):
    """The same MMD^2 on torch tensors (a 0-d tensor, differentiable, no host sync): one joint
    distance matrix and one summed kernel (fewer, larger ops; training calls it every step)."""
    _check(x, y, estimator, bandwidth)
    z = torch.cat([x, y])
    sq = (z * z).sum(1)
    dist = (sq[:, None] + sq[None, :] - 2 * z @ z.T).clamp_min(0.0)
    if bandwidth == "median":
        upper = torch.triu_indices(z.shape[0], z.shape[0], 1, device=z.device)
        base2 = dist.detach()[upper[0], upper[1]].median()        # median of d^2 = (median of d)^2
        return _estimate(sum((dist * (-1.0 / (2.0 * float(s) ** 2) / base2)).exp()
                             for s in (PAPER_SCALES if scales is None else scales)), x.shape[0], y.shape[0], estimator)
    kernel = sum((dist * (-1.0 / (2.0 * h * h))).exp()
                 for h in rbf_bandwidths(x.shape[1], DEFAULT_SCALES if scales is None else scales))
    return _estimate(kernel, x.shape[0], y.shape[0], estimator)
