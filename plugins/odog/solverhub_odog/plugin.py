"""Entry point ``odog`` (group ``solverhub``): registers ``o2nc`` and ``odog``."""
from __future__ import annotations

from solverhub import hookimpl


@hookimpl
def solverhub_solvers():
    from .o2nc import O2NC
    from .odog import ODOG
    return [O2NC, ODOG]
