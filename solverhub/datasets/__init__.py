"""Small real datasets shipped inside the package (usable as ``{dataset: NAME, field: F}``)."""
from __future__ import annotations

__all__ = ["DATASETS", "breast_cancer"]

from importlib import resources


def breast_cancer() -> dict:
    """Wisconsin diagnostic breast cancer (UCI; exported from scikit-learn 1.9):
    569 samples, 30 standardized features ``X`` and labels ``y`` in {-1, +1}."""
    import numpy as np
    with resources.files(__package__).joinpath("breast_cancer.csv").open("r") as fh:
        table = np.loadtxt(fh, delimiter=",", skiprows=1)
    return {"X": table[:, :-1], "y": table[:, -1]}


DATASETS = {"breast_cancer": breast_cancer}
