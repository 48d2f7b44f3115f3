"""``kind: matrix_factorization`` -- low-rank factorization of a given matrix M.

    symmetric:   minimize f(X)    = 1/4 ‖X Xᵀ − M‖_F²,  X ∈ R^{n×r}   (M symmetric, n×n)
    asymmetric:  minimize f(X, Y) = 1/2 ‖X Yᵀ − M‖_F²,  X ∈ R^{m×r}, Y ∈ R^{n×r}

(the scaling of arXiv 2410.18965 and of the method note). The file gives the
matrix as data ``M`` (a generator such as ``low_rank_psd``, or ``{file: M.npy}``),
the factor ``rank`` r and ``symmetric``; the factors are implied (``X``, and ``Y``
when asymmetric). r larger than rank(M) is the over-parameterized case. The loss
never forms the residual at once (:mod:`.frobenius`).

Start when the file gives no ``x0``: the small random init ``init_scale · N(0, 1)``
drawn with numpy from ``init_seed`` (the zero start is a saddle point).

Measures: ``rel_error`` (default), the relative error in excess of the best rank-r
approximation M_r, e = sqrt(|‖XXᵀ − M‖² − ‖M_r − M‖²|) / ‖M‖ (XYᵀ when asymmetric),
which is exactly ‖XXᵀ − M‖_F / ‖M‖_F when rank(M) ≤ r and is zero only at a global
minimizer otherwise; the gradient norms (near a rank-deficient solution ‖∇f‖ ~ e^{3/2}:
a gradient tolerance stops far too early, so they are not the default). ``report`` gives
``factorization_error`` ‖XXᵀ − M‖/‖M‖, the measure at every trace sample
(``rel_error_trace``) and the empirical orders log e_{t+1} / log e_t between samples.

Reference (closed form, Eckart–Young theorem, certified): the truncated eigendecomposition
X* = V_r diag(max(λ_r, 0))^{1/2} (symmetric), or the truncated SVD X* = U_r Σ_r^{1/2},
Y* = V_r Σ_r^{1/2} (asymmetric), is a global minimizer.
"""
from __future__ import annotations

__all__ = ["MatrixFactorization", "FactorizationSections", "FactorizationSpec", "FactorizationModel",
           "empirical_orders"]

import math
import time
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from solverhub.plugin import Location, ModelKind, ProblemError, Reference, ReferenceStatus, lazy_module

from .common import Layout, Strict, check_variables, file_start_or, need_data, per_problem
from .frobenius import factorization_loss

torch = lazy_module("torch")

DENSE_BASELINE_MAX = 3000     # dense eigh/svd up to this size, Lanczos (scipy eigsh/svds) above


class FactorizationSections(Strict):
    rank: int = Field(ge=1)                 # r, columns of each factor
    symmetric: bool = True                  # X Xᵀ ≈ M (M symmetric) or X Yᵀ ≈ M
    init_scale: float = Field(1e-3, gt=0)   # default start: init_scale · N(0, 1)
    init_seed: int = 0


def factor_shapes(shape, rank: int, symmetric: bool) -> dict[str, tuple[int, int]]:
    """The implied unknowns: X (m × r), and Y (n × r) when asymmetric."""
    m, n = shape
    return {"X": (m, rank)} if symmetric else {"X": (m, rank), "Y": (n, rank)}


@dataclass(frozen=True)
class FactorizationSpec:
    """A checked matrix_factorization problem: M's shape, r, the form and the default start."""

    shape: tuple[int, int]
    rank: int
    symmetric: bool
    init_scale: float
    init_seed: int

    @property
    def factors(self) -> dict[str, tuple[int, int]]:
        return factor_shapes(self.shape, self.rank, self.symmetric)

    @property
    def residual_scale(self) -> float:
        """c with ‖XYᵀ − M‖² = c·f: 4 (f = 1/4‖·‖²) or 2 (f = 1/2‖·‖²)."""
        return 4.0 if self.symmetric else 2.0


class FactorizationModel:
    """f on one device, plus what the measure and the report need."""

    def __init__(self, spec: FactorizationSpec, layout: Layout, M, f_star: float = math.nan):
        self.spec, self.layout, self.f_star = spec, layout, f_star
        self.M = 0.5 * (M + M.T) if spec.symmetric else M
        self.m_norm = torch.linalg.norm(self.M)                 # ‖M‖_F, 0-d tensor
        self.loss = factorization_loss(spec.symmetric)
        self.history: list = []                                 # rel_error at every trace sample (0-d tensors)

    def objective(self, x, rows=None):
        views = self.layout.views(x)
        factors = (views["X"],) if self.spec.symmetric else (views["X"], views["Y"])
        return self.loss.apply(*factors, self.M)

    def factorization_error(self, value):
        """‖XXᵀ − M‖/‖M‖ from f."""
        return torch.sqrt(torch.clamp(self.spec.residual_scale * value, min=0.0)) / self.m_norm

    def rel_error(self, value):
        """The error in excess of the best rank-r approximation's (the measure ``rel_error``);
        |f − f*|: at the rounding level f can fall just below f*, and the measure stays > 0."""
        return torch.sqrt(torch.abs(self.spec.residual_scale * (value - self.f_star))) / self.m_norm


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


_OPTIMA: dict[str, float] = {}      # content hash -> f* (closed form)


class MatrixFactorization(ModelKind):
    name = "matrix_factorization"
    description = "low-rank factorization X Xᵀ ≈ M or X Yᵀ ≈ M (Frobenius loss), closed-form baseline"
    Sections = FactorizationSections
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
symmetric: true
"""

    # -- YAML -> problem -------------------------------------------------------
    @staticmethod
    def _shape_of_m(sections, data_shapes: dict, where) -> tuple[int, int]:
        """Shape of M, checked. ``where(key)`` gives the Location of a top-level key (``data`` for M)."""
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
        # only the kind's line is known here: check what the shapes need (M present, a matrix) and
        # let build_model() report the rest at its key's line
        shape = data_shapes.get("M")
        if shape is None or len(shape) != 2:
            shape = self._shape_of_m(sections, data_shapes, lambda key: location)
        return factor_shapes(shape, sections.rank, sections.symmetric)

    def build_model(self, sections, ctx) -> FactorizationSpec:
        def where(key):          # the key's line; data M's when the key is absent (symmetric: true by default)
            return Location(ctx.file, ctx.line_of((key,) if key in sections.model_fields_set else ("data", "M")))
        spec = FactorizationSpec(self._shape_of_m(sections, ctx.symbols.data, where), sections.rank,
                                 sections.symmetric, sections.init_scale, sections.init_seed)
        check_variables(ctx, spec.factors, "the factors of M",
                        allowed="leave variables: out (the kind implies them), or declare exactly "
                                + ", ".join(f"{k}: {{shape: {list(v)}}}" for k, v in spec.factors.items()))
        return spec

    # -- torch -------------------------------------------------------------
    @staticmethod
    def matrix(problem) -> np.ndarray:
        """M as float64 numpy, checked symmetric (to rounding) when the problem says so."""
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
        f_star = self.optimal_value(problem)     # here, outside the solve's timed region (cached)
        return FactorizationModel(problem.sections.model, Layout.of(problem), M, f_star)

    def start(self, problem) -> np.ndarray:
        spec = problem.sections.model
        return file_start_or(problem, lambda: spec.init_scale
                             * np.random.default_rng(spec.init_seed).standard_normal(problem.dim))

    def optimal_value(self, problem) -> float:
        """f* = f(X*) at the Eckart–Young factors (computed once per problem and process)."""
        return per_problem(_OPTIMA, problem, lambda: self.reference_solve(problem).objective)

    # -- measures and report -------------------------------------------------
    def measure(self, name, tp, oracle, x, known):
        model: FactorizationModel = tp.model
        if name == "rel_error":
            value = known.value
            if value is None or oracle.stochastic:
                value = oracle.peek_value(x)
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

    # -- reference: the closed form --------------------------------------------
    def reference_solve(self, problem, solver=None) -> Reference:
        """X* (and Y*) of the Eckart–Young theorem: certified global, f* evaluated in float64."""
        spec: FactorizationSpec = problem.sections.model
        model = FactorizationModel(spec, Layout.of(problem), torch.as_tensor(self.matrix(problem)))
        t0 = time.perf_counter()
        if spec.symmetric:
            x, how = _psd_factor(model.M.numpy(), spec.rank), "truncated eigendecomposition"
        else:
            x, how = _svd_factors(model.M.numpy(), spec.rank), "truncated SVD"
        seconds = time.perf_counter() - t0
        return Reference(ReferenceStatus.CERTIFIED, f"closed form: {how} (Eckart–Young)", x=x,
                         objective=float(model.objective(torch.as_tensor(x))), solve_time_s=seconds,
                         message=f"Eckart–Young theorem: the best rank-{spec.rank} approximation of M")


def _psd_factor(M, r) -> np.ndarray:
    """V_r diag(max(λ_r, 0))^{1/2} of the r largest eigenvalues (negative ones dropped)."""
    n = M.shape[0]
    if n <= DENSE_BASELINE_MAX or r >= n - 1:
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
