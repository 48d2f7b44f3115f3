"""MinNorm-OG: unlearning by minimum-norm orthogonal-gradient perturbations.

Reference: J. Block, A. Mokhtari, S. Shakkottai, "Machine Unlearning under
Overparameterization", arXiv 2505.22601 (NeurIPS 2025), §5 and Alg. 1, and the
authors' code (``MinNormOGUnlearner``). Iteration t (one "epoch"):

    1. J = [∇_θ f(θ, x_i)]_i over n_pert retain points (all by default);
    2. if t < projection_steps and t % proj_every == 0:
       θ ← θ + Δ,  Δ = argmin ‖θ + Δ‖² + λ_t‖Δ‖² s.t. JΔ = 0 = −c_t P_null(J) θ,
       c_t = 1/(1 + λ_t) = reg_coef · reg_coef_decay^k after k projections;
    3. one loss step on the retain mean squared error (Adam, AdamW, or gradient descent).

With ``batch_size`` = b the iteration is the official per-batch one: retain batch B_t (the
next b rows of one seeded permutation, cycled), J from n_pert rows of B_t, the loss step on
B_t's mean squared error (a model gradient, not an oracle call: ``extras.batch_gradients``).

Reconstructed: the closed form of step 2 (the code's ``theta - reg_coef * proj_perp(theta)``),
the SVD projector (code: QR, the same projector when J has full row rank), the defaults. The
n_pert model gradients of step 1 are not oracle calls: ``extras.model_gradients``. Details:
``docs/methods/minnorm-og.md``.
"""
from __future__ import annotations

__all__ = ["MinNormOG", "MinNormOGOptions", "MinNormOGState", "null_component", "orthogonal_step"]

from dataclasses import dataclass, replace
from typing import Any

from solverhub.plugin import lazy_module, option

from .baselines import StepOptions, UnlearningSolver, UnlearnState, loss_step

torch = lazy_module("torch")

DEFAULT_RTOL = 1e-10


def null_component(theta, J, rtol: float = DEFAULT_RTOL):
    """P_null(J) θ = θ − UUᵀθ, U the left singular vectors of Jᵀ above rtol·σ_max."""
    U, S, _ = torch.linalg.svd(J.T, full_matrices=False)
    U = U * (S > rtol * S[:1]).to(U.dtype)
    return theta - U @ (U.T @ theta)


def orthogonal_step(theta, J, coef, rtol: float = DEFAULT_RTOL):
    """(θ + Δ, Δ) with Δ = −coef · P_null(J) θ, coef = 1/(1 + λ)."""
    delta = -coef * null_component(theta, J, rtol)
    return theta + delta, delta


class MinNormOGOptions(StepOptions):
    reg_coef: float = option(0.1, "c_0 = 1/(1 + λ_0) (code: reg_coef)", symbol="c₀", gt=0, le=1)
    reg_coef_decay: float = option(0.9, "c_{k+1} = decay · c_k per projection (code: reg_coef_decay)", gt=0, le=1)
    proj_every: int = option(1, "project every k-th iteration (code: proj_pd)", ge=1)
    projection_steps: int | None = option(75, "project only in iterations t < this (null: always)", ge=0)
    n_pert: int | None = option(None, "retain points per Jacobian (code: grad_sample_size); null: all", ge=1)
    rank_rtol: float = option(DEFAULT_RTOL, "singular values below rank_rtol·σ_max count as zero", ge=0, lt=1)
    batch_size: int | None = option(None, "retain rows per iteration, cycled (official code: one retain "
                                    "batch per step); null: the full retain set", ge=1)


@dataclass(frozen=True, kw_only=True)
class MinNormOGState(UnlearnState):
    projections: int = 0          # orthogonal steps taken
    model_gradients: int = 0      # per-example ∇_θ f evaluations (rows of the Jacobians)
    last_coef: float = 0.0        # c_t of the last projection
    order: Any = None             # batch mode: the seeded permutation of the retain rows
    batch_gradients: int = 0      # batch mode: loss gradients of a retain batch (not oracle calls)


def _subsample(X, n_pert, oracle):
    """n_pert rows of X drawn with the oracle's seeded generator (all rows when None)."""
    if n_pert is None or n_pert >= X.shape[0]:
        return X
    return X.index_select(0, torch.randperm(X.shape[0], generator=oracle.generator, device=oracle.device)[:n_pert])


class MinNormOG(UnlearningSolver):
    """Orthogonal minimum-norm perturbation, then a retain loss step (arXiv 2505.22601, Alg. 1)."""

    name = "minnorm-og"
    paper = "arXiv:2505.22601"
    priority = 20
    Options = MinNormOGOptions
    State = MinNormOGState
    description = "MinNorm-OG unlearning: min-norm perturbations orthogonal to retain model gradients"

    def init(self, problem, oracle, x0, options):
        state = super().init(problem, oracle, x0, options)
        if options.batch_size is None:
            return state
        n = state.model.X_retain.shape[0]
        return replace(state, order=torch.randperm(n, generator=oracle.generator, device=oracle.device))

    def _batch(self, state, options):
        """Batch t: rows order[(t·b + i) mod n], i < b (device indexing, no sync)."""
        X, y = state.model.X_retain, state.model.y_retain
        n, b = X.shape[0], min(options.batch_size, X.shape[0])
        rows = state.order[(state.steps * b + torch.arange(b, device=X.device)) % n]
        return X.index_select(0, rows), y.index_select(0, rows)

    def step(self, state: MinNormOGState, oracle, options: MinNormOGOptions) -> MinNormOGState:
        x, t, k, limit = state.x, state.steps, state.projections, options.projection_steps
        batch = None if options.batch_size is None else self._batch(state, options)
        if (limit is None or t < limit) and t % options.proj_every == 0:
            X = _subsample(state.model.X_retain if batch is None else batch[0], options.n_pert, oracle)
            J = state.model.net.jacobian(x, X)                              # 1. J = [∇_θ f(θ, x_i)]_i
            c = options.reg_coef * options.reg_coef_decay ** k              #    c_t, after k projections
            x, _ = orthogonal_step(x, J, c, options.rank_rtol)              # 2. θ ← θ − c_t P_null(J) θ
            state = replace(state, projections=k + 1, last_coef=c, model_gradients=state.model_gradients + X.shape[0])
        if batch is None:
            return loss_step(state, x, oracle.grad(x, of="retain"), options)   # 3. a retain loss step
        Xb, yb = batch                                                       # 3. a retain batch step
        g = 2.0 / Xb.shape[0] * state.model.net.jacobian(x, Xb).T @ (state.model.net(x, Xb) - yb)
        return loss_step(replace(state, batch_gradients=state.batch_gradients + 1), x, g, options)

    def report(self, state: MinNormOGState, oracle, options) -> dict:
        return {"projections": state.projections, "model_gradients": state.model_gradients,
                "last_reg_coef": state.last_coef, "loss_steps": state.steps,
                "batch_gradients": state.batch_gradients}
