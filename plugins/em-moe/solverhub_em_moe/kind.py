"""``kind: mixture_of_experts`` -- gated mixtures of linear or logistic experts (arXiv
2411.06056's setting) fitted by maximum likelihood: the objective is the mean NLL over the
flattened parameters ``beta`` (K, d) and ``gate`` (K-1, d) (symmetric: (d,) and (d,)), so every
gradient method can minimise it. Data X, y (and optionally ``beta_true``/``gate_true``), or
``planted:`` generates them; with known true parameters the report gives the parameter error
up to sign / permutation. Reference: L-BFGS-B (scipy) on an independent numpy NLL, a LOCAL
optimum. Sections and report: docs/methods/em-moe.md.
"""
from __future__ import annotations

__all__ = ["MixtureOfExperts", "MoESections", "PlantedSpec", "InitSpec", "MoESpec", "moe_arrays"]

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import ModelKind, ProblemError, Reference, ReferenceStatus, lazy_module

from .model import MoEConfig, MoEModel, variable_shapes
from .planted import PlantedModel, generate_planted

torch = lazy_module("torch")

DATA_NAMES = ("X", "y", "beta_true", "gate_true")
REFERENCE_SOLVER = "classical: L-BFGS-B (scipy) on the NLL"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlantedSpec(_Strict):
    n: int = Field(1000, gt=0)
    d: int = Field(5, gt=0)
    snr: float = Field(4.0, ge=0)          # ‖beta*_k‖ / noise_std (logistic: ‖beta*_k‖)
    gate_norm: float = Field(2.0, ge=0)    # ‖W*_j‖
    seed: int = Field(0, ge=0)


class InitSpec(_Strict):
    scale: float = Field(0.5, ge=0)
    seed: int = Field(0, ge=0)


class MoESections(_Strict):
    experts: int = Field(ge=2, le=16)
    expert: Literal["linear", "logistic"] = "linear"
    symmetric: bool = False
    noise_std: float | None = Field(None, gt=0)
    planted: PlantedSpec | None = None
    init: InitSpec = InitSpec()


@dataclass(frozen=True, eq=False)
class MoESpec:
    """``problem.sections.model``: the configuration, the default start's draw, what ``planted:`` generated."""

    config: MoEConfig
    init: InitSpec
    planted: PlantedModel | None = None

    @property
    def truth(self) -> np.ndarray | None:
        """The planted parameters in the flat layout (beta then gate), or None."""
        m, symmetric = self.planted, self.config.symmetric
        if m is None:
            return None
        return np.r_[m.beta[0], m.gate[0]] if symmetric else np.r_[m.beta.ravel(), m.gate.ravel()]


def _config(sections: MoESections, d: int) -> MoEConfig:
    return MoEConfig(experts=sections.experts, expert=sections.expert, symmetric=sections.symmetric,
                     noise_std=float(sections.noise_std or 1.0), d=int(d))


def moe_arrays(problem) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(X, y, planted flat parameters or None) of a mixture_of_experts problem, in numpy;
    logistic labels are mapped to {0, 1}."""
    spec: MoESpec = problem.sections.model
    if spec.planted is not None:
        X, y, truth = spec.planted.X, spec.planted.y, spec.truth
    else:
        X = np.asarray(problem.data["X"], dtype=np.float64)
        y = np.asarray(problem.data["y"], dtype=np.float64).reshape(-1)
        truth = None
        if "beta_true" in problem.data:
            truth = np.concatenate([np.asarray(problem.data["beta_true"], dtype=np.float64).ravel(),
                                    np.asarray(problem.data["gate_true"], dtype=np.float64).ravel()])
    if spec.config.expert == "logistic":
        labels = set(np.unique(y).tolist())
        if labels <= {-1.0, 1.0} and -1.0 in labels:
            y = (y > 0).astype(np.float64)
        elif not labels <= {0.0, 1.0}:
            raise ProblemError(f"data y: logistic experts need labels in {{0, 1}} or {{-1, 1}}, got "
                               f"{sorted(labels)[:5]}", location=problem.location("data", "y"),
                               allowed="0/1 or -1/1 labels")
    return X, y, truth


class MixtureOfExperts(ModelKind):
    name = "mixture_of_experts"
    start_seed = ("init", "seed")      # unset in the file: the run's seed draws the start
    description = "gated mixture of linear or logistic experts; objective: the negative log-likelihood"
    Sections = MoESections
    data_names = DATA_NAMES
    polishable = True
    no_cvxpy_reason = "the mixture-of-experts NLL is nonconvex"
    # the conformance kit's instance: EM reaches the L-BFGS-B reference in ~11 iterations (< 0.1 s)
    tiny_problem = """
name: tiny-mixture-of-experts
description: two linear experts with a logistic gate, 200 x 3 planted data
kind: mixture_of_experts
experts: 2
expert: linear
planted: {n: 200, d: 3, snr: 4.0, gate_norm: 2.0, seed: 5}
"""

    # -- YAML -> spec --------------------------------------------------------
    def implicit_variables(self, sections, data_shapes, location) -> dict:
        if sections.planted is not None:
            d = sections.planted.d
        else:
            X = data_shapes.get("X")
            if X is None or len(X) != 2:
                raise ProblemError("mixture_of_experts needs data X (an n x d matrix) and y (n), or a planted: section"
                                   + ("" if X is None else f"; X has shape {tuple(X)}"), location=location,
                                   allowed="data: {X: {file: X.npy}, y: {file: y.npy}}, or planted: "
                                           "{n, d, snr, gate_norm, seed}")
            d = X[1]
        return dict(variable_shapes(_config(sections, d)))

    def build_model(self, sections: MoESections, ctx) -> MoESpec:
        shapes, loc = dict(ctx.symbols.data), ctx.location
        if sections.symmetric and sections.experts != 2:
            raise ProblemError(f"symmetric: true needs experts: 2 (got {sections.experts})",
                               location=loc("symmetric"), allowed="experts: 2, or symmetric: false")
        if sections.noise_std is not None and sections.expert != "linear":
            raise ProblemError("noise_std: only linear experts have a noise level", location=loc("noise_std"))
        planted = None
        if sections.planted is not None:
            if shapes:                 # (the core has checked that data holds only DATA_NAMES)
                raise ProblemError(f"planted: generates X, y and the true parameters, but data gives "
                                   f"{next(iter(shapes))!r}", location=loc("planted"),
                                   allowed="either data X/y or planted:, not both")
            p = sections.planted
            ctx.charge((p.n, p.d + 1), ("planted",), "planted: X (n x d) and y")
            cfg = _config(sections, p.d)
            planted = generate_planted(n=p.n, d=p.d, experts=cfg.experts, expert=cfg.expert, snr=p.snr,
                                       gate_norm=p.gate_norm, noise_std=cfg.noise_std, seed=p.seed)
        else:
            X, y = shapes["X"], shapes.get("y")      # implicit_variables has checked X (n x d)
            if y is None or tuple(y) not in ((X[0],), (X[0], 1)):
                raise ProblemError(f"data y: shape {y and tuple(y)} does not match X's {X[0]} rows",
                                   location=loc("data", "y"), allowed=f"shape [{X[0]}]")
            if ("beta_true" in shapes) != ("gate_true" in shapes):
                which = "gate_true" if "beta_true" in shapes else "beta_true"
                raise ProblemError(f"data: beta_true and gate_true go together ({which} is missing)",
                                   location=loc("data"))
            cfg = _config(sections, X[1])
        want = variable_shapes(cfg)
        for name, shape in (("beta_true", want["beta"]), ("gate_true", want["gate"])):
            if name in shapes and tuple(shapes[name]) != tuple(shape):
                raise ProblemError(f"data {name}: shape {tuple(shapes[name])}, expected {tuple(shape)}",
                                   location=loc("data", name), allowed=f"shape {list(shape)}")
        return MoESpec(config=cfg, init=sections.init, planted=planted)

    # -- torch -------------------------------------------------------------
    def torch_model(self, problem, device, dtype) -> MoEModel:
        X, y, truth = moe_arrays(problem)
        return MoEModel(cfg=problem.sections.model.config, X=torch.as_tensor(X, dtype=dtype, device=device),
                        y=torch.as_tensor(y, dtype=dtype, device=device), truth=truth)

    def default_start(self, problem, seed=None) -> np.ndarray:
        """beta ~ scale * N(0, I), gate = 0: zeros are a symmetric stationary point of the NLL
        when every expert starts equal."""
        spec: MoESpec = problem.sections.model
        nb = int(np.prod(variable_shapes(spec.config)["beta"]))      # the flat layout: beta, then gate
        x0 = np.zeros(problem.dim)
        x0[:nb] = spec.init.scale * np.random.default_rng(spec.init.seed if seed is None else seed).standard_normal(nb)
        return x0

    def report(self, tp, oracle, x) -> dict:
        from .reference import parameter_error
        model: MoEModel = tp.model
        with torch.no_grad():
            nll = float(model.nll(x))
            pred = model.predict(x)
            if model.cfg.expert == "linear":
                fit = {"fit_mse": float(((pred - model.y) ** 2).mean())}
            else:
                fit = {"fit_accuracy": float(((pred > 0.5).to(model.y.dtype) == model.y).to(pred.dtype).mean())}
        out = {"nll": nll, **fit, "param_error_to": None, "param_error": None}
        if model.truth is not None:
            err = parameter_error(x.detach().cpu().numpy().astype(np.float64), model.truth, model.cfg)
            truth_t = torch.as_tensor(model.truth, dtype=x.dtype, device=x.device)
            out.update(err, param_error_to="planted", truth_nll=float(model.nll(truth_t)))
        return out

    # -- reference -------------------------------------------------------------
    def reference_solve(self, problem, solver=None) -> Reference:
        """Scipy L-BFGS-B on the numpy NLL, started at the planted parameters when they are
        known (the MLE next to the truth), else at the kind's default start: a LOCAL optimum."""
        from scipy.optimize import minimize

        from .reference import nll_and_grad
        X, y, truth = moe_arrays(problem)
        label, x0 = ("planted parameters", truth) if truth is not None else ("default start", self.start(problem))
        t0 = time.perf_counter()
        res = minimize(nll_and_grad, np.asarray(x0, dtype=np.float64), args=(X, y, problem.sections.model.config),
                       jac=True, method="L-BFGS-B", options={"maxiter": 5000, "ftol": 0.0, "gtol": 1e-10})
        seconds, said = time.perf_counter() - t0, str(res.message)
        if not np.isfinite(res.fun):
            return Reference(ReferenceStatus.FAILED, REFERENCE_SOLVER, solve_time_s=seconds, backend_status=said,
                             iterations=int(res.nit), message="L-BFGS-B returned no finite NLL")
        return Reference(ReferenceStatus.LOCAL, REFERENCE_SOLVER, x=res.x, solve_time_s=seconds, backend_status=said,
                         iterations=int(res.nit), extras={"start": label},
                         message=f"local optimum from the {label} (nonconvex: a reference, not a global certificate)")
