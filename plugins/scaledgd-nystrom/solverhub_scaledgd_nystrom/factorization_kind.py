"""``kind: matrix_factorization`` -- low-rank factorization of a given matrix M.

    symmetric:   minimize f(X)    = 1/4 ‖X Xᵀ − M‖_F²,  X ∈ R^{n×r}   (M symmetric, n×n)
    asymmetric:  minimize f(X, Y) = 1/2 ‖X Yᵀ − M‖_F²,  X ∈ R^{m×r}, Y ∈ R^{n×r}

(the scaling of arXiv 2410.18965 and of the method note). The file gives the
matrix as data ``M`` (a generator such as ``low_rank_psd``, or ``{file: M.npy}``),
the factor ``rank`` r and ``symmetric``; the factors are implied (``X``, and ``Y``
when asymmetric). r larger than rank(M) is the over-parameterized case.

Start (``x0``) when the file gives none: the small random init
``init_scale · N(0, 1)`` drawn with numpy from ``init_seed`` (the zero start is a
saddle point), so ``gd`` and ``scaledgd --option init=x0`` start there.

Measures: ``rel_error`` (default), the relative error in excess of the best rank-r
approximation M_r, e = sqrt(|‖XXᵀ − M‖² − ‖M_r − M‖²|) / ‖M‖ (XYᵀ when asymmetric),
which is exactly ‖XXᵀ − M‖_F / ‖M‖_F when rank(M) ≤ r and is zero only at a global
minimizer otherwise; ``grad_norm`` and the other gradient norms (near a rank-deficient
solution ‖∇f‖ ~ e^{3/2}: a gradient tolerance stops far too early, so they are not the
default). ``report`` gives the final ``factorization_error`` ‖XXᵀ − M‖/‖M‖, the measure
at every trace sample (``rel_error_trace``) and the empirical order log e_{t+1} / log e_t
between consecutive samples (per iteration with ``trace_every=1``, the CPU default).

Baseline (closed form, Eckart–Young): the truncated eigendecomposition
X* = V_r diag(max(λ_r, 0))^{1/2} (symmetric), or the truncated SVD
X* = U_r Σ_r^{1/2}, Y* = V_r Σ_r^{1/2} (asymmetric), is a global minimizer.

The objective never forms the n×n residual at once: its value is summed over
row blocks of M and its gradient is the closed form ∇_X = X(XᵀX) − MX
(∇_Y = Y(XᵀX) − MᵀX), so n = 10⁴ fits in the memory of M itself.
"""
from __future__ import annotations

__all__ = ["MatrixFactorization", "FactorizationSections", "FactorizationTorchProblem", "empirical_orders",
           "factorization_loss"]

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import (CompiledSections, Const, CvxpySolution, Location, NoBaseline, ProblemError, ProblemKind,
                              TorchProblem, lazy_module)

torch = lazy_module("torch")

BLOCK_ELEMENTS = 1 << 18      # rows of M per block of the residual: ~256K entries (2 MB, cache-sized) at a time
DENSE_BASELINE_MAX = 3000     # dense eigh/svd up to this size, Lanczos (scipy eigsh/svds) above


class FactorizationSections(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rank: int = Field(ge=1)                 # r, columns of each factor
    symmetric: bool = True                  # X Xᵀ ≈ M (M symmetric) or X Yᵀ ≈ M
    init_scale: float = Field(1e-3, gt=0)   # default start: init_scale · N(0, 1)
    init_seed: int = 0


def _residual_sq(X, Y, M):
    """‖X Yᵀ − M‖_F² summed over row blocks of M (no n×n temporary).

    One fused ``addmm`` and one ``dot`` per cache-sized block: 2-2.5x faster at n = 10⁴ than
    ``sum((X Yᵀ − M)²)`` over 32 MB blocks, which made this pass (inside every gradient,
    through autograd's forward) 80 % of an iteration."""
    rows = max(1, BLOCK_ELEMENTS // max(1, M.shape[1]))
    total = X.new_zeros(())
    for i in range(0, M.shape[0], rows):
        E = torch.addmm(M[i:i + rows], X[i:i + rows], Y.T, beta=-1.0).reshape(-1)    # X Yᵀ − M, this block
        total = total + torch.dot(E, E)
    return total


def _symmetric_loss():
    class SymmetricLoss(torch.autograd.Function):
        """1/4 ‖XXᵀ − M‖² with the gradient X(XᵀX) − MX (M symmetric); twice differentiable."""

        @staticmethod
        def forward(ctx, X, M):
            ctx.save_for_backward(X, M)
            return 0.25 * _residual_sq(X, X, M)

        @staticmethod
        def backward(ctx, g):
            X, M = ctx.saved_tensors
            return g * (X @ (X.T @ X) - M @ X), None
    return SymmetricLoss


def _asymmetric_loss():
    class AsymmetricLoss(torch.autograd.Function):
        """1/2 ‖XYᵀ − M‖² with gradients X(YᵀY) − MY and Y(XᵀX) − MᵀX; twice differentiable."""

        @staticmethod
        def forward(ctx, X, Y, M):
            ctx.save_for_backward(X, Y, M)
            return 0.5 * _residual_sq(X, Y, M)

        @staticmethod
        def backward(ctx, g):
            X, Y, M = ctx.saved_tensors
            return g * (X @ (Y.T @ Y) - M @ Y), g * (Y @ (X.T @ X) - M.T @ X), None
    return AsymmetricLoss


_LOSSES: dict = {}
_OPTIMA: dict[str, float] = {}      # content hash -> f* (closed form)


def factorization_loss(symmetric: bool):
    """The autograd Function of the symmetric or asymmetric loss (built once, torch imported lazily)."""
    if symmetric not in _LOSSES:
        _LOSSES[symmetric] = _symmetric_loss() if symmetric else _asymmetric_loss()
    return _LOSSES[symmetric]


@dataclass
class FactorizationTorchProblem(TorchProblem):
    """The torch lowering plus what the measures and the report need."""

    M: Any = None                   # the matrix on the device (symmetrized when symmetric)
    m_norm: Any = None              # ‖M‖_F, 0-d tensor
    symmetric: bool = True
    optimum: Any = None             # () -> f* of the best rank-r approximation (closed form, cached)
    history: list = field(default_factory=list)    # rel_error at every trace sample (0-d tensors)

    def factorization_error(self, value):
        """‖XXᵀ − M‖/‖M‖ from f = 1/4‖·‖² (symmetric) or 1/2‖·‖² (asymmetric)."""
        c = 4.0 if self.symmetric else 2.0
        return torch.sqrt(torch.clamp(c * value, min=0.0)) / self.m_norm

    def rel_error(self, value):
        """The error in excess of the best rank-r approximation's (the measure ``rel_error``);
        |f − f*|: at the rounding level f can fall just below f*, and the measure stays > 0."""
        c = 4.0 if self.symmetric else 2.0
        return torch.sqrt(torch.abs(c * (value - self.optimum()))) / self.m_norm


def empirical_orders(errors, floor: float) -> list[tuple[int, float]]:
    """(sample index t, log e_{t+1} / log e_t) for consecutive samples with floor < e_{t+1} < e_t < 0.1.

    Linear convergence gives ratios tending to 1, quadratic ones near 2. Errors at or
    below the rounding floor are left out: ``floor``, or 10 × the smallest error of the run
    when that is larger (a run that has stalled at its rounding level).
    """
    finite = [e for e in errors if math.isfinite(e) and e > 0]
    if finite:
        floor = max(floor, 10.0 * min(finite))
    out = []
    for t in range(len(errors) - 1):
        a, b = errors[t], errors[t + 1]
        if math.isfinite(a) and math.isfinite(b) and floor < b < a < 0.1:     # near e = 1 the ratio means nothing
            out.append((t, math.log(b) / math.log(a)))
    return out


class MatrixFactorization(ProblemKind):
    name = "matrix_factorization"
    description = "low-rank factorization X Xᵀ ≈ M or X Yᵀ ≈ M (Frobenius loss), closed-form baseline"
    Sections = FactorizationSections
    default_measure = "rel_error"
    measures = ("rel_error", "grad_norm", "grad_norm_l1", "grad_norm_inf")
    polishable = False
    generic_minimization = True     # f is a plain smooth function of the factors: gd, adam, lbfgs, ... run on it
    tiny_problem = """
name: tiny-matrix-factorization
kind: matrix_factorization
data:
  M: {generate: low_rank_psd, shape: [12, 12], rank: 2, condition: 4, seed: 3}
rank: 2
symmetric: true
"""

    # -- YAML -> problem -------------------------------------------------------
    @staticmethod
    def _shape_of_m(sections, data_shapes: dict, where) -> tuple[int, int]:
        """Shape of M, checked. ``where(key)`` gives the Location of a top-level key (``data`` for M)."""
        if "M" not in data_shapes:
            raise ProblemError("matrix_factorization needs the matrix to factor as data M", location=where("data"),
                               allowed="data: {M: {generate: low_rank_psd, shape: [n, n], rank: k}} "
                                       "or {M: {file: M.npy}}")
        shape = tuple(data_shapes["M"])
        if len(shape) != 2 or min(shape) < 1:
            raise ProblemError(f"data M must be a matrix, got shape {shape}", location=where("data"),
                               allowed="a 2-d array")
        if sections.symmetric and shape[0] != shape[1]:
            raise ProblemError(f"symmetric: true needs a square M, got shape {shape}", location=where("symmetric"),
                               allowed="a square M, or symmetric: false (X Yᵀ ≈ M)")
        if sections.rank > min(shape):
            raise ProblemError(f"rank {sections.rank} exceeds min(m, n) = {min(shape)} of M {shape}",
                               location=where("rank"), allowed=f"1 <= rank <= {min(shape)}")
        return shape

    def _factor_shapes(self, sections, data_shapes, where) -> dict:
        m, n = self._shape_of_m(sections, data_shapes, where)
        if sections.symmetric:
            return {"X": (m, sections.rank)}
        return {"X": (m, sections.rank), "Y": (n, sections.rank)}

    def implicit_variables(self, sections, data_shapes: dict, location) -> dict:
        # only the kind's line is known here; compile() repeats the checks with the key's line, so
        # check here only what the shapes need (M present, a matrix) and let compile() report the rest
        if "M" in data_shapes and len(data_shapes["M"]) == 2:
            m, n = data_shapes["M"]
            return {"X": (m, sections.rank)} if sections.symmetric else {"X": (m, sections.rank),
                                                                           "Y": (n, sections.rank)}
        return self._factor_shapes(sections, data_shapes, lambda key: location)

    def compile(self, sections, ctx) -> CompiledSections:
        def where(key):          # the key's line; data M's when the key is absent (symmetric: true by default)
            return Location(ctx.file, ctx.line_of((key,) if key in sections.model_fields_set else ("data", "M")))
        want = self._factor_shapes(sections, ctx.symbols.data, where)
        have = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        if have != want:
            raise ProblemError(f"variables {have} do not match the factors of M: {want}",
                               location=Location(ctx.file, ctx.line_of(("variables",))),
                               allowed="leave variables: out (the kind implies them), or declare exactly "
                                       + ", ".join(f"{k}: {{shape: {list(v)}}}" for k, v in want.items()))
        return CompiledSections(objective=Const(shape=(), value=0.0),
                                extra={"rank": sections.rank, "symmetric": sections.symmetric,
                                       "init_scale": sections.init_scale, "init_seed": sections.init_seed})

    # -- torch -------------------------------------------------------------
    @staticmethod
    def matrix(problem) -> np.ndarray:
        """M as float64 numpy, checked symmetric (to rounding) when the problem says so."""
        M = np.asarray(problem.data["M"], dtype=np.float64)
        if problem.sections.extra["symmetric"] and M.size:
            view = torch.as_tensor(M)          # shares M's memory; torch's transposed difference is
            scale = float(view.abs().amax())   # multithreaded: 0.6 s at n = 10⁴ against numpy's 4 s
            asym = float((view - view.T).abs().amax())
            if asym > 1e-10 * max(scale, 1e-300):
                raise ProblemError(f"symmetric: true but M is not symmetric (max |M - Mᵀ| = {asym:.3g})",
                                   location=problem.location("data", "M"),
                                   allowed="a symmetric M, or symmetric: false (X Yᵀ ≈ M)")
        return M

    def lower_torch(self, problem, device, dtype) -> FactorizationTorchProblem:
        extra = problem.sections.extra
        symmetric = extra["symmetric"]
        M = torch.as_tensor(self.matrix(problem), dtype=dtype, device=device)
        if symmetric:
            M = 0.5 * (M + M.T)
        layout = [(v.name, v.shape, v.offset, v.size) for v in problem.variables]

        def unflatten(x):
            return {name: x[off:off + size].reshape(shape) for name, shape, off, size in layout}
        loss = factorization_loss(symmetric)

        if symmetric:
            def objective(x, rows=None):
                return loss.apply(unflatten(x)["X"], M)
        else:
            def objective(x, rows=None):
                parts = unflatten(x)
                return loss.apply(parts["X"], parts["Y"], M)

        f_star = self.optimal_value(problem)  # here, outside the solve's timed region (cached)
        if np.any(problem.x0 != 0):          # the file gave a start
            x0 = np.asarray(problem.x0, dtype=np.float64)
        else:
            x0 = extra["init_scale"] * np.random.default_rng(extra["init_seed"]).standard_normal(problem.dim)
        return FactorizationTorchProblem(objective, (), unflatten, torch.as_tensor(x0, dtype=dtype, device=device),
                                         M=M, m_norm=torch.linalg.norm(M), symmetric=symmetric,
                                         optimum=lambda: f_star)

    def optimal_value(self, problem) -> float:
        """f* = f(X*) at the Eckart–Young factors (computed once per problem and process)."""
        key = problem.content_hash
        if key not in _OPTIMA:
            sol = self.cvxpy_solve(problem)
            M = torch.as_tensor(self.matrix(problem), dtype=torch.float64)
            x = torch.as_tensor(sol.x, dtype=torch.float64)
            rows, cols, r = M.shape[0], M.shape[1], problem.sections.extra["rank"]
            if problem.sections.extra["symmetric"]:
                value = factorization_loss(True).apply(x.reshape(rows, r), 0.5 * (M + M.T))
            else:
                X, Y = x[:rows * r].reshape(rows, r), x[rows * r:].reshape(cols, r)
                value = factorization_loss(False).apply(X, Y, M)
            _OPTIMA[key] = float(value)
        return _OPTIMA[key]

    # -- measures and report -------------------------------------------------
    def measure(self, name, tp, oracle, x, state):
        if name == "rel_error":
            value = getattr(state, "value", None)
            if value is None or oracle.stochastic:
                value = oracle.peek_value(x)
            stat = tp.rel_error(value)
        else:
            value, stat = super().measure(name, tp, oracle, x, state)
        history = getattr(tp, "history", None)
        if history is not None:
            history.append(stat if name == "rel_error" else tp.rel_error(value))
        return value, stat

    def report(self, tp, oracle, x) -> dict:
        value = oracle.peek_value(x)
        errors = torch.stack(tp.history).tolist() if tp.history else []     # one host sync
        floor = 1e4 * float(torch.finfo(x.dtype).eps)
        orders = empirical_orders(errors, floor)
        return {"factorization_error": float(tp.factorization_error(value)),
                "rel_error": float(tp.rel_error(value)),
                "rel_error_trace": errors,
                "empirical_order": orders[-1][1] if orders else None,
                "empirical_orders": [q for _, q in orders]}

    # -- baseline: closed form -----------------------------------------------
    def lower_cvxpy(self, problem):
        raise NoBaseline("matrix_factorization is nonconvex in the factors; its baseline is the closed form "
                         "(truncated eigendecomposition / SVD, Eckart–Young), not cvxpy")

    def cvxpy_solve(self, problem, solver=None) -> CvxpySolution:
        M = self.matrix(problem)
        r = problem.sections.extra["rank"]
        t0 = time.perf_counter()
        if problem.sections.extra["symmetric"]:
            x, how = self._psd_factor(0.5 * (M + M.T), r), "truncated eigendecomposition"
        else:
            x, how = self._svd_factors(M, r), "truncated SVD"
        return CvxpySolution("optimal", x, None, f"closed form: {how} (Eckart–Young)", time.perf_counter() - t0,
                             message=f"best rank-{r} approximation of M")

    @staticmethod
    def _psd_factor(M, r) -> np.ndarray:
        n = M.shape[0]
        if n <= DENSE_BASELINE_MAX or r >= n - 1:
            lam, V = np.linalg.eigh(M)
            lam, V = lam[::-1][:r], V[:, ::-1][:, :r]
        else:
            from scipy.sparse.linalg import eigsh
            lam, V = eigsh(M, k=r, which="LA")
        return (V * np.sqrt(np.clip(lam, 0.0, None))).reshape(-1)

    @staticmethod
    def _svd_factors(M, r) -> np.ndarray:
        if max(M.shape) <= DENSE_BASELINE_MAX or r >= min(M.shape) - 1:
            U, s, Vt = np.linalg.svd(M, full_matrices=False)
            U, s, Vt = U[:, :r], s[:r], Vt[:r]
        else:
            from scipy.sparse.linalg import svds
            U, s, Vt = svds(M, k=r)
        root = np.sqrt(s)
        return np.concatenate([(U * root).reshape(-1), (Vt.T * root).reshape(-1)])
