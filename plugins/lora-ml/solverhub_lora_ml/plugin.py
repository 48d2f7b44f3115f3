"""solverhub entry point of the ``lora-ml`` plugin: the solvers ``lora-ml`` and
``retrain-standard`` and the kind ``lora_meta``, imported only when a hook asks."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"lora-ml": f"{__package__}.lora_ml:LoraML",
            "retrain-standard": f"{__package__}.baseline:RetrainStandard"}


@hookimpl
def solverhub_problem_kinds():
    return {"lora_meta": f"{__package__}.kind:LoraMeta"}
