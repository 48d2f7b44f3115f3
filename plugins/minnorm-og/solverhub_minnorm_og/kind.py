"""``kind: unlearning`` -- remove a forget set from a trained, interpolating model.

A file declares a model (``linear`` or a small ``mlp``), data with a forget set
(rows of ``X``/``y`` from any data source, or the ``synthetic:`` sine-poisoning
replica of arXiv 2505.22601 §5.1), and how the trained model is obtained
(``train:``, deterministic, from the seeded initialization ``model.init``).
The variables are the model's weights (implied: ``w`` [+ ``b``], or
``W1, b1, ..., W<L+1>, b<L+1>``); the run starts from the trained model θ*.

The unlearning target (the paper's definition for overparameterized models) is
the least-complex retain interpolator

    θ_r* = argmin ½‖θ‖²   s.t.   f(θ, x_i) = y_i  for the retain rows,

so the objective is R(θ) = ½‖θ‖² and the default stationarity measure
``minnorm_kkt`` = sqrt(‖P_null(J_r(θ)) θ‖² + ‖f(θ, X_r) − y_r‖²), the first-order
(KKT) residual of that constrained problem (zero exactly at θ_r* for a linear
model). Named oracle functions: ``retain`` and ``forget``, the mean squared
errors on the two sets (what the loss-based methods differentiate).

Reference ("baseline"): retrain from scratch -- the set-up's trainer run on the
retain rows only, from the same θ0. For a linear model from θ0 = 0 that is the
closed form pinv(X_r) y_r, i.e. θ_r* itself.
"""
from __future__ import annotations

__all__ = ["Unlearning", "UnlearningSections", "UnlearningTensors", "Setup"]

import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from solverhub.plugin import (CompiledSections, Const, CvxpySolution, Location, NoBaseline, ProblemError, ProblemKind,
                              TorchProblem, lazy_module)

from .model import ModelSpec, TorchModel, init_params, layer_shapes, train
from .projection import null_component
from .schema import ForgetSection, TrainSection, UnlearningSections, sine_poisoning

torch = lazy_module("torch")


@dataclass(frozen=True, eq=False)
class Config:
    """The compiled sections (``problem.sections.extra["unlearning"]``)."""

    spec: ModelSpec                   # without standardization constants (set up from the data)
    standardize: bool
    init_seed: int
    init_scale: float
    train: TrainSection
    grid: int
    inputs: str
    targets: str
    forget: ForgetSection | None
    synthetic: dict | None            # {"X", "y", "forget", "low", "high"} numpy, when generated
    target: str | None                # "sin": the noiseless function behind the synthetic data


def _input_dim(shape: tuple) -> int:
    return 1 if len(shape) == 1 else int(np.prod(shape[1:]))


@dataclass(frozen=True, eq=False)
class Setup:
    """Everything computed once per problem on CPU in float64 (numpy): data, θ0, θ*, θ_ref."""

    spec: ModelSpec
    X: np.ndarray
    y: np.ndarray
    forget: np.ndarray                # bool mask
    theta_init: np.ndarray
    trained: Any                      # model.TrainOutcome (all rows)
    reference: Any                    # model.TrainOutcome (retain rows): retrain from scratch
    reference_name: str
    setup_time_s: float
    grid: np.ndarray | None
    target_on_grid: np.ndarray | None


@dataclass
class UnlearningTensors:
    """The set-up on the solve's device and dtype."""

    setup: Setup
    model: TorchModel
    X_retain: Any
    y_retain: Any
    X_forget: Any
    y_forget: Any
    theta_init: Any
    theta_trained: Any
    theta_reference: Any
    grid: Any = None
    target_on_grid: Any = None

    def retain_mse(self, theta, rows=None):
        return torch.mean((self.model(theta, self.X_retain) - self.y_retain) ** 2)

    def forget_mse(self, theta, rows=None):
        return torch.mean((self.model(theta, self.X_forget) - self.y_forget) ** 2)

    def kkt_parts(self, theta):
        """(‖P_null(J_r) θ‖, ‖f(θ, X_r) − y_r‖) as 0-d tensors."""
        J = self.model.jacobian(theta, self.X_retain)
        residual = self.model(theta, self.X_retain) - self.y_retain
        return torch.linalg.vector_norm(null_component(theta, J)), torch.linalg.vector_norm(residual)


@dataclass
class UnlearningTorchProblem(TorchProblem):
    tensors: UnlearningTensors | None = None


_SETUPS: OrderedDict[str, Setup] = OrderedDict()
_MAX_SETUPS = 16


class Unlearning(ProblemKind):
    tiny_problem = """
name: tiny-unlearning
description: 12 x 30 least squares, forget 3 rows
kind: unlearning
data:
  X: {generate: normal, shape: [12, 30], seed: 4}
  y: {generate: normal, shape: [12], seed: 5}
model: {type: linear}
forget: {rows: [0, 5, 7]}
solve: {optimizer: gd, lr: 0.02, reg_coef: 1.0}
"""
    name = "unlearning"
    description = "unlearn a forget set from a trained interpolating model (linear or MLP)"
    Sections = UnlearningSections
    default_measure = "minnorm_kkt"
    measures = ("minnorm_kkt", "null_component", "retain_residual")
    polishable = False

    # -- YAML -----------------------------------------------------------------
    def implicit_variables(self, sections, data_shapes, location):
        if sections.synthetic is not None:
            d_in = 1
        elif sections.inputs in data_shapes:
            d_in = _input_dim(data_shapes[sections.inputs])
        else:
            raise ProblemError(f"unlearning: no data entry {sections.inputs!r} for the model inputs",
                               location=location, allowed="data: {X: ..., y: ...} or synthetic: {sine_poisoning: {...}}")
        return dict(layer_shapes(self._spec(sections, d_in, location)))

    @staticmethod
    def _spec(sections, d_in: int, location) -> ModelSpec:
        m = sections.model
        if m.type == "mlp" and (not m.widths or any(w < 1 for w in m.widths)):
            raise ProblemError("model.widths: an mlp needs a non-empty list of positive hidden widths",
                               location=location, allowed="widths: [64] or [24, 24]")
        if m.type == "linear" and m.widths:
            raise ProblemError("model.widths: a linear model has no hidden layers", location=location)
        bias = m.bias if m.bias is not None else m.type == "mlp"
        return ModelSpec(m.type, d_in, tuple(m.widths), m.activation, bias)

    def compile(self, sections, ctx) -> CompiledSections:
        def at(*path):
            return Location(ctx.file, ctx.line_of(path))

        synthetic = target = None
        data = ctx.symbols.data
        if sections.synthetic is not None:
            s = sections.synthetic.sine_poisoning
            if not s.low < s.high:
                raise ProblemError("synthetic.sine_poisoning: need low < high",
                                   location=at("synthetic", "sine_poisoning"))
            if sections.forget is not None:
                raise ProblemError("forget: the synthetic data define their own forget set (the poisoned points)",
                                   location=at("forget"), allowed="remove forget: or use data: with forget:")
            if sections.inputs in data or sections.targets in data:
                raise ProblemError(f"data: {sections.inputs!r}/{sections.targets!r} given together with synthetic:",
                                   location=at("synthetic"), allowed="one of data: or synthetic:")
            synthetic, target = sine_poisoning(s), "sin"
            n = synthetic["X"].shape[0]
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
            self._check_forget(sections.forget, n, data, at)
            d_in = _input_dim(x_shape)
        spec = self._spec(sections, d_in, at("model"))
        declared = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        expected = layer_shapes(spec)
        if declared != expected:
            raise ProblemError(f"variables: the {spec.type} model's weights are {expected}, the file declares "
                               f"{declared}", location=at("variables"), allowed="omit variables: (implied by model:)")
        method = sections.train.method or ("min_norm" if spec.type == "linear" else "gauss_newton")
        if method == "min_norm" and spec.type != "linear":
            raise ProblemError("train.method: min_norm is the closed form of a linear model",
                               location=at("train", "method"), allowed="gauss_newton, adam")
        m = sections.model
        config = Config(spec=spec, standardize=m.standardize, init_seed=m.init.seed,
                        init_scale=m.init.scale if m.init.scale is not None else (0.0 if spec.type == "linear" else 1.0),
                        train=sections.train.model_copy(update={"method": method}), grid=sections.evaluate.grid,
                        inputs=sections.inputs, targets=sections.targets, forget=sections.forget,
                        synthetic=synthetic, target=target)
        return CompiledSections(objective=Const(shape=(), value=0.0), extra={"unlearning": config})

    @staticmethod
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

    # -- set-up (training), cached per problem ----------------------------------
    def setup(self, problem) -> Setup:
        key = problem.content_hash
        if key in _SETUPS:
            _SETUPS.move_to_end(key)
            return _SETUPS[key]
        config: Config = problem.sections.extra["unlearning"]
        if np.any(problem.x0 != 0):
            raise ProblemError("x0: an unlearning run starts from the trained model (train:), not from x0",
                               location=problem.location("x0"), allowed="remove x0:")
        X, y, forget = self._arrays(problem, config)
        spec = config.spec
        if config.standardize:
            std = X.std(axis=0)
            spec = replace(spec, input_shift=tuple(X.mean(axis=0)), input_scale=tuple(np.where(std > 0, std, 1.0)))
        model = TorchModel(spec, torch.device("cpu"), torch.float64)   # imports torch outside the timing
        threads = torch.get_num_threads()
        if X.shape[0] * model.dim < 5_000_000:
            torch.set_num_threads(1)       # tiny tensors: threads only add contention (cf. solverhub.api)
        t0 = time.perf_counter()
        theta_init = init_params(spec, config.init_seed, config.init_scale)
        tr = config.train
        kwargs = dict(method=tr.method, max_iterations=tr.max_iterations, tolerance=tr.tolerance, lr=tr.lr)
        try:
            trained = train(model, theta_init, X, y, **kwargs)
            reference = train(model, theta_init, X[~forget], y[~forget], **kwargs)
        finally:
            torch.set_num_threads(threads)
        if not (np.all(np.isfinite(trained.theta)) and np.all(np.isfinite(reference.theta))):
            raise ProblemError("train: the set-up training diverged (non-finite weights)",
                               location=problem.location("train"), allowed="a smaller train.lr or gauss_newton")
        name = ("closed form: minimum-norm retain interpolator θ0 + pinv(X_r)(y_r − X_r θ0)" if tr.method == "min_norm"
                else f"retrain from scratch: {tr.method} on the retain rows from θ0 "
                     f"({reference.iterations} iterations, retain mse {reference.mse:.2e})")
        grid = target = None
        if spec.d_in == 1 and config.grid > 0:
            low, high = ((config.synthetic["low"], config.synthetic["high"]) if config.synthetic is not None
                         else (float(X.min()), float(X.max())))
            grid = np.linspace(low, high, config.grid)[:, None]
            target = np.sin(grid[:, 0]) if config.target == "sin" else None
        setup = Setup(spec, X, y, forget, theta_init, trained, reference, name, time.perf_counter() - t0, grid, target)
        _SETUPS[key] = setup
        while len(_SETUPS) > _MAX_SETUPS:
            _SETUPS.popitem(last=False)
        return setup

    @staticmethod
    def _arrays(problem, config: Config):
        if config.synthetic is not None:
            s = config.synthetic
            return s["X"], s["y"], s["forget"]
        X = np.asarray(problem.data[config.inputs], dtype=np.float64)
        X = X.reshape(X.shape[0], -1)
        y = np.asarray(problem.data[config.targets], dtype=np.float64).reshape(-1)
        n = X.shape[0]
        f = config.forget
        forget = np.zeros(n, dtype=bool)
        if f.rows is not None:
            forget[f.rows] = True
        elif f.first is not None:
            forget[:f.first] = True
        elif f.last is not None:
            forget[n - f.last:] = True
        else:
            mask = np.asarray(problem.data[f.mask])
            if not np.all((mask == 0) | (mask == 1)) or mask.all() or not mask.any():
                raise ProblemError("forget.mask: values must be 0 (retain) or 1 (forget), with both sets non-empty",
                                   location=problem.location("forget", "mask"))
            forget = mask.astype(bool)
        return X, y, forget

    def tensors(self, problem, device, dtype) -> UnlearningTensors:
        s = self.setup(problem)

        def t(a):
            return None if a is None else torch.as_tensor(a, dtype=dtype, device=device)
        retain = ~s.forget
        return UnlearningTensors(s, TorchModel(s.spec, device, dtype), t(s.X[retain]), t(s.y[retain]),
                                 t(s.X[s.forget]), t(s.y[s.forget]), t(s.theta_init), t(s.trained.theta),
                                 t(s.reference.theta), t(s.grid), t(s.target_on_grid))

    # -- torch --------------------------------------------------------------------
    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        ts = self.tensors(problem, device, dtype)
        layout = [(v.name, v.shape, v.offset, v.size) for v in problem.variables]

        def unflatten(x):
            return {name: x[off:off + size].reshape(shape) for name, shape, off, size in layout}

        def complexity(x, rows=None):
            return 0.5 * torch.dot(x, x)
        return UnlearningTorchProblem(complexity, (), unflatten, ts.theta_trained.clone(),
                                      functions={"retain": ts.retain_mse, "forget": ts.forget_mse}, tensors=ts)

    def measure(self, name, tp, oracle, x, state):
        value = oracle.peek_value(x)
        if name not in self.measures:
            from solverhub.plugin import solver_measure as _solver_measure
            return value, _solver_measure(name, state, self.measures)
        null, residual = tp.tensors.kkt_parts(x)
        if name == "null_component":
            return value, null
        if name == "retain_residual":
            return value, residual
        return value, torch.sqrt(null * null + residual * residual)

    def report(self, tp, oracle, x) -> dict:
        ts: UnlearningTensors = tp.tensors
        s = ts.setup
        null, residual = ts.kkt_parts(x)
        ref, start = ts.theta_reference, ts.theta_trained
        dist = float(torch.linalg.vector_norm(x - ref))
        ref_norm = float(torch.linalg.vector_norm(ref))
        out_f, ref_f = ts.model(x, ts.X_forget), ts.model(ref, ts.X_forget)
        out_r = ts.model(x, ts.X_retain)
        extras = {
            "distance_to_retrain": dist,
            "relative_distance_to_retrain": dist / ref_norm if ref_norm > 0 else None,
            "start_distance_to_retrain": float(torch.linalg.vector_norm(start - ref)),
            "retain_mse": float(torch.mean((out_r - ts.y_retain) ** 2)),
            "retain_max_abs_error": float(torch.max(torch.abs(out_r - ts.y_retain))),
            "forget_mse": float(torch.mean((out_f - ts.y_forget) ** 2)),
            "forget_mse_of_retrain": float(torch.mean((ref_f - ts.y_forget) ** 2)),
            "forget_max_output_gap_to_retrain": float(torch.max(torch.abs(out_f - ref_f))),
            "null_component": float(null),
            "retain_residual": float(residual),
            "trained_mse": s.trained.mse,
            "retrain_reference_mse": s.reference.mse,
            "reference": s.reference_name,
            "setup_time_s": s.setup_time_s,
            "n_retain": int((~s.forget).sum()),
            "n_forget": int(s.forget.sum()),
        }
        if ts.grid is not None:
            on_grid, ref_grid = ts.model(x, ts.grid), ts.model(ref, ts.grid)
            extras["grid_sup_gap_to_retrain"] = float(torch.max(torch.abs(on_grid - ref_grid)))
            if ts.target_on_grid is not None:
                extras["sup_error_vs_target"] = float(torch.max(torch.abs(on_grid - ts.target_on_grid)))
                extras["retrain_sup_error_vs_target"] = float(torch.max(torch.abs(ref_grid - ts.target_on_grid)))
        return extras

    # -- the reference ("baseline") -------------------------------------------------
    def lower_cvxpy(self, problem):
        raise NoBaseline("the unlearning kind's reference is retraining on the retain set (closed form for a "
                         "linear model), not a cvxpy problem")

    def cvxpy_solve(self, problem, solver=None) -> CvxpySolution:
        s = self.setup(problem)
        return CvxpySolution("optimal" if s.trained.method == "min_norm" else "retrained", s.reference.theta.copy(),
                             None, s.reference_name, s.setup_time_s,
                             "the unlearning reference θ_ref (objective ½‖θ_ref‖²); not a cvxpy solve")
