"""Optimistic quasi-Newton inside online-to-nonconvex conversion (arXiv 2412.02175)
as a solverhub plugin. Importing this package does not import torch.
"""
from __future__ import annotations

__all__ = ["OQNO2NC", "OQNOptions", "OQNState", "learner_step", "project_operator_norm",
           "secant_loss", "solve_ball_quadratic"]
__version__ = "0.1.0"

from .matrix_learner import learner_step, project_operator_norm, secant_loss
from .solver import OQNO2NC, OQNOptions, OQNState
from .subproblem import solve_ball_quadratic
