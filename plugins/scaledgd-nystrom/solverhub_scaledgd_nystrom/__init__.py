"""ScaledGD with Nyström initialization and NoRA (arXiv 2410.18965) as a solverhub plugin, with the
problem kinds ``matrix_factorization`` and ``lora_finetune``. Importing it does not import torch."""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["MatrixFactorization", "LoraFinetune", "ScaledGD", "ScaledGDNystrom", "ScaledGDOptions",
           "NystromOptions", "Nora", "Lora", "NoraOptions", "LoraOptions", "apply_nora_", "nystrom_adapter",
           "standard_adapter", "nora_plus_precondition", "pretrained_weights", "mlp_forward"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "MatrixFactorization": ".factorization_kind",
    "LoraFinetune": ".lora_kind",
    "mlp_forward": ".lora_kind",
    "pretrained_weights": ".lora_kind",
    "Lora": ".nora",
    "LoraOptions": ".nora",
    "Nora": ".nora",
    "NoraOptions": ".nora",
    "apply_nora_": ".nora",
    "nora_plus_precondition": ".nora",
    "nystrom_adapter": ".nora",
    "standard_adapter": ".nora",
    "NystromOptions": ".scaledgd",
    "ScaledGD": ".scaledgd",
    "ScaledGDNystrom": ".scaledgd",
    "ScaledGDOptions": ".scaledgd",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
