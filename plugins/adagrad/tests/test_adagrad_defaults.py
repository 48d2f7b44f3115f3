"""Defaults of adagrad / sgd pinned (issue 17): the values, the page's option tables, and the
effect of the default η with a known answer written out in numpy (no plugin function):

AdaGrad's first step is x_1 = x_0 − η g_0/(|g_0| + ε) = x_0 − η sign(g_0) (to ε); the default η = 0.1.
The default sgd step is 1/(2L) with L = ‖∇²f(x_0)‖₂.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import solverhub  # noqa: E402
from solverhub.options import options_table  # noqa: E402
from solverhub.testing import drive  # noqa: E402
from solverhub_adagrad import SGD, AdaGrad, AdaGradOptions, SGDOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
QUAD = """
name: q
kind: minimize
variables: {x: {shape: [3], x0: [1.0, -2.0, 0.5]}}
data: {L: [4.0, 1.0, 0.25]}
objective: "0.5 * sum(L * square(x))"
"""


def test_defaults_and_the_page_tables():
    assert (AdaGradOptions().eta, AdaGradOptions().eps, AdaGradOptions().grad_stats) == (0.1, 1e-10, "exact")
    assert SGDOptions().lr is None
    page = (ROOT / "docs/methods/adagrad.md").read_text()
    for cls in (AdaGrad, SGD):
        block = re.search(rf"<!-- options: {cls.name} -->\n(.*?)\n<!-- /options -->", page, re.S).group(1)
        assert block == options_table(cls.Options), cls.name


def test_default_eta_and_eps_known_answer():
    """Three default AdaGrad steps written out: v += g², x −= 0.1 g/(sqrt(v) + 1e-10)."""
    states = drive(AdaGrad, solverhub.load_problem(QUAD), None, steps=3).states
    L, x, v = np.array([4.0, 1.0, 0.25]), np.array([1.0, -2.0, 0.5]), np.zeros(3)
    for t in range(1, 4):
        g = L * x
        v = v + g * g
        x = x - 0.1 * g / (np.sqrt(v) + 1e-10)
        np.testing.assert_allclose(states[t].x.numpy(), x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(states[1].x.numpy(), [0.9, -1.9, 0.4], rtol=1e-9)   # x_0 − 0.1 sign(g_0)


def test_sgd_default_step_is_half_the_inverse_curvature():
    driven = drive(SGD, solverhub.load_problem(QUAD), None, steps=1)
    assert float(driven.states[0].lr) == pytest.approx(0.5 / 4.0, rel=1e-6)
    np.testing.assert_allclose(driven.states[1].x.numpy(), np.array([1.0, -2.0, 0.5]) * (1 - 0.125 * np.array(
        [4.0, 1.0, 0.25])), rtol=1e-6)
