"""QN-HPE (arXiv 2410.02626), extragradient and gradient descent-ascent for
monotone equations, variational inequalities over simple sets and smooth
minimax problems, as a solverhub plugin. Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["QNHPE", "QNHPEOptions", "QNHPEState", "Extragradient", "ExtragradientOptions",
           "GDA", "GDAOptions", "secant_update", "project_jacobian"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "Extragradient": ".extragradient",
    "ExtragradientOptions": ".extragradient",
    "GDA": ".gda",
    "GDAOptions": ".gda",
    "project_jacobian": ".jacobian_learner",
    "secant_update": ".jacobian_learner",
    "QNHPE": ".qn_hpe",
    "QNHPEOptions": ".qn_hpe",
    "QNHPEState": ".qn_hpe",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
