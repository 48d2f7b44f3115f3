"""solverhub entry point of the ``bfgs-wolfe`` plugin (group ``solverhub``)."""
from __future__ import annotations

from solverhub.plugin import hookimpl

from .bfgs import BFGSWolfe


@hookimpl
def solverhub_solvers():
    return [BFGSWolfe]
