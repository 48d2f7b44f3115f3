"""solverhub entry point of the ``scaledgd-nystrom`` plugin (group ``solverhub``): the solvers
``scaledgd-nystrom``, ``scaledgd``, ``nora`` and ``lora`` and the problem kinds
``matrix_factorization`` and ``lora_finetune``. Importing it does not import torch."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"scaledgd-nystrom": f"{__package__}.scaledgd:ScaledGDNystrom",
            "scaledgd": f"{__package__}.scaledgd:ScaledGD", "nora": f"{__package__}.nora:Nora",
            "lora": f"{__package__}.nora:Lora"}


@hookimpl
def solverhub_problem_kinds():
    return {"matrix_factorization": f"{__package__}.factorization_kind:MatrixFactorization",
            "lora_finetune": f"{__package__}.lora_kind:LoraFinetune"}
