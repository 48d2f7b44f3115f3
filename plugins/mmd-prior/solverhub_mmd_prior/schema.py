"""The YAML sections of ``kind: latent_prior`` (pydantic, ``extra="forbid"``) and the prior
spec parser (``prior:`` is checked by hand so that an unknown prior names the choices)."""
from __future__ import annotations

__all__ = ["LatentPriorSections", "DatasetSection", "FactorsSpec", "KernelSection", "InitSection",
           "PRIORS", "parse_prior"]

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import Location, ProblemError

from .metrics.mmd import DEFAULT_SCALES
from .metrics.priors import GaussianPrior, MixturePrior, UniformPrior

PRIORS = ("gaussian", "uniform", "mixture")
ACTIVATIONS = ("tanh", "relu", "elu")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FactorsSpec(_Strict):
    """The note's T3 generator: s ~ U[-1, 1]^dim_factors, x = tanh(M2 tanh(M1 s)) + noise * N(0, I)."""
    n: int = Field(2000, ge=20, le=200_000)
    dim_factors: int = Field(2, ge=1, le=32)
    dim_x: int = Field(10, ge=1, le=1024)
    noise: float = Field(0.01, ge=0)
    seed: int = Field(0, ge=0)


class DatasetSection(_Strict):
    factors: FactorsSpec | None = None
    sklearn: Literal["digits"] | None = None       # scikit-learn's 8x8 digits, pixels / 16 in [0, 1]
    n: int | None = Field(None, ge=20)             # sklearn: use the first n rows of a seeded shuffle
    test_fraction: float = Field(0.2, gt=0, lt=1)  # held-out rows for the reconstruction error
    split_seed: int = Field(0, ge=0)


class KernelSection(_Strict):
    bandwidths: list[float] = Field(default_factory=lambda: list(DEFAULT_SCALES))   # times sqrt(latent_dim)


class InitSection(_Strict):
    seed: int = Field(0, ge=0)                     # PyTorch-Linear-style uniform init, drawn with numpy


class LatentPriorSections(_Strict):
    dataset: DatasetSection
    latent_dim: int = Field(ge=1, le=64)
    prior: Any = "gaussian"                        # gaussian | uniform | mixture, or {name: {options}}
    encoder: list[int] = Field(default_factory=lambda: [32])   # hidden widths
    decoder: list[int] = Field(default_factory=lambda: [32])
    activation: Literal[ACTIVATIONS] = "tanh"
    lam: float = Field(10.0, ge=0, alias="lambda")  # weight of MMD^2 in mmd-prior's loss
    kernel: KernelSection = KernelSection()
    batch_size: int = Field(128, ge=2, le=100_000)
    epochs: int = Field(50, ge=1, le=100_000)       # training budget of every solver of this kind
    init: InitSection = InitSection()


_PRIOR_KEYS = {"gaussian": ("mean", "std"), "uniform": ("low", "high"),
               "mixture": ("components", "radius", "std", "means", "weights")}


def parse_prior(spec, dim: int, loc) -> tuple[str, Any]:
    """``(name, prior)`` with ``prior`` a :mod:`solverhub_mmd_prior.metrics.priors` object; ``loc(*path)``
    gives the Location of a key. Raises ProblemError with the choices on bad input."""
    if isinstance(spec, str):
        name, opts = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        name, opts = next(iter(spec.items()))
        opts = {} if opts is None else opts
    else:
        raise ProblemError(f"prior: expected a name or {{name: {{options}}}}, got {spec!r}", location=loc("prior"),
                           allowed=", ".join(PRIORS))
    if name not in PRIORS:
        raise ProblemError(f"prior: unknown prior {name!r}", location=loc("prior"), allowed=", ".join(PRIORS))
    if not isinstance(opts, dict):
        raise ProblemError(f"prior.{name}: expected a mapping of options, got {opts!r}", location=loc("prior", name),
                           allowed=", ".join(_PRIOR_KEYS[name]))
    for key in opts:
        if key not in _PRIOR_KEYS[name]:
            raise ProblemError(f"prior.{name}: unknown key {key!r}", location=loc("prior", name, key),
                               allowed=", ".join(_PRIOR_KEYS[name]))
    try:
        if name == "gaussian":
            return name, GaussianPrior(dim, opts.get("mean", 0.0), opts.get("std", 1.0))
        if name == "uniform":
            return name, UniformPrior(dim, opts.get("low", -1.0), opts.get("high", 1.0))
        return name, MixturePrior(_mixture_means(opts, dim), opts.get("std", 0.5), opts.get("weights"))
    except (ValueError, TypeError) as err:
        raise ProblemError(f"prior.{name}: {err}", location=loc("prior", name),
                           allowed=", ".join(_PRIOR_KEYS[name])) from None


def _mixture_means(opts: dict, dim: int) -> np.ndarray:
    """Given ``means`` (components x dim), or ``components`` means evenly on a circle of
    ``radius`` in the first two latent dimensions (on +-radius when dim = 1)."""
    if opts.get("means") is not None:
        means = np.asarray(opts["means"], dtype=np.float64)
        if means.ndim != 2 or means.shape[1] != dim:
            raise ValueError(f"means must be a list of {dim}-vectors (latent_dim), got shape {means.shape}")
        return means
    components = int(opts.get("components", 4))
    radius = float(opts.get("radius", 2.0))
    if components < 1 or not radius >= 0:
        raise ValueError("components >= 1 and radius >= 0")
    means = np.zeros((components, dim))
    angles = 2 * np.pi * np.arange(components) / components
    if dim == 1:
        means[:, 0] = radius * np.cos(angles)
    else:
        means[:, 0], means[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
    return means
