"""The online-to-nonconvex conversion's episodes, output point and report, written once.

Cutkosky, Mehta, Orabona, "Optimal stochastic non-smooth non-convex optimization
through online-to-non-convex conversion", ICML 2023 (arXiv:2302.03775). In round n an
online learner plays Δ_n in the ball ‖Δ‖ ≤ D, the optimizer moves to x_n = x_{n−1} + Δ_n
and queries g_n = ∇f(w_n) at w_n = x_{n−1} + s_n Δ_n; the learner then suffers ⟨g_n, Δ⟩.
This module is what every such solver shares (``o2nc``, ``odog``, ``oqn-o2nc``):

* rounds are grouped into episodes of K; an episode's measure is ‖(1/K) Σ g_n‖ (a
  Goldstein-style averaged gradient). The solver's ``goldstein_grad_norm`` is the minimum
  over completed episodes, and before the first completes the running average of the
  current one;
* the output point is the mean of w_n over the best episode (before: the running mean of
  w); its spread, the RMS distance of that episode's w_n from their mean, is the δ of a
  (δ, ε)-Goldstein reading. Sums of w are taken relative to the episode's first w, so the
  spread has no cancellation;
* per-episode sums of a few solver scalars (``tracked``: a step size, a learner's loss, an
  adaptive step's Σ‖·‖²), restarted with each episode, and their per-episode means;
* :func:`ogd_ball_step`, the paper's learner: online gradient descent on the D-ball.

Tensor arithmetic only (``torch.where`` for the best episode): no host syncs per round.
"""
from __future__ import annotations

__all__ = ["Episodes", "episodes_start", "episode_round", "ogd_ball_step", "conversion_report"]

import math
from dataclasses import dataclass, replace
from typing import Any

from .._lazy import lazy_module
from .projections import project_ball

torch = lazy_module("torch")

OUTPUT_POINT_MAX_DIM = 1000   # report the coordinates of the output point and last iterate only below this size


@dataclass(frozen=True)
class Episodes:
    """Episode bookkeeping (tensors on the oracle's device; the counters are Python ints)."""

    g_sum: Any                 # Σ g_n over the current episode
    w_ref: Any                 # the episode's first w (sums of w are offsets from it)
    w_sum: Any                 # Σ (w_n − w_ref)
    w_sq: Any                  # Σ ‖w_n − w_ref‖²
    tracked: Any               # Σ of the solver's tracked scalars over the episode (1-d tensor)
    measure: Any               # goldstein_grad_norm (0-d)
    best_norm: Any             # min over completed episodes (inf before)
    best_index: Any            # its 0-based index (int64 0-d; −1 before)
    output_point: Any          # mean of w over the best episode (running mean before; x0 at start)
    output_spread: Any         # RMS ‖w_n − output_point‖ in that episode (nan before)
    rounds: int = 0            # rounds in all
    episode_rounds: int = 0    # rounds in the current episode
    completed: int = 0         # completed episodes
    norms: tuple = ()          # ‖mean g‖ per completed episode (0-d tensors)
    tracked_means: tuple = ()  # mean of the tracked scalars per completed episode (1-d tensors)


def episodes_start(x, initial_measure, tracked: int = 0) -> Episodes:
    """Bookkeeping before round 1 at x_0; ``initial_measure`` (0-d) is reported until a round is done
    (e.g. ‖∇f(x_0)‖); ``tracked`` is how many solver scalars are summed per episode."""
    zero = torch.zeros((), device=x.device, dtype=x.dtype)
    return Episodes(g_sum=torch.zeros_like(x), w_ref=None, w_sum=torch.zeros_like(x), w_sq=zero,
                    tracked=torch.zeros(tracked, device=x.device, dtype=x.dtype), measure=initial_measure,
                    best_norm=torch.full_like(zero, math.inf),
                    best_index=torch.full((), -1, device=x.device, dtype=torch.int64),
                    output_point=x.clone(), output_spread=torch.full_like(zero, math.nan))


def episode_round(ep: Episodes, w, g, K: int, tracked=None) -> Episodes:
    """Record round n (query point w_n, gradient g_n, the tracked scalars as a 1-d tensor)."""
    count = ep.episode_rounds + 1
    ref = w if count == 1 else ep.w_ref
    dw = w - ref
    g_sum, w_sum, w_sq = ep.g_sum + g, ep.w_sum + dw, ep.w_sq + dw @ dw
    sums = ep.tracked if tracked is None else ep.tracked + tracked
    running = torch.linalg.vector_norm(g_sum) / count
    if count < K:
        first = ep.completed == 0
        return replace(ep, g_sum=g_sum, w_ref=ref, w_sum=w_sum, w_sq=w_sq, tracked=sums,
                       measure=running if first else ep.measure,
                       output_point=ref + w_sum / count if first else ep.output_point,
                       rounds=ep.rounds + 1, episode_rounds=count)
    mean_offset = w_sum / count
    spread = torch.sqrt(torch.clamp(w_sq / count - mean_offset @ mean_offset, min=0.0))
    better = running < ep.best_norm                  # always true for the first episode
    best = torch.minimum(running, ep.best_norm)
    return Episodes(
        g_sum=torch.zeros_like(g_sum), w_ref=None, w_sum=torch.zeros_like(w_sum), w_sq=torch.zeros_like(w_sq),
        tracked=torch.zeros_like(sums), measure=best, best_norm=best,
        best_index=torch.where(better, ep.completed, ep.best_index),
        output_point=torch.where(better, ref + mean_offset, ep.output_point),
        output_spread=torch.where(better, spread, ep.output_spread),
        rounds=ep.rounds + 1, episode_rounds=0, completed=ep.completed + 1,
        norms=ep.norms + (running,), tracked_means=ep.tracked_means + (sums / count,))


def ogd_ball_step(delta, g, eta, radius):
    """The conversion's learner, online gradient descent on the ball: ``(Proj_{‖·‖≤D}(Δ − η g), active)``."""
    return project_ball(delta - eta * g, radius)


def conversion_report(ep: Episodes, oracle, iterate, tracked_names: tuple[str, ...] = ()) -> dict:
    """The conversion's part of ``Result.extras``, after the run: exact (uncounted) f and ‖∇f‖ at
    the last iterate and at the output point, the output point, the episodes and the per-episode
    means of the tracked scalars under ``tracked_names``. Two transfers to the host."""
    last_value, last_grad = oracle.peek_value_and_grad(iterate)
    out_value, out_grad = oracle.peek_value_and_grad(ep.output_point)
    last_grad_norm, last_objective, out_grad_norm, out_objective, best, spread = torch.stack([
        torch.linalg.vector_norm(last_grad), last_value.reshape(()), torch.linalg.vector_norm(out_grad),
        out_value.reshape(()), ep.best_index.to(iterate.dtype), ep.output_spread]).tolist()
    done = ep.completed
    per_episode = (torch.cat([torch.stack(ep.norms)[:, None], torch.stack(ep.tracked_means)], dim=1).T.tolist()
                   if done else [[] for _ in range(1 + len(tracked_names))])
    small = iterate.numel() <= OUTPUT_POINT_MAX_DIM
    return {
        "rounds": ep.rounds,
        "last_iterate_grad_norm": last_grad_norm,      # exact ‖∇f(x_N)‖ (uncounted)
        "last_iterate_objective": last_objective,
        "output_point_grad_norm": out_grad_norm,       # exact ‖∇f‖ at the output point (uncounted)
        "output_point_objective": out_objective,
        "output_point": ep.output_point.tolist() if small else None,
        "last_iterate": iterate.tolist() if small else None,
        "output_point_spread": None if math.isnan(spread) else spread,
        "output_point_is": ("mean of w over the best completed episode" if done
                            else "running mean of w (no episode completed)" if ep.rounds else "x0 (no round yet)"),
        "best_episode": int(best),
        "episodes_completed": done,
        "episode_grad_norms": per_episode[0],
        **dict(zip(tracked_names, per_episode[1:])),
    }
