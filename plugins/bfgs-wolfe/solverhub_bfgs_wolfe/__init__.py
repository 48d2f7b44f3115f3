"""BFGS with a weak Wolfe line search (arXiv 2507.00361) as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["BFGSWolfe", "BFGSState", "Options"]
__version__ = "0.1.0"

from .bfgs import BFGSState, BFGSWolfe, Options
