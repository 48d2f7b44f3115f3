"""GALA learning-rate adaptation (arXiv 2506.08419) as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["GALA", "GALAOptions", "GALAState", "BASES", "ftrl_step_size"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "BASES": ".gala",
    "GALA": ".gala",
    "GALAOptions": ".gala",
    "GALAState": ".gala",
    "ftrl_step_size": ".gala",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
