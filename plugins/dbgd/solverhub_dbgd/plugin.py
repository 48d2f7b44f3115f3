"""Entry point ``dbgd`` (group ``solverhub``): registers ``dbgd`` and ``penalty-gd``."""
from __future__ import annotations

from solverhub import hookimpl


@hookimpl
def solverhub_solvers():
    from .dbgd import DBGD
    from .penalty import PenaltyGD
    return [DBGD, PenaltyGD]
