"""Independent references for gala (issue 17): the η recursion written out in numpy from the method
note (arXiv 2506.08419, practical rule per its reviews and the unofficial code), calling no function
of the plugin, against the solver's iterates (1e-10, float64):

* ``rule="regularized"`` (default): λ0 = reg · (first positive b_t), η_{t+1} = clip((λ0 η0 + Σa)/(λ0 + Σb)),
  a_t = ⟨g'_{t+1}, d_t⟩;
* ``rule="paper"``: η_{t+1} = max(0, Σa/Σb), a_t = ⟨g'_{t+1}, g'_t⟩ on the same batch;

on a stochastic quadratic whose minibatch k has its own (A_k, c_k), so that the two alignments differ.
Plus the defaults (reg 1e-3, lr 1e-3, the page's option table) and the paper rule's minibatch bias.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from solverhub.testing import drive  # noqa: E402
from solverhub_gala import GALA, GALAOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
RNG = np.random.default_rng(4)
BATCHES = []
for _ in range(6):
    q = RNG.standard_normal((4, 4))
    BATCHES.append((q @ q.T / 4 + 0.5 * np.eye(4), RNG.standard_normal(4)))


def grad_np(k, x):
    A, c = BATCHES[k % len(BATCHES)]
    return A @ x - c


class BatchOracle:
    """f(x; ξ_k) = ½xᵀA_k x − c_kᵀx; ``grad`` uses batch 0, the k-th ``grad_pair`` batch k (k = 1, 2, ...)."""

    stochastic = True
    device = torch.device("cpu")
    dtype = torch.float64

    def __init__(self, x0):
        self.x0, self.k = torch.as_tensor(x0), 0

    def _g(self, k, x):
        A, c = (torch.as_tensor(v) for v in BATCHES[k % len(BATCHES)])
        return A @ x - c

    def grad(self, x, of=None):
        return self._g(0, x)

    def grad_pair(self, x, y):
        self.k += 1
        return self._g(self.k, x), self._g(self.k, y)


def reference(x0, steps, *, eta0, rule, reg=1e-3, eta_min=1e-8, eta_max=1e6):
    """The recursion written out (base sgd: d_t = g_t)."""
    x, g, eta = x0.copy(), grad_np(0, x0), eta0
    sa = sb = lam = 0.0
    out = []
    for t in range(1, steps + 1):
        d = g
        x_new = x - eta * d
        gn, go = grad_np(t, x_new), grad_np(t, x)
        step = np.linalg.norm(x_new - x)
        L = np.linalg.norm(gn - go) / step if step > 0 else 0.0      # x did not move (η_t = 0): no secant
        if rule == "paper":
            a, b = gn @ go, L * (d @ d)
            sa, sb = sa + a, sb + b
            eta = max(0.0, sa / sb)
        else:
            a, b = gn @ d, L * (d @ d)
            if lam == 0.0 and b > 0:
                lam = reg * b                     # λ0 from the first positive b: scale free
            sa, sb = sa + a, sb + b
            eta = min(max((lam * eta0 + sa) / (lam + sb), eta_min), eta_max)
        x, g = x_new, gn
        out.append((x.copy(), eta, a, b, lam))
    return out


@pytest.mark.parametrize("rule", ["regularized", "paper"])
@pytest.mark.parametrize("eta0", [1e-3, 0.7])
def test_eta_recursion_matches_the_written_out_reference(rule, eta0):
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    want = reference(x0, 8, eta0=eta0, rule=rule)
    states = drive(GALA, BatchOracle(x0), {"lr": eta0, "rule": rule}, steps=8).states[1:]
    assert len(states) == 8
    for t, (state, (x, eta, a, b, lam)) in enumerate(zip(states, want)):
        np.testing.assert_allclose(state.x.numpy(), x, rtol=1e-10, atol=1e-12, err_msg=f"x at step {t + 1}")
        assert float(state.eta) == pytest.approx(eta, rel=1e-10), t
        assert float(state.a_last) == pytest.approx(a, rel=1e-10, abs=1e-12), t
        assert float(state.b_last) == pytest.approx(b, rel=1e-10), t
        assert float(state.lam) == pytest.approx(lam, rel=1e-10, abs=0), t
    if rule == "paper" and eta0 == 0.7:     # this run overshoots to η = 0 and comes back (rounds at η = 0 count)
        assert min(w[1] for w in want) == 0.0 and want[-1][1] > 0
    # the two rules' alignments differ on this oracle (so the test can tell them apart)
    other = reference(x0, 8, eta0=eta0, rule="paper" if rule == "regularized" else "regularized")
    assert abs(other[2][2] - want[2][2]) > 1e-3


def test_regulariser_is_scale_free_and_its_default_is_pinned():
    """λ0 = reg · b_first: scaling f by s (η0 by 1/s) scales b and λ0 by s³ and leaves every iterate unchanged."""
    assert GALAOptions().reg == 1e-3 and GALAOptions().lr == 1e-3 and GALAOptions().rule == "regularized"
    assert (GALAOptions().eta_min, GALAOptions().eta_max) == (1e-8, 1e6)
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    want = reference(x0, 3, eta0=0.05, rule="regularized")
    # the known first answer: η_1 = (λ0 η0 + a_0)/(λ0 + b_0) with λ0 = 1e-3 b_0
    _, eta1, a0, b0, lam = want[0]
    assert lam == pytest.approx(1e-3 * b0, rel=1e-14)
    assert eta1 == pytest.approx((1e-3 * b0 * 0.05 + a0) / (1e-3 * b0 + b0), rel=1e-14)
    base = drive(GALA, BatchOracle(x0), {"lr": 0.05}, steps=3)

    class Scaled(BatchOracle):
        def _g(self, k, x):
            return 100.0 * super()._g(k, x)
    scaled = drive(GALA, Scaled(x0), {"lr": 0.05 / 100.0}, steps=3)     # f -> 100 f, η0 -> η0/100
    assert float(scaled.final.lam) == pytest.approx(1e6 * float(base.final.lam), rel=1e-10)
    np.testing.assert_allclose(scaled.final.x.numpy(), base.final.x.numpy(), rtol=1e-10)
    assert float(base.final.eta) == pytest.approx(want[-1][1], rel=1e-10)


def test_option_table_on_the_page_matches_the_code():
    from solverhub.options import options_table
    page = (ROOT / "docs/methods/gala.md").read_text()
    block = re.search(r"<!-- options: gala -->\n(.*?)\n<!-- /options -->", page, re.S).group(1)
    assert block == options_table(GALAOptions)
