"""The YAML sections of ``kind: unlearning`` (pydantic models, ``extra="forbid"``) and the
synthetic sine-poisoning data of arXiv 2505.22601 §5.1."""
from __future__ import annotations

__all__ = ["UnlearningSections", "ModelSection", "ForgetSection", "SyntheticSection", "SineSection",
           "TrainSection", "EvaluateSection", "InitSection", "sine_poisoning"]

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .model import ACTIVATIONS


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
