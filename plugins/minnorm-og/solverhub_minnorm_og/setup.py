"""The set-up of an ``unlearning`` problem (arXiv 2505.22601, §5): the rows and the forget
set, θ0, the trained model θ* (all rows) and the reference θ_ref (retrain from scratch on the
retain rows), computed once per problem on CPU in float64 and cached by content hash."""
from __future__ import annotations

__all__ = ["Setup", "cached_setup"]

import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from solverhub.plugin import ProblemError, lazy_module

from .model import ModelSpec, TorchModel, TrainOutcome, init_params, train
from .sections import UnlearningSpec, sine_poisoning

torch = lazy_module("torch")


@dataclass(frozen=True, eq=False)
class Setup:
    """Everything computed once per problem (numpy): data, θ0, θ*, θ_ref."""

    spec: ModelSpec                   # with the standardization constants
    X: np.ndarray
    y: np.ndarray
    forget: np.ndarray                # bool mask
    theta_init: np.ndarray
    trained: TrainOutcome             # all rows
    reference: TrainOutcome           # retain rows: retrain from scratch
    reference_name: str
    setup_time_s: float
    grid: np.ndarray | None
    target_on_grid: np.ndarray | None


_SETUPS: OrderedDict[str, Setup] = OrderedDict()
_MAX_SETUPS = 16


def cached_setup(problem) -> Setup:
    """The problem's :class:`Setup` (trained at the first call of a process, then cached)."""
    key = problem.content_hash
    if key in _SETUPS:
        _SETUPS.move_to_end(key)
        return _SETUPS[key]
    spec: UnlearningSpec = problem.sections.model
    if np.any(problem.x0 != 0):
        raise ProblemError("x0: an unlearning run starts from the trained model (train:), not from x0",
                           location=problem.location("x0"), allowed="remove x0:")
    X, y, forget = _rows(problem, spec)
    net = spec.net
    if spec.sections.model.standardize:
        std = X.std(axis=0)
        net = replace(net, input_shift=tuple(X.mean(axis=0)), input_scale=tuple(np.where(std > 0, std, 1.0)))
    model = TorchModel(net, torch.device("cpu"), torch.float64)   # imports torch outside the timing
    threads = torch.get_num_threads()
    if X.shape[0] * model.dim < 5_000_000:
        torch.set_num_threads(1)       # tiny tensors: threads only add contention (cf. solverhub.api)
    t0 = time.perf_counter()
    theta_init = init_params(net, spec.sections.model.init.seed, spec.init_scale)
    tr = spec.train
    try:
        trained = train(model, theta_init, X, y, tr)
        reference = train(model, theta_init, X[~forget], y[~forget], tr)
    finally:
        torch.set_num_threads(threads)
    if not (np.all(np.isfinite(trained.theta)) and np.all(np.isfinite(reference.theta))):
        raise ProblemError("train: the set-up training diverged (non-finite weights)",
                           location=problem.location("train"), allowed="a smaller train.lr or gauss_newton")
    name = ("closed form: minimum-norm retain interpolator θ0 + pinv(X_r)(y_r − X_r θ0)" if tr.method == "min_norm"
            else f"retrain from scratch: {tr.method} on the retain rows from θ0 "
                 f"({reference.iterations} iterations, retain mse {reference.mse:.2e})")
    grid = target = None
    if net.d_in == 1 and spec.sections.evaluate.grid > 0:
        low, high = ((spec.synthetic.low, spec.synthetic.high) if spec.synthetic is not None
                     else (float(X.min()), float(X.max())))
        grid = np.linspace(low, high, spec.sections.evaluate.grid)[:, None]
        target = np.sin(grid[:, 0]) if spec.synthetic is not None else None   # sine poisoning: the clean target
    result = Setup(net, X, y, forget, theta_init, trained, reference, name, time.perf_counter() - t0, grid, target)
    _SETUPS[key] = result
    while len(_SETUPS) > _MAX_SETUPS:
        _SETUPS.popitem(last=False)
    return result


def _rows(problem, spec: UnlearningSpec):
    """(X (n, d), y (n,), forget mask) from the synthetic rows or the problem's data."""
    if spec.synthetic is not None:
        return sine_poisoning(spec.synthetic)
    X = np.asarray(problem.data[spec.sections.inputs], dtype=np.float64)
    X = X.reshape(X.shape[0], -1)
    y = np.asarray(problem.data[spec.sections.targets], dtype=np.float64).reshape(-1)
    n, f = X.shape[0], spec.sections.forget
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
