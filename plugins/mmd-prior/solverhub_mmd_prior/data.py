"""Datasets of ``kind: latent_prior``: the note's synthetic factor set (T3) and scikit-learn's digits."""
from __future__ import annotations

__all__ = ["factor_dataset", "digits_dataset", "split_rows", "LatentData"]

from dataclasses import dataclass

import numpy as np

from solverhub.plugin import load_sklearn_set, split_rows   # split_rows: the training kind's seeded split


@dataclass(frozen=True, eq=False)
class LatentData:
    X_train: np.ndarray
    X_test: np.ndarray
    factors_train: np.ndarray | None     # known generating factors (synthetic set only)
    factors_test: np.ndarray | None
    name: str


def factor_dataset(n: int, dim_factors: int, dim_x: int, noise: float, seed: int):
    """``(x, s)``: s ~ U[-1, 1]^dim_factors, x = tanh(M2 tanh(M1 s)) + noise * N(0, I).

    Reconstructed (the note gives only the form): M1 (dim_x x dim_factors) has N(0, 1)
    entries, M2 (dim_x x dim_x) has N(0, 1/dim_x) entries, all from ``seed``.
    """
    rng = np.random.default_rng(seed)
    m1 = rng.standard_normal((dim_x, dim_factors))
    m2 = rng.standard_normal((dim_x, dim_x)) / np.sqrt(dim_x)
    s = rng.uniform(-1.0, 1.0, (n, dim_factors))
    x = np.tanh(np.tanh(s @ m1.T) @ m2.T) + noise * rng.standard_normal((n, dim_x))
    return x, s


def digits_dataset() -> np.ndarray:
    """scikit-learn's 1797 8x8 digits, pixels scaled to [0, 1] (the core's loader, imported lazily)."""
    return load_sklearn_set("digits")[0] / 16.0
