"""Optimistic quasi-Newton inside online-to-nonconvex conversion (arXiv 2412.02175)
as a solverhub plugin. Importing this package does not import torch.
"""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["OQNO2NC", "OQNOptions", "OQNState", "learner_step", "project_operator_norm",
           "secant_loss", "solve_ball_quadratic"]
__version__ = "0.1.0"

# name -> submodule; imported on first access (PEP 562): registering the plugin imports nothing
_LAZY = {
    "learner_step": ".matrix_learner",
    "project_operator_norm": ".matrix_learner",
    "secant_loss": ".matrix_learner",
    "OQNO2NC": ".solver",
    "OQNOptions": ".solver",
    "OQNState": ".solver",
    "solve_ball_quadratic": ".subproblem",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
