"""Entry point of the ``mmd-prior`` plugin: the solvers ``mmd-prior``, ``kl-vae``, ``autoencoder`` and
``kind: latent_prior`` (loaded only when the registry asks, so ``solverhub list`` stays fast)."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"mmd-prior": f"{__package__}.solvers:MMDPrior", "kl-vae": f"{__package__}.solvers:KLVAE",
            "autoencoder": f"{__package__}.solvers:Autoencoder"}


@hookimpl
def solverhub_problem_kinds():
    return {"latent_prior": f"{__package__}.kind:LatentPrior"}
