"""solverhub entry point of the ``oqn-o2nc`` plugin (group ``solverhub``)."""
from __future__ import annotations

from solverhub.plugin import hookimpl

from .solver import OQNO2NC


@hookimpl
def solverhub_solvers():
    return [OQNO2NC]
