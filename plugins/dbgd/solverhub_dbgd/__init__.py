"""Simple bilevel solvers: ``dbgd`` (the implementable dynamic barrier gradient
descent of arXiv 2507.23155) and ``penalty-gd`` (gradient descent on f + lam·g,
the reference). Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["DBGD", "DBGDOptions", "DBGDState", "barrier_direction", "barrier_residual", "step_size",
           "PenaltyGD", "PenaltyGDOptions", "PenaltyState"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "DBGD": ".dbgd",
    "DBGDOptions": ".dbgd",
    "DBGDState": ".dbgd",
    "barrier_direction": ".dbgd",
    "barrier_residual": ".dbgd",
    "step_size": ".dbgd",
    "PenaltyGD": ".penalty",
    "PenaltyGDOptions": ".penalty",
    "PenaltyState": ".penalty",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
