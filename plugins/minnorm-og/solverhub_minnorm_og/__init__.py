"""MinNorm-OG unlearning (arXiv 2505.22601), the ``unlearning`` problem kind and the
paper's cheap baselines as a solverhub plugin. Importing it does not import torch;
the kind (``Unlearning``) is imported on first access."""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["MinNormOG", "MinNormOGOptions", "Retrain", "GDRetain", "GAForget", "NegGradPlus",
           "NegGradPlusOptions", "StepOptions", "Unlearning", "orthogonal_step", "null_component"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {**dict.fromkeys(("GAForget", "GDRetain", "NegGradPlus", "NegGradPlusOptions", "Retrain", "StepOptions"),
                         ".baselines"),
         **dict.fromkeys(("MinNormOG", "MinNormOGOptions", "null_component", "orthogonal_step"), ".minnorm_og"),
         "Unlearning": ".kind"}


__getattr__ = lazy_attributes(__name__, _LAZY)
