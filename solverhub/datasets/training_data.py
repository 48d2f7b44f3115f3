"""The arrays of a ``kind: training`` problem: load (scikit-learn's bundled sets, or
X/y through the core's array builders: files beside the YAML, generators, named
datasets, inline lists), split train/test deterministically from the seed, check
the labels against the loss, standardise features with the training rows' statistics.
"""
from __future__ import annotations

__all__ = ["TrainingArrays", "load_training_arrays", "split_rows"]

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..errors import Location, ProblemError

DEFAULT_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class TrainingArrays:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    n_out: int
    files: tuple[Path, ...]      # files read (their digests enter the problem's content hash)


def split_rows(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows): a seeded permutation, the first round(f * n) rows held out
    (at least one when f > 0, and at least one row left to train on), each part in increasing order."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test = 0 if test_fraction <= 0 else min(n - 1, max(1, int(round(test_fraction * n))))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _array(spec, what: str, path: tuple, base, loc, files: list, datasets):
    from ..problem.data import build_array, resolve_inside
    if spec is None:
        raise ProblemError(f"dataset.{what}: required (with dataset.X / dataset.y arrays)", location=loc(*path[:-1]),
                           allowed="{file: X.npy}, {generate: ...}, {dataset: NAME, field: F}, an inline list")
    if isinstance(spec, dict) and isinstance(spec.get("file"), str):
        files.append(resolve_inside(base, spec["file"], loc(*path)))
    return build_array(spec, base=base, location=loc(*path), what=".".join(path),
                       datasets=datasets)


def _raw_arrays(spec, base, loc, files, datasets):
    """(X, y, X_test or None, y_test or None) before any checks."""
    from .sklearn_sets import SKLEARN_SETS, SklearnMissing, load_sklearn_set
    if spec.sklearn is not None:
        if spec.X is not None or spec.y is not None or spec.test is not None:
            raise ProblemError("dataset: give either sklearn: NAME or X/y arrays, not both",
                               location=loc("dataset", "sklearn"), allowed="sklearn, or X + y (+ test)")
        if spec.sklearn not in SKLEARN_SETS:
            raise ProblemError(f"dataset.sklearn: unknown scikit-learn dataset {spec.sklearn!r}",
                               location=loc("dataset", "sklearn"), allowed=", ".join(SKLEARN_SETS))
        try:
            X, y = load_sklearn_set(spec.sklearn)
        except SklearnMissing as err:
            raise ProblemError(f"dataset.sklearn: {err}", location=loc("dataset", "sklearn"),
                               allowed="pip install 'solverhub[sklearn]' (or scikit-learn), or X/y arrays") from None
        return X, y, None, None
    X = _array(spec.X, "X", ("dataset", "X"), base, loc, files, datasets)
    y = _array(spec.y, "y", ("dataset", "y"), base, loc, files, datasets)
    if spec.test is None:
        return X, y, None, None
    if spec.test_fraction is not None:
        raise ProblemError("dataset: give test (explicit held-out arrays) or test_fraction, not both",
                           location=loc("dataset", "test_fraction"), allowed="test: {X, y}, or test_fraction")
    Xt = _array(spec.test.X, "test.X", ("dataset", "test", "X"), base, loc, files, datasets)
    yt = _array(spec.test.y, "test.y", ("dataset", "test", "y"), base, loc, files, datasets)
    return X, y, Xt, yt


def _check_pair(X, y, path: tuple, loc) -> tuple[np.ndarray, np.ndarray]:
    where = ".".join(path)
    if X.ndim < 2:
        raise ProblemError(f"{where}.X: shape {X.shape}; one row per sample needs at least 2 dimensions",
                           location=loc(*path, "X"), allowed="(n, features) or (n, C, H, W)")
    if y.ndim == 0 or y.shape[0] != X.shape[0] or y.ndim > 2:
        raise ProblemError(f"{where}.y: shape {y.shape} does not match X's {X.shape[0]} rows",
                           location=loc(*path, "y"), allowed=f"({X.shape[0]},) or ({X.shape[0]}, k)")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ProblemError(f"{where}: X and y must be finite", location=loc(*path))
    return X, y


def _labels(y_train, y_test, loss: str, classes: int | None, loc) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Labels in the form the loss needs, and the number of outputs."""
    ys = [y_train] + ([y_test] if y_test is not None else [])
    if loss == "mse":
        if classes is not None:
            raise ProblemError("dataset.classes: only for classification losses", location=loc("dataset", "classes"),
                               allowed="cross_entropy, logistic")
        out = [y.reshape(y.shape[0], -1).astype(np.float64) for y in ys]
        return out[0], (out[1] if y_test is not None else None), int(out[0].shape[1])
    flat = []
    for y, part in zip(ys, ("y", "test.y")):
        if y.ndim == 2 and y.shape[1] != 1:
            raise ProblemError(f"dataset.{part}: {loss} needs one label per row, got shape {y.shape}",
                               location=loc("dataset", *part.split(".")), allowed="a vector of labels")
        flat.append(y.reshape(-1))
    values = np.unique(np.concatenate(flat))
    if loss == "logistic":
        if set(values.tolist()) <= {0.0, 1.0}:
            mapped = flat
        elif set(values.tolist()) <= {-1.0, 1.0}:
            mapped = [(y > 0).astype(np.float64) for y in flat]
        else:
            raise ProblemError(f"dataset.y: loss logistic needs binary labels, got {values[:6].tolist()}",
                               location=loc("dataset", "y"), allowed="labels in {0, 1} or {-1, 1}")
        return mapped[0].astype(np.float64), (mapped[1].astype(np.float64) if y_test is not None else None), 1
    # cross_entropy: integer class labels 0 .. K-1
    bad = values[(values != np.round(values)) | (values < 0)]
    if bad.size:
        raise ProblemError(f"dataset.y: cross_entropy needs integer class labels >= 0, got {bad[0]:g}",
                           location=loc("dataset", "y"), allowed="labels 0 .. K-1")
    k = int(values.max()) + 1 if classes is None else classes
    if values.max() >= k:
        raise ProblemError(f"dataset.y: label {int(values.max())} out of range for classes: {k}",
                           location=loc("dataset", "classes"), allowed=f"labels 0 .. {k - 1}")
    if k < 2:
        raise ProblemError("dataset.y: cross_entropy needs at least 2 classes", location=loc("dataset", "y"))
    labels = [y.astype(np.int64) for y in flat]
    return labels[0], (labels[1] if y_test is not None else None), k


def load_training_arrays(spec, loss: str, *, base: Path | None, loc: Callable[..., Location],
                         datasets: Mapping[str, Callable] | None = None) -> TrainingArrays:
    """Everything ``kind: training`` needs from its ``dataset:`` section; ``datasets``: the named
    data sources (``{dataset: NAME, field: F}``), the registry's as ``kind.catalog`` gives them."""
    files: list[Path] = []
    X, y, Xt, yt = _raw_arrays(spec, base, loc, files, datasets)
    X, y = _check_pair(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64), ("dataset",), loc)
    if Xt is not None:
        Xt, yt = _check_pair(np.asarray(Xt, dtype=np.float64), np.asarray(yt, dtype=np.float64),
                             ("dataset", "test"), loc)
        if Xt.shape[1:] != X.shape[1:]:
            raise ProblemError(f"dataset.test.X: rows of shape {Xt.shape[1:]}, training rows are {X.shape[1:]}",
                               location=loc("dataset", "test", "X"))
        X_train, y_train, X_test, y_test = X, y, Xt, yt
    else:
        fraction = DEFAULT_TEST_FRACTION if spec.test_fraction is None else spec.test_fraction
        train, test = split_rows(X.shape[0], fraction, spec.seed)
        if train.size < 1:
            raise ProblemError(f"dataset.test_fraction: {fraction} leaves no training rows of {X.shape[0]}",
                               location=loc("dataset", "test_fraction"))
        X_train, y_train = X[train], y[train]
        X_test, y_test = (X[test], y[test]) if test.size else (None, None)
    y_train, y_test, n_out = _labels(y_train, y_test, loss, spec.classes, loc)
    if spec.standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std = np.where(std > 0, std, 1.0)     # constant features (digits' border pixels) stay 0
        X_train = (X_train - mean) / std
        X_test = None if X_test is None else (X_test - mean) / std
    return TrainingArrays(X_train=np.ascontiguousarray(X_train), y_train=y_train,
                          X_test=None if X_test is None else np.ascontiguousarray(X_test), y_test=y_test,
                          n_out=n_out, files=tuple(files))
