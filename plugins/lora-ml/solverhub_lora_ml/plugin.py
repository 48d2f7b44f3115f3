"""solverhub entry point of the ``lora-ml`` plugin: the solvers ``lora-ml`` and
``retrain-standard`` and the kind ``lora_meta``, imported only when a hook asks."""
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
