"""Online-to-nonconvex conversion (O2NC) solvers as a solverhub plugin:

- ``o2nc``: the plain conversion with online gradient descent as the learner
  (Cutkosky, Mehta, Orabona, ICML 2023), the reference;
- ``odog``: the online doubly optimistic gradient learner (arXiv 2510.03167).

Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["O2NC", "O2NCOptions", "ODOG", "ODOGOptions", "ConversionState", "optimistic_update"]
__version__ = "0.1.0"

from .conversion import ConversionState
from .o2nc import O2NC, O2NCOptions
from .odog import ODOG, ODOGOptions, optimistic_update
