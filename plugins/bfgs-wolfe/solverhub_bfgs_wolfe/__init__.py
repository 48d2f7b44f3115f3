"""BFGS with a weak Wolfe line search (arXiv 2507.00361) as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["BFGSWolfe", "BFGSState", "Options"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "BFGSState": ".bfgs",
    "BFGSWolfe": ".bfgs",
    "Options": ".bfgs",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        value = globals()[name] = getattr(importlib.import_module(_LAZY[name], __name__), name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
