"""auglag's accuracy on the Chebyshev fit, an LP in epigraph form with f* = 4.5e-5 (issue 15):
once L-BFGS-B's line search stops on the rounding of L_ρ's values, the inner solve goes on with
the gradient-only L-BFGS (solverhub/builtin/_gradient_lbfgs.py), and with ``feasibility_tol``
below the objective's scale ρ keeps growing until the multipliers are exact: the optimum of
scipy's HiGHS LP to 1e-8 relative (cvxpy's CLARABEL point is 1.3e-7 above it)."""
from pathlib import Path

import numpy as np
import pytest

import solverhub
from solverhub.api import load_problem

ROOT = Path(__file__).resolve().parents[1]
CHEB = ROOT / "problems" / "composite" / "chebyshev_fit.yaml"


def test_gradient_lbfgs_solves_a_quadratic_whose_values_carry_no_information():
    import torch
    from solverhub.builtin._gradient_lbfgs import gradient_lbfgs
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    Q = torch.as_tensor(q @ np.diag(np.logspace(0, 4, 8)) @ q.T)          # condition number 1e4
    b = torch.as_tensor(rng.normal(size=8))
    x_star = torch.linalg.solve(Q, b)
    calls = []

    def grad(x):      # f = 1e12 + x'Qx/2 - b'x: its values would round away every decrease near x*
        calls.append(1)
        return Q @ x - b
    x0 = torch.zeros(8, dtype=torch.float64)
    x, g, used, ok = gradient_lbfgs(grad, x0, grad(x0), iterations=200, tolerance=1e-11)
    assert ok and float(torch.max(torch.abs(g))) <= 1e-11 and used < 200
    assert float(torch.max(torch.abs(x - x_star))) <= 1e-9
    # a non-descent start direction never comes out of the two-loop recursion: the iterate never goes back
    _, _, _, ok_capped = gradient_lbfgs(grad, x0, grad(x0), iterations=2, tolerance=0.0)
    assert not ok_capped


@pytest.mark.slow       # ~2 s alone on a loaded CI core (15 outer iterations, ~1500 inner evaluations)
def test_chebyshev_fit_reaches_the_highs_lp_optimum():
    from scipy.optimize import linprog
    p = load_problem(CHEB)
    V, y = p.data["V"], p.data["y"]
    m, n = V.shape
    A = np.block([[V, -np.ones((m, 1))], [-V, -np.ones((m, 1))]])
    lp = linprog(np.r_[np.zeros(n), 1.0], A_ub=A, b_ub=np.r_[y, -y], bounds=[(None, None)] * (n + 1), method="highs")
    assert lp.status == 0
    r = solverhub.solve(p, "auglag", options={"inner": "lbfgsb", "feasibility_tol": 1e-10, "tolerance": 1e-8,
                                              "max_iterations": 20})
    assert r.status.value == "converged", r.message
    assert r.objective == pytest.approx(lp.fun, rel=1e-8)          # f* = 4.4698e-5
    np.testing.assert_allclose(r.solution["c"], lp.x[:n], atol=1e-7)
