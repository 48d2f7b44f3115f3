"""Programmable latent priors by MMD (arXiv 2510.11953): ``kind: latent_prior`` and the solvers ``mmd-prior``,
``kl-vae`` and ``autoencoder``. Importing this package imports neither torch nor numpy (names load on access)."""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["MMDPrior", "KLVAE", "Autoencoder", "LatentPrior", "factor_dataset"]
__version__ = "0.1.0"

_LAZY = {"MMDPrior": ".solvers", "KLVAE": ".solvers", "Autoencoder": ".solvers",
         "LatentPrior": ".kind", "factor_dataset": ".data"}


__getattr__ = lazy_attributes(__name__, _LAZY)
