"""Writes the synthetic regression set of sine-regression-npy.yaml (deterministic, seed 0).

    python problems/training/data/make_data.py

Inputs x ~ U[-2, 2]^2, target y = sin(2 x1) + 0.5 x2^2 + 0.1 * N(0, 1):
sine_X.npy / sine_y.npy (300 training rows), sine_test_X.npy / sine_test_y.npy
(100 held-out rows, drawn from the same law). The noise variance 0.01 is the
best test mean squared error any model can reach on average.
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def target(X: np.ndarray) -> np.ndarray:
    return np.sin(2.0 * X[:, 0]) + 0.5 * X[:, 1] ** 2


def main() -> None:
    rng = np.random.default_rng(0)
    for name, n in (("sine", 300), ("sine_test", 100)):
        X = rng.uniform(-2.0, 2.0, size=(n, 2))
        y = target(X) + 0.1 * rng.standard_normal(n)
        np.save(HERE / f"{name}_X.npy", X)
        np.save(HERE / f"{name}_y.npy", y)


if __name__ == "__main__":
    main()
