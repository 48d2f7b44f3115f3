"""Entry point of the ``em-moe`` plugin: the solver ``em-moe`` and ``kind: mixture_of_experts``
(imported only when a problem is loaded, so ``solverhub list`` stays fast)."""
from __future__ import annotations

from solverhub.plugin import hookimpl


@hookimpl
def solverhub_solvers():
    from .em import EMMoE
    return [EMMoE]


@hookimpl
def solverhub_problem_kinds():
    from .kind import MixtureOfExperts
    return [MixtureOfExperts]
