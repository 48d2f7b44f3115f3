"""solverhub entry point of the ``mmd-prior`` plugin (group ``solverhub``): the solvers
``mmd-prior``, ``kl-vae``, ``autoencoder`` and the problem kind ``latent_prior``. Modules load
only when the registry asks for them, so ``solverhub list`` stays fast."""
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
