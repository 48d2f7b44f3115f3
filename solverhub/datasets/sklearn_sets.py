"""scikit-learn's bundled datasets (shipped inside the scikit-learn wheel: nothing is
downloaded) for ``kind: training``: ``dataset: {sklearn: digits}``.

scikit-learn is an optional dependency (extra ``sklearn``); it is imported only
when a problem names one of these sets.
"""
from __future__ import annotations

__all__ = ["SKLEARN_SETS", "load_sklearn_set"]

# name -> (sklearn.datasets loader, what it holds); only sets bundled with the package
SKLEARN_SETS = {
    "digits": ("load_digits", "1797 8x8 images of handwritten digits (64 pixels in 0..16), 10 classes"),
    "iris": ("load_iris", "150 flowers, 4 features, 3 classes"),
    "wine": ("load_wine", "178 wines, 13 features, 3 classes"),
    "breast_cancer": ("load_breast_cancer", "569 tumours, 30 features, 2 classes (0 malignant, 1 benign)"),
    "diabetes": ("load_diabetes", "442 patients, 10 features, a real target (disease progression)"),
    "linnerud": ("load_linnerud", "20 athletes, 3 exercise features, 3 real targets (physiological)"),
}


class SklearnMissing(ImportError):
    """scikit-learn is not installed."""


def load_sklearn_set(name: str):
    """``(X, y)`` as float64 numpy arrays (y: 1-d labels/targets, or 2-d for linnerud)."""
    import numpy as np
    try:
        from sklearn import datasets
    except ImportError as err:
        raise SklearnMissing(f"scikit-learn is not installed ({err})") from None
    loader = getattr(datasets, SKLEARN_SETS[name][0])
    X, y = loader(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
