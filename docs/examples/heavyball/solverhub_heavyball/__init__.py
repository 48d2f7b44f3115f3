"""Polyak's heavy-ball method as a solverhub plugin. Importing it does not import torch."""
from __future__ import annotations

__all__ = ["HeavyBall", "Options", "State"]
__version__ = "0.1.0"

from .plugin import HeavyBall, Options, State
