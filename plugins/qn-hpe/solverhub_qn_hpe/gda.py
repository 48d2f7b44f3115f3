"""Simultaneous (projected) gradient descent-ascent with a constant step (Arrow,
Hurwicz & Uzawa 1958): the naive baseline for minimax problems and monotone equations,

    z_{k+1} = P(z_k − η F(z_k)),   F = (∇ₓf, −∇ᵧf) for min_x max_y f.

It spirals away from the saddle of a bilinear game for every η > 0 and checks
no monotonicity (it is the method that fails without it). For μ-strongly monotone,
L-Lipschitz F, ‖z − ηF(z) − (z* − ηF(z*))‖² ≤ (1 − 2ημ + η²L²)‖z − z*‖²: it contracts
iff η < 2μ/L², best at η = μ/L² (Facchinei & Pang 2003, §12.1). Default step:
μ/L² from power-iteration estimates at z₀ (``lipschitz_estimate``, ``monotonicity_estimate``;
the factor 2 is the margin for their error); 1/(2L) when μ ≤ 0, where no step converges.
Details: docs/methods/qn-hpe.md.
"""
from __future__ import annotations

__all__ = ["GDAOptions", "GDAState", "GDA"]

from dataclasses import dataclass, replace
from typing import Any

from solverhub.plugin import Capabilities, IterState, Solver, Status, lazy_module
from solverhub.plugin import SolverOptions, lipschitz_estimate, monotonicity_estimate, option

torch = lazy_module("torch")


class GDAOptions(SolverOptions):
    """Options of ``gda``."""

    step: float | None = option(None, "constant step; null: μ/L² estimated at z₀ (1/(2L) if μ ≤ 0)",
                                symbol="η", gt=0)
    divergence_factor: float = option(1e8, "stop `diverged` when ‖F(z)‖ > factor · ‖F(z_0)‖", gt=1)
    check_every: int = option(50, "iterations between blow-up checks (one host sync each)", ge=1)


@dataclass(frozen=True, kw_only=True)
class GDAState(IterState):
    F0_norm: Any = None     # ‖F(z_0)‖, set by the first step
    eta: Any = None         # the step (a float, or a 0-d tensor when estimated)
    iteration: int = 0


class GDA(Solver):
    """Simultaneous projected gradient descent-ascent, constant step."""

    name = "gda"
    paper = "Arrow, Hurwicz & Uzawa (1958), Studies in Linear and Non-Linear Programming"
    kinds = ("monotone", "minimax")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 1
    Options = GDAOptions
    description = "simultaneous gradient descent-ascent, constant step (naive; cycles on bilinear games)"

    def init(self, problem, oracle, x0, options: GDAOptions) -> GDAState:
        z = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        if oracle.project is not None:
            z = oracle.project(z)
        eta = options.step
        if eta is None:
            L = lipschitz_estimate(oracle, z)
            mu = monotonicity_estimate(oracle, z, L)
            eta = torch.where(mu > 0, mu / L**2, 0.5 / L)
        return GDAState(x=z, eta=eta)

    def step(self, state: GDAState, oracle, options: GDAOptions) -> GDAState:
        Fz = oracle.operator(state.x)
        F_norm = torch.linalg.vector_norm(Fz)
        F0_norm = F_norm if state.F0_norm is None else state.F0_norm
        z_next = state.x - state.eta * Fz
        if oracle.project is not None:
            z_next = oracle.project(z_next)
        iteration = state.iteration + 1
        new = replace(state, x=z_next, F0_norm=F0_norm, iteration=iteration)
        if iteration % options.check_every == 0:
            if bool(~torch.isfinite(F_norm) | (F_norm > options.divergence_factor * F0_norm)):
                return replace(new, stop=(Status.DIVERGED,
                                          f"the residual ‖F(z)‖ grew beyond {options.divergence_factor:g} × its "
                                          f"initial value (gda with step {float(state.eta):g})"))
        return new
