"""``kind: minimize`` -- an unconstrained smooth (or nonsmooth) objective."""
from __future__ import annotations

from .base import ExpressionKind


class Minimize(ExpressionKind):
    """minimize f(x) over all variables; ``objective:`` is a scalar expression."""

    name = "minimize"
    description = "unconstrained minimization of a scalar objective"
    composite = True     # smooth + prox-able terms split on load (solverhub.problem.composite)
