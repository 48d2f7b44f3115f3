"""Entry point ``adagrad`` (group ``solverhub``): registers the solvers ``adagrad`` and ``sgd``."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"adagrad": f"{__package__}.adagrad:AdaGrad", "sgd": f"{__package__}.sgd:SGD"}
