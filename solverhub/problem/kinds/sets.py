"""Simple feasible sets for monotone and minimax problems, per variable:
``{lower: a}``, ``{upper: b}``, ``{lower: a, upper: b}`` (boxes, scalars or lists) and
``{ball: r}`` (the Euclidean ball of radius r around 0). Their Euclidean
projections are elementwise torch operations (no host sync)."""
from __future__ import annotations

__all__ = ["SetSpec", "build_projection", "natural_residual"]

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..._lazy import lazy_module

torch = lazy_module("torch")


class SetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lower: float | list[float] | None = None
    upper: float | list[float] | None = None
    ball: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self):
        if self.ball is not None and (self.lower is not None or self.upper is not None):
            raise ValueError("a set is either a box (lower/upper) or a ball, not both")
        if self.ball is None and self.lower is None and self.upper is None:
            raise ValueError("a set needs lower, upper or ball")
        return self


def _bound(value, size, default, name, var):
    if value is None:
        return [default] * size
    if isinstance(value, list):
        if len(value) != size:
            raise ValueError(f"set.{var}.{name}: {len(value)} values for {size} entries")
        return [float(v) for v in value]
    return [float(value)] * size


def build_projection(variables, sets: dict, device, dtype):
    """The projection onto the product of the declared sets (identity elsewhere), or None."""
    if not sets:
        return None
    lower, upper, balls = [], [], []
    for v in variables:
        spec = sets.get(v.name)
        if spec is not None and spec.ball is not None:
            balls.append((v.offset, v.size, spec.ball))
        lo = _bound(getattr(spec, "lower", None), v.size, -math.inf, "lower", v.name)
        hi = _bound(getattr(spec, "upper", None), v.size, math.inf, "upper", v.name)
        lower.extend(lo)
        upper.extend(hi)
    lo_t = torch.as_tensor(lower, dtype=dtype, device=device)
    hi_t = torch.as_tensor(upper, dtype=dtype, device=device)

    def project(z):
        out = torch.minimum(torch.maximum(z, lo_t), hi_t)
        for offset, size, radius in balls:
            part = out[offset:offset + size]
            scale = torch.clamp(radius / torch.clamp(torch.linalg.vector_norm(part), min=1e-300), max=1.0)
            out = torch.cat([out[:offset], part * scale, out[offset + size:]])
        return out
    return project


def natural_residual(z, F, project):
    """‖z − P(z − F(z))‖: zero exactly at solutions of the variational inequality."""
    if project is None:
        return torch.linalg.vector_norm(F)
    return torch.linalg.vector_norm(z - project(z - F))
