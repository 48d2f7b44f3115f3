"""Metrics for latent representations (numpy in, numpy out): the LPS of arXiv 2510.11953
(reconstructed), unbiased MMD^2, KS distance to a prior's marginals, factor recovery.
Importing this package imports neither torch nor scipy (they load on first use).
"""
from __future__ import annotations

__all__ = ["lps", "lps_summary", "mmd2", "mmd2_torch", "rbf_bandwidths", "ks_distance", "ks_to_prior",
           "GaussianPrior", "UniformPrior", "MixturePrior", "factor_recovery"]

from .factors import factor_recovery
from .lps import lps, lps_summary                 # (rebinds ``lps`` from the submodule to the function)
from .mmd import mmd2, mmd2_torch, rbf_bandwidths   # torch: a lazy module
from .priors import GaussianPrior, MixturePrior, UniformPrior, ks_distance, ks_to_prior   # scipy: on first use
