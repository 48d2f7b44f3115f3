"""Quasi-Newton hybrid proximal extragradient (QN-HPE) for monotone equations.

Reference: R. Jiang and A. Mokhtari, "Online Learning Guided Quasi-Newton
Methods with Global Non-Asymptotic Convergence", arXiv 2410.02626. Stated in
the paper [P]: an HPE method whose Jacobian approximation B_k is learned by
online convex optimization over non-symmetric matrices; for strongly monotone
F a linear rate matching extragradient, then an explicit superlinear rate after
O(d) iterations; for monotone F a gap rate O(min{1/k, √d/k^1.25}).

Iteration k (method note 11-qn-hpe.md, section b; the algorithm section of the
paper was not at hand, so the details are reconstructed [R]):

    η = σ_k;  repeat:  solve (I + ηB_k)(ẑ − z_k) = −ηF(z_k)          (exact LU)
                       accept if ‖ẑ − z_k + ηF(ẑ)‖ ≤ (α1 + α2)‖ẑ − z_k‖   (the HPE inequality)
                       else remember (z̃, F(z̃)) = (ẑ, F(ẑ)) and η ← βη
    z_{k+1} = z_k − ηF(ẑ)   (extragradient step),   σ_{k+1} = η/β,
    B_{k+1} = Proj(B_k + 2ρ (y − B_k s) sᵀ/‖s‖²),  s = z̃ − z_k, y = F(z̃) − F(z_k),
              only if the search backtracked (else B_{k+1} = B_k)   (see jacobian_learner.py).

Defaults [R]: σ_0 = 1, α1 = α2 = 1/4, β = 1/2, ρ = 1/2 (the exact secant step),
B_0 = 0, Proj = singular values clipped at L (``jacobian_bound``; 0 = twice the
largest secant ratio ‖y‖/‖s‖ seen so far). The paper's separation-oracle
projection is not reproduced. The subproblem is solved exactly, so α1 only
enters through the threshold α1 + α2. σ_k is capped at 1e12 (overflow guard).

Simple sets C (``oracle.project``), reconstructed [R]: the subproblem becomes
the affine variational inequality 0 ∈ (I + ηB)(ẑ − z) + ηF(z) + N_C(ẑ). We write
ẑ = P_C(u) and solve u = z − ηF(z) − ηB(P_C(u) − z) with P_C linearized at the
current guess (P_C(u) ≈ Du + c, D its Jacobian by autograd; two passes starting
from the extragradient predictor u = z − ηF(z)): exact for boxes once the active
set is right. Then v = F(ẑ) + (u − ẑ)/η ∈ F(ẑ) + N_C(ẑ) and the HPE test and step
use v: accept if ‖ηF(ẑ) + u − z‖ ≤ (α1 + α2)‖ẑ − z‖, z_{k+1} = P_C(z − ηv). With
C = Rᵈ this is the iteration above; with B = 0 it is Tseng's forward-backward-forward
method with its step-size test.

Host syncs: one per line-search trial (the accept/reject decision; the first
trial of an iteration also carries the blow-up check). B, the iterate and all
logs stay on the device.
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


@dataclass(kw_only=True)
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
    projection: str = "svd_clip"             # Proj of the learner (for the report)
    jacobian_bound: float = 0.0              # the fixed L of svd_clip, 0 when estimated


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
                          secant_max=torch.zeros((), device=z.device, dtype=z.dtype),
                          projection=options.projection, jacobian_bound=options.jacobian_bound)

    # -- the subproblem --------------------------------------------------
    @staticmethod
    def _subproblem(z, Fz, B, eta: float, project, eye):
        """(ẑ, u) with ẑ = P(u) solving the linearized proximal subproblem (see the module docstring)."""
        if project is None:
            s, _ = torch.linalg.solve_ex(eye + eta * B, -eta * Fz)
            zh = z + s
            return zh, zh
        u = z - eta * Fz                                   # extragradient predictor: the first active-set guess
        jacobian = torch.func.jacrev(project)
        for _ in range(2):
            D = jacobian(u)
            c = project(u) - D @ u
            rhs = z - eta * Fz - eta * (B @ (c - z))
            u, _ = torch.linalg.solve_ex(eye + eta * (B @ D), rhs)
        return project(u), u

    def step(self, state: QNHPEState, oracle, options: QNHPEOptions) -> QNHPEState:
        z, Fz, B = state.x, state.F, state.B
        project = oracle.project
        eye = torch.eye(z.numel(), device=z.device, dtype=z.dtype)
        alpha = options.alpha1 + options.alpha2
        symmetric = options.structure == "symmetric"
        secant_max = state.secant_max
        eta = min(state.sigma, SIGMA_CAP)
        trials = 0
        pairs = []                     # secant pairs (s, y, usable) to learn from
        while True:
            trials += 1
            zh, u = self._subproblem(z, Fz, B, eta, project, eye)
            Fh = oracle.operator(zh)
            s = zh - z
            y = Fh - Fz
            s_norm = torch.linalg.vector_norm(s)
            hpe_residual = torch.linalg.vector_norm(eta * Fh + (u - z))
            usable = torch.isfinite(hpe_residual) & torch.isfinite(s_norm) & (s_norm > 0)
            accept = usable & (hpe_residual <= alpha * s_norm)
            ratio = torch.linalg.vector_norm(y) / s_norm
            secant_max = torch.where(usable & torch.isfinite(ratio), torch.maximum(secant_max, ratio), secant_max)
            code = accept.to(torch.int64)
            if trials == 1:
                F_norm = torch.linalg.vector_norm(Fz)
                blown = ~torch.isfinite(F_norm) | (F_norm > options.divergence_factor * state.F0_norm)
                code = torch.where(blown, 2, code)
            decision = int(code)       # the one host sync of this trial
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
        if options.update_on == "backtrack":
            pairs = pairs[-1:]         # the paper: only the last rejected trial, and only if the search backtracked
        if not options.learn_jacobian:
            pairs = []
        hpe_ratio = hpe_residual / s_norm

        # extragradient step with v = F(ẑ) + (u − ẑ)/η
        z_next = z - eta * Fh - (u - zh)
        if project is not None:
            z_next = project(z_next)
        F_next = oracle.operator(z_next)

        losses = state.losses
        bound = (torch.as_tensor(options.jacobian_bound, device=z.device, dtype=z.dtype)
                 if options.jacobian_bound > 0 else 2.0 * secant_max)
        for s_pair, y_pair, usable_pair in pairs:
            B_new, loss = secant_update(B, s_pair, y_pair, options.rho, symmetric=symmetric)
            if options.projection != "none":
                B_new = project_jacobian(B_new, options.projection, bound, symmetric=symmetric)
            B = torch.where(usable_pair, B_new, B)
            losses = losses + (torch.where(usable_pair, loss, torch.zeros_like(loss)),)
        return replace(state, x=z_next, F=F_next, B=B, sigma=eta / options.beta, secant_max=secant_max,
                       etas=state.etas + (eta,), trials=state.trials + (trials,),
                       hpe_ratios=state.hpe_ratios + (hpe_ratio,), losses=losses)

    def report(self, state: QNHPEState, oracle, options) -> dict:
        trials = list(state.trials)
        losses = [float(v) for v in state.losses]
        ratios = [float(v) for v in state.hpe_ratios]
        accepted = len(state.etas)
        return {
            "eta": list(state.etas),
            "line_search_trials": trials,
            "backtracks_total": sum(t - 1 for t in trials),
            "operator_calls_trials": sum(trials),
            "operator_calls_extragradient": accepted,
            "hpe_ratio_max": max(ratios) if ratios else None,
            "online_loss_total": sum(losses),
            "online_losses": losses,
            "jacobian_updates": len(losses),
            "projection": state.projection,
            "jacobian_bound": state.jacobian_bound or float(2.0 * state.secant_max),
            "jacobian_bound_estimated": not state.jacobian_bound,
        }
