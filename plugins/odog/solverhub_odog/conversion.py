"""What ``o2nc`` and ``odog`` share: the online-to-nonconvex conversion around a learner.

O2NC (Cutkosky, Mehta, Orabona, "Optimal stochastic non-smooth non-convex
optimization through online-to-non-convex conversion", ICML 2023) turns an
online learner into an optimizer. In round n the learner plays an increment
Δ_n in the ball ‖Δ‖ ≤ D, the optimizer moves and queries a gradient::

    x_n = x_{n-1} + Δ_n,    w_n = x_{n-1} + s_n Δ_n,    g_n = ∇f(w_n)     (s_n = 1/2: midpoint)

and the learner suffers the linear loss ⟨g_n, Δ⟩. For a quadratic and the
midpoint, f(x_n) − f(x_{n-1}) = ⟨g_n, Δ_n⟩ exactly, so low regret is descent.

Stationarity (the conversion's own measure, a Goldstein-style averaged
gradient): rounds are grouped into episodes of K; an episode's measure is
‖(1/K) Σ_{n in episode} g_n‖, the norm of the average of the gradients queried
at its points w_n. The solver's ``goldstein_grad_norm`` is the minimum over
completed episodes (the running average of the current episode until the first
one completes), and the output point is the mean of w_n over the best episode;
its ``output_point_spread`` (RMS distance of that episode's w_n from their mean)
is the δ that goes with this ε in a (δ, ε)-Goldstein reading.
With a stochastic oracle the g_n are the oracle's stochastic gradients, so the
measure carries the averaged noise (about σ·sqrt(d/K)); the exact ‖∇f‖ at the
output point and at the last iterate are reported at the end (uncounted).

What the run reports as x (``Result.solution``, the objective in the trace):
with ``output="average"`` (default) the output point — the conversion's answer,
as in the paper and the note ("output: the mean of w over the best episode;
report the last iterate too") — and before the first episode completes the
running mean of w in the current episode; with ``output="last"`` the last
iterate x_n. The iterate itself is ``state.iterate``.

Everything here is tensor arithmetic on the oracle's device: the projection is
a clamp, episode bookkeeping uses ``torch.where``; no host syncs per round.
"""
from __future__ import annotations

__all__ = ["ConversionState", "ConversionSolver", "project_ball", "ogd_update", "optimistic_update",
           "adaptive_eta", "validate_common"]

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module

torch = lazy_module("torch")

OUTPUT_POINT_MAX_DIM = 1000   # report the output point's coordinates only below this size


def validate_common(options) -> None:
    """Checks shared by both solvers' options (``ValueError`` is exit 2 with the message)."""
    problems = []
    if not (options.D > 0 and math.isfinite(options.D)):
        problems.append(f"D must be a positive finite radius, got {options.D}")
    if not (options.eta > 0 and math.isfinite(options.eta)):
        problems.append(f"eta must be > 0, got {options.eta}")
    if options.K < 1:
        problems.append(f"K (episode length) must be >= 1, got {options.K}")
    if not options.gamma > 0:
        problems.append(f"gamma must be > 0, got {options.gamma}")
    if not options.alpha > 0:
        problems.append(f"alpha must be > 0 (it keeps the adaptive step finite), got {options.alpha}")
    if options.output not in ("average", "last"):
        problems.append(f"output must be 'average' or 'last', got {options.output!r}")
    if problems:
        raise ValueError("; ".join(problems))


def project_ball(v, radius: float):
    """(Proj_{‖·‖ ≤ radius}(v), whether the projection was active) without a host sync."""
    norm = torch.linalg.vector_norm(v)
    scale = torch.clamp(radius / norm, max=1.0)        # norm = 0 gives inf, clamped to 1
    return v * scale, norm > radius


def ogd_update(delta, g, eta, radius: float):
    """Online gradient descent on the ball: Proj(Δ_n − η g_n)."""
    return project_ball(delta - eta * g, radius)


def optimistic_update(delta, g, hint, hint_next, eta, radius: float):
    """The optimistic learner with one projection (reconstructed form, method note 02-odog):

        Δ_{n+1} = Proj(Δ_n − η h_{n+1} − η (g_n − h_n))

    ``hint`` must be h_n, the hint that was *for* round n (the one used to play Δ_n),
    and ``hint_next`` h_{n+1}. Passing h_{n+1} as ``hint`` (the off-by-one) cancels the
    optimism: Δ_n − η h_{n+1} − η (g_n − h_{n+1}) = Δ_n − η g_n, plain OGD.
    Unprojected it is OGD on the shifted sequence Δ̂ = Δ + η h: Δ̂_{n+1} = Δ̂_n − η g_n.
    """
    return project_ball(delta - eta * hint_next - eta * (g - hint), radius)


def adaptive_eta(gamma: float, radius: float, alpha: float, sum_sq):
    """η = γ D / sqrt(α + Σ_episode ‖·‖²) as a 0-d tensor (reconstructed, note 02-odog)."""
    return gamma * radius * torch.rsqrt(alpha + sum_sq)


@dataclass(kw_only=True)
class ConversionState(IterState):
    """The conversion's state: the iterate x_{n-1} before round n, the learner's next move, episodes.

    ``x`` (what the run loop measures and returns) is the output point or the
    iterate, as ``options.output`` says; the algorithm reads only ``iterate``.

    Tensors live on the oracle's device; the integer counters are Python ints
    that do not depend on tensor values (so they cost no sync).
    """

    iterate: Any                        # x_{n-1} before round n (x_N at the end)
    delta: Any                          # Δ_n, the increment the learner plays next round
    eta0: Any                           # fixed step η as a 0-d tensor
    rounds: int = 0                     # completed rounds n
    # last completed round (for tests and the quadratic identity)
    last_delta: Any = None              # Δ_n played in the last round
    last_w: Any = None                  # w_n
    last_g: Any = None                  # g_n = oracle gradient at w_n
    last_eta: Any = None                # the η used to compute Δ_{n+1}
    # adaptive step: Σ over the current episode (reset with it), and totals
    episode_sum_sq: Any = None
    # episodes and the Goldstein-style measure
    episode_g_sum: Any = None
    episode_w_ref: Any = None           # the episode's first w: sums below are taken relative to it
    episode_w_sum: Any = None           # Σ (w_n − ref)
    episode_w_sq: Any = None            # Σ ‖w_n − ref‖²
    episode_eta_sum: Any = None
    episode_rounds: int = 0
    episodes_done: int = 0
    goldstein_grad_norm: Any = None     # the solver's stationarity measure (0-d tensor)
    best_episode_norm: Any = None       # min over completed episodes (inf before)
    best_episode: Any = None            # its index (0-based), -1 before
    output_point: Any = None            # mean of w over the best episode (before: running mean; x0 at start)
    output_point_spread: Any = None     # RMS distance of that episode's w_n from their mean (the δ scale)
    episode_norms: tuple = ()           # ‖mean g‖ per completed episode (0-d tensors)
    episode_etas: tuple = ()            # mean η per completed episode (0-d tensors)
    active_projections: Any = None      # rounds whose projection onto the D-ball was active
    # ODOG only
    hint: Any = None                    # h_n, the hint for round n
    hint_error_sum_sq: Any = None       # Σ_n ‖g_n − h_n‖² over the whole run
    peek: Callable | None = field(default=None, repr=False)   # exact (f, ∇f), uncounted: report only
    options: Any = field(default=None, repr=False)             # the solver's options, for the report


class ConversionSolver(Solver):
    """Base of ``o2nc`` and ``odog``: kinds, capabilities, the measure, episodes, report."""

    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    stationarity_measure = "goldstein_grad_norm"
    calls_per_round: int = 1

    # -- shared pieces of init/step ------------------------------------
    @staticmethod
    def _start(oracle, x0, options, initial_norm, **extra) -> ConversionState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        zero = torch.zeros((), device=oracle.device, dtype=oracle.dtype)
        return ConversionState(
            x=x, iterate=x, delta=torch.zeros_like(x), eta0=torch.full_like(zero, options.eta),
            episode_sum_sq=zero, episode_g_sum=torch.zeros_like(x), episode_w_sum=torch.zeros_like(x),
            episode_w_sq=zero, episode_eta_sum=zero, goldstein_grad_norm=initial_norm,
            best_episode_norm=torch.full_like(zero, math.inf),
            best_episode=torch.full((), -1, device=oracle.device, dtype=torch.int64),
            output_point=x.clone(), output_point_spread=torch.full_like(zero, math.nan),
            active_projections=torch.zeros((), device=oracle.device, dtype=torch.int64),
            peek=oracle.peek_value_and_grad, options=options, **extra)

    @staticmethod
    def _eta(state: ConversionState, options, sum_sq):
        return adaptive_eta(options.gamma, options.D, options.alpha, sum_sq) if options.adaptive else state.eta0

    @staticmethod
    def _close_round(state: ConversionState, options, *, x_new, delta_next, active, w, g, eta,
                     sum_sq, **extra) -> ConversionState:
        """Book-keep one finished round: episode sums, the measure, the best episode."""
        count = state.episode_rounds + 1
        ref = w if count == 1 else state.episode_w_ref     # offsets from the first w: no cancellation
        dw = w - ref
        g_sum, eta_sum = state.episode_g_sum + g, state.episode_eta_sum + eta
        w_sum, w_sq = state.episode_w_sum + dw, state.episode_w_sq + dw @ dw
        running = torch.linalg.vector_norm(g_sum) / count
        last = options.output == "last"
        common = dict(iterate=x_new, delta=delta_next, rounds=state.rounds + 1, last_delta=state.delta, last_w=w,
                      last_g=g, last_eta=eta, active_projections=state.active_projections + active, **extra)
        if count < options.K:
            measure = running if state.episodes_done == 0 else state.goldstein_grad_norm
            # before the first episode completes the output is the running mean of w (as the measure)
            output_point = ref + w_sum / count if state.episodes_done == 0 else state.output_point
            return replace(state, x=x_new if last else output_point, output_point=output_point, episode_g_sum=g_sum, episode_w_ref=ref, episode_w_sum=w_sum,
                           episode_w_sq=w_sq, episode_eta_sum=eta_sum,
                           episode_rounds=count, episode_sum_sq=sum_sq, goldstein_grad_norm=measure, **common)
        mean_offset = w_sum / count
        spread = torch.sqrt(torch.clamp(w_sq / count - mean_offset @ mean_offset, min=0.0))
        better = running < state.best_episode_norm
        best = torch.minimum(running, state.best_episode_norm)
        output_point = torch.where(better, ref + mean_offset, state.output_point)
        return replace(
            state, x=x_new if last else output_point, episode_g_sum=torch.zeros_like(g_sum), episode_w_ref=None,
            episode_w_sum=torch.zeros_like(w_sum), episode_w_sq=torch.zeros_like(w_sq),
            episode_eta_sum=torch.zeros_like(eta_sum), episode_rounds=0,
            episode_sum_sq=torch.zeros_like(sum_sq),          # the adaptive step restarts each episode
            episodes_done=state.episodes_done + 1, goldstein_grad_norm=best, best_episode_norm=best,
            best_episode=torch.where(better, state.episodes_done, state.best_episode),
            output_point=output_point,
            output_point_spread=torch.where(better, spread, state.output_point_spread),
            episode_norms=state.episode_norms + (running,),
            episode_etas=state.episode_etas + (eta_sum / count,), **common)

    # -- report ----------------------------------------------------------
    def report(self, state: ConversionState, oracle, options) -> dict:
        """Extras, read back in one transfer per group (this runs once, after the loop)."""
        last_value, grad_last = state.peek(state.iterate)
        out_value, out_grad = state.peek(state.output_point)
        nan = torch.full((), math.nan, device=state.x.device, dtype=state.x.dtype)
        scalars = torch.stack([
            torch.linalg.vector_norm(grad_last), last_value.reshape(()),
            torch.linalg.vector_norm(out_grad), out_value.reshape(()),
            state.best_episode.to(state.x.dtype), state.active_projections.to(state.x.dtype),
            nan if state.hint_error_sum_sq is None else state.hint_error_sum_sq,
            nan if state.last_eta is None else state.last_eta.reshape(()),
            state.output_point_spread,
        ]).tolist()
        last_grad, last_objective, out_grad_norm, out_objective, best, active, hint_error, last_eta, spread = scalars
        options = state.options
        return {
            "rounds": state.rounds,
            "grad_calls_by_role": self._calls_by_role(state.rounds),
            "last_iterate_grad_norm": last_grad,          # exact ‖∇f(x_N)‖ (uncounted)
            "last_iterate_objective": last_objective,
            "output_point_grad_norm": out_grad_norm,      # exact ‖∇f‖ at the output point (uncounted)
            "output_point_objective": out_objective,
            "output_point": (state.output_point.tolist() if state.x.numel() <= OUTPUT_POINT_MAX_DIM else None),
            "last_iterate": (state.iterate.tolist() if state.x.numel() <= OUTPUT_POINT_MAX_DIM else None),
            "reported_x": state.options.output,   # which point Result.solution / objective are
            "output_point_spread": None if math.isnan(spread) else spread,   # RMS ‖w_n − output‖ in its episode
            "output_point_is": ("mean of w over the best completed episode" if state.episodes_done
                                else "running mean of w (no episode completed)" if state.rounds else "x0"),
            "best_episode": int(best),
            "episodes_completed": state.episodes_done,
            "episode_grad_norms": _floats(state.episode_norms),
            "active_projections": int(active),
            "hint_error_sum_sq": None if math.isnan(hint_error) else hint_error,   # Σ‖g_n − h_n‖² (odog)
            "D": options.D,
            "K": options.K,
            "adaptive": options.adaptive,
            "eta": None if math.isnan(last_eta) else last_eta,    # the last η used
            "eta_episode_means": _floats(state.episode_etas),
        }

    def _calls_by_role(self, rounds: int) -> dict:
        raise NotImplementedError


def _floats(tensors: tuple) -> list[float]:
    return torch.stack(tensors).tolist() if tensors else []
