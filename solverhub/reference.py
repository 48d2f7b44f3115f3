"""One answer shape for "what is the optimum?": the :class:`Reference`.

A problem kind's ``reference_solve`` (cvxpy for expression kinds, a classical
method or a closed form for model kinds), the baseline that certifies it and a
non-iterative solver's ``solve_direct`` all return a Reference. Its
:class:`ReferenceStatus` says how far to trust it: a *certified* optimum, an
*inaccurate* one, a *local* optimum of a nonconvex problem, or a value *declared*
in the problem file (cf. cvxpy's ``optimal`` / ``optimal_inaccurate``).
"""
from __future__ import annotations

__all__ = ["Reference", "ReferenceStatus"]

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from .result import Stationarity, Status


class ReferenceStatus(str, enum.Enum):
    """How far a :class:`Reference` can be trusted."""

    CERTIFIED = "certified"      # a global optimum: convex solver + certificate within tolerance, or a closed form
    INACCURATE = "inaccurate"    # a convex solver's answer that it flags inaccurate or that fails the certificate
    LOCAL = "local"              # a local optimum of a nonconvex problem: a reference, not a global certificate
    DECLARED = "declared"        # the known optimal value written in the problem file (no point)
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    FAILED = "failed"            # no answer (the text says why)

    def __str__(self) -> str:
        return self.value

    @property
    def has_answer(self) -> bool:
        """True when the reference carries an optimal value to compare runs against."""
        return self in (ReferenceStatus.CERTIFIED, ReferenceStatus.INACCURATE, ReferenceStatus.LOCAL,
                        ReferenceStatus.DECLARED)

    @property
    def run_status(self) -> Status:
        """The run :class:`Status` of a direct solve that returned this reference."""
        return {ReferenceStatus.INFEASIBLE: Status.INFEASIBLE, ReferenceStatus.UNBOUNDED: Status.UNBOUNDED,
                ReferenceStatus.FAILED: Status.FAILED}.get(self, Status.CONVERGED)


@dataclass(frozen=True)
class Reference:
    """A reference answer for one problem.

    ``x``: the flat point (numpy) or None; ``objective``: the objective there (NaN until
    certified, or when there is no answer); ``certificate``: the stationarity measure at
    ``x`` computed by the torch oracle; ``duals``: one array per constraint (convex
    solvers); ``backend_status``: the backend's own word (cvxpy's ``optimal_inaccurate``).
    """

    status: ReferenceStatus
    solver: str
    x: Any = None
    objective: float = math.nan
    duals: Any = None
    certificate: Stationarity | None = None
    solve_time_s: float = 0.0
    message: str = ""
    problem: str = ""
    polished: bool = False
    backend_status: str = ""
    iterations: int = 0
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.status, ReferenceStatus):
            raise TypeError(f"Reference status must be a ReferenceStatus "
                            f"({', '.join(s.name for s in ReferenceStatus)}), not {self.status!r}")

    def replace(self, **changes) -> "Reference":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {"problem": self.problem, "status": self.status.value, "backend_status": self.backend_status,
                "objective": self.objective, "solver": self.solver, "solve_time_s": self.solve_time_s,
                "polished": self.polished, "message": self.message,
                "certificate": None if self.certificate is None else
                {"name": self.certificate.name, "value": self.certificate.value},
                "solution": None if self.x is None else [float(v) for v in self.x]}
