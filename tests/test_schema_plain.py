"""The common sections' plain checks (solverhub.problem.schema) against the pydantic models they
replaced (issue 16: validate imports no pydantic): the same values, the same first error (type,
message, location) on a corpus of YAML values in every field."""
from __future__ import annotations

import math
from typing import Any, Literal

import pytest

pydantic = pytest.importorskip("pydantic")
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator, model_validator  # noqa: E402

from solverhub.problem import records, schema  # noqa: E402
from solverhub.problem.kinds.base import ObjectiveSections  # noqa: E402
from solverhub.problem.kinds.bilevel import BilevelSections  # noqa: E402
from solverhub.problem.kinds.constrained import ConstrainedSections  # noqa: E402
from solverhub.problem.kinds.finite_sum import FiniteSumSections  # noqa: E402
from solverhub.problem.kinds.minimax import MinimaxSections  # noqa: E402
from solverhub.problem.kinds.monotone import MonotoneSections  # noqa: E402
from solverhub.problem.kinds.sets import SetSpec as PlainSetSpec  # noqa: E402


# -- the pydantic models as they were (2a43b84), the reference -------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariableSpec(_Strict):
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


class StochasticSpec(_Strict):
    batch_size: int = Field(gt=0)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)


class NoiseSpec(_Strict):
    sigma: float | list[float]
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
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
    solver: str | None = None
    objective: FiniteFloat | None = None
    tolerance: FiniteFloat = Field(default=1e-8, ge=0)


class ProblemFile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(min_length=1)
    kind: str
    description: str = ""
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, FiniteFloat] = Field(default_factory=dict)
    x0: dict[str, Any] = Field(default_factory=dict)
    oracle: OracleSpec = OracleSpec()
    baseline: BaselineSpec = BaselineSpec()
    solve: dict[str, Any] = Field(default_factory=dict)


class Objective(_Strict):
    objective: str | float


class NamedConstraint(_Strict):
    expr: str
    name: str


class Constrained(_Strict):
    objective: str | float
    constraints: list[str | NamedConstraint] = Field(min_length=1)


class Level(_Strict):
    objective: str | float


class Bilevel(_Strict):
    upper: Level
    lower: Level


class SetSpec(_Strict):
    lower: float | list[float] | None = None
    upper: float | list[float] | None = None
    ball: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self):
        PlainSetSpec.check(self)          # the same checks (they read only the fields)
        return self


class Monotone(_Strict):
    operator: str | list[str]
    set: dict[str, SetSpec] | None = None


class Minimax(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    objective: str
    min_vars: str | list[str] = Field(alias="min")
    max_vars: str | list[str] = Field(alias="max")
    set: dict[str, SetSpec] | None = None


class FiniteSum(_Strict):
    objective: str
    rows: list[str] | None = None


# -- the corpus -------------------------------------------------------------------------------
SCALARS = [0, 1, -1, 3, 2**63 - 1, 2**63, 2**70, 10**400, 0.0, 1.0, 2.5, -0.5, 1e20, 1e300, math.inf, -math.inf,
           math.nan, True, False, None, "", "a", "3", " 3 ", "3.0", "3.5", "-2", "+4", "1e-3", "1_000", "0x10",
           "nan", "inf", "-inf", "Infinity", "variance", "second_moment", "CLARABEL", [], [1], [1, 2.5], [0],
           [-1], ["a"], [1, "2"], [True], [math.nan], [math.inf], {}, {"a": 1}, {"shape": [2]}]
FIELDS = {
    "name": None, "kind": None, "description": None, "variables": None, "data": None, "parameters": None,
    "x0": None, "oracle": None, "baseline": None, "solve": None,
    ("variables", "x"): None, ("variables", "x", "shape"): None, ("variables", "x", "x0"): None,
    ("variables", "x", "bogus"): None, ("parameters", "lam"): None, ("data", "A"): None,
    ("oracle", "stochastic"): None, ("oracle", "stochastic", "batch_size"): None,
    ("oracle", "stochastic", "seed"): None, ("oracle", "noise"): None, ("oracle", "noise", "sigma"): None,
    ("oracle", "noise", "seed"): None, ("oracle", "noise", "model"): None, ("oracle", "bogus"): None,
    ("baseline", "solver"): None, ("baseline", "objective"): None, ("baseline", "tolerance"): None,
    ("baseline", "bogus"): None,
}
BASE = {"name": "p", "kind": "minimize", "variables": {"x": {"shape": [3]}},
        "oracle": {"stochastic": {"batch_size": 2}, "noise": {"sigma": 0.1}}}


def _with(path, value):
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    path = (path,) if isinstance(path, str) else path
    node = raw
    for key in path[:-1]:
        node[key] = dict(node.get(key) or {}) if isinstance(node.get(key), dict) or key not in node else node[key]
        if not isinstance(node[key], dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return raw


def _plain(obj):
    if isinstance(obj, (records.PlainModel, BaseModel)):
        fields = type(obj).model_fields
        return {k: _plain(getattr(obj, k)) for k in fields}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return "nan"
    return obj, type(obj).__name__


def _outcome(model, raw):
    try:
        if isinstance(model, type) and issubclass(model, records.PlainModel):
            return "ok", _plain(model.model_validate(raw))
        return "ok", _plain(model.model_validate(raw))
    except records.Invalid as err:
        e = err.error
    except ValidationError as err:
        e = err.errors()[0]
    return "error", e["type"], e["msg"], tuple(e["loc"])


@pytest.mark.parametrize("path", list(FIELDS), ids=lambda p: ".".join(p) if isinstance(p, tuple) else p)
def test_same_values_and_first_error_as_pydantic(path):
    differ = [(value, ours, theirs) for value in SCALARS
              if (ours := _outcome(schema.ProblemFile, _with(path, value))) != (theirs := _outcome(ProblemFile, _with(path, value)))]
    assert not differ, differ


def test_missing_and_extra_keys_as_pydantic():
    for raw in ({}, {"name": "p"}, {"kind": "k"}, {"name": "", "kind": 3}, {"name": "p", "kind": "k", "extra": 1},
                {"name": "p", "kind": "k", "oracle": {"stochastic": {}}},
                {"name": "p", "kind": "k", "oracle": {"stochastic": {"seed": -1, "bogus": 1}}},
                {"name": "p", "kind": "k", "variables": {3: {"shape": 2}}},
                {"name": "p", "kind": "k", "variables": {"x": {"shape": 2, "start": 0}}}):
        assert _outcome(schema.ProblemFile, raw) == _outcome(ProblemFile, raw), raw


def test_objective_sections_as_pydantic():
    for value in SCALARS:
        raw = {"objective": value}
        assert _outcome(ObjectiveSections, raw) == _outcome(Objective, raw), value
    assert _outcome(ObjectiveSections, {}) == _outcome(Objective, {})
    assert _outcome(ObjectiveSections, {"objective": "x", "b": 1}) == _outcome(Objective, {"objective": "x", "b": 1})


def test_finite_sum_sections_as_pydantic():
    raws = [{"objective": v} for v in SCALARS] + [{"objective": "x", "rows": v} for v in SCALARS]
    raws += [{}, {"rows": ["A"]}, {"objective": "x", "rows": ["A", "b"], "extra": 1}]
    differ = [(raw, ours, theirs) for raw in raws
              if (ours := _outcome(FiniteSumSections, raw)) != (theirs := _outcome(FiniteSum, raw))]
    assert not differ, differ


def test_records_are_frozen_and_know_the_fields_set():
    spec = schema.BaselineSpec.model_validate({"objective": 1})
    assert spec.model_fields_set == {"objective"} and spec.tolerance == pytest.approx(1e-8, rel=0)
    assert spec == schema.BaselineSpec(objective=1.0) and hash(spec) == hash(schema.BaselineSpec(objective=1.0))
    with pytest.raises(TypeError):
        spec.tolerance = 1.0
    import pickle
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_constrained_sections_as_pydantic():
    named = [{"expr": "x >= 0", "name": "b"}, {"expr": "x >= 0"}, {"expr": 3, "name": "b"}, {"expr": "x", "name": "b", "c": 1}]
    raws = [{"objective": "x", "constraints": v} for v in SCALARS + [[c] for c in named] + [["x >= 0", c] for c in named]]
    raws += [{"constraints": ["x >= 0"]}, {"objective": "x"}, {"objective": None, "constraints": []}]
    differ = [(raw, ours, theirs) for raw in raws
              if (ours := _outcome(ConstrainedSections, raw)) != (theirs := _outcome(Constrained, raw))]
    assert not differ, differ
    ok = ConstrainedSections.model_validate({"objective": "x", "constraints": ["x >= 0", named[0]]})
    assert str(ok.constraints[1]) == "x >= 0" and ok.constraints[1].name == "b"


def test_bilevel_sections_as_pydantic():
    raws = [{"upper": v, "lower": {"objective": "x"}} for v in SCALARS] + [{"upper": {"objective": v}, "lower": {}}
                                                                            for v in SCALARS]
    raws += [{}, {"upper": {"objective": "x"}}, {"upper": {"objective": "x", "b": 1}, "lower": {"objective": 1}}]
    differ = [(raw, ours, theirs) for raw in raws
              if (ours := _outcome(BilevelSections, raw)) != (theirs := _outcome(Bilevel, raw))]
    assert not differ, differ


SETS = [{"lower": 0}, {"upper": [1, 2]}, {"lower": [0, 0], "upper": [1]}, {"lower": 2, "upper": 1}, {"ball": 1},
        {"ball": 0}, {"ball": math.inf}, {"ball": math.nan}, {"ball": 1, "lower": 0}, {}, {"lower": math.nan},
        {"lower": math.inf}, {"upper": -math.inf}, {"lower": [0, -math.inf], "upper": [1, 2]}, {"lower": "a"},
        {"lower": ["a"]}, {"bogus": 1}, {"ball": "2"}, {"lower": "1e-3", "upper": True}]


def test_monotone_and_minimax_sections_as_pydantic():
    raws = [{"operator": v} for v in SCALARS] + [{"operator": "x", "set": {"x": v}} for v in SETS + SCALARS]
    raws += [{}, {"operator": ["x", "y"], "set": None}, {"operator": "x", "set": 3}]
    differ = [(raw, ours, theirs) for raw in raws
              if (ours := _outcome(MonotoneSections, raw)) != (theirs := _outcome(Monotone, raw))]
    base = {"objective": "f", "min": "x", "max": ["y"]}
    raws = [{**base, "min": v} for v in SCALARS] + [{**base, "objective": v} for v in SCALARS]
    raws += [{**base, "set": {"y": v}} for v in SETS] + [{"objective": "f"}, {"objective": "f", "min": "x"}, base]
    differ += [(raw, ours, theirs) for raw in raws
               if (ours := _outcome(MinimaxSections, raw)) != (theirs := _outcome(Minimax, raw))]
    assert not differ, differ
    assert MinimaxSections.model_validate(base).min_vars == "x" and "min" in {f.alias for f in MinimaxSections.model_fields.values()}
