"""The YAML schema of the common sections, with ``file:line`` in every error.

The common sections (like the core kinds' own) are :class:`~solverhub.problem.records.PlainModel`
records checked by plain Python, so that ``solverhub validate`` never imports pydantic (~0.08 s of
its start-up, issue 16); their checks raise pydantic's error types and messages, so a bad file
reads the same whichever way its sections are modelled. Plugin kinds add their sections with a
pydantic model of their own (``ProblemKind.Sections``); ``validate_model`` takes either.
"""
from __future__ import annotations

__all__ = ["ProblemFile", "VariableSpec", "OracleSpec", "BaselineSpec", "COMMON_SECTIONS", "validate_model"]

import math
from typing import get_origin

from ..errors import Location, ProblemError
from .records import (Field, Invalid, PlainModel, anything, dict_of, integer, list_of, nested, number,
                      number_or_list, one_of, optional, string, value_error)
from .yamlsafe import LineMap


def _shape(v, loc):
    if isinstance(v, int) and not isinstance(v, bool):      # ``shape: 3`` means [3]
        v = [v]
    return list_of(integer())(v, loc)


class VariableSpec(PlainModel):
    """A variable: its ``shape``, optional ``x0`` and elementwise bounds ``lower``/``upper``
    (a number, a list of the variable's shape, or a data name; ``-inf``/``inf`` for an open
    side). The bound values are checked against the shape and the data by ``load_problem``."""

    shape = Field(value_error(_shape, lambda s: all(n > 0 for n in s), "shape entries must be positive integers"),
                  factory=list)
    x0 = Field(anything, None)
    lower = Field(anything, None)
    upper = Field(anything, None)


MAX_SEED = 2**63 - 1    # torch generators take 64-bit seeds


class StochasticSpec(PlainModel):
    batch_size = Field(integer(gt=0))
    seed = Field(integer(ge=0, le=MAX_SEED), 0)


def _sigma_ok(v) -> bool:
    values = v if isinstance(v, list) else [v]
    return bool(values) and all(x >= 0 and x != math.inf for x in values)


class NoiseSpec(PlainModel):
    """Gaussian gradient noise. ``sigma``: one std for every coordinate, or a list (one per unknown).
    ``model``: ``variance`` -- additive, g + sigma*xi (bounded variance sigma^2 per coordinate);
    ``second_moment`` -- multiplicative, g * (1 + sigma*xi) (E g~_i^2 = (1 + sigma_i^2) g_i^2: the
    noise vanishes where the gradient does)."""

    sigma = Field(value_error(number_or_list, _sigma_ok, "sigma must be finite and >= 0 (a number or a non-empty list)"))
    seed = Field(integer(ge=0, le=MAX_SEED), 0)
    model = Field(one_of("variance", "second_moment"), "variance")


class OracleSpec(PlainModel):
    stochastic = Field(optional(nested(StochasticSpec)), None)
    noise = Field(optional(nested(NoiseSpec)), None)


class BaselineSpec(PlainModel):
    solver = Field(optional(string()), None)       # cvxpy solver name (CLARABEL, SCS, ...), or trust-constr / slsqp
    objective = Field(optional(number(finite=True)), None)   # a known optimal value (e.g. Rosenbrock: 0)
    tolerance = Field(number(finite=True, ge=0), 1e-8)        # certificate target used when polishing


class ProblemFile(PlainModel):
    extra = "allow"

    name = Field(string(min_length=1))
    kind = Field(string())
    description = Field(string(), "")
    variables = Field(dict_of(nested(VariableSpec)), factory=dict)   # required unless the kind implies them
    data = Field(dict_of(anything), factory=dict)
    parameters = Field(dict_of(number(finite=True)), factory=dict)   # NaN and infinity are input errors
    x0 = Field(dict_of(anything), factory=dict)
    oracle = Field(nested(OracleSpec), factory=OracleSpec)
    baseline = Field(nested(BaselineSpec), factory=BaselineSpec)
    solve = Field(dict_of(anything), factory=dict)


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


def validate_model(model: type, raw: dict, lines: LineMap, file: str | None, prefix=()):
    """Validate ``raw`` with ``model`` (a :class:`PlainModel` or a pydantic model); turn the first
    error into a one-line ProblemError."""
    if isinstance(model, type) and issubclass(model, PlainModel):
        try:
            return model.model_validate(raw)
        except Invalid as err:
            _raise(err.error, err.allowed, model, raw, lines, file, prefix)
    from pydantic import ValidationError
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        _raise(err.errors()[0], None, model, raw, lines, file, prefix)


def _raise(first: dict, allowed: str | None, model: type, raw: dict, lines: LineMap, file, prefix):
    loc = tuple(prefix) + _in_data(raw, tuple(first["loc"]), first["type"])
    where = ".".join(str(p) for p in loc) or "file"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}"
        where = ".".join(str(p) for p in loc[:-1]) or "file"
        if allowed is None:
            sub = _model_at(model, loc[len(prefix):-1])
            allowed = ", ".join(sub.model_fields) if sub is not None else None
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


def _model_at(model, path):
    """The pydantic model whose key is unknown, following ``path`` through nested model fields."""
    from pydantic import BaseModel
    sub, keyed = model, False
    for part in path:
        field = getattr(sub, "model_fields", {}).get(part)
        if field is None and keyed:   # a key of dict[str, Model] / index of list[Model]: same model
            keyed = False
            continue
        ann = getattr(field, "annotation", None)
        keyed = get_origin(ann) in (dict, list)
        sub = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)
                    and issubclass(a, BaseModel)), None) if ann is not None else None
        if sub is None:
            return None
    return sub
