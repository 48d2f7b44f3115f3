"""Online-to-nonconvex conversion (O2NC) solvers as a solverhub plugin:

- ``o2nc``: the plain conversion with online gradient descent as the learner
  (Cutkosky, Mehta, Orabona, ICML 2023), the reference;
- ``odog``: the online doubly optimistic gradient learner (arXiv 2510.03167).

Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["O2NC", "O2NCOptions", "ODOG", "ODOGOptions", "ConversionState", "optimistic_update"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "ConversionState": ".conversion",
    "O2NC": ".o2nc",
    "O2NCOptions": ".o2nc",
    "ODOG": ".odog",
    "ODOGOptions": ".odog",
    "optimistic_update": ".odog",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
