"""The atoms of issue 15 (huber, max, min, norm_inf, entr, kl_div, pos, neg, power, transpose / ``.T``,
diag, trace) and the proximal operators of ``solverhub.problem.prox``, by known answers:

* every atom's torch form equals its cvxpy form's value (``expr.value`` on constants) at random
  points to 1e-10, and its declared curvature and sign are cvxpy's own on variables;
* DCP problems written with the new atoms solve through ``solverhub baseline`` to closed forms or to
  an independent solver (scipy's ``linprog`` for the Chebyshev fit);
* prox identities: the Moreau decomposition v = prox_{tf}(v) + t prox_{f*/t}(v/t) for norm1, norm2,
  norm_inf and max with projections computed here by bisection, prox optimality
  (v - p)/t ∈ ∂f(p) checked by subgradient conditions, firm nonexpansiveness, agreement with
  cvxpy's argmin, no host sync;
* ``A.T @ x`` and ``transpose(A) @ x`` compile to the same IR, ``.T`` of a vector is the vector (NumPy);
* bad input: unknown atom, wrong arity, non-constant p/M, wrong shapes, one line at the file's line.
"""
import json
import math

import numpy as np
import pytest
import torch

from solverhub.problem.atoms import ATOMS
from solverhub.problem.expr import Symbols, parse_expression

cp = pytest.importorskip("cvxpy")

NEW = ("huber", "max", "min", "norm_inf", "entr", "kl_div", "pos", "neg", "power", "transpose", "diag", "trace")
RTOL = 1e-10
CONE_ATOL = 5e-5     # solution accuracy of a cvxpy exponential/power-cone solve at default tolerances


def _rng(i=0):
    return np.random.default_rng(1234 + i)


# -- torch form == cvxpy form --------------------------------------------------------------------
def _cases():
    """(atom, args as numpy arrays or floats) at random points, several shapes per atom."""
    r = _rng()
    vec, mat, sq = r.normal(size=7) * 2, r.normal(size=(3, 4)) * 2, r.normal(size=(4, 4))
    pos = np.abs(r.normal(size=6)) + 0.05
    out = [("huber", (vec, 0.7)), ("huber", (mat, 2.5)), ("huber", (vec, 0.0)),
           ("max", (vec,)), ("max", (mat,)), ("min", (vec,)), ("min", (mat,)),
           ("norm_inf", (vec,)), ("norm_inf", (mat,)),
           ("entr", (pos,)), ("entr", (np.array([0.0, 0.5, 1.0, 3.0]),)),
           ("kl_div", (pos, pos[::-1] + 0.3)), ("kl_div", (np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 3.0]))),
           ("kl_div", (pos, 0.8)),
           ("pos", (vec,)), ("neg", (vec,)), ("pos", (mat,)), ("neg", (mat,)),
           ("transpose", (mat,)), ("transpose", (vec,)), ("diag", (vec,)), ("diag", (sq,)), ("trace", (sq,))]
    out += [("power", (pos, p)) for p in (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 2.5, 3.0)]
    out += [("power", (vec, p)) for p in (1.0, 2.0, 4.0)]           # even integers and 1: any sign
    # the older atoms too, so that every cvxpy form is checked by this one test
    out += [(n, (vec,)) for n in ("sum", "mean", "sum_squares", "norm1", "norm2", "log_sum_exp", "abs", "square",
                                  "exp", "logistic", "relu")]
    out += [(n, (pos,)) for n in ("log", "log1p", "sqrt")]
    out += [("maximum", (vec, 0.3)), ("minimum", (vec, vec[::-1])), ("quad_form", (vec[:4], sq @ sq.T))]
    return out


CASES = _cases()


@pytest.mark.parametrize("name, args", CASES, ids=[f"{i}:{n}" for i, (n, _) in enumerate(CASES)])
def test_torch_form_equals_cvxpy_value(name, args):
    atom = ATOMS[name]
    t_args = [a if i in atom.constants else torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)
              for i, a in enumerate(args)]
    got = atom.torch(*t_args)
    want = atom.cvxpy(*[a if i in atom.constants else cp.Constant(a) for i, a in enumerate(args)]).value
    want = np.asarray(want, dtype=float)
    assert tuple(got.shape) == want.shape, (name, tuple(got.shape), want.shape)
    np.testing.assert_allclose(got.numpy(), want, rtol=RTOL, atol=1e-12)


def test_every_atom_with_a_cvxpy_form_is_checked_against_it():
    assert {n for n, _ in CASES} == {n for n, a in ATOMS.items() if a.cvxpy is not None}
    assert set(NEW) <= set(ATOMS)


def test_scalar_forms_match_torch_forms():
    """The constant-folding forms (``Atom.scalar``) agree with the torch forms at a few points."""
    for name, atom in ATOMS.items():
        if atom.scalar is None:
            continue
        v = 0.7 if name not in ("entr", "kl_div", "log", "log1p", "sqrt") else 1.3
        consts = {"power": (2.5,), "huber": (0.5,), "kl_div": (0.4,), "maximum": (0.2,), "minimum": (0.2,)}
        extra = consts.get(name, ())
        t_extra = [c if i + 1 in atom.constants else torch.tensor(c, dtype=torch.float64)
                   for i, c in enumerate(extra)]
        want = float(atom.torch(torch.tensor(v, dtype=torch.float64), *t_extra))
        assert atom.scalar(v, *extra) == pytest.approx(want, rel=1e-12, abs=1e-15), name


# -- curvature and sign are cvxpy's --------------------------------------------------------------
def _cvxpy_curvature(e) -> str:
    if e.is_affine():
        return "affine"
    return "convex" if e.is_convex() else "concave" if e.is_concave() else "nonconvex"


def _cvxpy_sign(e) -> str:
    return "nonneg" if e.is_nonneg() else "nonpos" if e.is_nonpos() else "unknown"


def _on_variables(name):
    x, y, X = cp.Variable(5), cp.Variable(5), cp.Variable((3, 3))
    atom = ATOMS[name]
    if name in ("diag", "trace"):
        return [((X,), ())]
    if name == "quad_form":
        return [((x, np.eye(5) + np.ones((5, 5))), ())]
    if name == "power":
        return [((x, p), (p,)) for p in (-1.5, -1.0, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)]
    if name == "huber":
        return [((x, M), (M,)) for M in (0.0, 0.5, 2.0)]
    if atom.arity == 2:
        return [((x, y), ())]
    return [((x,), ()), ((X,), ())]


@pytest.mark.parametrize("name", sorted(n for n, a in ATOMS.items() if a.cvxpy is not None))
def test_curvature_and_sign_agree_with_cvxpy(name):
    atom = ATOMS[name]
    for args, consts in _on_variables(name):
        e = atom.cvxpy(*args)
        assert atom.curvature_at(*consts) == _cvxpy_curvature(e), (name, consts)
        want_sign = _cvxpy_sign(e)
        if name == "quad_form":      # nonneg for this PSD P; for any P (indefinite ones too) unknown
            want_sign = _cvxpy_sign(cp.quad_form(args[0], np.diag([1.0, -1.0, 1.0, 1.0, 1.0])))
        assert atom.sign_at(*consts) == want_sign, (name, consts)
    assert atom.curvature in ("convex", "concave", "affine") or atom.rule is not None


def test_flags_are_declared_and_prox_only_on_convex_atoms():
    for name, atom in ATOMS.items():
        assert atom.sign in ("nonneg", "nonpos", "unknown") or atom.rule is not None, name
        if atom.prox is not None:
            assert atom.curvature == "convex" and not atom.rule, name
    have = {n for n, a in ATOMS.items() if a.prox is not None}
    assert {"norm1", "abs", "norm2", "norm_inf", "pos", "neg", "huber", "max"} <= have


# -- proximal operators --------------------------------------------------------------------------
def _l1_ball_bisection(v, r):
    """Projection onto {||y||_1 <= r} by bisection on the threshold (independent of the sort)."""
    a = np.abs(v)
    if a.sum() <= r:
        return v.copy()
    lo, hi = 0.0, a.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(a - mid, 0).sum() > r else (lo, mid)
    return np.sign(v) * np.maximum(a - (lo + hi) / 2, 0)


def _simplex_bisection(v, r=1.0):
    lo, hi = v.min() - r, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(v - mid, 0).sum() > r else (lo, mid)
    return np.maximum(v - (lo + hi) / 2, 0)


DUAL_PROJECTIONS = {   # f -> projection onto the domain of f* (f* is the indicator of that set)
    "norm1": lambda w: np.clip(w, -1, 1),
    "norm2": lambda w: w / max(1.0, np.linalg.norm(w)),
    "norm_inf": lambda w: _l1_ball_bisection(w.reshape(-1), 1.0).reshape(w.shape),
    "max": lambda w: _simplex_bisection(w.reshape(-1)).reshape(w.shape),
}


def _prox(name, v, t, *consts):
    return ATOMS[name].prox(torch.as_tensor(v, dtype=torch.float64), t, *consts).numpy()


@pytest.mark.parametrize("name", sorted(DUAL_PROJECTIONS))
@pytest.mark.parametrize("shape", [(9,), (3, 4)])
@pytest.mark.parametrize("t", [0.05, 0.8, 7.0])
def test_moreau_decomposition(name, shape, t):
    for i in range(5):
        v = _rng(i).normal(size=shape) * 3
        p = _prox(name, v, t)
        np.testing.assert_allclose(p + t * DUAL_PROJECTIONS[name](v / t), v, rtol=0, atol=1e-12)


def _subgradient_ok(name, p, g, consts, tol=1e-9):
    """Is ``g`` a subgradient of f (the atom summed, or the reduction) at ``p``?"""
    p, g = p.reshape(-1), g.reshape(-1)
    if name in ("norm1", "abs"):
        return np.all(np.abs(g) <= 1 + tol) and np.allclose(g[p != 0], np.sign(p[p != 0]), atol=tol)
    if name == "norm2":
        n = np.linalg.norm(p)
        return np.allclose(g, p / n, atol=tol) if n > 0 else np.linalg.norm(g) <= 1 + tol
    if name == "norm_inf":
        return np.abs(g).sum() <= 1 + tol and abs(g @ p - np.abs(p).max()) <= tol * (1 + np.abs(p).max())
    if name == "max":
        return (np.all(g >= -tol) and abs(g.sum() - 1) <= tol and np.all(np.abs(g[p < p.max() - tol]) <= tol))
    if name in ("pos", "relu"):
        return (np.allclose(g[p > 0], 1, atol=tol) and np.allclose(g[p < 0], 0, atol=tol)
                and np.all((g[p == 0] >= -tol) & (g[p == 0] <= 1 + tol)))
    if name == "neg":
        return (np.allclose(g[p < 0], -1, atol=tol) and np.allclose(g[p > 0], 0, atol=tol)
                and np.all((g[p == 0] >= -1 - tol) & (g[p == 0] <= tol)))
    if name == "huber":
        (M,) = consts
        return np.allclose(g, np.where(np.abs(p) <= M, 2 * p, 2 * M * np.sign(p)), atol=tol)
    if name in ("square", "sum_squares"):
        return np.allclose(g, 2 * p, atol=tol)
    raise AssertionError(f"no subgradient rule for {name}")


PROX_ATOMS = sorted(n for n, a in ATOMS.items() if a.prox is not None)
PROX_CONSTS = {"huber": (0.6,)}


@pytest.mark.parametrize("name", PROX_ATOMS)
@pytest.mark.parametrize("t", [0.1, 1.0, 4.0])
def test_prox_optimality(name, t):
    consts = PROX_CONSTS.get(name, ())
    hits_kink = False
    for i in range(8):
        v = _rng(i).normal(size=(3, 5)) * 2
        p = _prox(name, v, t, *consts)
        assert p.shape == v.shape
        assert _subgradient_ok(name, p, (v - p) / t, consts), (name, t, i)
        hits_kink |= bool(np.any(p == 0))
    if name in ("norm1", "abs", "pos", "relu", "neg") and t >= 1.0:
        assert hits_kink   # the kinks (p = 0) were exercised, not just the smooth pieces


@pytest.mark.parametrize("name", PROX_ATOMS)
def test_prox_is_firmly_nonexpansive(name):
    consts = PROX_CONSTS.get(name, ())
    for i in range(30):
        r = _rng(i)
        u, w = r.normal(size=11) * 3, r.normal(size=11) * 3
        if i % 3 == 0:
            w = u + 1e-3 * r.normal(size=11)
        t = float(r.uniform(0.05, 5))
        pu, pw = _prox(name, u, t, *consts), _prox(name, w, t, *consts)
        d = pu - pw
        assert d @ d <= d @ (u - w) + 1e-12 * (1 + (u - w) @ (u - w))      # ||Pu-Pw||^2 <= <Pu-Pw, u-w>
        assert np.linalg.norm(d) <= np.linalg.norm(u - w) * (1 + 1e-12)


def _cvxpy_function(name, p, consts):
    if name in ("norm1", "abs"):
        return cp.norm1(p)
    if name == "norm2":
        return cp.norm(p, 2)
    if name == "norm_inf":
        return cp.norm_inf(p)
    if name == "max":
        return cp.max(p)
    if name in ("pos", "relu"):
        return cp.sum(cp.pos(p))
    if name == "neg":
        return cp.sum(cp.neg(p))
    if name == "huber":
        return cp.sum(cp.huber(p, consts[0]))
    return cp.sum_squares(p)


@pytest.mark.parametrize("name", PROX_ATOMS)
def test_prox_is_cvxpys_argmin(name):
    consts = PROX_CONSTS.get(name, ())
    for i, t in enumerate((0.3, 1.7)):
        v = _rng(40 + i).normal(size=8) * 2
        p = cp.Variable(8)
        cp.Problem(cp.Minimize(t * _cvxpy_function(name, p, consts) + 0.5 * cp.sum_squares(p - v))).solve(
            solver="CLARABEL")
        np.testing.assert_allclose(_prox(name, v, t, *consts), p.value, atol=1e-6)


def test_projections_are_idempotent_and_land_on_the_set():
    from solverhub.problem.prox import project_l1_ball, project_simplex
    for i in range(10):
        v = torch.as_tensor(_rng(i).normal(size=13) * 2)
        r = float(_rng(i).uniform(0.1, 3))
        b = project_l1_ball(v, r)
        assert float(b.abs().sum()) <= r * (1 + 1e-12)
        torch.testing.assert_close(project_l1_ball(b, r), b, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b.numpy(), _l1_ball_bisection(v.numpy(), r), atol=1e-12)
        s = project_simplex(v, r)
        assert float(s.min()) >= 0 and float(s.sum()) == pytest.approx(r, rel=1e-12)
        torch.testing.assert_close(project_simplex(s, r), s, rtol=0, atol=1e-12)
        np.testing.assert_allclose(s.numpy(), _simplex_bisection(v.numpy(), r), atol=1e-12)
    inside = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    assert torch.equal(project_l1_ball(inside, 1.0), inside)             # already in the ball: unchanged
    assert torch.equal(project_l1_ball(torch.zeros(4, dtype=torch.float64), 0.5), torch.zeros(4, dtype=torch.float64))


def test_prox_takes_a_tensor_step_without_host_syncs(count_host_syncs):
    v = torch.as_tensor(_rng(7).normal(size=(4, 6)) * 2)
    step = torch.tensor(0.4, dtype=torch.float64)
    want = {name: ATOMS[name].prox(v, 0.4, *PROX_CONSTS.get(name, ())) for name in PROX_ATOMS}
    syncs = count_host_syncs()
    got = {name: ATOMS[name].prox(v, step, *PROX_CONSTS.get(name, ())) for name in PROX_ATOMS}
    assert syncs["n"] == 0
    for name in PROX_ATOMS:
        torch.testing.assert_close(got[name], want[name], rtol=1e-14, atol=1e-14)


def test_prox_is_finite_at_zero_and_at_ties():
    """prox of norm2 at 0 and huber/max at ties stay finite (no 0/0)."""
    z = torch.zeros(5, dtype=torch.float64)
    for name in PROX_ATOMS:
        out = ATOMS[name].prox(z, 0.5, *PROX_CONSTS.get(name, ()))
        assert torch.isfinite(out).all(), name
    ties = torch.ones(4, dtype=torch.float64)
    np.testing.assert_allclose(ATOMS["max"].prox(ties, 0.4).numpy(), np.full(4, 0.9), atol=1e-15)


# -- the parser: .T, transpose, diag, trace ------------------------------------------------------
SYMBOLS = Symbols(variables={"x": (3,), "X": (3, 3)}, data={"A": (4, 3), "v": (4,)}, parameters={"lam": 0.5})


def _ir(text):
    return parse_expression(text, SYMBOLS)


def test_dot_T_and_transpose_compile_to_the_same_ir():
    assert _ir("A.T @ v") == _ir("transpose(A) @ v")
    assert _ir("A.T @ v").shape == (3,)
    assert _ir("sum_squares(A.T.T @ x - v)") == _ir("sum_squares(transpose(transpose(A)) @ x - v)")
    assert _ir("X.T").shape == (3, 3) and _ir("(A @ X).T").shape == (3, 4)


def test_T_of_a_vector_or_scalar_is_unchanged():
    """NumPy's convention (not a row vector): x.T has x's shape and value, so x.T @ x is the inner product."""
    assert _ir("x.T").shape == (3,) and _ir("x.T @ x").shape == ()
    assert _ir("lam.T").shape == ()
    f = ATOMS["transpose"].torch
    x = torch.arange(3.0, dtype=torch.float64)
    assert torch.equal(f(x), x) and torch.equal(f(torch.tensor(2.0)), torch.tensor(2.0))


def test_shapes_of_diag_trace_and_reductions():
    assert _ir("diag(x)").shape == (3, 3) and _ir("diag(X)").shape == (3,)
    assert _ir("trace(X)").shape == () and _ir("trace(A.T @ A)").shape == ()
    assert _ir("max(A)").shape == () and _ir("min(x)").shape == () and _ir("norm_inf(A)").shape == ()
    assert _ir("huber(A @ x, lam)").shape == (4,) and _ir("power(x, 3)").shape == (3,)
    assert _ir("kl_div(x, 2)").shape == (3,) and _ir("entr(X)").shape == (3, 3)


def test_constant_sub_expressions_of_new_atoms_are_checked():
    from solverhub.errors import ProblemError
    assert _ir("huber(3, 1) + sum(x)") is not None
    for text, fragment in [("entr(-1) + sum(x)", "cannot be computed"), ("power(0, -1) + sum(x)", "cannot be computed"),
                           ("kl_div(1, 0) + sum(x)", "not finite"), ("power(-8, 0.5) + sum(x)", "not a real number")]:
        with pytest.raises(ProblemError, match=fragment):
            _ir(text)


# -- bad input: one line, file:line, exit 2 ------------------------------------------------------
BAD = """
name: bad
kind: minimize
variables:
  x: {shape: [3]}
data:
  A: {generate: normal, shape: [4, 5], seed: 0}
parameters:
  lam: 0.5
objective: "%s"
"""


def _line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("expr, fragments", [
    ("softmax(x) + sum(x)", ("unknown atom 'softmax'", "allowed: abs,", "huber", "kl_div", "norm_inf", "trace",
                             "transpose")),
    ("sum(huber(x))", ("atom 'huber' takes 2 argument(s), got 1",)),
    ("max(x, 0)", ("atom 'max' takes 1 argument(s), got 2", "maximum(a, b)")),
    ("sum(power(x, x))", ("power(...): argument 2 must be a scalar constant or parameter", "'x'", "(3)")),
    ("sum(huber(x, A))", ("huber(...): argument 2 must be a scalar constant",)),
    ("sum(huber(x, -lam))", ("huber(x, M): M must be >= 0, got -0.5", "allowed: M >= 0")),
    ("trace(A)", ("trace(X) needs a square matrix; got shape (4, 5)",)),
    ("sum(diag(A))", ("diag(x) needs a vector or a square matrix; got shape (4, 5)",)),
    ("sum(A.T @ x)", ("shape mismatch for @: (5, 4) and (3)",)),
    ("sum(x.H)", ("attribute access is not allowed (only .T, the transpose)",)),
    ("sum(kl_div(x, A))", ("shape mismatch for kl_div: (3) and (4, 5)",)),
])
def test_bad_atom_use_is_one_line_at_the_objective(write_problem, run_cli, expr, fragments):
    p = write_problem(BAD % expr)
    r = run_cli("validate", p)
    assert r.exit_code == 2 and "Traceback" not in r.stdout + r.stderr, (r.exit_code, r.stderr)
    lines = r.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith(f"error: {p}:{_line_of(p, 'objective:')}: objective: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# -- DCP problems with the new atoms through `solverhub baseline` --------------------------------
def _baseline(write_problem, run_cli, text, tmp_path, name, certified=False):
    """Run ``solverhub baseline --json``; the answer is then checked against a known one. Today the
    certificate of a nonsmooth ``minimize`` problem is the gradient norm and the KKT residual of an
    exponential-cone solve is ~1e-4, so only a smooth problem is required to come out ``certified``
    (the structure-valid measures of issue 15 are another part of it). CLARABEL's default tolerances
    give exponential- and power-cone solutions to ~1e-5, hence ``CONE_ATOL`` for those problems."""
    from solverhub.problem.model import load_problem
    p = write_problem(text, name=f"{name}.yaml")
    out = tmp_path / f"{name}.json"
    r = run_cli("baseline", p, "--json", out)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    ref = json.loads(out.read_text())
    assert ref["status"] == "certified" if certified else ref["status"] in ("certified", "inaccurate"), ref
    problem = load_problem(p)
    return ref, problem, problem.unflatten_numpy(np.asarray(ref["solution"]))


HUBER = """
name: huber-regression
kind: minimize
variables:
  w: {shape: [3]}
data:
  X: {generate: normal, shape: [40, 3], seed: 0}
  y: {generate: normal, shape: [40], seed: 1, std: 3.0}
parameters:
  M: 0.5
objective: "sum(huber(X @ w - y, M))"
"""


def test_huber_regression_baseline_is_stationary(write_problem, run_cli, tmp_path):
    """Huber is C^1: the optimum is where X' psi(Xw - y) = 0, psi(r) = 2r inside [-M, M], 2M sign(r) outside."""
    ref, problem, sol = _baseline(write_problem, run_cli, HUBER, tmp_path, "huber", certified=True)
    X, y, M = problem.data["X"], problem.data["y"], 0.5
    r = X @ sol["w"] - y
    assert np.any(np.abs(r) > M) and np.any(np.abs(r) < M)        # both pieces are active
    psi = np.where(np.abs(r) <= M, 2 * r, 2 * M * np.sign(r))
    assert np.linalg.norm(X.T @ psi) <= 1e-6 * np.linalg.norm(X) * np.linalg.norm(psi)
    value = np.where(np.abs(r) <= M, r * r, 2 * M * np.abs(r) - M * M).sum()
    assert ref["objective"] == pytest.approx(value, rel=1e-9)


CHEBYSHEV = """
name: chebyshev-fit
kind: minimize
variables:
  w: {shape: [4]}
data:
  X: {generate: normal, shape: [25, 4], seed: 3}
  y: {generate: normal, shape: [25], seed: 4}
objective: "%s"
"""


@pytest.mark.parametrize("form", ["norm_inf(X @ w - y)", "max(abs(X @ w - y))", "-min(-abs(X @ w - y))"])
def test_chebyshev_fit_matches_scipy_linprog(write_problem, run_cli, tmp_path, form):
    from scipy.optimize import linprog
    ref, problem, sol = _baseline(write_problem, run_cli, CHEBYSHEV % form, tmp_path, "cheb")
    X, y = problem.data["X"], problem.data["y"]
    n, d = X.shape
    # min s  s.t.  X w - y <= s,  -(X w - y) <= s  over (w, s)
    A = np.block([[X, -np.ones((n, 1))], [-X, -np.ones((n, 1))]])
    lp = linprog(np.r_[np.zeros(d), 1.0], A_ub=A, b_ub=np.r_[y, -y], bounds=[(None, None)] * (d + 1),
                 method="highs")
    assert lp.status == 0
    assert ref["objective"] == pytest.approx(lp.fun, rel=1e-7)
    assert np.abs(X @ sol["w"] - y).max() == pytest.approx(lp.fun, rel=1e-7)


MAXENT = """
name: max-entropy
kind: constrained
variables:
  p: {shape: [5]}
data:
  a: [0.0, 1.0, 2.0, 3.0, 4.0]
objective: "-sum(entr(p))"
constraints:
  - "sum(p) == 1"
  - "a @ p == 1.2"
"""


def test_max_entropy_is_the_gibbs_distribution(write_problem, run_cli, tmp_path):
    """max H(p) s.t. sum p = 1, a'p = m: p ∝ exp(lam a), lam by root finding (Jaynes 1957)."""
    from scipy.optimize import brentq
    ref, problem, sol = _baseline(write_problem, run_cli, MAXENT, tmp_path, "maxent")
    a = problem.data["a"]

    def gibbs(lam):
        w = np.exp(lam * a - (lam * a).max())
        return w / w.sum()
    lam = brentq(lambda s: gibbs(s) @ a - 1.2, -20, 20, xtol=1e-15)
    p = gibbs(lam)
    np.testing.assert_allclose(sol["p"], p, atol=CONE_ATOL)
    assert ref["objective"] == pytest.approx(float(np.sum(p * np.log(p))), rel=1e-6)


KL = """
name: kl-projection
kind: constrained
variables:
  p: {shape: [4]}
data:
  q: [0.2, 0.5, 1.0, 0.3]
objective: "sum(kl_div(p, q))"
constraints:
  - "sum(p) == 1"
"""


def test_kl_projection_onto_the_simplex_is_the_normalisation(write_problem, run_cli, tmp_path):
    """min sum kl_div(p, q) s.t. sum p = 1: log(p/q) is constant, so p = q / S with value S - 1 - log S."""
    ref, problem, sol = _baseline(write_problem, run_cli, KL, tmp_path, "kl")
    q = problem.data["q"]
    S = q.sum()
    np.testing.assert_allclose(sol["p"], q / S, atol=CONE_ATOL)
    assert ref["objective"] == pytest.approx(S - 1 - math.log(S), rel=1e-6)


SEPARABLE = """
name: separable-closed-forms
kind: minimize
variables:
  X: {shape: [3, 3]}
  z: {shape: [4]}
  u: {shape: [5]}
data:
  B: [[1.0, 2.0, -1.0], [0.5, -0.3, 2.0], [0.0, 1.5, 1.0]]
  C: [[0.4, -1.0, 0.2], [1.0, 0.6, -0.5], [0.3, 0.0, -0.8]]
  c: [4.0, -0.5, 32.0, 1.0]
  a: [2.5, 0.3, -0.8, -3.0, 1.2]
objective: >-
  sum_squares(X - B) + trace(C.T @ X) + sum_squares(diag(X)) + sum(power(z, 4)) - c @ z
  + sum_squares(u - a) + 2 * sum(pos(u)) + 3 * sum(neg(u))
"""


def test_trace_diag_transpose_power_pos_neg_closed_forms(write_problem, run_cli, tmp_path):
    """Separable optimality conditions: 2(X - B) + C + 2 Diag(diag X) = 0; 4 z^3 = c;
    u = a - 1 where a > 1, a + 1.5 where a < -1.5, else 0 (soft thresholds of 2 pos + 3 neg)."""
    ref, problem, sol = _baseline(write_problem, run_cli, SEPARABLE, tmp_path, "sep")
    B, C, c, a = (problem.data[k] for k in ("B", "C", "c", "a"))
    X = B - C / 2
    np.fill_diagonal(X, (2 * np.diag(B) - np.diag(C)) / 4)
    z = np.cbrt(c / 4)
    u = np.where(a > 1, a - 1, np.where(a < -1.5, a + 1.5, 0.0))
    np.testing.assert_allclose(sol["X"], X, atol=1e-6)
    np.testing.assert_allclose(sol["z"], z, atol=CONE_ATOL)
    np.testing.assert_allclose(sol["u"], u, atol=1e-6)
    value = (np.sum((X - B) ** 2) + np.trace(C.T @ X) + np.sum(np.diag(X) ** 2) + np.sum(z ** 4) - c @ z
             + np.sum((u - a) ** 2) + 2 * np.maximum(u, 0).sum() + 3 * np.maximum(-u, 0).sum())
    assert ref["objective"] == pytest.approx(value, rel=1e-8)


MAXMIN = """
name: max-min
kind: constrained
variables:
  x: {shape: [4]}
  y: {shape: [3]}
objective: "max(x) - min(y)"
constraints:
  - "sum(x) == 1"
  - "sum(y) == 1"
"""


def test_max_and_min_on_the_simplex_plane(write_problem, run_cli, tmp_path):
    """max(x) >= mean(x) = 1/4 with equality only at x = 1/4; min(y) <= 1/3 likewise."""
    ref, problem, sol = _baseline(write_problem, run_cli, MAXMIN, tmp_path, "maxmin")
    np.testing.assert_allclose(sol["x"], np.full(4, 0.25), atol=1e-6)
    np.testing.assert_allclose(sol["y"], np.full(3, 1 / 3), atol=1e-6)
    assert ref["objective"] == pytest.approx(0.25 - 1 / 3, rel=1e-8)


# -- the docs' atom table: sign and prox columns (test_docs_examples checks names, curvature, meaning) --
def test_atom_table_sign_and_prox_columns_match_the_code():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "yaml-reference.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- atoms:begin.*?-->\n(.*?)<!-- atoms:end -->", text, re.S).group(1)
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in table.splitlines()
            if line.startswith("| `")]
    header = [c.strip() for c in table.splitlines()[0].strip().strip("|").split("|")]
    assert header[5:] == ["sign", "prox of t·f"], header
    seen = set()
    for cells in rows:
        name = re.match(r"`(\w+)\(", cells[0]).group(1)
        atom = ATOMS[name]
        seen.add(name)
        assert cells[5] == atom.sign, (name, cells[5], atom.sign)
        want = "none" if atom.prox is None else f"`{atom.prox.__name__}`"
        assert cells[6].split(":")[0] == want, (name, cells[6], want)
        assert [p for p in ("p", "M") if f", {p})`" in cells[0]] == (["p"] if name == "power" else
                                                                     ["M"] if name == "huber" else [])
    assert seen == set(ATOMS)
