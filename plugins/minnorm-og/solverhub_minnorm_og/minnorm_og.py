"""MinNorm-OG: unlearning by minimum-norm orthogonal-gradient perturbations.

Reference: J. Block, A. Mokhtari, S. Shakkottai, "Machine Unlearning under
Overparameterization", arXiv 2505.22601 (NeurIPS 2025), §5 and Alg. 1, and the
authors' code (``MinNormOGUnlearner``). Each iteration (the paper's "epoch",
one full retain batch):

    1. J = [∇_θ f(θ, x_i)]_i over n_pert retain points (all of them by default);
    2. Δ = argmin ‖θ + Δ‖² + λ_t‖Δ‖² s.t. JΔ = 0  =  −c_t P_null(J) θ,  c_t = 1/(1 + λ_t);
       θ ← θ + Δ   (only while t < projection_steps and t % proj_every == 0);
    3. one loss step on the retain mean squared error (Adam, or gradient descent).

c_t = reg_coef · reg_coef_decay^k after k projections (the code's schedule).
For a linear model with reg_coef = 1 and all retain points, step 2 maps the
trained interpolator θ* = X⁺y to QQᵀθ* = X_r⁺y_r (paper, Thm 2): one iteration
is exact, and the loss gradient there is zero.

Reconstructed (not stated in what we could read of the paper): the closed form of
step 2 (derived; it is the code's ``theta - reg_coef * proj_perp(theta)``), the
SVD projector (the code uses QR), and the defaults reg_coef = 0.1,
reg_coef_decay = 0.9, lr = 1e-3 (picked from the paper's grid on the shipped
sine replica), projection_steps = 75 (the grid's 100 epochs − 25 final GD
epochs).

Counting: the loss gradient of step 3 is an oracle call (``grad_retain``). The
n_pert per-example model gradients of step 1 are not loss gradients and the
oracle has no call for them: they are reported in ``extras`` as
``model_gradients``.
"""
from __future__ import annotations

__all__ = ["MinNormOG", "MinNormOGOptions", "MinNormOGState"]

from dataclasses import dataclass, replace

from solverhub.plugin import lazy_module
from solverhub.plugin import option

from .projection import DEFAULT_RTOL, orthogonal_step
from .steps import StepOptions, UnlearningSolver, UnlearnState, loss_step

torch = lazy_module("torch")


class MinNormOGOptions(StepOptions):
    reg_coef: float = option(0.1, "c_0 = 1/(1 + λ_0) (code: reg_coef)", symbol="c₀", gt=0, le=1)
    reg_coef_decay: float = option(0.9, "c_{k+1} = decay · c_k per projection (code: reg_coef_decay)", gt=0, le=1)
    proj_every: int = option(1, "project every k-th iteration (code: proj_pd)", ge=1)
    projection_steps: int | None = option(75, "project only in iterations t < this (null: always)", ge=0)
    n_pert: int | None = option(None, "retain points per Jacobian (code: grad_sample_size); null: all", ge=1)
    rank_rtol: float = option(DEFAULT_RTOL, "singular values below rank_rtol·σ_max count as zero", ge=0, lt=1)


@dataclass(kw_only=True)
class MinNormOGState(UnlearnState):
    projections: int = 0          # orthogonal steps taken
    model_gradients: int = 0      # per-example ∇_θ f evaluations (rows of the Jacobians)
    last_coef: float = 0.0        # c_t of the last projection


class MinNormOG(UnlearningSolver):
    """Orthogonal minimum-norm perturbation, then a retain loss step (arXiv 2505.22601, Alg. 1)."""

    name = "minnorm-og"
    paper = "arXiv:2505.22601"
    priority = 20
    Options = MinNormOGOptions
    State = MinNormOGState
    description = "MinNorm-OG unlearning: min-norm perturbations orthogonal to retain model gradients"

    def step(self, state: MinNormOGState, oracle, options: MinNormOGOptions) -> MinNormOGState:
        model, x, t = state.model, state.x, state.steps
        limit = options.projection_steps
        if (limit is None or t < limit) and t % options.proj_every == 0:
            X = model.X_retain
            n_retain = X.shape[0]
            if options.n_pert is not None and options.n_pert < n_retain:
                rows = torch.randperm(n_retain, generator=oracle.generator, device=oracle.device)[:options.n_pert]
                X = X.index_select(0, rows)
            coef = options.reg_coef * options.reg_coef_decay ** state.projections
            x, _ = orthogonal_step(x, model.net.jacobian(x, X), coef, options.rank_rtol)
            state = replace(state, projections=state.projections + 1, last_coef=coef,
                            model_gradients=state.model_gradients + X.shape[0])
        return loss_step(state, x, oracle.grad(x, of="retain"), options)

    def report(self, state: MinNormOGState, oracle, options) -> dict:
        return {"projections": state.projections, "model_gradients": state.model_gradients,
                "last_reg_coef": state.last_coef, "loss_steps": state.steps}
