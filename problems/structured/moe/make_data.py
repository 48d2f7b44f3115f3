"""Writes the data files of problems/structured/moe from the kind's planted generator
(run from the repository root: python problems/structured/moe/make_data.py).
plugins/em-moe/tests/test_em_moe.py checks that the shipped files equal these draws."""
from pathlib import Path

import numpy as np

from solverhub_em_moe.planted import generate_planted

HERE = Path(__file__).resolve().parent

linear = generate_planted(n=1000, d=5, experts=2, expert="linear", snr=4.0, gate_norm=2.0, noise_std=1.0, seed=0)
np.save(HERE / "X.npy", linear.X)
np.save(HERE / "y.npy", linear.y)

logistic = generate_planted(n=2000, d=5, experts=2, expert="logistic", snr=4.0, gate_norm=2.0, seed=1)
(HERE / "data").mkdir(exist_ok=True)
np.save(HERE / "data" / "X_logistic.npy", logistic.X)
np.save(HERE / "data" / "y_logistic.npy", logistic.y)
np.save(HERE / "data" / "beta_true_logistic.npy", logistic.beta)
np.save(HERE / "data" / "gate_true_logistic.npy", logistic.gate)
