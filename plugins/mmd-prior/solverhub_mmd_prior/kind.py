"""``kind: latent_prior`` -- train an autoencoder whose aggregate posterior should match a chosen prior
(arXiv 2510.11953's setting). Variables (implied): the autoencoder's weights. Objective: the exact training
reconstruction error mean_i ||x_i - dec(mu(x_i))||^2; the solvers train on the loss terms of ``model.py``.
No reference answer (nonconvex; the point is the latent geometry). Details: docs/methods/mmd-prior.md.
"""
from __future__ import annotations

__all__ = ["LatentPrior", "LatentPriorSections", "DatasetSection", "FactorsSpec", "KernelSection", "InitSection",
           "LPSSection", "PAPER", "parse_prior", "latent_report"]

from dataclasses import replace
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import CompiledSections, ModelKind, ProblemError, SklearnMissing, lazy_module

from .data import LatentData, digits_dataset, factor_dataset, split_rows
from .metrics import GaussianPrior, MixturePrior, UniformPrior, factor_recovery, ks_to_prior, lps, mmd2
from .metrics.lps import REGRESSORS
from .metrics.mmd import DEFAULT_SCALES, PAPER_SCALES
from .model import AEConfig, LatentModel, LatentSpec, init_params, variable_shapes

torch = lazy_module("torch")

SKLEARN_DIMS = {"digits": 64}
REPORT_POINTS = 2000      # rows of the aggregate posterior used by the latent metrics
PRIORS = ("gaussian", "uniform", "mixture")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FactorsSpec(_Strict):          # the note's T3 generator (data.factor_dataset)
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
    bandwidth: Literal["fixed", "median"] = "fixed"     # h = scale * sqrt(latent_dim) | scale * median distance
    bandwidths: list[Annotated[float, Field(gt=0)]] | None = Field(None, min_length=1)   # the scales; null:
    estimator: Literal["unbiased", "biased"] = "unbiased"   # (0.2, 0.5, 1, 2, 5) fixed, (0.5, 1, 2) median


class LPSSection(_Strict):
    regressor: Literal[REGRESSORS] = "knn"         # knn (ours, numpy) | hgb | mlp (scikit-learn; the paper's)
    clip: bool = True                              # clip each R^2 at 0 (ours; the paper reports it unclipped)


class InitSection(_Strict):
    seed: int = Field(0, ge=0)                     # PyTorch-Linear-style uniform init, drawn with numpy


class LatentPriorSections(_Strict):
    dataset: DatasetSection
    latent_dim: int = Field(ge=1, le=64)
    prior: Any = "gaussian"                        # gaussian | uniform | mixture, or {name: {options}}
    encoder: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [32])   # hidden widths
    decoder: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [32])
    activation: Literal["tanh", "relu", "elu"] = "tanh"
    lam: float = Field(10.0, ge=0, alias="lambda")  # weight of MMD^2 in mmd-prior's loss
    kernel: KernelSection = KernelSection()
    batch_size: int = Field(128, ge=2, le=100_000)
    epochs: int = Field(50, ge=1, le=100_000)       # training budget of every solver of this kind
    init: InitSection = InitSection()
    batch: Literal["separate", "shared"] = "separate"   # minibatches of mmd-prior's two terms
    lps: LPSSection = LPSSection()
    preset: Literal["plugin", "paper"] = "plugin"   # paper: PAPER's values for every key not given


# arXiv 2510.11953 App. A.3 / A (a deterministic AE; Adam lr 5e-4 enters as the file's solve default)
PAPER = {"lam": 0.3, "batch_size": 512, "batch": "shared", "lr": 5e-4,
         "kernel": KernelSection(bandwidth="median", estimator="biased"), "lps": LPSSection(regressor="hgb", clip=False)}


def _resolved(sections: LatentPriorSections) -> LatentPriorSections:
    """``sections`` with ``preset: paper``'s values for the keys the file does not give."""
    if sections.preset != "paper":
        return sections
    given = sections.model_fields_set
    kernel = sections.kernel.model_dump(exclude_unset=True) if "kernel" in given else {}
    lps_given = sections.lps.model_dump(exclude_unset=True) if "lps" in given else {}
    update = {key: value for key, value in PAPER.items() if key not in given and key in type(sections).model_fields}
    update["kernel"] = PAPER["kernel"].model_copy(update=kernel)
    update["lps"] = PAPER["lps"].model_copy(update=lps_given)
    return sections.model_copy(update=update)
_PRIOR_KEYS = {"gaussian": ("mean", "std"), "uniform": ("low", "high"),
               "mixture": ("components", "radius", "std", "means", "weights")}


def parse_prior(spec, dim: int, loc):
    """A :mod:`~.metrics.priors` prior from ``prior:`` (a name or ``{name: {options}}``);
    ``loc(*path)`` gives the Location of a key. Raises ProblemError with the choices on bad input."""
    if isinstance(spec, str):
        spec = {spec: None}
    if not (isinstance(spec, dict) and len(spec) == 1):
        raise ProblemError(f"prior: expected a name or {{name: {{options}}}}, got {spec!r}", location=loc("prior"),
                           allowed=", ".join(PRIORS))
    ((name, opts),) = spec.items()
    opts = {} if opts is None else opts
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
            return GaussianPrior(dim, **opts)          # defaults N(0, I)
        if name == "uniform":
            return UniformPrior(dim, **opts)           # defaults U[-1, 1]^dim
        return MixturePrior(_mixture_means(opts, dim), opts.get("std", 0.5), opts.get("weights"))
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
    components, radius = int(opts.get("components", 4)), float(opts.get("radius", 2.0))
    if components < 1 or not radius >= 0:
        raise ValueError("components >= 1 and radius >= 0")
    angles = 2 * np.pi * np.arange(components) / components
    circle = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    means = np.zeros((components, dim))
    means[:, :min(dim, 2)] = circle[:, :min(dim, 2)]
    return means


def _config(sections: LatentPriorSections) -> AEConfig:
    ds = sections.dataset
    dim_x = ds.factors.dim_x if ds.factors is not None else SKLEARN_DIMS.get(ds.sklearn or "", 0)
    return AEConfig(dim_x=dim_x, latent_dim=sections.latent_dim, encoder=tuple(sections.encoder),
                    decoder=tuple(sections.decoder), activation=sections.activation)


def latent_report(spec: LatentSpec, z_all: np.ndarray, *, prefix: str = "", seed: int = 0) -> dict:
    """Latent metrics of the aggregate posterior sample ``z_all`` (rows: train then test)."""
    data, prior = spec.data, spec.prior
    rng = np.random.default_rng(seed)
    take = np.sort(rng.permutation(z_all.shape[0])[:REPORT_POINTS])
    z = z_all[take]
    ks = ks_to_prior(z, prior)
    scores = lps(z, seed=seed, regressor=spec.lps_regressor, clip=spec.lps_clip)
    out = {"mmd2_to_prior": mmd2(z, prior.sample(z.shape[0], rng), scales=spec.scales, estimator=spec.estimator,
                                 bandwidth=spec.bandwidth),
           "ks_max": float(ks.max()), "ks_mean": float(ks.mean()), "lps_mean": float(scores.mean()),
           "lps_max": float(scores.max()), "ks_per_dim": ks.tolist(), "lps_per_dim": scores.tolist()}
    if data.factors_train is not None:
        rec = factor_recovery(z, np.concatenate([data.factors_train, data.factors_test])[take])
        out.update(factor_recovery_mean=float(rec.mean()), factor_recovery_min=float(rec.min()))
    return {prefix + key: value for key, value in out.items()}


def _have_sklearn() -> bool:
    """scikit-learn importable (found, not imported: the kind's module stays light)."""
    import importlib.util
    return importlib.util.find_spec("sklearn") is not None


class LatentPrior(ModelKind):
    name = "latent_prior"
    start_seed = ("init", "seed")      # unset in the file: the run's seed draws the start
    description = "autoencoder whose aggregate posterior should match a chosen prior; objective: reconstruction error"
    Sections = LatentPriorSections
    data_names = ()                 # the kind makes its own data (dataset:)
    generic_minimization = False    # trained by its own methods (their loss terms and budget), not as a plain f(x)
    no_cvxpy_reason = ("latent_prior trains a nonconvex autoencoder whose point is the latent geometry "
                       "(MMD, KS, LPS in the report); there is no convex form or reference optimum")
    tiny_problem = """
name: tiny-latent-prior
kind: latent_prior
dataset: {factors: {n: 200, dim_factors: 2, dim_x: 4, noise: 0.01, seed: 0}}
latent_dim: 2
prior: uniform
encoder: [8]
decoder: [8]
batch_size: 32
epochs: 3
"""

    def implicit_variables(self, sections, data_shapes, location) -> dict:
        return dict(variable_shapes(_config(sections)))

    def build_model(self, sections: LatentPriorSections, ctx) -> CompiledSections:
        sections = _resolved(sections)
        loc, ds = ctx.location, sections.dataset
        if (ds.factors is None) == (ds.sklearn is None):
            raise ProblemError("dataset: give exactly one of factors: {...} and sklearn: digits",
                               location=loc("dataset"), allowed="factors, sklearn")
        prior = parse_prior(sections.prior, sections.latent_dim, loc)
        if ds.factors is not None:
            f = ds.factors
            ctx.charge((f.n, f.dim_x + f.dim_factors), ("dataset", "factors"), "dataset.factors: x and s")
            if ds.n is not None:
                raise ProblemError("dataset.n: only for sklearn datasets (factors: has its own n)",
                                   location=loc("dataset", "n"))
            X, S = factor_dataset(f.n, f.dim_factors, f.dim_x, f.noise, f.seed)
            name = f"factors(n={f.n}, k={f.dim_factors}, dim_x={f.dim_x}, noise={f.noise:g}, seed={f.seed})"
        else:
            try:
                X, S = digits_dataset(), None
            except SklearnMissing as err:
                raise ProblemError(f"dataset.sklearn: {err}", location=loc("dataset", "sklearn"),
                                   allowed="pip install 'solverhub[sklearn]' (or scikit-learn), or dataset: {factors: ...}") from None
            if ds.n is not None:
                if ds.n > X.shape[0]:
                    raise ProblemError(f"dataset.n: digits has {X.shape[0]} rows, asked for {ds.n}",
                                       location=loc("dataset", "n"), allowed=f"n <= {X.shape[0]}")
                X = X[np.sort(np.random.default_rng(ds.split_seed).permutation(X.shape[0])[:ds.n])]
            name = f"sklearn digits ({X.shape[0]} rows)"
        train, test = split_rows(X.shape[0], ds.test_fraction, ds.split_seed)
        if sections.batch_size > train.size:
            raise ProblemError(f"batch_size: {sections.batch_size} exceeds the {train.size} training rows",
                               location=loc("batch_size"), allowed=f"2 <= batch_size <= {train.size}")
        data = LatentData(X[train], X[test], None if S is None else S[train], None if S is None else S[test], name)
        if sections.lps.regressor != "knn" and not _have_sklearn():
            where = ("lps", "regressor") if "lps" in sections.model_fields_set else ("preset",)
            raise ProblemError(f"lps.regressor: {sections.lps.regressor} needs scikit-learn, which is not installed",
                               location=loc(*where), allowed="pip install 'solverhub[sklearn]', or lps: {regressor: knn}")
        kernel = sections.kernel
        scales = kernel.bandwidths or (PAPER_SCALES if kernel.bandwidth == "median" else DEFAULT_SCALES)
        spec = LatentSpec(config=_config(sections), prior=prior, data=data, lam=sections.lam, scales=tuple(scales),
                          batch_size=sections.batch_size, epochs=sections.epochs, init_seed=sections.init.seed,
                          estimator=kernel.estimator, bandwidth=kernel.bandwidth,
                          shared_batch=sections.batch == "shared", lps_regressor=sections.lps.regressor,
                          lps_clip=sections.lps.clip, preset=sections.preset)
        defaults = {"lr": PAPER["lr"]} if sections.preset == "paper" else {}
        return CompiledSections(model=spec, solve_defaults=defaults)

    def torch_model(self, problem, device, dtype) -> LatentModel:
        return LatentModel(problem.sections.model, device, dtype)

    def lower_torch(self, problem, device, dtype):
        tp = super().lower_torch(problem, device, dtype)
        return replace(tp, functions=tp.model.functions())     # the loss terms the oracle counts by name

    def default_start(self, problem, seed=None) -> np.ndarray:
        """torch.nn.Linear's init, drawn with numpy."""
        spec: LatentSpec = problem.sections.model
        return init_params(spec.config, spec.init_seed if seed is None else seed)

    def report(self, tp, oracle, x) -> dict:
        model: LatentModel = tp.model
        with torch.no_grad():
            mu_test, _ = model.encode(x, model.X_test)
            err = float(((model.X_test - model.decode(x, mu_test)) ** 2).sum(1).mean())
        z = model.encode_all(x)[0].cpu().numpy().astype(np.float64)
        return {"test_recon_error": err, "test_recon_mse": err / model.cfg.dim_x, "dataset": model.spec.data.name,
                **latent_report(model.spec, z)}
