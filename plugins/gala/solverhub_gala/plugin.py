"""Entry point ``gala`` (group ``solverhub``): registers the solver ``gala``."""
from __future__ import annotations

from solverhub import hookimpl

from .gala import GALA


@hookimpl
def solverhub_solvers():
    return [GALA]
