"""Entry point ``dbgd`` (group ``solverhub``): registers ``dbgd`` and ``penalty-gd``."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"dbgd": f"{__package__}.dbgd:DBGD", "penalty-gd": f"{__package__}.penalty:PenaltyGD"}
