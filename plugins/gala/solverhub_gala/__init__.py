"""GALA learning-rate adaptation (arXiv 2506.08419) as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["GALA", "GALAOptions", "GALAState", "BASES", "ftrl_step_size"]
__version__ = "0.1.0"

from .gala import BASES, GALA, GALAOptions, GALAState, ftrl_step_size
