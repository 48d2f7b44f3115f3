"""Regenerate the data of problems/monotone/ (deterministic; run from any folder).

A = S + K (method note 11-qn-hpe.md, test c): S symmetric positive definite with
eigenvalues linspace(mu, 1, d) in a random orthonormal basis, K skew-symmetric
with spectral norm 1, then the right-hand side, all from numpy default_rng(seed)
in this order (Q, K, right-hand side). The box game's saddle value is the LP
min_{|x|<=1} ||C'x - e||_1 + c'x, solved by scipy's HiGHS and printed.
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def strongly_monotone(d, mu, seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    S = Q @ np.diag(np.linspace(mu, 1, d)) @ Q.T
    K = rng.normal(size=(d, d))
    K = (K - K.T) / np.linalg.norm(K - K.T, 2)
    rhs = rng.normal(size=d)
    return S + K, rhs


def spd(d, low, high, rng):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(np.linspace(low, high, d)) @ Q.T


def main():
    # linear_monotone.yaml (the file): F(z) = M z + q, d = 40
    M, q = strongly_monotone(40, 0.01, 4)
    np.save(HERE / "M.npy", M)
    np.save(HERE / "q.npy", q)
    # skew_affine50.yaml (the note's test problem): F(z) = A z - b, d = 50
    A, b = strongly_monotone(50, 0.01, 4)
    np.save(HERE / "A50.npy", A)
    np.save(HERE / "b50.npy", b)
    # lcp_monotone.yaml: find z >= 0 with w = Mz + q >= 0, z'w = 0; d = 30, mu = 0.05
    M_lcp, q_lcp = strongly_monotone(30, 0.05, 11)
    np.save(HERE / "lcp_M.npy", M_lcp)
    np.save(HERE / "lcp_q.npy", q_lcp)
    # scsc_quadratic_saddle.yaml: 1/2 x'Px + x'Cy - 1/2 y'Ry + c'x - e'y
    rng = np.random.default_rng(21)
    np.savez(HERE / "scsc.npz", P=spd(15, 0.1, 1.0, rng), R=spd(10, 0.05, 1.0, rng),
             C=rng.normal(size=(15, 10)) / np.sqrt(10), c=rng.normal(size=15), e=rng.normal(size=10))
    # box_bilinear_game.yaml: x'Cy + c'x - e'y over [-1, 1]^10 x [-1, 1]^10
    rng = np.random.default_rng(31)
    C = rng.normal(size=(10, 10)) / np.sqrt(10)
    c = 0.3 * rng.normal(size=10)
    e = 0.3 * rng.normal(size=10)
    np.savez(HERE / "box_game.npz", C=C, c=c, e=e)
    print(f"box game saddle value: {box_game_value(C, c, e)!r}")


def box_game_value(C, c, e):
    """min_{|x|<=1} max_{|y|<=1} x'Cy + c'x - e'y = min_{|x|<=1} ||C'x - e||_1 + c'x, an LP
    in (x, t): min 1't + c'x s.t. -t <= C'x - e <= t (HiGHS dual simplex: a vertex, exact to rounding)."""
    from scipy.optimize import linprog
    n, m = C.shape
    cost = np.concatenate([c, np.ones(m)])
    A_ub = np.block([[C.T, -np.eye(m)], [-C.T, -np.eye(m)]])
    b_ub = np.concatenate([e, -e])
    bounds = [(-1, 1)] * n + [(0, None)] * m
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs-ds")
    assert res.status == 0, res.message
    return float(res.fun)


if __name__ == "__main__":
    main()
