"""Entry point of the ``em-moe`` plugin: the solver ``em-moe`` and ``kind: mixture_of_experts``
(imported only when a problem is loaded, so ``solverhub list`` stays fast)."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"em-moe": f"{__package__}.em:EMMoE"}


@hookimpl
def solverhub_problem_kinds():
    return {"mixture_of_experts": f"{__package__}.kind:MixtureOfExperts"}
