"""One result shape for every method (cf. scipy's ``OptimizeResult``), with exact JSON round-trip."""
from __future__ import annotations

__all__ = ["Status", "TracePoint", "Stationarity", "Result"]

import dataclasses
import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """Why a run stopped."""

    CONVERGED = "converged"
    MAX_ITERATIONS = "max_iterations"
    BUDGET_EXHAUSTED = "budget_exhausted"
    TIME_LIMIT = "time_limit"
    DIVERGED = "diverged"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    @property
    def is_failure(self) -> bool:
        """True for a run that gave no usable answer (``failed`` or ``diverged``); compare
        code tests members, never the strings (``status in (Status.FAILED, ...)``)."""
        return self in (Status.FAILED, Status.DIVERGED)


@dataclass(frozen=True)
class Stationarity:
    """A named stationarity measure (``grad_norm``, ``kkt_residual``, ...)."""

    name: str
    value: float


@dataclass(frozen=True)
class TracePoint:
    """One sample of a run: ``time_s`` is the method's time so far (measuring excluded),
    ``oracle_calls`` its counted calls (the measurement's are not counted)."""

    iteration: int
    time_s: float
    oracle_calls: int
    objective: float
    stationarity: float


def _nested_dataclass(value):
    """json.dumps ``default``: dataclasses inside options/extras, as ``to_dict`` would give them."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(v):
    return None if v is None else float(v)


@dataclass(frozen=True)
class Result:
    """The frozen outcome of one solve. ``to_json``/``from_json`` round-trip exactly."""

    solver: str
    problem: str
    problem_hash: str
    status: Status
    message: str
    objective: float
    stationarity: Stationarity
    iterations: int
    oracle_calls: dict[str, int]
    wall_time_s: float
    device: str
    seed: int
    options: dict[str, Any]
    solver_version: str = "0"
    dtype: str = "float64"
    problem_dim: int = 0
    baseline_objective: float | None = None
    baseline_gap: float | None = None
    solution: dict[str, Any] | None = None
    trace: tuple[TracePoint, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)
    # What the solver wrote to stdout and stderr when it ran in an isolated process
    # (``solverhub.isolation``): the first and last 16 KB, with a marker for what was
    # left out in between. Empty for in-process solves and for JSON written before it existed.
    captured_output: str = ""
    # Constraint multipliers of a constrained run, by the constraint's label ("constraints[0]",
    # see Problem.structure.constraints) -> flat list, in cvxpy's sign convention (the constrained
    # kind's KKT measure: grad f + sum_i lam_i grad g_i = 0, lam >= 0 on inequalities). None when
    # the run has none; JSON written before the field existed loads with None. Feasibility is
    # reported separately, as extras["max_violation"].
    duals: dict[str, list[float]] | None = None
    # Seconds spent measuring (sampling the trace: objective, stationarity, their host sync; the
    # final reports), kept out of ``wall_time_s`` and every ``TracePoint.time_s``, which are the
    # method's time only. 0.0 in JSON written before the field existed.
    measure_time_s: float = 0.0

    @property
    def total_oracle_calls(self) -> int:
        return sum(self.oracle_calls.values())

    def replace(self, **changes) -> "Result":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        d["trace"] = [dataclasses.asdict(p) for p in self.trace]
        return d

    def to_json(self, **kwargs) -> str:
        # The same text as json.dumps(self.to_dict()), without to_dict's deep copy (asdict is
        # ~5x slower on a long trace, and isolation serialises every Result it sends back).
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["status"] = self.status.value
        d["stationarity"] = {"name": self.stationarity.name, "value": self.stationarity.value}
        d["trace"] = [{"iteration": p.iteration, "time_s": p.time_s, "oracle_calls": p.oracle_calls,
                       "objective": p.objective, "stationarity": p.stationarity} for p in self.trace]
        kwargs.setdefault("default", _nested_dataclass)
        return json.dumps(d, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Result":
        d = dict(d)
        d["status"] = Status(d["status"])
        d["stationarity"] = Stationarity(**d["stationarity"])
        d["trace"] = tuple(TracePoint(**p) for p in d.get("trace", ()))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "Result":
        return cls.from_dict(json.loads(text))

    @property
    def ok(self) -> bool:
        return self.status is Status.CONVERGED and math.isfinite(self.objective)
