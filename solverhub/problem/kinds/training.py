"""``kind: training`` -- train a model on a dataset: minimise the mean loss over the
training rows, evaluate on a held-out split.

YAML (the kind's sections)::

    dataset: {sklearn: digits, test_fraction: 0.2, seed: 0}   # or X/y arrays (files, generators)
    model: {mlp: {hidden: [64], activation: relu}}           # a registered model and its options
    loss: cross_entropy                                       # cross_entropy | logistic | mse
    batch_size: 64                                            # or "full" / omitted: exact gradients
    epochs: 5                                                 # or gradient_calls: N (exactly one)
    init_seed: 0                                              # seed of the model's default init

The unknowns are one implicit flat vector ``theta`` (every parameter of the model,
in ``named_parameters()`` order). The objective is the mean loss over the training
rows, evaluated with ``torch.func.functional_call`` on parameters unflattened from
``theta`` (views, no copies into the module, no host syncs); the oracle's minibatch
gradient samples ``batch_size`` training rows with replacement, exactly as
``oracle: {stochastic: {batch_size}}`` does for ``finite_sum``. The module runs in
eval mode, so the objective is a deterministic function of ``theta``.

Budget: ``epochs: E`` is ``E * ceil(n_train / batch_size)`` oracle calls,
``gradient_calls: N`` is N; it becomes the run's default ``max_oracle_calls``
(iterations unlimited, trace once per epoch), so a training run normally ends with
status ``budget_exhausted``. ``--option max_oracle_calls=...`` or the file's ``solve:``
override it. Models come from the ``solverhub_models`` hook (``solverhub.models``:
``mlp``, ``logistic``, ``cnn``); datasets from scikit-learn's bundled sets or arrays.
There is no convex baseline.
"""
from __future__ import annotations

__all__ = ["Training", "TrainingSections", "DatasetSpec", "PreparedTraining"]

import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..._lazy import lazy_module
from ...errors import Location, ProblemError
from .base import CompiledSections, ModelKind

torch = lazy_module("torch")

LOSSES = ("cross_entropy", "logistic", "mse")
UNLIMITED_ITERATIONS = 10**12


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestSplit(_Strict):
    X: Any
    y: Any


class DatasetSpec(_Strict):
    sklearn: str | None = None            # a scikit-learn bundled set (digits, iris, wine, ...)
    X: Any = None                         # or arrays: {file: X.npy}, {generate: ...}, {dataset: ...}, inline
    y: Any = None
    test: TestSplit | None = None         # an explicit held-out split (instead of test_fraction)
    test_fraction: float | None = Field(None, ge=0, lt=1)   # default 0.2 without `test`
    seed: int = Field(0, ge=0)            # seed of the train/test split
    standardize: bool = True              # centre and scale features by the training rows' statistics
    classes: int | None = Field(None, ge=2)   # number of classes (cross_entropy); default max label + 1


class TrainingSections(_Strict):
    dataset: DatasetSpec
    model: str | dict[str, dict[str, Any] | None]
    loss: Literal["cross_entropy", "logistic", "mse"]
    batch_size: int | Literal["full"] | None = None
    epochs: int | None = Field(None, gt=0)
    gradient_calls: int | None = Field(None, gt=0)
    init_seed: int = Field(0, ge=0, le=2**63 - 1)     # torch.manual_seed takes 64 bits

    @field_validator("batch_size")
    @classmethod
    def _positive(cls, v):
        if isinstance(v, int) and v <= 0:
            raise ValueError("batch_size must be a positive integer or 'full'")
        return v


@dataclass(frozen=True)
class PreparedTraining:
    """Everything a training problem needs after loading (numpy only; no device)."""

    X_train: np.ndarray
    y_train: np.ndarray          # int64 labels (cross_entropy), 0/1 floats (logistic), (n, k) floats (mse)
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    loss: str
    n_out: int
    model_name: str
    model_options: dict
    factory: Callable
    init_seed: int
    x0: np.ndarray               # the module's seeded default init, flattened
    batch_size: int | None       # None: full batch (exact gradients)
    budget: int                  # default max_oracle_calls
    steps_per_epoch: int

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return 0 if self.X_test is None else int(self.X_test.shape[0])

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.X_train.shape[1:])

    def build_module(self, seed: int | None = None):
        """The model with its seeded default init (``seed``, else ``init_seed``; built on the CPU
        in float32, so the init is the same on every device), in eval mode."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.init_seed if seed is None else int(seed) % 2**63)
            module = self.factory(self.in_shape, self.n_out, **self.model_options)
        return module.eval()


# -- the loss, once: objective and evaluation share it -----------------------------
def _loss(name: str, out, y):
    F = torch.nn.functional
    if name == "cross_entropy":
        return F.cross_entropy(out, y)
    if name == "logistic":
        return F.binary_cross_entropy_with_logits(out.reshape(-1), y)
    return torch.mean((out - y) ** 2)


def _correct(name: str, out, y):
    if name == "cross_entropy":
        return (out.argmax(dim=1) == y).to(out.dtype).mean()
    if name == "logistic":
        return ((out.reshape(-1) > 0).to(out.dtype) == y).to(out.dtype).mean()
    return None


class TrainingModel:
    """The torch side of a training problem on one device: data, module, parameter layout."""

    def __init__(self, prep: PreparedTraining, device, dtype):
        self.prep = prep
        self.module = prep.build_module().to(device=device, dtype=dtype)
        for p in self.module.parameters():
            p.requires_grad_(False)         # gradients flow through theta only
        named = list(self.module.named_parameters())
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        label_dtype = torch.long if prep.loss == "cross_entropy" else dtype
        as_t = lambda a, dt: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
        self.X_train, self.y_train = as_t(prep.X_train, dtype), as_t(prep.y_train, label_dtype)
        self.X_test = self.y_test = None
        if prep.X_test is not None:
            self.X_test, self.y_test = as_t(prep.X_test, dtype), as_t(prep.y_test, label_dtype)

    def parameters(self, theta) -> dict:
        """``{name: view of theta}`` in the module's parameter order."""
        return {n: chunk.view(s) for n, chunk, s in zip(self.names, torch.split(theta, self.sizes), self.shapes)}

    def forward(self, theta, X):
        return torch.func.functional_call(self.module, self.parameters(theta), (X,))

    def objective(self, theta, rows=None):
        """Mean training loss (over ``rows`` of the training set when given)."""
        X, y = self.X_train, self.y_train
        if rows is not None:
            X, y = X.index_select(0, rows), y.index_select(0, rows)
        return _loss(self.prep.loss, self.forward(theta, X), y)

    def evaluate(self, theta, X, y) -> tuple:
        """(mean loss, accuracy or None) on (X, y), as 0-d tensors."""
        with torch.no_grad():
            out = self.forward(theta, X)
            return _loss(self.prep.loss, out, y), _correct(self.prep.loss, out, y)


class Training(ModelKind):
    name = "training"
    description = "train a model (registered by name) on a dataset with a loss, a batch size and a budget"
    Sections = TrainingSections
    polishable = False
    generic_minimization = True    # every minimize solver (gd, adam, lbfgs, sgd, ...) trains it
    tiny_problem = """
name: tiny-training
kind: training
description: 3-class logistic regression on 24 seeded points; full batch, 40 oracle calls.
dataset:
  X: {generate: normal, shape: [24, 3], seed: 1}
  y: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
  test_fraction: 0.25
model: logistic
loss: cross_entropy
gradient_calls: 40
"""

    _prepared: PreparedTraining | None = None

    # -- YAML -> problem ---------------------------------------------------
    def prepare(self, sections: TrainingSections, raw, file, line_of) -> None:
        from ...datasets.training_data import load_training_arrays

        loc = lambda *path: Location(file, line_of(path))  # noqa: E731
        for key, why in (("data", "arrays go under dataset: {X: ..., y: ...}"),
                         ("variables", "the unknowns are the model's parameters (theta)"),
                         ("x0", "the start is the model's seeded default init (init_seed)")):
            if key in raw:
                raise ProblemError(f"{key}: not used by kind 'training'", location=loc(key), allowed=why)
        base = Path(file).parent if file else None
        arrays = load_training_arrays(sections.dataset, sections.loss, base=base, loc=loc,
                                      datasets=self.catalog.datasets if self.catalog else {})
        name, options, factory = self._model(sections, loc)
        prep_partial = dict(X_train=arrays.X_train, y_train=arrays.y_train, X_test=arrays.X_test,
                            y_test=arrays.y_test, loss=sections.loss, n_out=arrays.n_out, model_name=name,
                            model_options=options, factory=factory, init_seed=sections.init_seed)
        x0 = self._init(prep_partial, loc)
        n_train = arrays.X_train.shape[0]
        batch = None if sections.batch_size in (None, "full") else int(sections.batch_size)
        if batch is not None and batch > n_train:
            raise ProblemError(f"batch_size: {batch} exceeds the {n_train} training rows", location=loc("batch_size"),
                               allowed=f"1 .. {n_train}, or full")
        steps = math.ceil(n_train / batch) if batch else 1
        if (sections.epochs is None) == (sections.gradient_calls is None):
            raise ProblemError("give the budget once: epochs or gradient_calls"
                               + (" (not both)" if sections.epochs is not None else ""),
                               location=loc("gradient_calls" if sections.epochs is not None else "kind"),
                               allowed="epochs: E (E * ceil(n_train / batch_size) oracle calls), "
                                       "or gradient_calls: N")
        budget = sections.epochs * steps if sections.epochs is not None else sections.gradient_calls
        self._prepared = PreparedTraining(**prep_partial, x0=x0, batch_size=batch, budget=int(budget),
                                          steps_per_epoch=steps)
        self._files = arrays.files
        self._seed_given = "init_seed" in sections.model_fields_set

    def _model(self, sections, loc):
        spec = sections.model
        if isinstance(spec, str):
            name, options = spec, {}
        else:
            if len(spec) != 1:
                raise ProblemError(f"model: name exactly one model, got {len(spec)}", location=loc("model"),
                                   allowed="model: NAME, or model: {NAME: {options}}")
            name, options = next(iter(spec.items()))
            options = dict(options or {})
        models = self.catalog.models if self.catalog else {}
        if name not in models:
            raise ProblemError(f"model: unknown model {name!r}", location=loc("model", name) if isinstance(spec, dict)
                               else loc("model"), allowed=", ".join(sorted(models)) or "(none registered)")
        return name, options, models[name]

    def _init(self, prep_partial: dict, loc) -> np.ndarray:
        """Build the model once on the CPU: check its options and output shape, count its
        parameters, keep its seeded init as the start."""
        from ..data import _check_size
        name, options, factory = prep_partial["model_name"], prep_partial["model_options"], prep_partial["factory"]
        where = loc("model", name)      # the line of the model's name (or of model: NAME)
        X = prep_partial["X_train"]
        in_shape, n_out = tuple(X.shape[1:]), prep_partial["n_out"]
        self._count_on_meta(factory, in_shape, n_out, options, where, name)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(prep_partial["init_seed"])
                module = factory(in_shape, n_out, **options)
        except (TypeError, ValueError) as err:
            raise ProblemError(f"model {name}: {err}", location=where, allowed=_signature(factory)) from None
        if not isinstance(module, torch.nn.Module):
            raise ProblemError(f"model {name}: the factory returned {type(module).__name__}, not a torch.nn.Module",
                               location=where)
        params = [p for p in module.parameters()]
        if not params:
            raise ProblemError(f"model {name}: has no parameters to train", location=where)
        _check_size((sum(p.numel() for p in params),), where, f"model {name} parameters")
        try:
            with torch.no_grad():
                out = module.eval()(torch.as_tensor(X[:2], dtype=params[0].dtype))
        except Exception as err:  # a model that cannot take these rows
            raise ProblemError(f"model {name}: cannot take input rows of shape {in_shape}: {type(err).__name__}: "
                               f"{err}", location=where) from None
        if tuple(out.shape) != (min(2, X.shape[0]), n_out):
            raise ProblemError(f"model {name}: outputs of shape {tuple(out.shape)[1:]} per row, the loss "
                               f"{prep_partial['loss']} needs {n_out}", location=where)
        return torch.cat([p.detach().reshape(-1) for p in params]).to(torch.float64).numpy()

    @staticmethod
    def _count_on_meta(factory, in_shape, n_out, options, where, name) -> None:
        """Count the model's parameters on torch's meta device (no memory) and check them against the
        element caps *before* the real build: ``hidden: [100000000]`` is refused without allocating."""
        from ..data import charge
        try:
            with torch.device("meta"):
                probe = factory(in_shape, n_out, **options)
            count = sum(int(p.numel()) for p in probe.parameters())
        except Exception:  # noqa: BLE001 - a factory that cannot build on meta: the real build reports it
            return
        # theta and its start are charged by load_problem; here only the room is checked
        charge((count,), where, f"model {name} parameters", commit=False)

    def implicit_variables(self, sections, data_shapes, location) -> dict:
        return {"theta": (int(self._prepared.x0.size),)}

    def compile(self, sections, ctx) -> CompiledSections:
        prep = self._prepared
        declared = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        assert declared == {"theta": (prep.x0.size,)}, declared   # prepare() forbids variables:
        defaults = {"max_oracle_calls": prep.budget, "max_iterations": UNLIMITED_ITERATIONS,
                    "trace_every": prep.steps_per_epoch}
        return CompiledSections(model=prep, n_rows=prep.n_train,
                                batch_size=prep.batch_size or "full", solve_defaults=defaults,
                                files=tuple(str(p) for p in self._files), seeded_start=not self._seed_given)

    # -- torch -------------------------------------------------------------
    def torch_model(self, problem, device, dtype) -> "TrainingModel":
        return TrainingModel(problem.sections.model, device, dtype)

    def start(self, problem, seed: int | None = None):
        """The module's default init: from ``init_seed``, or from ``seed`` (the run's, when the file sets no init_seed)."""
        prep = problem.sections.model
        if seed is None:
            return prep.x0
        params = prep.build_module(seed).parameters()
        return torch.cat([p.detach().reshape(-1) for p in params]).to(torch.float64).numpy()

    def report(self, tp, oracle, x) -> dict:
        model: TrainingModel = tp.model
        prep = model.prep
        out = {"model": prep.model_name, "loss": prep.loss, "n_train": prep.n_train, "n_test": prep.n_test,
               "n_parameters": int(x.numel()), "batch_size": prep.batch_size or "full"}
        loss, acc = model.evaluate(x, model.X_train, model.y_train)
        out["train_loss"] = float(loss)
        if acc is not None:
            out["train_accuracy"] = float(acc)
        if model.X_test is not None:
            loss, acc = model.evaluate(x, model.X_test, model.y_test)
            out["test_loss"] = float(loss)
            if acc is not None:
                out["test_accuracy"] = float(acc)
        counts = oracle.counts
        batch = prep.batch_size or prep.n_train
        out["epochs_done"] = (counts.get("stochastic_grad", 0) * batch + counts.get("grad", 0) * prep.n_train) \
            / prep.n_train
        return out

    no_cvxpy_reason = ("training problems have no cvxpy baseline (the model is a torch module, not an expression; "
                       "compare solvers by test loss and accuracy in Result.extras)")


def _signature(factory) -> str:
    try:
        params = [p for p in inspect.signature(factory).parameters.values()][2:]
    except (TypeError, ValueError):
        return "see the model's documentation"
    shown = [f"{p.name}={p.default!r}" if p.default is not inspect.Parameter.empty else p.name for p in params
             if p.kind not in (p.VAR_POSITIONAL,)]
    return "options " + (", ".join(shown) if shown else "(none)")
