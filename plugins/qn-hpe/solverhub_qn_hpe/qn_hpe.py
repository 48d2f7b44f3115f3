"""Quasi-Newton hybrid proximal extragradient (QN-HPE) for monotone equations.

Reference: R. Jiang and A. Mokhtari, "Online Learning Guided Quasi-Newton
Methods with Global Non-Asymptotic Convergence", arXiv 2410.02626 [P]: HPE with
a Jacobian approximation B_k learned by online convex optimization.
Iteration k (method note 11-qn-hpe.md, section b; details reconstructed [R]):

    η = σ_k;  repeat:  solve (I + ηB_k)(ẑ − z_k) = −ηF(z_k)          (exact LU)
                       accept if ‖ẑ − z_k + ηF(ẑ)‖ ≤ (α1 + α2)‖ẑ − z_k‖   (the HPE inequality)
                       else remember (z̃, F(z̃)) = (ẑ, F(ẑ)) and η ← βη
    z_{k+1} = z_k − ηF(ẑ)   (extragradient step),   σ_{k+1} = η/β,
    B_{k+1} = Proj(B_k + 2ρ (y − B_k s) sᵀ/‖s‖²),  s = z̃ − z_k, y = F(z̃) − F(z_k),
              only if the search backtracked (else B_{k+1} = B_k)   (see jacobian_learner.py).

Reconstructed [R]: the defaults, the exact subproblem solve, the projection of
the learner, the σ cap (1e12) and, with simple sets C, ẑ = P_C(u) with
u = z − ηF(z) − ηB(P_C(u) − z) solved with P_C linearized (two passes), then the
test and step with v = F(ẑ) + (u − ẑ)/η. One host sync per line-search trial.
Full story: docs/methods/qn-hpe.md.
"""
from __future__ import annotations

__all__ = ["QNHPEOptions", "QNHPEState", "QNHPE"]

from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import Capabilities, IterState, Solver, Status, lazy_module
from solverhub.plugin import SolverOptions, model_validator, option

from ._monotone import monotone_verdict
from .jacobian_learner import project_jacobian, secant_update

torch = lazy_module("torch")

MAX_DIM = 500          # dense d x d B_k and one LU per trial
SIGMA_CAP = 1e12       # σ_k doubles after every accepted first trial; keep (I + ηB) representable


class QNHPEOptions(SolverOptions):
    """Options of ``qn-hpe`` (all defaults reconstructed, see the module docstring)."""

    sigma0: float = option(1.0, "first trial step", symbol="σ₀", gt=0)
    alpha1: float = option(0.25, "subproblem inexactness (solved exactly: only α1 + α2 matters)", symbol="α₁", ge=0)
    alpha2: float = option(0.25, "HPE tolerance; the test needs α1 + α2 < 1", symbol="α₂", gt=0)
    beta: float = option(0.5, "backtracking factor; σ_{k+1} = η_k / β", symbol="β", gt=0, lt=1)
    rho: float = option(0.5, "online gradient step; 1/2 = exact secant (Broyden) update", symbol="ρ", gt=0, lt=1)
    projection: Literal["svd_clip", "monotone", "svd_clip+monotone", "none"] = option(
        "svd_clip", "projection of the learned Jacobian B_k")
    jacobian_bound: float = option(0.0, "L for svd_clip; 0: twice the largest secant ratio seen", symbol="L", ge=0)
    structure: Literal["general", "symmetric"] = option("general", "Jacobian structure (symmetric: for F = ∇f)")
    update_on: Literal["backtrack", "every_trial"] = option("backtrack", "when B_k learns (every_trial: [R] variant)")
    initial_jacobian: float = option(0.0, "B_0 = initial_jacobian · I", symbol="B₀")
    learn_jacobian: bool = option(True, "false: B_k = B_0 throughout (B_0 = 0: extragradient with the HPE search)")
    max_line_search: int = option(60, "trials per iteration before the run fails", ge=1)
    divergence_factor: float = option(1e8, "stop `diverged` when ‖F(z_k)‖ > factor · ‖F(z_0)‖", gt=1)

    @model_validator(mode="after")
    def _hpe_tolerance(self):
        if not self.alpha1 + self.alpha2 < 1:
            raise ValueError(f"need alpha1 + alpha2 < 1, got alpha1={self.alpha1}, alpha2={self.alpha2}")
        return self


@dataclass(frozen=True, kw_only=True)
class QNHPEState(IterState):
    """z_k (``x``), F(z_k), B_k, σ_k and the per-iteration logs."""

    F: Any                                   # F(z_k), exact (the operator is never noisy here)
    B: Any                                   # (d, d) Jacobian approximation B_k
    sigma: float                             # first trial step of the next search
    F0_norm: Any                             # ‖F(z_0)‖ (0-d tensor), for the blow-up check
    secant_max: Any                          # largest ‖y‖/‖s‖ over all trials (0-d tensor)
    etas: tuple[float, ...] = ()             # accepted η_k
    trials: tuple[int, ...] = ()             # line-search trials per iteration
    hpe_ratios: tuple = ()                   # ‖ηv + ẑ − z‖ / ‖ẑ − z‖ of each accepted trial (0-d tensors)
    losses: tuple = ()                       # ℓ_k(B_k) of each update (0-d tensors)


class QNHPE(Solver):
    """Quasi-Newton HPE with a backtracking line search and an online-learned Jacobian."""

    name = "qn-hpe"
    paper = "arXiv:2410.02626"
    kinds = ("monotone", "minimax")
    capabilities = Capabilities(stochastic_ok=False, max_dim=MAX_DIM)
    priority = 20
    Options = QNHPEOptions
    description = "quasi-Newton hybrid proximal extragradient (monotone equations, VIs, minimax; d <= 500)"

    _warmed_up = False

    def accepts_problem(self, problem):
        return monotone_verdict(problem, self.name)

    @classmethod
    def prepare(cls) -> None:
        """Warm up torch.func and LAPACK (seconds on first use) outside the timed solve."""
        if not QNHPE._warmed_up:
            v = torch.zeros(2, dtype=torch.float64)
            torch.func.jacrev(lambda w: torch.clamp(w, min=0.0))(v)
            torch.linalg.solve_ex(torch.eye(2, dtype=torch.float64), v)
            torch.linalg.svd(torch.eye(2, dtype=torch.float64))       # LAPACK loads on first use
            torch.linalg.eigh(torch.eye(2, dtype=torch.float64))
            QNHPE._warmed_up = True

    def init(self, problem, oracle, x0, options: QNHPEOptions) -> QNHPEState:
        z = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        if oracle.project is not None:
            z = oracle.project(z)
        Fz = oracle.operator(z)
        B = options.initial_jacobian * torch.eye(z.numel(), device=z.device, dtype=z.dtype)
        return QNHPEState(x=z, F=Fz, B=B, sigma=options.sigma0, F0_norm=torch.linalg.vector_norm(Fz),
                          secant_max=torch.zeros((), device=z.device, dtype=z.dtype))

    def step(self, state: QNHPEState, oracle, options: QNHPEOptions) -> QNHPEState:
        z, Fz, B, project = state.x, state.F, state.B, oracle.project
        alpha = options.alpha1 + options.alpha2
        secant_max = state.secant_max
        eta = min(state.sigma, SIGMA_CAP)
        trials, pairs = 0, []                              # pairs: secant pairs (s, y, usable) to learn from
        while True:
            trials += 1
            zh, u = _subproblem(z, Fz, B, eta, project)
            Fh = oracle.operator(zh)
            s, y = zh - z, Fh - Fz
            s_norm = torch.linalg.vector_norm(s)
            hpe_residual = torch.linalg.vector_norm(eta * Fh + (u - z))
            usable = torch.isfinite(hpe_residual) & torch.isfinite(s_norm) & (s_norm > 0)
            accept = usable & (hpe_residual <= alpha * s_norm)                 # the HPE inequality
            ratio = torch.linalg.vector_norm(y) / s_norm
            secant_max = torch.where(usable & torch.isfinite(ratio), torch.maximum(secant_max, ratio), secant_max)
            code = accept.to(torch.int64)
            if trials == 1:                                # the blow-up check shares the first trial's sync
                F_norm = torch.linalg.vector_norm(Fz)
                blown = ~torch.isfinite(F_norm) | (F_norm > options.divergence_factor * state.F0_norm)
                code = torch.where(blown, 2, code)
            decision = int(code)                           # the one host sync of this trial
            if decision == 2:
                return replace(state, stop=(Status.DIVERGED,
                                            f"the residual ‖F(z)‖ grew beyond {options.divergence_factor:g} × "
                                            "its initial value: the operator is probably not monotone"))
            if options.update_on == "every_trial" or decision == 0:
                pairs.append((s, y, usable))
            if decision == 1:
                break
            if trials >= options.max_line_search:
                return replace(state, trials=state.trials + (trials,), stop=(
                    Status.FAILED, f"line search: no step satisfied the HPE inequality in {trials} trials "
                                   f"(last η = {eta:.3g}); F may not be monotone or Lipschitz near z, "
                                   "or ‖F(z)‖ is at rounding level"))
            eta *= options.beta
        if not options.learn_jacobian:
            pairs = []
        elif options.update_on == "backtrack":
            pairs = pairs[-1:]             # the paper: only the last rejected trial, and only if the search backtracked

        z_next = z - eta * Fh - (u - zh)                   # extragradient step with v = F(ẑ) + (u − ẑ)/η
        if project is not None:
            z_next = project(z_next)
        losses = state.losses
        bound = (torch.as_tensor(options.jacobian_bound, device=z.device, dtype=z.dtype)
                 if options.jacobian_bound > 0 else 2.0 * secant_max)
        symmetric = options.structure == "symmetric"
        for s, y, usable in pairs:                         # B_{k+1} = Proj(B_k + 2ρ (y − B_k s) sᵀ/‖s‖²)
            B_new, loss = secant_update(B, s, y, options.rho, symmetric=symmetric)
            if options.projection != "none":
                B_new = project_jacobian(B_new, options.projection, bound, symmetric=symmetric)
            B = torch.where(usable, B_new, B)
            losses = losses + (torch.where(usable, loss, torch.zeros_like(loss)),)
        return replace(state, x=z_next, F=oracle.operator(z_next), B=B, sigma=eta / options.beta,
                       secant_max=secant_max, etas=state.etas + (eta,), trials=state.trials + (trials,),
                       hpe_ratios=state.hpe_ratios + (hpe_residual / s_norm,), losses=losses)

    def report(self, state: QNHPEState, oracle, options: QNHPEOptions) -> dict:
        trials, losses = list(state.trials), [float(v) for v in state.losses]
        ratios = [float(v) for v in state.hpe_ratios]
        return {
            "eta": list(state.etas),
            "line_search_trials": trials,
            "backtracks_total": sum(t - 1 for t in trials),
            "operator_calls_trials": sum(trials),
            "operator_calls_extragradient": len(state.etas),
            "hpe_ratio_max": max(ratios) if ratios else None,
            "online_loss_total": sum(losses),
            "online_losses": losses,
            "jacobian_updates": len(losses),
            "projection": options.projection,
            "jacobian_bound": options.jacobian_bound or float(2.0 * state.secant_max),
            "jacobian_bound_estimated": not options.jacobian_bound,
        }


def _subproblem(z, Fz, B, eta: float, project):
    """(ẑ, u) with ẑ = P(u) solving the linearized proximal subproblem (see the module docstring)."""
    eye = torch.eye(z.numel(), device=z.device, dtype=z.dtype)
    if project is None:
        s, _ = torch.linalg.solve_ex(eye + eta * B, -eta * Fz)
        return z + s, z + s
    u = z - eta * Fz                                       # extragradient predictor: the first active-set guess
    jacobian = torch.func.jacrev(project)
    for _ in range(2):
        D = jacobian(u)
        c = project(u) - D @ u
        u, _ = torch.linalg.solve_ex(eye + eta * (B @ D), z - eta * Fz - eta * (B @ (c - z)))
    return project(u), u
