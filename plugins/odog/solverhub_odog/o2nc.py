"""``o2nc``: the online-to-nonconvex conversion with online gradient descent as the learner.

Reference: A. Cutkosky, H. Mehta, F. Orabona, "Optimal stochastic non-smooth
non-convex optimization through online-to-non-convex conversion", ICML 2023
(arXiv 2302.03775). The reference method that ODOG (arXiv 2510.03167) improves on.

Round n (Δ_1 = 0), one gradient call::

    x_n = x_{n-1} + Δ_n,   w_n = x_{n-1} + s_n Δ_n,   g_n = oracle.grad(w_n)
    Δ_{n+1} = Proj_{‖Δ‖ ≤ D}(Δ_n − η g_n)

s_n = 1/2 (``point="midpoint"``, the smooth second-order form; a quadratic then
satisfies f(x_n) − f(x_{n-1}) = ⟨g_n, Δ_n⟩ exactly) or s_n ~ U[0, 1]
(``point="random"``, the paper's non-smooth form, drawn from ``oracle.generator``).
N rounds cost exactly N gradient calls. The measure and output point are the
conversion's episodes (the core's shared O2NC parts, ``solverhub.plugin.episode_round``).

Reconstructed (not taken from the paper): the defaults D = 0.1, η = 0.3, K = 50
(method note 02-odog), and the option ``adaptive``: η_n = γ D / sqrt(α + Σ_{episode} ‖g_i‖²),
restarted each episode, the AdaGrad-norm analogue of ODOG's adaptive step, so
the two can be compared with neither step tuned. The initial value of the
measure (before any round) is ‖∇f(x0)‖ from the uncounted measurement oracle.
"""
from __future__ import annotations

__all__ = ["O2NC", "O2NCOptions"]

from typing import Literal

from solverhub.plugin import lazy_module, ogd_ball_step, option

from .conversion import ConversionOptions, ConversionSolver, ConversionState

torch = lazy_module("torch")


class O2NCOptions(ConversionOptions):
    """Options of ``o2nc`` (all reconstructed defaults, method note 02-odog)."""

    point: Literal["midpoint", "random"] = option("midpoint", "query point: s_n = 1/2, or s_n ~ U[0, 1]")


class O2NC(ConversionSolver):
    """Online-to-nonconvex conversion with OGD on the D-ball; one gradient call per round."""

    name = "o2nc"
    paper = "Cutkosky, Mehta, Orabona (ICML 2023), arXiv:2302.03775"
    priority = 1
    Options = O2NCOptions
    description = "online-to-nonconvex conversion with online gradient descent (reference for odog)"

    def init(self, problem, oracle, x0, options: O2NCOptions) -> ConversionState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        initial_norm = torch.linalg.vector_norm(oracle.peek_grad(x))   # measurement only, uncounted
        return self._start(oracle, x, options, initial_norm)

    def step(self, state: ConversionState, oracle, options: O2NCOptions) -> ConversionState:
        x, delta = state.iterate, state.delta
        if options.point == "midpoint":
            w = x + 0.5 * delta
        else:
            s = torch.rand((), generator=oracle.generator, device=oracle.device, dtype=oracle.dtype)
            w = x + s * delta
        g = oracle.grad(w)
        sq = g @ g
        eta = self._eta(state, options, state.episodes.tracked[1] + sq)
        delta_next, active = ogd_ball_step(delta, g, eta, options.D)
        return self._close_round(state, options, x_new=x + delta, delta_next=delta_next, active=active,
                                 w=w, g=g, eta=eta, sq=sq)

    def _calls_by_role(self, rounds: int) -> dict:
        return {"g_n at w_n": rounds}
