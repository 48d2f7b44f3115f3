"""ScaledGD for low-rank matrix factorization from a Nyström or a small random start.

B. Li, L. Zhang, A. Mokhtari, N. He, "On the Crucial Role of Initialization for Matrix
Factorization", ICLR 2025, arXiv 2410.18965 (ScaledGD: Tong, Ma, Chi 2021):

    symmetric   X ← X − η ∇_X f · (XᵀX)^†
    asymmetric  X ← X − η ∇_X f · (YᵀY)^†,   Y ← Y − η ∇_Y f · (XᵀX)^†   (simultaneous)
    Nyström start  X₀ = MΩ, Ω ∈ R^{n×r} i.i.d. N(0, 1); asymmetric: Y₀ = 0

RECONSTRUCTED (docs/methods/scaledgd-nystrom.md, which has the full story): η = ½ symmetric
(Newton's square-root iteration; η = 1 2-cycles); the pseudo-inverse with cutoff ``rcond`` = 1e-12
in the over-parameterized case; the random-init reference with ScaledGD(λ) (Xu, Shen, Chi, Ma,
ICML 2023) and alternating (Gauss–Seidel) asymmetric updates.
"""
from __future__ import annotations

__all__ = ["ScaledGD", "ScaledGDNystrom", "ScaledGDOptions", "NystromOptions", "ScaledGDState"]

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Literal

from solverhub import Capabilities, IterState, Solver
from solverhub.plugin import SolverOptions, lazy_module, option

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


@dataclass(frozen=True, kw_only=True)
class ScaledGDState(IterState):
    lr: float = 0.5
    shapes: Any = None              # ((m, r),) symmetric or ((m, r), (n, r))
    init_time_s: float = 0.0
    sketch_products: int = 0        # columns of Ω multiplied by M (not oracle calls)


def _split(x, shapes):
    """The factors [X] or [X, Y] as views of the flat x."""
    sizes = [m * r for m, r in shapes]
    return [part.reshape(shape) for part, shape in zip(torch.split(x, sizes), shapes)]


def _precondition(G, gram, damping, rcond):
    """G · gram^† (cutoff ``rcond``), or G (gram + damping·I)^{-1} when damping > 0; gram symmetric PSD."""
    if damping > 0:
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        return torch.linalg.solve_ex(gram + damping * eye, G.T).result.T     # solve_ex: no device sync
    return G @ torch.linalg.pinv(gram, hermitian=True, rtol=rcond)


class _ScaledGDBase(Solver):
    kinds = ("matrix_factorization",)
    capabilities = Capabilities()

    def init(self, problem, oracle, x0, options):
        shapes = tuple(v.shape for v in problem.variables)
        t0 = time.perf_counter()
        x, lr, sketches = self._start(problem, oracle, x0, options, shapes)     # x₀, η, sketch_products
        return ScaledGDState(x=x, lr=lr, shapes=shapes, init_time_s=time.perf_counter() - t0,
                             sketch_products=sketches)

    def step(self, state, oracle, options):
        eta, P = state.lr, lambda G, gram: _precondition(G, gram, options.damping, options.rcond)
        if len(state.shapes) == 1:                                          # symmetric
            (X,), (GX,) = _split(state.x, state.shapes), _split(oracle.grad(state.x), state.shapes)
            return dataclasses.replace(state, x=(X - eta * P(GX, X.T @ X)).reshape(-1))
        (X, Y), (GX, GY) = _split(state.x, state.shapes), _split(oracle.grad(state.x), state.shapes)
        X_new = X - eta * P(GX, Y.T @ Y)
        if options.update == "alternating":          # Gauss–Seidel: Y's gradient at (X_new, Y), one more call
            X, GY = X_new, _split(oracle.grad(torch.cat([X_new.reshape(-1), Y.reshape(-1)])), state.shapes)[1]
        Y_new = Y - eta * P(GY, X.T @ X)
        return dataclasses.replace(state, x=torch.cat([X_new.reshape(-1), Y_new.reshape(-1)]))

    def report(self, state, oracle, options):
        return {"step_size": state.lr, "init_time_s": state.init_time_s, "sketch_products": state.sketch_products}


class ScaledGDNystrom(_ScaledGDBase):
    """ScaledGD from the Nyström sketch X₀ = MΩ (quadratic convergence, arXiv 2410.18965)."""

    name = "scaledgd-nystrom"
    paper = "arXiv:2410.18965"
    priority = 30
    Options = NystromOptions
    description = "ScaledGD with Nyström initialization X0 = M·Omega (quadratic convergence)"

    def _start(self, problem, oracle, x0, options, shapes):
        # M as the file gives it (lower_torch checked it; no copy on the CPU in float64)
        M = torch.as_tensor(problem.data["M"], dtype=oracle.dtype, device=oracle.device)
        r = shapes[0][1]
        omega = options.sketch_std * torch.randn(M.shape[1], r, generator=oracle.generator,
                                                 dtype=oracle.dtype, device=oracle.device)
        X0 = (M @ omega).reshape(-1)
        if len(shapes) == 1:
            return X0, 0.5 if options.lr is None else options.lr, r
        Y0 = torch.zeros(shapes[1][0] * r, dtype=oracle.dtype, device=oracle.device)
        return torch.cat([X0, Y0]), 1.0 if options.lr is None else options.lr, r


class ScaledGD(_ScaledGDBase):
    """ScaledGD from a small random init (the reference the paper improves on)."""

    name = "scaledgd"
    paper = "Tong, Ma, Chi (2021), arXiv:2005.08898; small random init as in arXiv:2410.18965"
    priority = 20
    Options = ScaledGDOptions
    description = "ScaledGD (preconditioned GD on the factors) from a small random init"

    def _start(self, problem, oracle, x0, options, shapes):
        if options.init == "x0":
            return x0, options.lr, 0
        return options.init_scale * torch.randn(x0.shape, generator=oracle.generator, dtype=oracle.dtype,
                                                device=oracle.device), options.lr, 0
