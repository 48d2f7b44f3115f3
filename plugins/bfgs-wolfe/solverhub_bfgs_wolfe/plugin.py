"""solverhub entry point of the ``bfgs-wolfe`` plugin (group ``solverhub``)."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"bfgs-wolfe": f"{__package__}.bfgs:BFGSWolfe"}
