"""``odog``: online doubly optimistic gradient inside the online-to-nonconvex conversion.

Reference: arXiv 2510.03167 ("doubly optimistic hint function": an optimistic
online gradient learner whose hint is the gradient at an extrapolated point;
one algorithm for deterministic and stochastic gradients; an adaptive-step
variant with the same rate). The paper's algorithm section was not available:
the update below is reconstructed (method note 02-odog) from what the abstract
states — the learner is optimistic, the hint is ∇f at an extrapolated point,
exactly two gradient queries per round, stochastic gradients replace exact ones
with no other change.

Round n (Δ_1 = 0, h_1 = oracle.grad(x_0)), two gradient calls::

    x_n = x_{n-1} + Δ_n,   w_n = x_{n-1} + Δ_n / 2,   g_n = oracle.grad(w_n)        # call 1
    h_{n+1} = oracle.grad(x_n + Δ_n / 2)                                          # call 2: hint,
                                                     # assumes Δ_{n+1} ≈ Δ_n ("consecutive moves change slowly")
    Δ_{n+1} = Proj_{‖Δ‖ ≤ D}(Δ_n − η h_{n+1} − η (g_n − h_n))                      # assumes g − h ≈ constant

N rounds cost exactly 2N + 1 gradient calls. h_n in the correction is the hint
*for* round n; using h_{n+1} there cancels the optimism (it becomes plain OGD).

Adaptive step (option, reconstructed): η_n = γ D / sqrt(α + Σ_{episode} ‖g_i − h_i‖²),
the sum restarted with each episode of K rounds; ``eta`` is then unused.
Defaults (reconstructed, note): D = 0.1, γ = 1, α = 1e-12, K = 50; η = 0.3 (the
note's test value). The oracle decides exact, minibatch or noisy gradients: the
code path is the same.
"""
from __future__ import annotations

__all__ = ["ODOG", "ODOGOptions"]

from solverhub.plugin import lazy_module, option, project_ball

from .conversion import ConversionOptions, ConversionSolver, ConversionState

torch = lazy_module("torch")


class ODOGOptions(ConversionOptions):
    """Options of ``odog`` (reconstructed defaults, method note 02-odog: γ = 1, α = 1e-12)."""

    adaptive: bool = option(True, "η_n = γ D / sqrt(α + Σ_episode ‖g_i − h_i‖²) instead of eta")


def optimistic_update(delta, g, hint, hint_next, eta, radius: float):
    """The optimistic learner with one projection (reconstructed form, method note 02-odog):

        Δ_{n+1} = Proj(Δ_n − η h_{n+1} − η (g_n − h_n))

    ``hint`` must be h_n, the hint that was *for* round n (the one used to play Δ_n),
    and ``hint_next`` h_{n+1}. Passing h_{n+1} as ``hint`` (the off-by-one) cancels the
    optimism: Δ_n − η h_{n+1} − η (g_n − h_{n+1}) = Δ_n − η g_n, plain OGD.
    Unprojected it is OGD on the shifted sequence Δ̂ = Δ + η h: Δ̂_{n+1} = Δ̂_n − η g_n.
    """
    return project_ball(delta - eta * hint_next - eta * (g - hint), radius)


class ODOG(ConversionSolver):
    """O2NC with the doubly optimistic gradient learner; two gradient calls per round."""

    name = "odog"
    paper = "arXiv:2510.03167"
    priority = 5
    Options = ODOGOptions
    description = "online doubly optimistic gradient in O2NC (smooth nonconvex, deterministic or stochastic)"

    def init(self, problem, oracle, x0, options: ODOGOptions) -> ConversionState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        hint = oracle.grad(x)                                   # h_1 = ∇f(x_0): the "+1" call
        zero = torch.zeros((), device=oracle.device, dtype=oracle.dtype)
        return self._start(oracle, x, options, torch.linalg.vector_norm(hint), hint=hint, hint_error_sum_sq=zero)

    def step(self, state: ConversionState, oracle, options: ODOGOptions) -> ConversionState:
        x, delta, hint = state.iterate, state.delta, state.hint   # x_{n-1}, Δ_n, h_n
        x_new = x + delta                                       # x_n
        w = x + 0.5 * delta                                     # w_n
        g = oracle.grad(w)                                      # g_n
        hint_next = oracle.grad(x_new + 0.5 * delta)            # h_{n+1}, at the extrapolated point
        err_sq = torch.sum((g - hint) ** 2)                     # ‖g_n − h_n‖²
        eta = self._eta(state, options, state.episodes.tracked[1] + err_sq)
        delta_next, active = optimistic_update(delta, g, hint, hint_next, eta, options.D)
        return self._close_round(state, options, x_new=x_new, delta_next=delta_next, active=active,
                                 w=w, g=g, eta=eta, sq=err_sq, hint=hint_next,
                                 hint_error_sum_sq=state.hint_error_sum_sq + err_sq)

    def _calls_by_role(self, rounds: int) -> dict:
        return {"h_1 at x_0": 1, "g_n at w_n": rounds, "h_{n+1} at x_n + Δ_n/2": rounds}
