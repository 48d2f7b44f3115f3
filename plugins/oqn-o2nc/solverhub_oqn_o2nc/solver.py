"""``oqn-o2nc``: optimistic quasi-Newton learner inside online-to-nonconvex conversion.

Reference: R. Jiang, A. Mokhtari, F. Patitucci, "Improved complexity for smooth
nonconvex optimization: a two-level online learning approach with quasi-Newton
methods", arXiv 2412.02175 (O(d^{1/4} ε^{-13/8}) gradient calls to an
ε-stationary point under Lipschitz gradient and Hessian). From the paper [P]:
stationarity is reduced to the regret of an online learner (O2NC, Cutkosky,
Mehta, Orabona, ICML 2023), that learner is an *optimistic quasi-Newton* method
whose hints come from a Hessian approximation, and the Hessian approximation is
itself learned online in the space of matrices. The algorithm section was not
available; the iteration below is reconstructed (method note 07, [R]).

Round n (Δ_1 = 0), one gradient call::

    x_n = x_{n-1} + Δ_n,   w_n = x_{n-1} + Δ_n/2,   g_n = oracle.grad(w_n)
    B_n = learner_step(B_{n-1}; s = w_n − w_{n-1}, y = g_n − g_{n-1})      (matrix_learner.py)
    hint   m_{n+1}(Δ) = g_n + B_n (w_{n+1}(Δ) − w_n) = g_n + B_n (Δ_n + Δ)/2
    Δ_{n+1} = Proj_{‖Δ‖≤D}(center_n − η m_{n+1}(Δ_{n+1}))                  (implicit in Δ_{n+1})

The last line is the optimality condition of the ball-constrained quadratic
min_{‖Δ‖≤D} ⟨g_n + B_nΔ_n/2, Δ⟩ + ¼ΔᵀB_nΔ + (1/2η)‖Δ − center_n‖², solved by
eigendecomposition and the secular equation (subproblem.py); the quasi-Newton
step is the solve with I + (η/2)B_n. The hint uses the *actual* next query point
w_{n+1}, so for a quadratic with B_n = H it is exact: m_{n+1} = g_{n+1}.

``anchor`` (the prox center; the paper's formula was not available, facts 07):

* ``"corrected"`` (default): center_n = Δ_n − η(g_n − m_n), the one-projection
  optimistic step of the same authors' ODOG (arXiv 2510.03167, paper-facts 02):
  Δ_{n+1} = Proj(Δ_n − η m_{n+1} − η(g_n − m_n)); unprojected it equals ``"ogd"``.
* ``"played"``: center_n = Δ_n, the correction dropped (the default before
  issue 17; kept because the comparison table of the method page was measured
  with it). With exact hints it is implicit OGD, Δ_{n+1} = Proj(Δ_n − η g_{n+1}).
* ``"ogd"``: two-sequence optimistic OGD (Rakhlin & Sridharan 2013): the OGD sequence
  Δ̂_{n+1} = Proj(Δ̂_n − η g_n) is updated first and the played step starts from it,
  Δ_{n+1} = Proj(Δ̂_{n+1} − η m_{n+1}(Δ_{n+1})). (The method note writes the prox
  center as Δ̂_n, one index behind; that off-by-one measured 6x worse and was dropped.)

With ``hints=False`` (B ≡ 0) all anchors reduce to Δ_{n+1} = Proj(Δ_n − η g_n),
non-optimistic O2NC-OGD, computed by the same arithmetic (bit-for-bit).

Stationarity (O2NC's Goldstein-style measure): rounds form episodes of K; an
episode's measure is ‖(1/K) Σ_{n in episode} g_n‖; ``goldstein_grad_norm`` is
the minimum over completed episodes (the running average of the first episode
until it completes; ‖∇f(x0)‖ from the uncounted measurement oracle before any
round). The output point is the mean of w over the best episode (before the
first episode completes: the running mean of w, as the measure). ``state.x``, what
the run loop measures and ``Result.solution`` holds, is that output point with
``output="average"`` (default, as the note: "output: the mean of w over the best
episode; report the last iterate too") or the last iterate x_n with
``output="last"``; the algorithm itself reads only ``state.iterate``. Episodes,
measure and output point are the core's shared O2NC parts (``episode_round``, as
``o2nc``/``odog``), as are OGD on the ball and its projection.

Operator-norm bound ``L``: ``None`` (default, [R]) uses L_n = L_safety ·
max_{i≤n} ‖y_i‖/‖s_i‖, a running secant estimate of the gradient's Lipschitz
constant kept as a tensor.

No host syncs per round: the eigendecomposition, the clip, the secular search
and the episode bookkeeping are tensor operations selected with ``torch.where``.
The report's ``subproblem_time_s`` is host time around the subproblem call
(on CUDA: launch time, not device time).
"""
from __future__ import annotations

__all__ = ["OQNOptions", "OQNState", "OQNO2NC"]

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import (Capabilities, IterState, Solver, SolverOptions, conversion_report, episode_round,
                              episodes_start, lazy_module, ogd_ball_step, option)

from .matrix_learner import learner_step
from .subproblem import solve_ball_quadratic

torch = lazy_module("torch")

HESSIAN_REPORT_MAX_DIM = 500    # report ‖B − ∇²f(x)‖ only where a dense Hessian is cheap


class OQNOptions(SolverOptions):
    """Options of ``oqn-o2nc`` (all defaults reconstructed: method notes 02 and 07)."""

    D: float = option(0.1, "radius of the learner's ball ‖Δ‖ ≤ D (as o2nc/odog)", symbol="D", gt=0)
    eta: float = option(0.3, "OGD step of the Δ-learner (as o2nc/odog)", symbol="η", gt=0)
    K: int = option(50, "episode length (rounds) of the averaged-gradient measure", symbol="K", ge=1)
    rho: float = option(0.5, "matrix learner step in (0, 1] (1/2: the Broyden step; above 1 it overshoots "
                        "its 2-smooth loss)", symbol="ρ", gt=0, le=1)
    L: float | None = option(None, "bound ‖B‖_op ≤ L; null: L_safety × running secant estimate", symbol="L", gt=0)
    L_safety: float = option(2.0, "factor on the running estimate max ‖y‖/‖s‖ (used when L is null)", ge=1)
    hints: bool = option(True, "false: B ≡ 0, the method is non-optimistic O2NC-OGD")
    anchor: Literal["corrected", "played", "ogd"] = option(
        "corrected", "prox center of the optimistic step: Δ_n − η(g_n − m_n) (ODOG's one-projection form), "
        "Δ_n, or the OGD sequence Δ̂_{n+1} (see the module doc)")
    output: Literal["average", "last"] = option("average", "Result.solution: the output point, or x_n")


@dataclass(frozen=True, kw_only=True)
class OQNState(IterState):
    """iterate = x_{n-1} before round n; Δ_n the learner's next move; B and its eigenbasis; episodes.

    ``x`` (what the run loop measures) is the output point or the iterate, as
    ``options.output`` says. The episodes (core O2NC part) track one scalar per round,
    the matrix learner's loss. Tensors live on the oracle's device.
    """

    iterate: Any                        # x_{n-1} before round n (x_N at the end)
    delta: Any                          # Δ_n, played next round
    episodes: Any                       # solverhub.plugin.Episodes (measure, output point)
    center: Any = None                  # Δ̂_n (anchor="ogd" only)
    B: Any = None                       # B_{n-1}: Hessian approximation (d×d, symmetric, ‖B‖_op ≤ L)
    eigenvalues: Any = None             # of B (ascending)
    eigenvectors: Any = None            # of B
    L_estimate: Any = None              # running max ‖y‖/‖s‖ (0-d)
    L_bound: Any = None                 # the bound used in the last projection (0-d)
    last_w: Any = None                  # w_n of the last round
    last_g: Any = None                  # g_n of the last round
    hint: Any = None                    # m_{n+1}: the hint for the next round's gradient
    last_hint_error: Any = None         # ‖g_n − m_n‖ of the last round (0-d)
    hint_error_sum_sq: Any = None       # Σ_n ‖g_n − m_n‖² (regret driver of the optimistic learner)
    learner_loss_sum: Any = None        # Σ_n loss_n(B_{n-1}) (the matrix learner's cumulative loss)
    active_projections: Any = None      # rounds whose ball constraint was active (int64, 0-d)
    subproblem_time_s: float = 0.0      # host time in the subproblem (launch time on CUDA)

    @property
    def goldstein_grad_norm(self):
        """The solver's stationarity measure (0-d tensor), returned by ``Solver.log``."""
        return self.episodes.measure


class OQNO2NC(Solver):
    """O2NC whose learner is optimistic OGD with hints from an online-learned Hessian."""

    name = "oqn-o2nc"
    paper = "Jiang, Mokhtari, Patitucci, arXiv:2412.02175"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True, max_dim=2000, nonsmooth=True)   # Goldstein measure: nonsmooth f
    priority = 1
    Options = OQNOptions
    stationarity_measure = "goldstein_grad_norm"
    description = "optimistic quasi-Newton learner in online-to-nonconvex conversion (dense d x d, 1 grad/round)"

    # -- init / step ---------------------------------------------------------
    def init(self, problem, oracle, x0, options: OQNOptions) -> OQNState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        d = x.numel()
        zero = torch.zeros((), device=oracle.device, dtype=oracle.dtype)
        initial_norm = torch.linalg.vector_norm(oracle.peek_grad(x))     # measurement only, uncounted
        return OQNState(
            x=x, iterate=x, delta=torch.zeros_like(x), episodes=episodes_start(x, initial_norm, tracked=1),
            center=torch.zeros_like(x) if options.anchor == "ogd" else None,
            B=torch.zeros((d, d), device=oracle.device, dtype=oracle.dtype),
            eigenvalues=torch.zeros_like(x),
            eigenvectors=torch.eye(d, device=oracle.device, dtype=oracle.dtype),
            L_estimate=zero, L_bound=zero if options.L is None else torch.full_like(zero, options.L),
            hint_error_sum_sq=zero, learner_loss_sum=zero,
            active_projections=torch.zeros((), device=oracle.device, dtype=torch.int64))

    def step(self, state: OQNState, oracle, options: OQNOptions) -> OQNState:
        x, delta = state.iterate, state.delta
        w = x + 0.5 * delta                                  # midpoint (second-order O2NC)
        g = oracle.grad(w)
        x_new = x + delta
        upd: dict[str, Any] = {}
        loss = torch.zeros_like(state.learner_loss_sum)
        if state.hint is not None:
            err = torch.linalg.vector_norm(g - state.hint)
            upd.update(last_hint_error=err, hint_error_sum_sq=state.hint_error_sum_sq + err * err)

        if not options.hints:                                # B ≡ 0: non-optimistic O2NC-OGD
            delta_next, active = ogd_ball_step(delta, g, options.eta, options.D)
            hint = None
        else:
            B, eigenvalues, eigenvectors = state.B, state.eigenvalues, state.eigenvectors
            if state.last_g is not None:                     # the learner needs a secant pair
                s, y = w - state.last_w, g - state.last_g
                s_norm = torch.linalg.vector_norm(s)
                ratio = torch.where(s_norm > 0, torch.linalg.vector_norm(y)
                                    / torch.where(s_norm > 0, s_norm, torch.ones_like(s_norm)),
                                    torch.zeros_like(s_norm))
                L_estimate = torch.maximum(state.L_estimate, ratio)
                bound = options.L_safety * L_estimate if options.L is None else state.L_bound
                B, eigenvalues, eigenvectors, loss = learner_step(B, s, y, options.rho, bound)
                upd.update(B=B, eigenvalues=eigenvalues, eigenvectors=eigenvectors, L_estimate=L_estimate,
                           L_bound=bound, learner_loss_sum=state.learner_loss_sum + loss)
            if options.anchor == "ogd":                      # two-sequence: play from the updated Δ̂_{n+1}
                center = ogd_ball_step(state.center, g, options.eta, options.D)[0]
                upd["center"] = center
            elif options.anchor == "corrected" and state.hint is not None:
                center = delta - options.eta * (g - state.hint)   # the last round's hint error, m_n
            else:
                center = delta
            B_delta = B @ delta
            b = center - options.eta * (g + 0.5 * B_delta)
            t0 = time.perf_counter()
            delta_next, active = solve_ball_quadratic(1.0 + (0.5 * options.eta) * eigenvalues,
                                                      eigenvectors, b, options.D)
            upd["subproblem_time_s"] = state.subproblem_time_s + (time.perf_counter() - t0)
            hint = g + 0.5 * (B_delta + B @ delta_next)       # m_{n+1} = g_n + B_n (w_{n+1} − w_n)
        episodes = episode_round(state.episodes, w, g, options.K, loss.reshape(1))
        return replace(state, x=x_new if options.output == "last" else episodes.output_point, iterate=x_new,
                       delta=delta_next, episodes=episodes, last_w=w, last_g=g, hint=hint,
                       active_projections=state.active_projections + active, **upd)

    # -- report ----------------------------------------------------------------
    def report(self, state: OQNState, oracle, options: OQNOptions) -> dict:
        """Numbers for ``Result.extras``; brought to the host in a few batched transfers."""
        out = conversion_report(state.episodes, oracle, state.iterate, ("episode_learner_loss",))
        dim = state.x.numel()
        nan = torch.full((), math.nan, dtype=state.x.dtype, device=state.x.device)
        hessian_error = nan
        if options.hints and dim <= HESSIAN_REPORT_MAX_DIM:
            hess = oracle.hessian(state.iterate).reshape(dim, dim)
            hessian_error = (torch.linalg.matrix_norm(state.B - hess)
                             / torch.clamp(torch.linalg.matrix_norm(hess), min=1e-300))
        b_op = torch.max(torch.abs(state.eigenvalues)) if options.hints else nan
        names = ("learner_loss_sum", "hint_error_sum_sq", "hessian_rel_error", "B_op_norm", "L_bound",
                 "L_estimate", "active_projections")
        values = torch.stack([state.learner_loss_sum, state.hint_error_sum_sq, hessian_error, b_op, state.L_bound,
                              state.L_estimate, state.active_projections.to(state.x.dtype)]).tolist()
        scalars = dict(zip(names, values))
        if not options.hints:
            for key in ("learner_loss_sum", "hint_error_sum_sq", "L_bound", "L_estimate", "episode_learner_loss"):
                scalars[key] = None
        if math.isnan(scalars["hessian_rel_error"]):
            scalars["hessian_rel_error"] = None
        scalars["active_projections"] = int(scalars["active_projections"])
        return {**out, **scalars, "grad_calls_by_role": {"g_n at w_n": out["rounds"]},
                "reported_x": options.output, "subproblem_time_s": state.subproblem_time_s,
                "D": options.D, "eta": options.eta, "K": options.K, "rho": options.rho,
                "hints": options.hints, "anchor": options.anchor, "output": options.output}
