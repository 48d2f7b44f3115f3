"""Entry point ``qn-hpe = "solverhub_qn_hpe.plugin"``: registers ``qn-hpe``,
``extragradient`` and ``gda``. Importing it does not import torch."""
from __future__ import annotations

from solverhub import hookimpl

from .extragradient import Extragradient
from .gda import GDA
from .qn_hpe import QNHPE


@hookimpl
def solverhub_solvers():
    return [QNHPE, Extragradient, GDA]
