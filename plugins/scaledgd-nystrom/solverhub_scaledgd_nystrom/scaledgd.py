"""ScaledGD for low-rank matrix factorization, with Nyström or small random initialization.

Reference: M. Li, Y. Zhang, A. Mokhtari, N. He, "On the Crucial Role of Initialization
for Matrix Factorization", ICLR 2025, arXiv 2410.18965 (ScaledGD: Tong, Ma, Chi 2021).

ScaledGD (paper):
    symmetric   X ← X − η ∇_X f · (XᵀX)^†,                 f = 1/4 ‖XXᵀ − M‖²
    asymmetric  X ← X − η ∇_X f · (YᵀY)^†,  Y ← Y − η ∇_Y f · (XᵀX)^†   (simultaneous),
                                                             f = 1/2 ‖XYᵀ − M‖²
Nyström init (paper): X₀ = M Ω with Ω ∈ R^{n×r} i.i.d. Gaussian; asymmetric: X₀ = MΩ, Y₀ = 0.

Step sizes. Asymmetric with the Nyström init, η = 1 (paper): Y₁ = MᵀX₀(X₀ᵀX₀)^† makes
X₀Y₁ᵀ the projection of M onto col(MΩ), i.e. M itself when rank(M) ≤ r: one step.
Symmetric, η = 1/2 is RECONSTRUCTED (method note, derived): in M's eigenbasis the update is
S ← (S + ΛS^{−T})/2, Newton's square-root iteration, hence quadratic convergence; η = 1
2-cycles. Random init uses η = 1/2 in both cases (the usual ScaledGD step).

``scaledgd-nystrom`` preconditions with the pseudo-inverse, needed in the over-parameterized
case where X₀ = MΩ has rank rank(M) < r, cutting eigenvalues below ``rcond`` = 1e-12 times the
largest (RECONSTRUCTED: at torch's default cutoff, ~r·eps, a null eigenvalue of XᵀX that rounding
grows from 1e-16 crossed it after ~60 iterations past convergence at n = 10⁴ and the error
jumped from 1e-14 to 7e-2; legitimate eigenvalues are ≥ 1/κ² of the largest, so 1e-12 only
cuts directions for κ > 10⁶); with ``damping`` > 0, (G + damping·I)^{-1} instead. How the near-null
directions are treated changes the random-init over-parameterized count a lot (see
docs/methods/scaledgd-nystrom.md).

Asymmetric updates are simultaneous (paper) or, with ``update=alternating``, Gauss–Seidel
(Y's step uses the new X; RECONSTRUCTED choice for the random-init reference, whose
simultaneous version stalls or blows up from a 1e-3 init on 2 of 3 seeds we tried).
The reference ``scaledgd`` preconditions with (G + λI)^{-1}, λ = ``damping`` = 1e-6
(ScaledGD(λ) of Xu, Shen, Chi, Ma, "The Power of Preconditioning in Overparameterized
Low-Rank Matrix Sensing", ICML 2023), which keeps it defined when XᵀX turns singular in
the over-parameterized case.

Oracle use: one ``grad`` per iteration (two with alternating asymmetric updates). The
Nyström sketch MΩ reads M directly (``problem.data``) once in ``init``; it is reported as
``sketch_products`` (columns of Ω multiplied by M), not as an oracle call. No host syncs
in ``step``.
"""
from __future__ import annotations

__all__ = ["ScaledGD", "ScaledGDNystrom", "ScaledGDOptions", "NystromOptions", "ScaledGDState"]

from dataclasses import dataclass
from typing import Any, Literal

from solverhub import Capabilities, IterState, Solver
from solverhub.plugin import lazy_module
from solverhub.plugin import SolverOptions, option

torch = lazy_module("torch")


class NystromOptions(SolverOptions):
    lr: float | None = option(None, "step; null: 1/2 symmetric (reconstructed), 1 asymmetric (paper)",
                              symbol="η", gt=0)
    sketch_std: float = option(1.0, "Ω ~ N(0, sketch_std²) (paper: standard Gaussian)", gt=0)
    damping: float = option(0.0, "0: pseudo-inverse of the Gram; > 0: (G + damping I)^{-1}", symbol="λ", ge=0)
    rcond: float | None = option(1e-12, "pseudo-inverse cutoff relative to the largest eigenvalue; "
                                        "null: torch's (~r·eps)", ge=0, lt=1)
    update: Literal["simultaneous", "alternating"] = option(
        "simultaneous", "asymmetric: Y's step uses the old or the new X")


class ScaledGDOptions(SolverOptions):
    lr: float = option(0.5, "ScaledGD's usual constant step", symbol="η", gt=0)
    init: Literal["random", "x0"] = option(
        "random", "random: init_scale·N(0,1) from the run's seed; x0: the problem's start")
    init_scale: float = option(1e-3, "small random init (method note: 1e-3·N(0, 1))", gt=0)
    damping: float = option(1e-6, "ScaledGD(λ) (Xu et al., ICML 2023): (G + λI)^{-1}; 0: pseudo-inverse",
                            symbol="λ", ge=0)
    rcond: float | None = option(None, "pseudo-inverse cutoff relative to the largest eigenvalue; "
                                       "null: torch's (~r·eps)", ge=0, lt=1)
    update: Literal["simultaneous", "alternating"] = option(
        "alternating", "Y's step uses the old or the new X (simultaneous stalls from small inits)")


@dataclass(kw_only=True)
class ScaledGDState(IterState):
    lr: float = 0.5
    symmetric: bool = True
    shapes: Any = None              # ((m, r), (n, r)) or ((n, r),)
    init_time_s: float = 0.0
    sketch_products: int = 0


def _split(x, shapes):
    out, off = [], 0
    for m, r in shapes:
        out.append(x[off:off + m * r].reshape(m, r))
        off += m * r
    return out


def _precondition(G, gram, damping, rcond):
    """G · (gram)^† (or (gram + damping I)^{-1}), gram symmetric PSD r×r."""
    if damping > 0:
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        # gram symmetric: (A^{-1} Gᵀ)ᵀ = G A^{-1}; solve_ex: no error check, so no device sync
        return torch.linalg.solve_ex(gram + damping * eye, G.T).result.T
    return G @ torch.linalg.pinv(gram, hermitian=True, rtol=rcond)


class _ScaledGDBase(Solver):
    kinds = ("matrix_factorization",)
    capabilities = Capabilities()

    def _start(self, problem, oracle, x0, options):
        raise NotImplementedError

    def init(self, problem, oracle, x0, options):
        import time
        symmetric = problem.sections.model.symmetric
        shapes = tuple(v.shape for v in problem.variables)
        t0 = time.perf_counter()
        x, lr, sketches = self._start(problem, oracle, x0, options, symmetric, shapes)
        return ScaledGDState(x=x, lr=lr, symmetric=symmetric, shapes=shapes,
                             init_time_s=time.perf_counter() - t0, sketch_products=sketches)

    def step(self, state, oracle, options):
        grads = _split(oracle.grad(state.x), state.shapes)
        factors = _split(state.x, state.shapes)
        if state.symmetric:
            (X,), (GX,) = factors, grads
            new = [X - state.lr * _precondition(GX, X.T @ X, options.damping, options.rcond)]
        else:
            (X, Y), (GX, GY) = factors, grads
            X_new = X - state.lr * _precondition(GX, Y.T @ Y, options.damping, options.rcond)
            if options.update == "alternating":      # Gauss-Seidel: Y's gradient at (X_new, Y), one more call
                X, GY = X_new, _split(oracle.grad(torch.cat([X_new.reshape(-1), Y.reshape(-1)])), state.shapes)[1]
            new = [X_new, Y - state.lr * _precondition(GY, X.T @ X, options.damping, options.rcond)]
        x = torch.cat([f.reshape(-1) for f in new])
        return ScaledGDState(x=x, lr=state.lr, symmetric=state.symmetric, shapes=state.shapes,
                             init_time_s=state.init_time_s, sketch_products=state.sketch_products)

    def report(self, state, oracle, options):
        return {"step_size": state.lr, "init_time_s": state.init_time_s, "sketch_products": state.sketch_products}


class ScaledGDNystrom(_ScaledGDBase):
    """ScaledGD from the Nyström sketch X₀ = MΩ (quadratic convergence, arXiv 2410.18965)."""

    name = "scaledgd-nystrom"
    paper = "arXiv:2410.18965"
    priority = 30
    Options = NystromOptions
    description = "ScaledGD with Nyström initialization X0 = M·Omega (quadratic convergence)"

    def _start(self, problem, oracle, x0, options, symmetric, shapes):
        # M as the file gives it (lower_torch checked it; no copy on the CPU in float64)
        M = torch.as_tensor(problem.data["M"], dtype=oracle.dtype, device=oracle.device)
        n_cols, r = M.shape[1], shapes[0][1]
        omega = options.sketch_std * torch.randn(n_cols, r, generator=oracle.generator,
                                                 dtype=oracle.dtype, device=oracle.device)
        X0 = M @ omega
        if symmetric:
            x, lr = X0.reshape(-1), options.lr if options.lr is not None else 0.5
        else:
            Y0 = torch.zeros(shapes[1], dtype=oracle.dtype, device=oracle.device)
            x, lr = torch.cat([X0.reshape(-1), Y0.reshape(-1)]), options.lr if options.lr is not None else 1.0
        return x, lr, r


class ScaledGD(_ScaledGDBase):
    """ScaledGD from a small random init (the reference the paper improves on)."""

    name = "scaledgd"
    paper = "Tong, Ma, Chi (2021), arXiv:2005.08898; small random init as in arXiv:2410.18965"
    priority = 20
    Options = ScaledGDOptions
    description = "ScaledGD (preconditioned GD on the factors) from a small random init"

    def _start(self, problem, oracle, x0, options, symmetric, shapes):
        if options.init == "x0":
            return x0, options.lr, 0
        x = options.init_scale * torch.randn(x0.shape, generator=oracle.generator, dtype=oracle.dtype,
                                             device=oracle.device)
        return x, options.lr, 0
