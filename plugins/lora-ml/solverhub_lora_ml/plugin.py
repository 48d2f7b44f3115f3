"""solverhub entry point of the ``lora-ml`` plugin (group ``solverhub``): the solvers
``lora-ml`` and ``retrain-standard`` and the problem kind ``lora_meta``. Nothing heavy is
imported until a solver or a problem is used, so ``solverhub list`` stays fast."""
from __future__ import annotations

from solverhub.plugin import hookimpl


@hookimpl
def solverhub_solvers():
    from .baseline import RetrainStandard
    from .lora_ml import LoraML
    return [LoraML, RetrainStandard]


@hookimpl
def solverhub_problem_kinds():
    from .kind import LoraMeta
    return [LoraMeta]
