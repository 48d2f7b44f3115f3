"""Simple bilevel solvers: ``dbgd`` (the implementable dynamic barrier gradient
descent of arXiv 2507.23155) and ``penalty-gd`` (gradient descent on f + lam·g,
the reference). Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["DBGD", "DBGDOptions", "DBGDState", "barrier_direction", "barrier_residual", "step_size",
           "PenaltyGD", "PenaltyGDOptions", "PenaltyState"]
__version__ = "0.1.0"

from .dbgd import DBGD, DBGDOptions, DBGDState, barrier_direction, barrier_residual, step_size
from .penalty import PenaltyGD, PenaltyGDOptions, PenaltyState
