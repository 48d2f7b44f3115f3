"""Simple feasible sets for monotone and minimax problems, per variable:
``{lower: a}``, ``{upper: b}``, ``{lower: a, upper: b}`` (boxes, scalars or lists) and
``{ball: r}`` (the Euclidean ball of radius r around 0). Their Euclidean
projections are elementwise torch operations (no host sync).

Bounds are numbers; ``-.inf`` in ``lower`` and ``.inf`` in ``upper`` mean "no bound" on
that entry (useful in lists: ``lower: [0, -.inf]``). NaN is an input error, and so are
an empty box (``lower > upper``, ``lower: .inf``, ``upper: -.inf``) and a ball radius
that is not a finite number > 0. List lengths are checked against the variable's size
when the problem loads."""
from __future__ import annotations

__all__ = ["SetSpec", "build_projection", "natural_residual"]

import math

from ..._lazy import lazy_module
from ...parts.projections import project_ball
from ..records import Field, PlainModel, number, number_or_list, optional

torch = lazy_module("torch")


class SetSpec(PlainModel):
    """A box (``lower``/``upper``) or a ball (``ball: r``); a plain record (``solverhub.problem.records``)."""

    lower = Field(optional(number_or_list), None)
    upper = Field(optional(number_or_list), None)
    ball = Field(optional(number(gt=0)), None)

    def check(self) -> None:
        if self.ball is not None and (self.lower is not None or self.upper is not None):
            raise ValueError("a set is either a box (lower/upper) or a ball, not both")
        if self.ball is None and self.lower is None and self.upper is None:
            raise ValueError("a set needs lower, upper or ball")
        if self.ball is not None and not math.isfinite(self.ball):
            raise ValueError("ball: the radius must be a finite number > 0")
        lows = self.lower if isinstance(self.lower, list) else [self.lower]
        highs = self.upper if isinstance(self.upper, list) else [self.upper]
        for key, values, empty in (("lower", lows, math.inf), ("upper", highs, -math.inf)):
            if any(v is not None and math.isnan(v) for v in values):
                raise ValueError(f"{key}: NaN is not a bound (use -.inf / .inf for no bound)")
            if any(v == empty for v in values):
                raise ValueError(f"{key}: {empty} leaves the set empty")
        if isinstance(self.lower, list) and isinstance(self.upper, list) and len(self.lower) != len(self.upper):
            raise ValueError(f"lower has {len(self.lower)} values, upper {len(self.upper)}")
        if self.lower is not None and self.upper is not None:
            n = max(len(lows), len(highs))
            lo = lows if len(lows) == n else lows * n
            hi = highs if len(highs) == n else highs * n
            bad = [i for i, (a, b) in enumerate(zip(lo, hi)) if a > b]
            if bad:
                raise ValueError(f"lower > upper (entry {bad[0]}): the set is empty")

    def check_size(self, size: int) -> None:
        """Raise ValueError unless every list bound has ``size`` values."""
        for key in ("lower", "upper"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != size:
                raise ValueError(f"{key}: {len(value)} values for a variable with {size} entries")


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
            part = project_ball(out[offset:offset + size], radius)[0]
            out = torch.cat([out[:offset], part, out[offset + size:]])
        return out
    return project


def natural_residual(z, F, project):
    """‖z − P(z − F(z))‖: zero exactly at solutions of the variational inequality."""
    if project is None:
        return torch.linalg.vector_norm(F)
    return torch.linalg.vector_norm(z - project(z - F))
