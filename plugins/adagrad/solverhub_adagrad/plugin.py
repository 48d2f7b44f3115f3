"""Entry point ``adagrad`` (group ``solverhub``): registers the solvers ``adagrad`` and ``sgd``."""
from __future__ import annotations

from solverhub import hookimpl

from .adagrad import AdaGrad
from .sgd import SGD


@hookimpl
def solverhub_solvers():
    return [AdaGrad, SGD]
