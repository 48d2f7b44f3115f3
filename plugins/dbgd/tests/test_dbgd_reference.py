"""Independent reference for dbgd (issue 17): the paper's update (arXiv 2507.23155, eqs. 11, 13, 14)
written out in numpy, calling no function of the plugin, against the solver's iterates (1e-10)::

    d_k = ∇f(x_k) + λ_k ∇g(x_k),   λ_k = max{(φ(x_k) − <∇f(x_k), ∇g(x_k)>) / ‖∇g(x_k)‖², 0},
    x_{k+1} = x_k − η_k d_k,        η_k = η / (1 + k/k0)^a

with our barrier φ = β‖∇g‖^q, q = 1 + p (the paper's φ was not found), or Gong et al.'s
min{α(g − ĝ), β‖∇g‖^q}; on a nonconvex pair (f = Σ cos x_i + ½‖x‖²/4, g = ¼(‖x‖² − 1)²).
Plus the defaults (η 0.01, β 1, p 1, ...) and the page's option tables.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from solverhub.options import options_table
from solverhub.testing import drive
from solverhub_dbgd import DBGD, DBGDOptions, PenaltyGD, PenaltyGDOptions

pytestmark = pytest.mark.usefixtures("single_thread")
ROOT = Path(__file__).resolve().parents[3]
C = np.array([0.3, -1.2, 0.8, 0.5])


def f_grad(x):
    return -np.sin(x) + x / 4 + C


def g_val(x):
    return 0.25 * (x @ x - 1.0) ** 2


def g_grad(x):
    return (x @ x - 1.0) * x


class Closed:
    device, dtype = torch.device("cpu"), torch.float64

    def grad(self, x, of=None):
        return torch.as_tensor((f_grad if of is None else g_grad)(x.numpy()))

    def value_and_grad(self, x, of=None):
        return torch.as_tensor(g_val(x.numpy())), torch.as_tensor(g_grad(x.numpy()))


def reference(x0, steps, *, eta, beta=1.0, q=2.0, a=0.0, k0=100.0, alpha=None, g_hat=0.0):
    x, out = x0.copy(), []
    for k in range(steps):
        gf, gg = f_grad(x), g_grad(x)
        ng = np.linalg.norm(gg)
        phi = beta * ng ** q
        if alpha is not None:
            phi = min(alpha * (g_val(x) - g_hat), phi)
        lam = max((phi - gf @ gg) / ng ** 2, 0.0)
        x = x - eta / (1 + k / k0) ** a * (gf + lam * gg)
        out.append((x.copy(), lam))
    return out


@pytest.mark.parametrize("opts", [{"eta": 0.05}, {"eta": 0.05, "p": 0.5}, {"eta": 0.05, "q": 3.0, "beta": 0.3},
                                  {"eta": 0.1, "step_decay": 0.5, "decay_start": 4.0},
                                  {"eta": 0.05, "alpha": 2.0, "g_hat": -0.01}])
def test_iterates_match_the_written_out_update(opts):
    x0 = np.array([1.5, -0.4, 0.9, 1.1])
    o = DBGDOptions(**opts)
    want = reference(x0, 25, eta=o.eta, beta=o.beta, q=1.0 + o.p if o.q is None else o.q, a=o.step_decay,
                     k0=o.decay_start, alpha=o.alpha, g_hat=o.g_hat)
    states = drive(DBGD, Closed(), o, 25, x0=torch.as_tensor(x0)).states[1:]
    tight = 0
    for k, (state, (x, lam)) in enumerate(zip(states, want)):
        np.testing.assert_allclose(state.x.numpy(), x, rtol=1e-10, atol=1e-13, err_msg=f"step {k + 1}")
        assert float(state.lam_last) == pytest.approx(lam, rel=1e-10, abs=1e-14), k
        tight += lam > 0
    assert 0 < tight, "the barrier must bind somewhere, or λ goes untested"


def test_defaults_are_pinned_and_the_page_tables_match_the_code():
    o = DBGDOptions()
    assert (o.eta, o.beta, o.p, o.q, o.exponent, o.step_decay, o.decay_start, o.alpha, o.g_hat) == (
        0.01, 1.0, 1.0, None, 2.0, 0.0, 100.0, None, 0.0)
    assert (PenaltyGDOptions().lam, PenaltyGDOptions().lr) == (10.0, 1e-3)
    page = (ROOT / "docs/methods/dbgd.md").read_text()
    for cls in (DBGD, PenaltyGD):
        block = re.search(rf"<!-- options: {cls.name} -->\n(.*?)\n<!-- /options -->", page, re.S).group(1)
        assert block == options_table(cls.Options), cls.name
    # the default step's effect: one default step from x0 written out (η = 0.01, φ = ‖∇g‖²)
    x0 = np.array([1.5, -0.4, 0.9, 1.1])
    got = drive(DBGD, Closed(), None, 1, x0=torch.as_tensor(x0)).final.x.numpy()
    np.testing.assert_allclose(got, reference(x0, 1, eta=0.01)[0][0], rtol=1e-12)
