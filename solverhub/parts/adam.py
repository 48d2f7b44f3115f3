"""Adam's direction as a pure update of its moments, without host syncs.

Kingma & Ba, "Adam: A method for stochastic optimization", ICLR 2015,
arXiv:1412.6980, Algorithm 1, written as optax's ``scale_by_adam``::

    m_t = β1 m_{t−1} + (1 − β1) g_t,     v_t = β2 v_{t−1} + (1 − β2) g_t²
    d_t = m̂_t / (sqrt(v̂_t) + ε),         m̂_t = m_t / (1 − β1^t),  v̂_t = v_t / (1 − β2^t)

The step counter t is a Python int, so the bias corrections are Python floats
(no ``.item()`` as in ``torch.optim.Adam``). The update x − lr·d_t follows
``torch.optim.Adam``'s arithmetic (denominator sqrt(v_t)/sqrt(1 − β2^t) + ε, the step
lr/(1 − β1^t)) so that its trajectory is reproduced to rounding (tests/test_parts.py).
"""
from __future__ import annotations

__all__ = ["AdamMoments", "adam_init", "adam_direction", "adam_step"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module

torch = lazy_module("torch")


@dataclass(frozen=True)
class AdamMoments:
    """m_t, v_t (tensors shaped like x) and t (a Python int)."""

    m: Any
    v: Any
    t: int = 0


def adam_init(x) -> AdamMoments:
    """Zero moments for an iterate shaped like ``x``."""
    return AdamMoments(m=torch.zeros_like(x), v=torch.zeros_like(x), t=0)


def _moments(moments: AdamMoments, g, beta1: float, beta2: float):
    """m_t, v_t, t and the bias-correction terms, in torch.optim.Adam's arithmetic."""
    t = moments.t + 1
    m = torch.lerp(moments.m, g, 1 - beta1)                          # β1 m + (1 − β1) g
    v = torch.addcmul(moments.v * beta2, g, g, value=1 - beta2)      # β2 v + (1 − β2) g²
    return AdamMoments(m=m, v=v, t=t), 1 - beta1 ** t, (1 - beta2 ** t) ** 0.5


def adam_direction(moments: AdamMoments, g, beta1: float, beta2: float, eps: float):
    """``(d_t, moments_t)``: the bias-corrected direction m̂_t/(sqrt(v̂_t) + ε) after feeding
    ``g``. With ε = 0 a coordinate whose gradients were all 0 gets d = 0 (not 0/0)."""
    new, correction1, correction2_sqrt = _moments(moments, g, beta1, beta2)
    denom = new.v.sqrt() / correction2_sqrt + eps
    nonzero = denom > 0
    safe = torch.where(nonzero, denom, torch.ones_like(denom))
    return torch.where(nonzero, (new.m / correction1) / safe, torch.zeros_like(new.m)), new


def adam_step(x, moments: AdamMoments, g, lr: float, beta1: float, beta2: float, eps: float,
              weight_decay: float = 0.0):
    """``(x_{t+1}, moments_t)`` for Adam with L2 weight decay folded into the gradient
    (g + λx, as ``torch.optim.Adam``'s ``weight_decay``), in torch.optim.Adam's order of
    operations: x − (lr/(1 − β1^t)) · m_t / (sqrt(v_t)/sqrt(1 − β2^t) + ε)."""
    if weight_decay:
        g = g.add(x, alpha=weight_decay)
    new, correction1, correction2_sqrt = _moments(moments, g, beta1, beta2)
    denom = new.v.sqrt() / correction2_sqrt + eps
    return torch.addcdiv(x, new.m, denom, value=-lr / correction1), new
