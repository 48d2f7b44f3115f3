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

``anchor`` (the prox center), both reconstructed:

* ``"played"`` (default): center_n = Δ_n. With exact hints this is implicit OGD,
  Δ_{n+1} = Proj(Δ_n − η g_{n+1}) (regret O(D²/η), no Σ‖g‖² term).
* ``"ogd"``: the note's literal two-sequence form, center_n = Δ̂_n with
  Δ̂_{n+1} = Proj(Δ̂_n − η g_n). Unprojected it plays Δ̂_{n+1} − ηB_n(…), i.e.
  its hint predicts g_{n+1} − g_n rather than g_{n+1}; it measured far worse
  (docs/methods/oqn-o2nc.md) and is kept for comparison.

With ``hints=False`` (B ≡ 0) both anchors reduce to Δ_{n+1} = Proj(Δ_n − η g_n),
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
``output="last"``; the algorithm itself reads only ``state.iterate``.

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
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module

from .matrix_learner import learner_step
from .subproblem import project_ball, solve_ball_quadratic

torch = lazy_module("torch")

OUTPUT_POINT_MAX_DIM = 1000     # report the output point's coordinates only below this size
HESSIAN_REPORT_MAX_DIM = 500    # report ‖B − ∇²f(x)‖ only where a dense Hessian is cheap


@dataclass(frozen=True)
class OQNOptions:
    """Options of ``oqn-o2nc`` (all defaults reconstructed: method notes 02 and 07)."""

    D: float = 0.1                 # radius of the learner's ball ‖Δ‖ ≤ D (as o2nc/odog)
    eta: float = 0.3               # OGD step η of the Δ-learner (as o2nc/odog)
    K: int = 50                    # episode length (rounds) of the averaged-gradient measure
    rho: float = 0.5               # matrix learner step (1/smoothness of its loss: Broyden step)
    L: float | None = None         # bound ‖B‖_op ≤ L; None: L_safety × running secant estimate
    L_safety: float = 2.0          # factor on the running estimate max ‖y‖/‖s‖ (used when L is None)
    hints: bool = True             # False: B ≡ 0, the method is non-optimistic O2NC-OGD
    anchor: Literal["played", "ogd"] = "played"   # prox center of the optimistic step (see module doc)
    output: Literal["average", "last"] = "average"   # state.x / Result.solution: the output point, or x_n

    def __post_init__(self):
        problems = []
        if not (self.D > 0 and math.isfinite(self.D)):
            problems.append(f"D must be a positive finite radius, got {self.D}")
        if not (self.eta > 0 and math.isfinite(self.eta)):
            problems.append(f"eta must be > 0 and finite, got {self.eta}")
        if self.K < 1:
            problems.append(f"K (episode length) must be >= 1, got {self.K}")
        if not 0 < self.rho <= 1:
            problems.append(f"rho must be in (0, 1] (1/2 is the Broyden step; above 1 the learner "
                            f"overshoots its 2-smooth loss), got {self.rho}")
        if self.L is not None and not (self.L > 0 and math.isfinite(self.L)):
            problems.append(f"L must be a positive finite bound or None (estimate), got {self.L}")
        if not (self.L_safety >= 1 and math.isfinite(self.L_safety)):
            problems.append(f"L_safety must be >= 1, got {self.L_safety}")
        if self.anchor not in ("played", "ogd"):
            problems.append(f"anchor must be 'played' or 'ogd', got {self.anchor!r}")
        if self.output not in ("average", "last"):
            problems.append(f"output must be 'average' or 'last', got {self.output!r}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(kw_only=True)
class OQNState(IterState):
    """iterate = x_{n-1} before round n; Δ_n the learner's next move; B and its eigenbasis; episodes.

    ``x`` (what the run loop measures) is the output point or the iterate, as
    ``options.output`` says.

    Tensors live on the oracle's device; ``rounds`` and the episode counters are
    Python ints that do not depend on tensor values (no sync).
    """

    iterate: Any                        # x_{n-1} before round n (x_N at the end)
    delta: Any                          # Δ_n, played next round
    center: Any = None                  # Δ̂_n (anchor="ogd" only)
    B: Any = None                       # B_{n-1}: Hessian approximation (d×d, symmetric, ‖B‖_op ≤ L)
    eigenvalues: Any = None             # of B (ascending)
    eigenvectors: Any = None            # of B
    L_estimate: Any = None              # running max ‖y‖/‖s‖ (0-d)
    L_bound: Any = None                 # the bound used in the last projection (0-d)
    rounds: int = 0                     # completed rounds n
    last_w: Any = None                  # w_n of the last round
    last_g: Any = None                  # g_n of the last round
    hint: Any = None                    # m_{n+1}: the hint for the next round's gradient
    last_hint_error: Any = None         # ‖g_n − m_n‖ of the last round (0-d)
    hint_error_sum_sq: Any = None       # Σ_n ‖g_n − m_n‖² (regret driver of the optimistic learner)
    learner_loss: Any = None            # loss_n(B_{n-1}) of the last round (0-d)
    learner_loss_sum: Any = None        # Σ_n loss_n(B_{n-1}) (the matrix learner's cumulative loss)
    active_projections: Any = None      # rounds whose ball constraint was active (int64, 0-d)
    subproblem_time_s: float = 0.0      # host time in the subproblem (launch time on CUDA)
    # episodes and the Goldstein-style measure
    episode_g_sum: Any = None
    episode_w_sum: Any = None
    episode_loss_sum: Any = None
    episode_rounds: int = 0
    episodes_done: int = 0
    goldstein_grad_norm: Any = None     # the solver's stationarity measure (0-d tensor)
    best_episode_norm: Any = None
    best_episode: Any = None
    output_point: Any = None            # mean of w over the best episode (x0 before)
    episode_norms: tuple = ()           # ‖mean g‖ per completed episode (0-d tensors)
    episode_learner_loss: tuple = ()    # mean learner loss per completed episode (0-d tensors)
    peek: Callable | None = field(default=None, repr=False)      # exact (f, ∇f), uncounted: report only
    hessian: Callable | None = field(default=None, repr=False)   # exact Hessian, uncounted: report only
    options: Any = field(default=None, repr=False)


class OQNO2NC(Solver):
    """O2NC whose learner is optimistic OGD with hints from an online-learned Hessian."""

    name = "oqn-o2nc"
    paper = "Jiang, Mokhtari, Patitucci, arXiv:2412.02175"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True, max_dim=2000)
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
            x=x, iterate=x, delta=torch.zeros_like(x),
            center=torch.zeros_like(x) if options.anchor == "ogd" else None,
            B=torch.zeros((d, d), device=oracle.device, dtype=oracle.dtype),
            eigenvalues=torch.zeros_like(x),
            eigenvectors=torch.eye(d, device=oracle.device, dtype=oracle.dtype),
            L_estimate=zero, L_bound=zero if options.L is None else torch.full_like(zero, options.L),
            hint_error_sum_sq=zero, learner_loss=zero, learner_loss_sum=zero,
            active_projections=torch.zeros((), device=oracle.device, dtype=torch.int64),
            episode_g_sum=torch.zeros_like(x), episode_w_sum=torch.zeros_like(x), episode_loss_sum=zero,
            goldstein_grad_norm=initial_norm, best_episode_norm=torch.full_like(zero, math.inf),
            best_episode=torch.full((), -1, device=oracle.device, dtype=torch.int64),
            output_point=x.clone(), peek=oracle.peek_value_and_grad, hessian=oracle.hessian,
            options=options)

    def step(self, state: OQNState, oracle, options: OQNOptions) -> OQNState:
        x, delta = state.iterate, state.delta
        w = x + 0.5 * delta                                  # midpoint (second-order O2NC)
        g = oracle.grad(w)
        x_new = x + delta
        upd: dict[str, Any] = {}
        if state.hint is not None:
            err = torch.linalg.vector_norm(g - state.hint)
            upd.update(last_hint_error=err, hint_error_sum_sq=state.hint_error_sum_sq + err * err)

        if not options.hints:                                # B ≡ 0: non-optimistic O2NC-OGD
            delta_next, active = project_ball(delta - options.eta * g, options.D)
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
                           L_bound=bound, learner_loss=loss, learner_loss_sum=state.learner_loss_sum + loss,
                           episode_loss_sum=state.episode_loss_sum + loss)
            if options.anchor == "ogd":
                center = state.center
                upd["center"] = project_ball(center - options.eta * g, options.D)[0]
            else:
                center = delta
            B_delta = B @ delta
            b = center - options.eta * (g + 0.5 * B_delta)
            t0 = time.perf_counter()
            delta_next, active = solve_ball_quadratic(1.0 + (0.5 * options.eta) * eigenvalues,
                                                      eigenvectors, b, options.D)
            upd["subproblem_time_s"] = state.subproblem_time_s + (time.perf_counter() - t0)
            hint = g + 0.5 * (B_delta + B @ delta_next)       # m_{n+1} = g_n + B_n (w_{n+1} − w_n)
        return self._close_round(state, options, x_new=x_new, delta_next=delta_next, active=active,
                                 w=w, g=g, hint=hint, **upd)

    @staticmethod
    def _close_round(state: OQNState, options, *, x_new, delta_next, active, w, g, hint, **upd) -> OQNState:
        """Book-keep one finished round: episode sums, the measure, the best episode."""
        g_sum, w_sum = state.episode_g_sum + g, state.episode_w_sum + w
        count = state.episode_rounds + 1
        running = torch.linalg.vector_norm(g_sum) / count
        last = options.output == "last"
        common = dict(iterate=x_new, delta=delta_next, rounds=state.rounds + 1, last_w=w, last_g=g, hint=hint,
                      active_projections=state.active_projections + active, **upd)
        if count < options.K:
            first = state.episodes_done == 0
            measure = running if first else state.goldstein_grad_norm
            output_point = w_sum / count if first else state.output_point
            return replace(state, x=x_new if last else output_point, output_point=output_point,
                           episode_g_sum=g_sum, episode_w_sum=w_sum, episode_rounds=count,
                           goldstein_grad_norm=measure, **common)
        loss_sum = upd.get("episode_loss_sum", state.episode_loss_sum)
        better = running < state.best_episode_norm                 # always true for the first episode
        best = torch.minimum(running, state.best_episode_norm)
        output_point = torch.where(better, w_sum / count, state.output_point)
        common.pop("episode_loss_sum", None)
        return replace(
            state, episode_g_sum=torch.zeros_like(g_sum), episode_w_sum=torch.zeros_like(w_sum),
            episode_loss_sum=torch.zeros_like(loss_sum), episode_rounds=0,
            episodes_done=state.episodes_done + 1, goldstein_grad_norm=best, best_episode_norm=best,
            best_episode=torch.where(better, state.episodes_done, state.best_episode),
            output_point=output_point, x=x_new if last else output_point,
            episode_norms=state.episode_norms + (running,),
            episode_learner_loss=state.episode_learner_loss + (loss_sum / count,), **common)

    # -- report ----------------------------------------------------------------
    def report(self, state: OQNState, oracle, options) -> dict:
        """Numbers for ``Result.extras``; brought to the host in a few batched transfers."""
        options = state.options
        last_value, grad_last = state.peek(state.iterate)
        out_value, out_grad = state.peek(state.output_point)
        dim = state.x.numel()
        nan = torch.full((), math.nan, dtype=state.x.dtype, device=state.x.device)
        hessian_error = nan
        if options.hints and dim <= HESSIAN_REPORT_MAX_DIM and state.hessian is not None:
            hess = state.hessian(state.iterate).reshape(dim, dim)
            hessian_error = (torch.linalg.matrix_norm(state.B - hess)
                             / torch.clamp(torch.linalg.matrix_norm(hess), min=1e-300))
        b_op = torch.max(torch.abs(state.eigenvalues)) if options.hints else nan
        names = ("last_iterate_grad_norm", "last_iterate_objective", "output_point_grad_norm",
                 "output_point_objective",
                 "learner_loss_sum", "hint_error_sum_sq", "hessian_rel_error", "B_op_norm", "L_bound",
                 "L_estimate", "active_projections", "best_episode")
        values = torch.stack([torch.linalg.vector_norm(grad_last), last_value.reshape(()),
                              torch.linalg.vector_norm(out_grad),
                              out_value.reshape(()), state.learner_loss_sum, state.hint_error_sum_sq,
                              hessian_error, b_op, state.L_bound, state.L_estimate,
                              state.active_projections.to(state.x.dtype),
                              state.best_episode.to(state.x.dtype)]).tolist()      # one transfer
        scalars = dict(zip(names, values))
        if not options.hints:
            for key in ("learner_loss_sum", "hint_error_sum_sq", "L_bound", "L_estimate"):
                scalars[key] = None
        scalars["hessian_rel_error"] = None if math.isnan(scalars["hessian_rel_error"]) else \
            scalars["hessian_rel_error"]
        scalars["active_projections"] = int(scalars["active_projections"])
        scalars["best_episode"] = int(scalars["best_episode"])
        episodes = state.episodes_done
        per_episode = (torch.stack(state.episode_norms + state.episode_learner_loss).tolist()
                       if episodes else [])                                          # one transfer
        return {
            "rounds": state.rounds,
            "grad_calls_by_role": {"g_n at w_n": state.rounds},
            **scalars,
            "output_point": state.output_point.tolist() if dim <= OUTPUT_POINT_MAX_DIM else None,
            "last_iterate": state.iterate.tolist() if dim <= OUTPUT_POINT_MAX_DIM else None,
            "reported_x": options.output,          # which point Result.solution / objective are
            "output_point_is": ("mean of w over the best completed episode" if episodes
                                else "running mean of w (no episode completed)" if state.rounds
                                else "x0 (no round yet)"),
            "episodes_completed": episodes,
            "episode_grad_norms": per_episode[:episodes],
            "episode_learner_loss": per_episode[episodes:] if options.hints else None,
            "subproblem_time_s": state.subproblem_time_s,
            "D": options.D, "eta": options.eta, "K": options.K, "rho": options.rho,
            "hints": options.hints, "anchor": options.anchor, "output": options.output,
        }
