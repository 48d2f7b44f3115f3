"""What ``o2nc`` and ``odog`` share beyond the core's O2NC parts: options, state, report.

O2NC (Cutkosky, Mehta, Orabona, "Optimal stochastic non-smooth non-convex
optimization through online-to-non-convex conversion", ICML 2023) turns an
online learner into an optimizer. In round n the learner plays an increment
Δ_n in the ball ‖Δ‖ ≤ D, the optimizer moves and queries a gradient::

    x_n = x_{n-1} + Δ_n,    w_n = x_{n-1} + s_n Δ_n,    g_n = ∇f(w_n)     (s_n = 1/2: midpoint)

and the learner suffers the linear loss ⟨g_n, Δ⟩. For a quadratic and the
midpoint, f(x_n) − f(x_{n-1}) = ⟨g_n, Δ_n⟩ exactly, so low regret is descent.

The episodes, the Goldstein-style measure ``goldstein_grad_norm`` (min over completed
episodes of ‖mean g_n‖), the output point (mean of w_n over the best episode) and its
spread come from the core (``solverhub.plugin``: ``episodes_start``/``episode_round``/
``conversion_report``). With a stochastic oracle the g_n are stochastic gradients,
so the measure carries the averaged noise (about σ·sqrt(d/K)); the exact ‖∇f‖ at the
output point and at the last iterate are reported at the end (uncounted).

``x`` (``Result.solution``, the objective in the trace) is the output point with
``output="average"`` (default, as the paper and the note) and the last iterate x_n with
``output="last"``; the algorithm reads only ``state.iterate``. No host syncs per round.
"""
from __future__ import annotations

__all__ = ["ConversionOptions", "ConversionState", "ConversionSolver", "adaptive_eta"]

from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import (Capabilities, IterState, Solver, SolverOptions, conversion_report, episode_round,
                              episodes_start, lazy_module, option)

torch = lazy_module("torch")


class ConversionOptions(SolverOptions):
    """Options both solvers take (reconstructed defaults, method note 02-odog)."""

    D: float = option(0.1, "radius of the learner's ball ‖Δ‖ ≤ D (note: 0.1 × scale of x)", symbol="D", gt=0)
    eta: float = option(0.3, "fixed step (used when adaptive is false)", symbol="η", gt=0)
    K: int = option(50, "episode length (rounds) of the averaged-gradient measure and adaptive restarts",
                    symbol="K", ge=1)
    adaptive: bool = option(False, "η_n = γ D / sqrt(α + Σ_episode ‖·‖²) instead of eta")
    gamma: float = option(1.0, "adaptive step scale", symbol="γ", gt=0)
    alpha: float = option(1e-12, "adaptive step floor inside the square root", symbol="α", gt=0)
    output: Literal["average", "last"] = option("average", "Result.solution: the output point, or x_N")


def adaptive_eta(gamma: float, radius: float, alpha: float, sum_sq):
    """η = γ D / sqrt(α + Σ_episode ‖·‖²) as a 0-d tensor (reconstructed, note 02-odog)."""
    return gamma * radius * torch.rsqrt(alpha + sum_sq)


@dataclass(frozen=True, kw_only=True)
class ConversionState(IterState):
    """x_{n-1} before round n, the learner's next move Δ_n, the last round, the episodes.

    The episodes track two scalars per round, [η_n, the term of the adaptive step's
    Σ‖·‖²] (``episodes.tracked``): their episode sums restart with each episode.
    """

    iterate: Any                        # x_{n-1} before round n (x_N at the end)
    delta: Any                          # Δ_n, the increment the learner plays next round
    eta0: Any                           # the fixed step η as a 0-d tensor
    episodes: Any                       # solverhub.plugin.Episodes
    active_projections: Any             # rounds whose projection onto the D-ball was active (int64, 0-d)
    last_delta: Any = None              # Δ_n played in the last round
    last_w: Any = None                  # w_n
    last_g: Any = None                  # g_n = oracle gradient at w_n
    last_eta: Any = None                # the η used to compute Δ_{n+1}
    hint: Any = None                    # odog: h_n, the hint for round n
    hint_error_sum_sq: Any = None       # odog: Σ_n ‖g_n − h_n‖² over the whole run

    @property
    def goldstein_grad_norm(self):
        """The solver's stationarity measure (0-d tensor), returned by ``Solver.log``."""
        return self.episodes.measure


class ConversionSolver(Solver):
    """Base of ``o2nc`` and ``odog``: kinds, capabilities, the measure, the round's close, report."""

    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True, nonsmooth=True)   # Goldstein measure: nonsmooth f
    stationarity_measure = "goldstein_grad_norm"

    @staticmethod
    def _start(oracle, x0, options, initial_norm, **extra) -> ConversionState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        return ConversionState(
            x=x, iterate=x, delta=torch.zeros_like(x),
            eta0=torch.full((), options.eta, device=oracle.device, dtype=oracle.dtype),
            episodes=episodes_start(x, initial_norm, tracked=2),
            active_projections=torch.zeros((), device=oracle.device, dtype=torch.int64), **extra)

    @staticmethod
    def _eta(state: ConversionState, options, sum_sq):
        return adaptive_eta(options.gamma, options.D, options.alpha, sum_sq) if options.adaptive else state.eta0

    @staticmethod
    def _close_round(state: ConversionState, options, *, x_new, delta_next, active, w, g, eta, sq,
                     **extra) -> ConversionState:
        """Record round n: the episodes (with [η_n, sq_n]), the reported point, the last round."""
        episodes = episode_round(state.episodes, w, g, options.K, torch.stack([eta, sq]))
        return replace(state, x=x_new if options.output == "last" else episodes.output_point, iterate=x_new,
                       delta=delta_next, episodes=episodes, last_delta=state.delta, last_w=w, last_g=g,
                       last_eta=eta, active_projections=state.active_projections + active, **extra)

    def report(self, state: ConversionState, oracle, options) -> dict:
        """Extras, read back in a few transfers (this runs once, after the loop)."""
        out = conversion_report(state.episodes, oracle, state.iterate, ("eta_episode_means",))
        nan = torch.full((), float("nan"), device=state.x.device, dtype=state.x.dtype)
        active, hint_error, last_eta = torch.stack([
            state.active_projections.to(state.x.dtype),
            nan if state.hint_error_sum_sq is None else state.hint_error_sum_sq,
            nan if state.last_eta is None else state.last_eta.reshape(())]).tolist()
        return {**out, "grad_calls_by_role": self._calls_by_role(out["rounds"]), "reported_x": options.output,
                "active_projections": int(active),
                "hint_error_sum_sq": None if hint_error != hint_error else hint_error,   # Σ‖g_n − h_n‖² (odog)
                "D": options.D, "K": options.K, "adaptive": options.adaptive,
                "eta": None if last_eta != last_eta else last_eta}                      # the last η used

    def _calls_by_role(self, rounds: int) -> dict:
        raise NotImplementedError
