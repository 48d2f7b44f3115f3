"""Extragradient (Korpelevich 1976) with Khobotov's adaptive step: the reference
method for ``qn-hpe``.

References: G. M. Korpelevich, "The extragradient method for finding saddle
points and other problems", Ekonomika i Matematicheskie Metody 12 (1976);
E. N. Khobotov, USSR Comput. Math. Math. Phys. 27(5), 1987, doi:10.1016/0041-5553(87)90058-9.

    z̃ = P(z − ηF(z)),   accept if η‖F(z̃) − F(z)‖ ≤ θ‖z̃ − z‖,
    then z⁺ = P(z − ηF(z̃)),   else z⁺ = z and η ← min(βη, θ‖z̃ − z‖/‖F(z̃) − F(z)‖).

Reconstructed [R]: the defaults and the sync-free form (the accept/reject choice
is a ``torch.where``: operator calls = 1 + 2 · iterations). Default η₀ = 1/(2L), L = ‖J_F(z₀)‖₂
by ``lipschitz_estimate`` (20 more operator calls): the method converges
(Korpelevich 1976, for η < 1/L), and the factor 2 is the
margin for the estimate. Details: docs/methods/qn-hpe.md.
"""
from __future__ import annotations

__all__ = ["ExtragradientOptions", "ExtragradientState", "Extragradient"]

from dataclasses import dataclass, replace
from typing import Any

from solverhub.plugin import Capabilities, IterState, Solver, Status, lazy_module
from solverhub.plugin import SolverOptions, lipschitz_estimate, option

from ._monotone import monotone_verdict

torch = lazy_module("torch")


class ExtragradientOptions(SolverOptions):
    """Options of ``extragradient`` (defaults reconstructed, see the module docstring)."""

    step: float | None = option(None, "initial step, or the constant step when adaptive=false; null: 1/(2L) "
                                "estimated at z₀", symbol="η₀", gt=0)
    adaptive: bool = option(True, "Khobotov's test on the local Lipschitz estimate")
    theta: float = option(0.9, "accept if η‖F(z̃) − F(z)‖ ≤ θ‖z̃ − z‖", symbol="θ", gt=0, lt=1)
    beta: float = option(0.5, "step reduction after a rejection", symbol="β", gt=0, lt=1)
    growth: float = option(1.0, "step increase after an acceptance (1: never increases)", ge=1)
    divergence_factor: float = option(1e8, "stop `diverged` when ‖F(z)‖ > factor · ‖F(z_0)‖", gt=1)
    check_every: int = option(50, "iterations between blow-up checks (one host sync each)", ge=1)


@dataclass(frozen=True, kw_only=True)
class ExtragradientState(IterState):
    F: Any                  # F(z_k)
    eta: Any                # current step (0-d tensor)
    F0_norm: Any            # ‖F(z_0)‖
    iteration: int = 0
    rejections: Any = None  # rejected iterations (0-d integer tensor)


class Extragradient(Solver):
    """Projected extragradient with Khobotov's adaptive step (sync-free)."""

    name = "extragradient"
    paper = "Korpelevich (1976); Khobotov (1987), doi:10.1016/0041-5553(87)90058-9"
    kinds = ("monotone", "minimax")
    capabilities = Capabilities(stochastic_ok=False)
    priority = 10
    Options = ExtragradientOptions
    description = "extragradient with Khobotov's adaptive step (monotone equations, VIs, minimax)"

    def accepts_problem(self, problem):
        return monotone_verdict(problem, self.name)

    def init(self, problem, oracle, x0, options: ExtragradientOptions) -> ExtragradientState:
        z = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        if oracle.project is not None:
            z = oracle.project(z)
        Fz = oracle.operator(z)
        eta = (0.5 / lipschitz_estimate(oracle, z) if options.step is None
               else torch.tensor(options.step, device=z.device, dtype=z.dtype))
        return ExtragradientState(x=z, F=Fz, eta=eta,
                                  F0_norm=torch.linalg.vector_norm(Fz),
                                  rejections=torch.zeros((), device=z.device, dtype=torch.int64))

    def step(self, state: ExtragradientState, oracle, options: ExtragradientOptions) -> ExtragradientState:
        project = oracle.project or (lambda v: v)
        z, Fz, eta = state.x, state.F, state.eta
        z_pred = project(z - eta * Fz)
        F_pred = oracle.operator(z_pred)
        accept, eta_next = torch.ones((), dtype=torch.bool, device=z.device), eta     # the classical method
        if options.adaptive:                                 # Khobotov's test on the local Lipschitz estimate
            dz, dF = torch.linalg.vector_norm(z_pred - z), torch.linalg.vector_norm(F_pred - Fz)
            accept = eta * dF <= options.theta * dz          # False for NaN
            eta_next = torch.where(accept, options.growth * eta,
                                   torch.minimum(options.beta * eta, options.theta * dz / dF))
        z_next = torch.where(accept, project(z - eta * F_pred), z)
        F_next = oracle.operator(z_next)
        iteration = state.iteration + 1
        new = replace(state, x=z_next, F=F_next, eta=eta_next, iteration=iteration,
                      rejections=state.rejections + (~accept).to(torch.int64))
        if iteration % options.check_every == 0:
            norm = torch.linalg.vector_norm(F_next)
            if bool(~torch.isfinite(norm) | (norm > options.divergence_factor * state.F0_norm)):
                return replace(new, stop=(Status.DIVERGED,
                                          f"the residual ‖F(z)‖ grew beyond {options.divergence_factor:g} × its "
                                          "initial value: the operator is probably not monotone"))
        return new

    def report(self, state: ExtragradientState, oracle, options) -> dict:
        return {"step_final": float(state.eta), "rejections": int(state.rejections),
                "operator_calls_per_iteration": 2}
