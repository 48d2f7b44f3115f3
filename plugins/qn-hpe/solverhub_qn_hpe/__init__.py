"""QN-HPE (arXiv 2410.02626), extragradient and gradient descent-ascent for
monotone equations, variational inequalities over simple sets and smooth
minimax problems, as a solverhub plugin. Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["QNHPE", "QNHPEOptions", "QNHPEState", "Extragradient", "ExtragradientOptions",
           "GDA", "GDAOptions", "secant_update", "project_jacobian"]
__version__ = "0.1.0"

from .extragradient import Extragradient, ExtragradientOptions
from .gda import GDA, GDAOptions
from .jacobian_learner import project_jacobian, secant_update
from .qn_hpe import QNHPE, QNHPEOptions, QNHPEState
