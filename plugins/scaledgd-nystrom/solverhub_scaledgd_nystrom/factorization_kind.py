"""``kind: matrix_factorization`` (arXiv 2410.18965): low-rank factorization of a given matrix M,

    symmetric:   minimize f(X)    = 1/4 ‖X Xᵀ − M‖_F²   (M symmetric),  ∇_X f = X(XᵀX) − MX
    asymmetric:  minimize f(X, Y) = 1/2 ‖X Yᵀ − M‖_F²,  ∇_X f = X(YᵀY) − MY,  ∇_Y f = Y(XᵀX) − MᵀX

with M as data, the factors X ∈ R^{m×r} (and Y ∈ R^{n×r}) implied. The value is summed over cache-sized
row blocks of M (no m×n residual), the gradients are the closed forms in torch operations (twice
differentiable). Default start: init_scale · N(0, 1) (numpy, ``init_seed``).
Measure ``rel_error`` e = sqrt(|‖XXᵀ − M‖² − ‖M_r − M‖²|) / ‖M‖ (excess over the best rank-r
approximation M_r; RECONSTRUCTED). Reference: the Eckart–Young closed form, certified. Keys, errors,
report and measures: docs/methods/scaledgd-nystrom.md.
"""
from __future__ import annotations

__all__ = ["MatrixFactorization", "FactorizationSections", "FactorizationSpec", "FactorizationModel",
           "empirical_orders", "factorization_loss", "residual_sq", "BLOCK_ELEMENTS"]

import functools
import math
import time

import numpy as np
from pydantic import Field

from solverhub.plugin import ModelKind, ProblemError, Reference, ReferenceStatus, lazy_module

from .common import Layout, Strict, need_data, per_problem

torch = lazy_module("torch")

DENSE_BASELINE_MAX = 3000     # dense eigh/svd up to this size, Lanczos (scipy eigsh/svds) above
BLOCK_ELEMENTS = 1 << 18      # rows of M per block of the residual: ~256K entries (2 MB, cache-sized) at a time


class FactorizationSections(Strict):
    rank: int = Field(ge=1)                 # r, columns of each factor
    symmetric: bool = True                  # X Xᵀ ≈ M (M symmetric) or X Yᵀ ≈ M
    init_scale: float = Field(1e-3, gt=0)   # default start: init_scale · N(0, 1)
    init_seed: int = 0


class FactorizationSpec(FactorizationSections):
    """A checked matrix_factorization problem (frozen): the sections and M's shape."""

    shape: tuple[int, int]


def residual_sq(X, Y, M):
    """‖X Yᵀ − M‖_F² summed over row blocks of M (no m×n temporary): one fused ``addmm`` and one
    ``dot`` per cache-sized block (2-2.5x faster at n = 10⁴ than summing squares over 32 MB blocks)."""
    rows = max(1, BLOCK_ELEMENTS // max(1, M.shape[1]))
    total = X.new_zeros(())
    for i in range(0, M.shape[0], rows):
        E = torch.addmm(M[i:i + rows], X[i:i + rows], Y.T, beta=-1.0).reshape(-1)    # X Yᵀ − M, this block
        total = total + torch.dot(E, E)
    return total


@functools.cache
def factorization_loss(symmetric: bool):
    """The autograd Function of the symmetric or asymmetric loss (built once, torch imported lazily):
    ``apply(X, M)`` or ``apply(X, Y, M)``; twice differentiable."""

    class FactorizationLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *factors_and_M):
            ctx.save_for_backward(*factors_and_M)
            if symmetric:
                X, M = factors_and_M
                return 0.25 * residual_sq(X, X, M)
            return 0.5 * residual_sq(*factors_and_M)

        @staticmethod
        def backward(ctx, g):
            if symmetric:
                X, M = ctx.saved_tensors
                return g * (X @ (X.T @ X) - M @ X), None
            X, Y, M = ctx.saved_tensors
            return g * (X @ (Y.T @ Y) - M @ Y), g * (Y @ (X.T @ X) - M.T @ X), None
    return FactorizationLoss


class FactorizationModel:
    """f on one device, plus what the measure and the report need."""

    def __init__(self, spec: FactorizationSpec, layout: Layout, M, f_star: float = math.nan):
        self.spec, self.layout, self.f_star = spec, layout, f_star
        self.M = 0.5 * (M + M.T) if spec.symmetric else M
        self.m_norm = torch.linalg.norm(self.M)                 # ‖M‖_F, 0-d tensor
        self.c = 4.0 if spec.symmetric else 2.0                 # ‖XYᵀ − M‖² = c·f
        self.loss = factorization_loss(spec.symmetric)
        self.history: list = []                                 # rel_error at every trace sample (0-d tensors)

    def objective(self, x, rows=None):
        views = self.layout.views(x)
        return self.loss.apply(*(views[name] for name in ("X", "Y") if name in views), self.M)

    def factorization_error(self, value):
        """‖XXᵀ − M‖/‖M‖ from f."""
        return torch.sqrt(torch.clamp(self.c * value, min=0.0)) / self.m_norm

    def rel_error(self, value):
        """The measure ``rel_error``; |f − f*|, so that it stays > 0 when f falls to just below f*."""
        return torch.sqrt(torch.abs(self.c * (value - self.f_star))) / self.m_norm


def empirical_orders(errors, floor: float) -> list[tuple[int, float]]:
    """(t, log e_{t+1} / log e_t) for consecutive samples with floor < e_{t+1} < e_t < 0.1 (≈ 1 linear,
    ≈ 2 quadratic); the floor is raised to 10 × the run's smallest error (a run stalled at rounding)."""
    finite = [e for e in errors if math.isfinite(e) and e > 0]
    if finite:
        floor = max(floor, 10.0 * min(finite))
    return [(t, math.log(b) / math.log(a)) for t, (a, b) in enumerate(zip(errors, errors[1:]))
            if math.isfinite(a) and math.isfinite(b) and floor < b < a < 0.1]


_OPTIMA: dict[str, float] = {}      # content hash -> f* (closed form)


class MatrixFactorization(ModelKind):
    name = "matrix_factorization"
    start_seed = ("init_seed",)        # unset in the file: the run's seed draws the start
    description = "low-rank factorization X Xᵀ ≈ M or X Yᵀ ≈ M (Frobenius loss), closed-form baseline"
    Sections = FactorizationSections
    data_names = ("M",)
    default_measure = "rel_error"
    measures = ("rel_error", "grad_norm", "grad_norm_l1", "grad_norm_inf")
    polishable = False
    no_cvxpy_reason = ("matrix_factorization is nonconvex in the factors; its baseline is the closed form "
                       "(truncated eigendecomposition / SVD, Eckart–Young), not cvxpy")
    tiny_problem = """
name: tiny-matrix-factorization
kind: matrix_factorization
data:
  M: {generate: low_rank_psd, shape: [12, 12], rank: 2, condition: 4, seed: 3}
rank: 2
"""

    @staticmethod
    def _shape_of_m(sections, data_shapes: dict, where) -> tuple[int, int]:
        """Shape of M, checked; ``where(key)``: the Location of a top-level key (``data`` for M)."""
        shape = need_data(data_shapes, "M", "matrix_factorization needs the matrix to factor as data M", where("data"),
                          allowed="data: {M: {generate: low_rank_psd, shape: [n, n], rank: k}} or {M: {file: M.npy}}")
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

    def implicit_variables(self, sections, data_shapes: dict, location) -> dict:
        # only one line is known here; build_model() reports the other errors at their key's line
        shape = data_shapes.get("M")
        if shape is None or len(shape) != 2:
            shape = self._shape_of_m(sections, data_shapes, lambda key: location)
        (m, n), r = shape, sections.rank          # the implied unknowns: X (m × r), and Y (n × r) when asymmetric
        return {"X": (m, r)} if sections.symmetric else {"X": (m, r), "Y": (n, r)}

    def build_model(self, sections, ctx) -> FactorizationSpec:
        def where(key):          # the key's line; data M's when the key is absent (symmetric: true by default)
            return ctx.location(key) if key in sections.model_fields_set else ctx.location("data", "M")
        return FactorizationSpec(shape=self._shape_of_m(sections, ctx.symbols.data, where), **dict(sections))

    @staticmethod
    def matrix(problem) -> np.ndarray:
        """M as float64 numpy, checked symmetric (to 1e-10 relative) when the problem says so."""
        M = np.asarray(problem.data["M"], dtype=np.float64)
        if problem.sections.model.symmetric and M.size:
            view = torch.as_tensor(M)          # shares M's memory; torch's transposed difference is
            scale = float(view.abs().amax())   # multithreaded: 0.6 s at n = 10⁴ against numpy's 4 s
            asym = float((view - view.T).abs().amax())
            if asym > 1e-10 * max(scale, 1e-300):
                raise ProblemError(f"symmetric: true but M is not symmetric (max |M - Mᵀ| = {asym:.3g})",
                                   location=problem.location("data", "M"),
                                   allowed="a symmetric M, or symmetric: false (X Yᵀ ≈ M)")
        return M

    def torch_model(self, problem, device, dtype) -> FactorizationModel:
        M = torch.as_tensor(self.matrix(problem), dtype=dtype, device=device)
        # f* = f(X*) at the Eckart–Young factors: here, outside the solve's timed region, once per problem
        f_star = per_problem(_OPTIMA, problem, lambda: self.reference_solve(problem).objective)
        return FactorizationModel(problem.sections.model, Layout.of(problem), M, f_star)

    def default_start(self, problem, seed=None) -> np.ndarray:
        spec = problem.sections.model
        return spec.init_scale * np.random.default_rng(spec.init_seed if seed is None else seed).standard_normal(problem.dim)

    def measure(self, name, tp, oracle, x, known):
        model: FactorizationModel = tp.model
        if name == "rel_error":
            value = oracle.peek_value(x) if known.value is None or oracle.stochastic else known.value
            stat = model.rel_error(value)
        else:
            value, stat = super().measure(name, tp, oracle, x, known)
        model.history.append(stat if name == "rel_error" else model.rel_error(value))
        return value, stat

    def report(self, tp, oracle, x) -> dict:
        model: FactorizationModel = tp.model
        value = oracle.peek_value(x)
        errors = torch.stack(model.history).tolist() if model.history else []     # one host sync
        orders = empirical_orders(errors, floor=1e4 * float(torch.finfo(x.dtype).eps))
        return {"factorization_error": float(model.factorization_error(value)),
                "rel_error": float(model.rel_error(value)),
                "rel_error_trace": errors,
                "empirical_order": orders[-1][1] if orders else None,
                "empirical_orders": [q for _, q in orders]}

    def reference_solve(self, problem, solver=None) -> Reference:
        """X* (and Y*) of the Eckart–Young theorem: certified global, f* evaluated in float64."""
        spec: FactorizationSpec = problem.sections.model
        model = FactorizationModel(spec, Layout.of(problem), torch.as_tensor(self.matrix(problem)))
        t0 = time.perf_counter()
        if spec.symmetric:
            x, how = _psd_factor(model.M.numpy(), spec.rank), "truncated eigendecomposition"
        else:
            x, how = _svd_factors(model.M.numpy(), spec.rank), "truncated SVD"
        return Reference(ReferenceStatus.CERTIFIED, f"closed form: {how} (Eckart–Young)", x=x,
                         solve_time_s=time.perf_counter() - t0,
                         objective=float(model.objective(torch.as_tensor(x))),
                         message=f"Eckart–Young theorem: the best rank-{spec.rank} approximation of M")


def _psd_factor(M, r) -> np.ndarray:
    """V_r diag(max(λ_r, 0))^{1/2} of the r largest eigenvalues (negative ones dropped)."""
    if M.shape[0] <= DENSE_BASELINE_MAX or r >= M.shape[0] - 1:
        lam, V = np.linalg.eigh(M)
        lam, V = lam[::-1][:r], V[:, ::-1][:, :r]
    else:
        from scipy.sparse.linalg import eigsh
        lam, V = eigsh(M, k=r, which="LA")
    return (V * np.sqrt(np.clip(lam, 0.0, None))).reshape(-1)


def _svd_factors(M, r) -> np.ndarray:
    """[U_r Σ_r^{1/2}, V_r Σ_r^{1/2}] flattened."""
    if max(M.shape) <= DENSE_BASELINE_MAX or r >= min(M.shape) - 1:
        U, s, Vt = np.linalg.svd(M, full_matrices=False)
        U, s, Vt = U[:, :r], s[:r], Vt[:r]
    else:
        from scipy.sparse.linalg import svds
        U, s, Vt = svds(M, k=r)
    root = np.sqrt(s)
    return np.concatenate([(U * root).reshape(-1), (Vt.T * root).reshape(-1)])
