"""MinNorm-OG unlearning (arXiv 2505.22601), the ``unlearning`` problem kind and the
paper's cheap baselines as a solverhub plugin. Importing it does not import torch;
the kind (``Unlearning``) is imported on first access."""
from __future__ import annotations

__all__ = ["MinNormOG", "MinNormOGOptions", "Retrain", "GDRetain", "GAForget", "NegGradPlus",
           "NegGradPlusOptions", "StepOptions", "Unlearning", "orthogonal_step", "null_component"]
__version__ = "0.1.0"

from .baselines import GAForget, GDRetain, NegGradPlus, NegGradPlusOptions, Retrain, StepOptions
from .minnorm_og import MinNormOG, MinNormOGOptions, null_component, orthogonal_step


def __getattr__(name):
    if name == "Unlearning":
        from .kind import Unlearning
        return Unlearning
    raise AttributeError(name)
