"""Entry point ``odog`` (group ``solverhub``): registers ``o2nc`` and ``odog``."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"o2nc": f"{__package__}.o2nc:O2NC", "odog": f"{__package__}.odog:ODOG"}
