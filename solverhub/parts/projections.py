"""Euclidean projections without host syncs.

Proj_{‖·‖≤r}(v) = v · min(1, r/‖v‖) (e.g. Parikh & Boyd, "Proximal Algorithms",
Found. Trends Optim. 1(3), 2014, §6.5.1); the ball sets of problem files
(``solverhub/problem/kinds/sets.py``) use the same formula on numpy arrays.
"""
from __future__ import annotations

__all__ = ["project_ball"]

from .._lazy import lazy_module

torch = lazy_module("torch")


def project_ball(v, radius):
    """``(Proj_{‖·‖ ≤ radius}(v), active)``: the projection and a 0-d bool tensor, true when
    ‖v‖ > radius. ``radius`` is a float or a 0-d tensor; no value is read on the host
    (v = 0 gives r/0 = inf, clamped to the scale 1)."""
    norm = torch.linalg.vector_norm(v)
    scale = torch.clamp(radius / norm, max=1.0)
    return v * scale, norm > radius
