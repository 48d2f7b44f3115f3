"""The YAML sections of ``kind: unlearning`` (pydantic models, ``extra="forbid"``), the
synthetic sine-poisoning rows of arXiv 2505.22601 §5.1, and :class:`UnlearningSpec`, the
typed, frozen compiled spec kept as ``problem.sections.model``, checked against the data
shapes with ``file:line`` errors (the rows are read or generated at set-up, :mod:`.setup`)."""
from __future__ import annotations

__all__ = ["UnlearningSections", "ModelSection", "ForgetSection", "SyntheticSection", "SineSection",
           "TrainSection", "EvaluateSection", "InitSection", "sine_poisoning", "UnlearningSpec", "build_spec",
           "implied_variables"]

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import ProblemError

from .model import ACTIVATIONS, ModelSpec, layer_shapes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InitSection(_Strict):
    seed: int = Field(default=0, ge=0)
    scale: float | None = Field(default=None, ge=0)   # default: 0 (linear), 1 (mlp)


class ModelSection(_Strict):
    type: Literal["linear", "mlp"]
    widths: list[int] = Field(default_factory=list)
    activation: Literal[ACTIVATIONS] = "tanh"
    bias: bool | None = None          # default: false (linear), true (mlp)
    standardize: bool = False         # x̃ = (x − mean) / std over all training rows
    init: InitSection = InitSection()


class ForgetSection(_Strict):
    rows: list[int] | None = None     # row indices of the forget set
    first: int | None = Field(default=None, ge=1)
    last: int | None = Field(default=None, ge=1)
    mask: str | None = None           # a data entry, 1 = forget, 0 = retain


class SineSection(_Strict):
    n_retain: int = Field(default=50, ge=1)
    n_forget: int = Field(default=5, ge=1)
    low: float = -5 * math.pi
    high: float = 5 * math.pi
    forget_value: float = 1.5
    seed: int = Field(default=0, ge=0)


class SyntheticSection(_Strict):
    sine_poisoning: SineSection


class TrainSection(_Strict):
    method: Literal["min_norm", "gauss_newton", "adam"] | None = None   # default: min_norm / gauss_newton
    max_iterations: int = Field(default=500, ge=1)
    tolerance: float = Field(default=1e-20, ge=0)    # stop when the training mean squared error is below
    lr: float = Field(default=1e-3, gt=0)            # adam only


class EvaluateSection(_Strict):
    grid: int = Field(default=1000, ge=0)   # points on the input range (1-d inputs) for sup-norm metrics


class UnlearningSections(_Strict):
    model: ModelSection
    inputs: str = "X"
    targets: str = "y"
    forget: ForgetSection | None = None
    synthetic: SyntheticSection | None = None
    train: TrainSection = TrainSection()
    evaluate: EvaluateSection = EvaluateSection()


def sine_poisoning(s: SineSection):
    """(X (n, 1), y, forget mask): retain y = sin x, forget y = forget_value, x uniform on
    [low, high] (retain rows first)."""
    rng = np.random.default_rng(s.seed)
    x_retain = rng.uniform(s.low, s.high, s.n_retain)
    x_forget = rng.uniform(s.low, s.high, s.n_forget)
    X = np.concatenate([x_retain, x_forget])[:, None]
    y = np.concatenate([np.sin(x_retain), np.full(s.n_forget, s.forget_value)])
    return X, y, np.arange(X.shape[0]) >= s.n_retain


@dataclass(frozen=True, eq=False)
class UnlearningSpec:
    """What an unlearning problem is, before any training: the sections and their resolved defaults."""

    sections: UnlearningSections
    net: ModelSpec                    # the network, without standardization constants (set from the data)
    init_scale: float
    train: TrainSection               # method resolved (min_norm / gauss_newton / adam)
    synthetic: SineSection | None     # the sine-poisoning rows (target sin x), generated at set-up


def _input_dim(shape: tuple) -> int:
    return 1 if len(shape) == 1 else int(np.prod(shape[1:]))


def _net_spec(sections: UnlearningSections, d_in: int, location) -> ModelSpec:
    m = sections.model
    if m.type == "mlp" and (not m.widths or any(w < 1 for w in m.widths)):
        raise ProblemError("model.widths: an mlp needs a non-empty list of positive hidden widths",
                           location=location, allowed="widths: [64] or [24, 24]")
    if m.type == "linear" and m.widths:
        raise ProblemError("model.widths: a linear model has no hidden layers", location=location)
    bias = m.bias if m.bias is not None else m.type == "mlp"
    return ModelSpec(m.type, d_in, tuple(m.widths), m.activation, bias)


def implied_variables(sections: UnlearningSections, data_shapes: dict, location) -> dict:
    """The model's weights ``{name: shape}`` (the kind's variables)."""
    if sections.synthetic is not None:
        d_in = 1
    elif sections.inputs in data_shapes:
        d_in = _input_dim(data_shapes[sections.inputs])
    else:
        raise ProblemError(f"unlearning: no data entry {sections.inputs!r} for the model inputs",
                           location=location, allowed="data: {X: ..., y: ...} or synthetic: {sine_poisoning: {...}}")
    return dict(layer_shapes(_net_spec(sections, d_in, location)))


def build_spec(sections: UnlearningSections, ctx) -> UnlearningSpec:
    """Validate the sections against the data shapes (the core checks declared variables)."""
    data, at, synthetic = ctx.symbols.data, ctx.location, None
    if sections.synthetic is not None:
        synthetic = s = sections.synthetic.sine_poisoning
        if not s.low < s.high:
            raise ProblemError("synthetic.sine_poisoning: need low < high", location=at("synthetic", "sine_poisoning"))
        if sections.forget is not None:
            raise ProblemError("forget: the synthetic data define their own forget set (the poisoned points)",
                               location=at("forget"), allowed="remove forget: or use data: with forget:")
        if sections.inputs in data or sections.targets in data:
            raise ProblemError(f"data: {sections.inputs!r}/{sections.targets!r} given together with synthetic:",
                               location=at("synthetic"), allowed="one of data: or synthetic:")
        ctx.charge((s.n_retain + s.n_forget, 2), ("synthetic", "sine_poisoning"), "synthetic rows (x, y)")
        d_in = 1
    else:
        for key, name in (("inputs", sections.inputs), ("targets", sections.targets)):
            if name not in data:
                raise ProblemError(f"{key}: no data entry {name!r} (the model's {key})", location=at(key),
                                   allowed=", ".join(data) or "(no data: declare data: or synthetic:)")
        x_shape, y_shape = tuple(data[sections.inputs]), tuple(data[sections.targets])
        n = x_shape[0] if x_shape else 0
        if len(x_shape) not in (1, 2) or n < 2:
            raise ProblemError(f"data.{sections.inputs}: inputs are an (n, d) or (n,) array with n >= 2, "
                               f"got shape {x_shape}", location=at("data", sections.inputs))
        if y_shape not in ((n,), (n, 1)):
            raise ProblemError(f"data.{sections.targets}: targets need shape ({n},), one per input row, "
                               f"got {y_shape}", location=at("data", sections.targets))
        _check_forget(sections.forget, n, data, at)
        d_in = _input_dim(x_shape)
    net = _net_spec(sections, d_in, at("model"))
    method = sections.train.method or ("min_norm" if net.type == "linear" else "gauss_newton")
    if method == "min_norm" and net.type != "linear":
        raise ProblemError("train.method: min_norm is the closed form of a linear model",
                           location=at("train", "method"), allowed="gauss_newton, adam")
    scale = sections.model.init.scale
    scale = scale if scale is not None else (0.0 if net.type == "linear" else 1.0)
    return UnlearningSpec(sections, net, scale, sections.train.model_copy(update={"method": method}), synthetic)


def _check_forget(forget: ForgetSection | None, n: int, data: dict, at) -> None:
    if forget is None:
        raise ProblemError("forget: required section missing (which rows to unlearn)", location=at("kind"),
                           allowed="forget: {rows: [...]} | {first: k} | {last: k} | {mask: name}")
    given = [k for k in ("rows", "first", "last", "mask") if getattr(forget, k) is not None]
    if len(given) != 1:
        raise ProblemError(f"forget: give exactly one of rows, first, last, mask (got {', '.join(given) or 'none'})",
                           location=at("forget"), allowed="rows, first, last, mask")
    if forget.rows is not None:
        bad = [r for r in forget.rows if not 0 <= r < n]
        if bad or not forget.rows or len(set(forget.rows)) != len(forget.rows):
            raise ProblemError(f"forget.rows: need distinct row indices in 0 .. {n - 1}"
                               + (f", got {bad}" if bad else ""), location=at("forget", "rows"))
        count = len(forget.rows)
    elif forget.mask is not None:
        if forget.mask not in data or tuple(data[forget.mask]) != (n,):
            raise ProblemError(f"forget.mask: needs a data entry of shape ({n},) with 0/1 per row",
                               location=at("forget", "mask"), allowed=", ".join(data))
        return
    else:
        count = forget.first or forget.last
    if count >= n:
        raise ProblemError(f"forget: {count} of {n} rows leaves no retain set", location=at("forget"))
