"""Entry point of the ``mmd-prior`` plugin: the solvers ``mmd-prior``, ``kl-vae``, ``autoencoder`` and
``kind: latent_prior`` (loaded only when the registry asks, so ``solverhub list`` stays fast)."""
from __future__ import annotations

from solverhub.plugin import hookimpl


@hookimpl
def solverhub_solvers():
    from .solvers import KLVAE, Autoencoder, MMDPrior
    return [MMDPrior, KLVAE, Autoencoder]


@hookimpl
def solverhub_problem_kinds():
    from .kind import LatentPrior
    return [LatentPrior]
