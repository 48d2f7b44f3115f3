"""Diagonal AdaGrad measured in the l1 gradient norm (arXiv 2406.04592), and its
reference, constant-step SGD, as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["AdaGrad", "AdaGradOptions", "AdaGradState", "SGD", "SGDOptions", "SGDState",
           "GradNormStats", "TuneResult", "tune_step", "DEFAULT_LR_GRID"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "AdaGrad": ".adagrad",
    "AdaGradOptions": ".adagrad",
    "AdaGradState": ".adagrad",
    "DEFAULT_LR_GRID": ".sgd",
    "SGD": ".sgd",
    "SGDOptions": ".sgd",
    "SGDState": ".sgd",
    "TuneResult": ".sgd",
    "tune_step": ".sgd",
    "GradNormStats": ".stats",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
