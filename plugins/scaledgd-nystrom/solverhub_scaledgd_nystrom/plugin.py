"""solverhub entry point of the ``scaledgd-nystrom`` plugin (group ``solverhub``): the solvers
``scaledgd-nystrom``, ``scaledgd``, ``nora`` and ``lora`` and the problem kinds
``matrix_factorization`` and ``lora_finetune``. Importing it does not import torch."""
from __future__ import annotations

from solverhub.plugin import hookimpl

from .factorization_kind import MatrixFactorization
from .lora_kind import LoraFinetune
from .nora import Lora, Nora
from .scaledgd import ScaledGD, ScaledGDNystrom


@hookimpl
def solverhub_solvers():
    return [ScaledGDNystrom, ScaledGD, Nora, Lora]


@hookimpl
def solverhub_problem_kinds():
    return [MatrixFactorization, LoraFinetune]
