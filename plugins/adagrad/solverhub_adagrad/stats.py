"""Running gradient-norm statistics over the iterates of a run (arXiv 2406.04592):
min and mean over t of ‖∇f(x_t)‖₁ (the paper's measures), ‖∇f(x_t)‖₂ and their
ratio, as 0-d tensors on the oracle's device, updated every step without a host
sync and read once, in ``report``. Option ``grad_stats``: ``exact`` ∇f(x_0 .. x_T)
(one uncounted ``peek_grad`` per step with a stochastic oracle, and one for x_T),
``oracle`` the g_0 .. g_{T−1} the method used, ``off``. Details: docs/methods/adagrad.md.
"""
from __future__ import annotations

__all__ = ["GradNormStats", "stats_gradient", "stats_report"]

import math
from dataclasses import dataclass
from typing import Any

from solverhub.plugin import lazy_module

torch = lazy_module("torch")


def stats_gradient(oracle, x, g, mode: str):
    """The gradient at x_t that feeds the statistics, or ``None`` for ``mode="off"``."""
    if mode == "off":
        return None
    if mode == "exact" and oracle.stochastic:
        return oracle.peek_grad(x)        # uncounted measurement
    return g


@dataclass(frozen=True)
class GradNormStats:
    """min and sum over t of ‖∇f(x_t)‖₁, ‖∇f(x_t)‖₂ and of their ratio (0-d tensors)."""

    count: int                 # the number of gradients seen (a Python int: no sync)
    l1_min: Any
    l1_sum: Any
    l2_min: Any
    l2_sum: Any
    ratio_sum: Any             # Σ_t ‖∇f(x_t)‖₁ / ‖∇f(x_t)‖₂ (the paper's l1/l2 geometry, in [1, √d])
    l1_last: Any
    l2_last: Any

    @classmethod
    def empty(cls, like) -> "GradNormStats":
        inf = torch.full((), math.inf, dtype=like.dtype, device=like.device)
        zero = torch.zeros((), dtype=like.dtype, device=like.device)
        return cls(0, inf, zero, inf, zero, zero, zero, zero)

    def update(self, grad) -> "GradNormStats":
        """Add one gradient; ``grad=None`` leaves the statistics unchanged."""
        if grad is None:
            return self
        l1 = torch.linalg.vector_norm(grad, 1)
        l2 = torch.linalg.vector_norm(grad, 2)
        # ‖g‖₁/‖g‖₂ at g = 0 is 0/0; count it as 1 (its lower bound) instead of NaN, without a sync.
        ratio = torch.where(l2 > 0, l1 / torch.where(l2 > 0, l2, torch.ones_like(l2)), torch.ones_like(l2))
        return GradNormStats(self.count + 1, torch.fmin(self.l1_min, l1), self.l1_sum + l1,
                             torch.fmin(self.l2_min, l2), self.l2_sum + l2, self.ratio_sum + ratio, l1, l2)

    def as_dict(self, source: str) -> dict:
        """Host numbers for ``Result.extras`` (called once, at the end)."""
        if self.count == 0:
            return {"grad_stats": source, "grad_stats_count": 0}
        n = self.count
        l1_min, l1_sum, l2_min, l2_sum, ratio_sum, l1_last, l2_last = torch.stack(
            [self.l1_min, self.l1_sum, self.l2_min, self.l2_sum, self.ratio_sum, self.l1_last, self.l2_last]
        ).tolist()                                        # one transfer to the host
        return {
            "grad_stats": source,                         # which gradient: exact ∇f(x_t) or the oracle's g_t
            "grad_stats_count": n,                        # exact: T + 1 (x_0 .. x_T); oracle: T
            "grad_l1_min": l1_min,
            "grad_l1_mean": l1_sum / n,
            "grad_l2_min": l2_min,
            "grad_l2_mean": l2_sum / n,
            "l1_l2_ratio_mean": ratio_sum / n,
            "l1_l2_ratio_last": l1_last / l2_last if l2_last > 0 else 1.0,
        }


def stats_report(stats: GradNormStats, mode: str, x, oracle) -> dict:
    """The extras for ``mode``; in ``exact`` mode first adds ∇f at the final iterate (uncounted)."""
    if mode == "off":
        return {"grad_stats": "off"}
    if mode == "exact":
        stats = stats.update(oracle.peek_grad(x))
    return stats.as_dict(mode)
