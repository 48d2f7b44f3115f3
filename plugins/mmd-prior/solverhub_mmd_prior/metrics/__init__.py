"""Metrics for latent representations, usable on any array of latents (numpy in, numpy out).

* :func:`lps` -- the Latent Predictability Score of arXiv 2510.11953 (reconstructed: per
  dimension, the held-out R^2 of a k-nearest-neighbour regression of z_i on z_{-i});
  :func:`lps_summary` gives its mean and max.
* :func:`mmd2` -- the unbiased squared MMD with a sum of RBF kernels (numpy);
  :func:`mmd2_torch` is the same formula on torch tensors (differentiable, for training).
* :func:`ks_distance` / :func:`ks_to_prior` -- per-dimension Kolmogorov-Smirnov distance to a
  marginal CDF / to a prior's marginals; priors: :class:`GaussianPrior`, :class:`UniformPrior`,
  :class:`MixturePrior`.
* :func:`factor_recovery` -- max |correlation| of each known factor with any latent dimension.

Importing this package imports neither torch nor scipy (the names load on first access)::

    import numpy as np
    from solverhub_mmd_prior.metrics import lps
    z = np.random.default_rng(0).standard_normal((2000, 3))
    lps(z)          # array of 3 values, all about 0: independent dimensions
"""
from __future__ import annotations

__all__ = ["lps", "lps_summary", "mmd2", "mmd2_torch", "rbf_bandwidths", "ks_distance", "ks_to_prior",
           "GaussianPrior", "UniformPrior", "MixturePrior", "factor_recovery"]

_LAZY = {"lps": ".lps", "lps_summary": ".lps",
         "mmd2": ".mmd", "mmd2_torch": ".mmd", "rbf_bandwidths": ".mmd",
         "ks_distance": ".priors", "ks_to_prior": ".priors", "GaussianPrior": ".priors",
         "UniformPrior": ".priors", "MixturePrior": ".priors", "factor_recovery": ".factors"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        # importing the submodule ``lps`` binds the package attribute ``lps`` to the module;
        # rebind it to the function so that ``from solverhub_mmd_prior.metrics import lps`` gives the function
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
