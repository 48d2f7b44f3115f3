"""BFGS with a weak Wolfe line search (arXiv 2507.00361) as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["BFGSWolfe", "BFGSState", "Options"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "BFGSState": ".bfgs",
    "BFGSWolfe": ".bfgs",
    "Options": ".bfgs",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
