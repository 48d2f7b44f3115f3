"""Entry point ``gala`` (group ``solverhub``): registers the solver ``gala``."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"gala": f"{__package__}.gala:GALA"}
