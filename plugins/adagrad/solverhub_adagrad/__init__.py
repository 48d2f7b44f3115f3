"""Diagonal AdaGrad measured in the l1 gradient norm (arXiv 2406.04592), and its
reference, constant-step SGD, as a solverhub plugin.

Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["AdaGrad", "AdaGradOptions", "AdaGradState", "SGD", "SGDOptions", "SGDState",
           "GradNormStats", "TuneResult", "tune_step", "DEFAULT_LR_GRID"]
__version__ = "0.1.0"

from .adagrad import AdaGrad, AdaGradOptions, AdaGradState
from .sgd import DEFAULT_LR_GRID, SGD, SGDOptions, SGDState, TuneResult, tune_step
from .stats import GradNormStats
