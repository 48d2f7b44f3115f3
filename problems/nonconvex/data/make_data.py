"""Regenerate the data files of problems/nonconvex/ (run from anywhere).

    python problems/nonconvex/data/make_data.py            # every file
    python problems/nonconvex/data/make_data.py --no-digits  # without scikit-learn

Every array is written once and shipped; the problem files never run this.
tests/test_nonconvex_problems.py re-runs the numpy part into a temporary folder
and checks that it reproduces the shipped files byte for byte.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def robust_regression(n: int = 500, d: int = 20, outlier_fraction: float = 0.15):
    """y = X w_true + 0.1 N(0,1) on inliers; on 15% of the rows y is replaced by a gross outlier."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d) / np.sqrt(d)          # signal y has std about 1
    y = X @ w_true + 0.1 * rng.normal(size=n)
    bad = rng.permutation(n)[: int(round(outlier_fraction * n))]
    y[bad] = y[bad] + rng.choice([-1.0, 1.0], size=bad.size) * rng.uniform(5.0, 20.0, size=bad.size)
    return X.round(4), y.round(4), w_true, np.sort(bad)


def write_robust_regression(folder: Path) -> None:
    X, y, _, _ = robust_regression()
    header = ",".join([f"x{i + 1}" for i in range(X.shape[1])] + ["y"])
    np.savetxt(folder / "robust_regression.csv", np.column_stack([X, y]), delimiter=",", fmt="%.4f",
               header=header, comments="")


def rotation(d: int, seed: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def odog_H() -> np.ndarray:
    """ODOG note, test 2: H = Q diag(logspace(0, -2, 20)) Q', Q a random rotation (seed 7, see README.md)."""
    Q = rotation(20, seed=7)
    H = Q @ np.diag(np.logspace(0, -2, 20)) @ Q.T
    return 0.5 * (H + H.T)


def cubic_H() -> np.ndarray:
    """Indefinite 10 x 10: eigenvalues -1, -0.5, -0.2, 0.1, 0.5, 1, 2, 3, 5, 10, random rotation (seed 3)."""
    Q = rotation(10, seed=3)
    H = Q @ np.diag([-1.0, -0.5, -0.2, 0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0]) @ Q.T
    return 0.5 * (H + H.T)


def write_digits(folder: Path) -> None:
    """scikit-learn's bundled digits, classes 3 (y = -1) and 8 (y = +1), pixels / 16 in [0, 1]."""
    from sklearn.datasets import load_digits
    X, t = load_digits(return_X_y=True)
    keep = (t == 3) | (t == 8)
    X, y = X[keep] / 16.0, np.where(t[keep] == 8, 1.0, -1.0)
    header = ",".join([f"p{i}" for i in range(64)] + ["y"])
    np.savetxt(folder / "digits.csv", np.column_stack([X, y]), delimiter=",", fmt="%.10g",
               header=header, comments="")


def write_numpy_files(folder: Path) -> None:
    write_robust_regression(folder)
    np.save(folder / "odog_H.npy", odog_H())
    np.save(folder / "cubic_H.npy", cubic_H())


if __name__ == "__main__":
    write_numpy_files(HERE)
    if "--no-digits" not in sys.argv:
        write_digits(HERE)
