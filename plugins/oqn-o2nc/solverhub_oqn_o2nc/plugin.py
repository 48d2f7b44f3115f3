"""solverhub entry point of the ``oqn-o2nc`` plugin (group ``solverhub``)."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"oqn-o2nc": f"{__package__}.solver:OQNO2NC"}
