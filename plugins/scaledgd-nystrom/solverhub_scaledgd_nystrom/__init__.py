"""ScaledGD with Nyström initialization and NoRA (arXiv 2410.18965) as a solverhub plugin, with the
problem kinds ``matrix_factorization`` and ``lora_finetune``. Importing it does not import torch."""
from __future__ import annotations

__all__ = ["MatrixFactorization", "LoraFinetune", "ScaledGD", "ScaledGDNystrom", "ScaledGDOptions",
           "NystromOptions", "Nora", "Lora", "NoraOptions", "LoraOptions", "apply_nora_", "nystrom_adapter",
           "standard_adapter", "nora_plus_precondition", "pretrained_weights", "mlp_forward"]
__version__ = "0.1.0"

from .factorization_kind import MatrixFactorization
from .lora_kind import LoraFinetune, mlp_forward, pretrained_weights
from .nora import (Lora, LoraOptions, Nora, NoraOptions, apply_nora_, nora_plus_precondition, nystrom_adapter,
                   standard_adapter)
from .scaledgd import NystromOptions, ScaledGD, ScaledGDNystrom, ScaledGDOptions
