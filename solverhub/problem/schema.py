"""The YAML schema (pydantic v2), with ``file:line`` in every error.

The common sections are modelled here; each problem kind adds its own sections
with a pydantic model of its own (``ProblemKind.Sections``).
"""
from __future__ import annotations

__all__ = ["ProblemFile", "VariableSpec", "OracleSpec", "BaselineSpec", "COMMON_SECTIONS", "validate_model"]

from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator

from ..errors import Location, ProblemError
from .yamlsafe import LineMap


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariableSpec(_Strict):
    """A variable: its ``shape``, optional ``x0`` and elementwise bounds ``lower``/``upper``
    (a number, a list of the variable's shape, or a data name; ``-inf``/``inf`` for an open
    side). The bound values are checked against the shape and the data by ``load_problem``."""

    shape: list[int] = Field(default_factory=list)
    x0: Any = None
    lower: Any = None
    upper: Any = None

    @field_validator("shape", mode="before")
    @classmethod
    def _scalar_shape(cls, v):
        return [v] if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("shape")
    @classmethod
    def _positive(cls, v):
        if any(s <= 0 for s in v):
            raise ValueError("shape entries must be positive integers")
        return v


MAX_SEED = 2**63 - 1    # torch generators take 64-bit seeds


class StochasticSpec(_Strict):
    batch_size: int = Field(gt=0)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)


class NoiseSpec(_Strict):
    """Gaussian gradient noise. ``sigma``: one std for every coordinate, or a list (one per unknown).
    ``model``: ``variance`` -- additive, g + sigma*xi (bounded variance sigma^2 per coordinate);
    ``second_moment`` -- multiplicative, g * (1 + sigma*xi) (E g~_i^2 = (1 + sigma_i^2) g_i^2: the
    noise vanishes where the gradient does)."""

    sigma: float | list[float]      # finite and >= 0: checked below (one message for a number or a list)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    model: Literal["variance", "second_moment"] = "variance"

    @field_validator("sigma")
    @classmethod
    def _non_negative(cls, v):
        values = v if isinstance(v, list) else [v]
        if not values or any(not (x >= 0) or x == float("inf") for x in values):
            raise ValueError("sigma must be finite and >= 0 (a number or a non-empty list)")
        return v


class OracleSpec(_Strict):
    stochastic: StochasticSpec | None = None
    noise: NoiseSpec | None = None


class BaselineSpec(_Strict):
    solver: str | None = None          # cvxpy solver name (CLARABEL, SCS, ...), or trust-constr / slsqp: a local reference
    objective: FiniteFloat | None = None     # a known optimal value (e.g. Rosenbrock: 0)
    tolerance: FiniteFloat = Field(default=1e-8, ge=0)   # certificate target used when polishing


class ProblemFile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    kind: str
    description: str = ""
    variables: dict[str, VariableSpec] = Field(default_factory=dict)   # required unless the kind implies them
    data: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, FiniteFloat] = Field(default_factory=dict)   # NaN and infinity are input errors
    x0: dict[str, Any] = Field(default_factory=dict)
    oracle: OracleSpec = OracleSpec()
    baseline: BaselineSpec = BaselineSpec()
    solve: dict[str, Any] = Field(default_factory=dict)


COMMON_SECTIONS = tuple(ProblemFile.model_fields)


def _in_data(raw, loc: tuple, err_type: str) -> tuple:
    """``loc`` without pydantic's union-member tags (``objective.str`` -> ``objective``)."""
    out, cur = [], raw
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        elif not (part == "[key]" or (i == len(loc) - 1 and err_type == "missing")):
            continue
        out.append(part)
    return tuple(out)


def validate_model(model: type[BaseModel], raw: dict, lines: LineMap, file: str | None, prefix=()):
    """Validate ``raw`` with ``model``; turn the first pydantic error into a one-line ProblemError."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(prefix) + _in_data(raw, tuple(first["loc"]), first["type"])
        where = ".".join(str(p) for p in loc) or "file"
        msg = first["msg"]
        allowed = None
        if first["type"] == "extra_forbidden":
            parent = loc[:-1]
            sub, keyed = model, False
            for part in loc[len(prefix):-1]:
                field = getattr(sub, "model_fields", {}).get(part)
                if field is None and keyed:   # a key of dict[str, Model] / index of list[Model]: same model
                    keyed = False
                    continue
                ann = getattr(field, "annotation", None)
                keyed = get_origin(ann) in (dict, list)
                sub = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)
                            and issubclass(a, BaseModel)), None) if ann is not None else None
                if sub is None:
                    break
            msg = f"unknown key {loc[-1]!r}"
            where = ".".join(str(p) for p in parent) or "file"
            if sub is not None:
                allowed = ", ".join(sub.model_fields)
        elif first["type"] == "missing":
            msg = "required section missing"
        elif first["type"] == "finite_number":
            msg = f"expected a finite number, got {first.get('input')!r}"
            allowed = "finite numbers (NaN and infinity are not allowed here)"
        elif (first["type"] in ("float_type", "float_parsing") and isinstance(first.get("input"), int)
              and not isinstance(first.get("input"), bool)):
            msg = "integer too large for a float"
            allowed = "numbers of magnitude below 1.8e308"
        raise ProblemError(f"{where}: {msg}", location=Location(file, lines.line_of(loc)), allowed=allowed) from None
