"""``dbgd``: dynamic barrier gradient descent for (nonconvex) simple bilevel problems,
minimize f(x) (``upper``) over the minimizers of g(x) (``lower``); kind ``bilevel``.

Reference: J. Cao, R. Jiang, E. Yazdandoost Hamedani, A. Mokhtari, "On the
complexity of finding stationary points in nonconvex simple bilevel
optimization", NeurIPS 2025, arXiv 2507.23155 (the "implementable variant" of
C. Gong, X. Liu, Q. Liu, "Bi-objective trade-off with dynamic barrier gradient
descent", NeurIPS 2021). One iteration (∇f and ∇g at x_k)::

    v_k = ∇f(x_k) + λ_k ∇g(x_k),   λ_k = max{(φ(x_k) − <∇f, ∇g>) / ‖∇g‖², 0},
    x_{k+1} = x_k − η_k v_k.

The update is the paper's eqs. (11), (13), (14) (paper facts 03). Reconstructed (not found):
the barrier φ = β‖∇g‖^q with q = 1 + p (Gong et al.'s min{α(g − ĝ), β‖∇g‖^q} as
an option), the step η_k = η / (1 + k/k0)^a (a = 0: constant), and the numerics
(‖∇g‖² never formed; max|∂g/∂x_i| ≤ 1e-300 gives λ = 0). No host syncs in
``step``. Details, rates and claims: docs/methods/dbgd.md.
"""
from __future__ import annotations

__all__ = ["DBGD", "DBGDOptions", "DBGDState", "barrier_direction", "barrier_residual", "step_size"]

import math
from dataclasses import dataclass
from typing import Any

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module
from solverhub.plugin import SolverOptions, option

torch = lazy_module("torch")

TINY_GRAD = 1e-300      # max|∂g/∂x_i| at or below this: λ = 0 (method note 03's guard; in float32 it is 0)


class DBGDOptions(SolverOptions):
    """Options of ``dbgd`` (defaults reconstructed, method note 03; none is the paper's)."""

    eta: float = option(0.01, "step size (stable while η·β·L_g < 2 for q = 2)", symbol="η", gt=0)
    beta: float = option(1.0, "barrier scale in φ = β‖∇g‖^q (note: β = 1)", symbol="β", gt=0)
    p: float = option(1.0, "the paper's balancing constant", symbol="p", ge=0)
    q: float | None = option(None, "barrier exponent; null: q = 1 + p (reconstructed map)", symbol="q", gt=0)
    step_decay: float = option(0.0, "a in η_k = η / (1 + k/k0)^a; 0: constant step", symbol="a", ge=0, le=1)
    decay_start: float = option(100.0, "k0 in the decaying step", symbol="k₀", gt=0)
    alpha: float | None = option(None, "Gong et al.'s φ = min{α(g − ĝ), β‖∇g‖^q}; null: off", symbol="α", gt=0)
    g_hat: float = option(0.0, "a lower bound on min g (only with alpha)", symbol="ĝ")

    @property
    def exponent(self) -> float:
        """The barrier exponent q actually used."""
        return 1.0 + self.p if self.q is None else self.q


def step_size(options: DBGDOptions, k: int) -> float:
    """η_k = η / (1 + k/k0)^a (a Python float: k does not depend on tensor values)."""
    if options.step_decay == 0:
        return options.eta
    return options.eta / (1.0 + k / options.decay_start) ** options.step_decay


def barrier_direction(grad_f, grad_g, beta: float, q: float, phi_cap=None):
    """DBGD's direction v = ∇f + λ∇g with λ = max{(φ − <∇f,∇g>)/‖∇g‖², 0}, φ = β‖∇g‖^q
    (or min{phi_cap, β‖∇g‖^q} when ``phi_cap`` is given). Returns (v, λ, φ, ‖∇g‖) as
    tensors, without host syncs. max|∇g_i| <= 1e-300 gives λ = 0 and v = ∇f exactly."""
    m = grad_g.abs().amax()                        # ‖∇g‖ = m ‖∇g/m‖: no under/overflow of the squares
    ok = m > TINY_GRAD
    m_safe = torch.where(ok, m, torch.ones_like(m))
    w = grad_g / m_safe
    n = torch.linalg.vector_norm(w)
    n_safe = torch.where(ok, n, torch.ones_like(n))
    a = m * n                                      # ‖∇g‖ (0 when ∇g = 0)
    a_safe = m_safe * n_safe
    u = w / n_safe
    if q == 2.0:                                     # φ/‖∇g‖ without forming ‖∇g‖^q (overflow)
        phi_over_a = beta * a_safe
    elif q == 1.0:
        phi_over_a = torch.full_like(a_safe, beta)
    else:
        phi_over_a = beta * a_safe ** (q - 1.0)
    if phi_cap is not None:
        phi_over_a = torch.minimum(phi_over_a, phi_cap / a_safe)
    mu = torch.where(ok, torch.clamp(phi_over_a - torch.dot(grad_f, u), min=0.0), torch.zeros_like(a))
    v = grad_f + mu * u
    lam = mu / a_safe
    phi = torch.where(ok, phi_over_a * a, torch.zeros_like(a))
    return v, lam, phi, a


def barrier_residual(grad_f, grad_g, v, lam, phi):
    """The barrier identity's relative residual |<v,∇g> − φ| / max(φ, |<∇f,∇g>|) when λ > 0
    (<v,∇g> − φ >= 0 is all that holds when λ = 0: then 0 is returned)."""
    scale = torch.clamp(torch.maximum(phi, torch.dot(grad_f, grad_g).abs()), min=1e-300)
    return torch.where(lam > 0, (torch.dot(v, grad_g) - phi).abs() / scale, torch.zeros_like(phi))


@dataclass(frozen=True, kw_only=True)
class DBGDState(IterState):
    """x_k and the barrier's bookkeeping (0-d tensors on the oracle's device)."""

    k: int = 0                        # iterations done (a Python int, independent of tensor values)
    eta_last: float = math.nan        # η used in the last step
    lam_last: Any = None              # λ_k of the last step
    lam_max: Any = None               # max_k λ_k (λ blows up as ∇g → 0)
    barrier_tight: Any = None         # number of steps with λ_k > 0
    grad_lower_norm: Any = None       # ‖∇g(x_k)‖ of the last step
    last_grad_f: Any = None           # ∇f(x_k) of the last step
    last_direction: Any = None        # v_k
    last_grad_lower: Any = None       # ∇g(x_k)
    last_phi: Any = None              # φ(x_k)


class DBGD(Solver):
    """Dynamic barrier gradient descent (implementable variant, arXiv 2507.23155); two gradient calls per step."""

    name = "dbgd"
    paper = "Cao, Jiang, Yazdandoost Hamedani, Mokhtari (NeurIPS 2025), arXiv:2507.23155"
    kinds = ("bilevel",)
    capabilities = Capabilities(stochastic_ok=False)   # λ_k from noisy gradients is biased; the analysis is deterministic
    priority = 20                                      # dispatched for bilevel problems (cvxpy: 5, the baseline)
    Options = DBGDOptions
    description = "dynamic barrier gradient descent for nonconvex simple bilevel problems (arXiv 2507.23155)"

    def init(self, problem, oracle, x0, options: DBGDOptions) -> DBGDState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        zero = torch.zeros((), device=oracle.device, dtype=oracle.dtype)
        return DBGDState(x=x, lam_last=zero, lam_max=zero, barrier_tight=zero,
                         grad_lower_norm=torch.full_like(zero, math.nan))

    def step(self, state: DBGDState, oracle, options: DBGDOptions) -> DBGDState:
        x = state.x
        grad_f = oracle.grad(x)
        phi_cap = None
        if options.alpha is None:
            grad_g = oracle.grad(x, of="lower")
        else:
            g_value, grad_g = oracle.value_and_grad(x, of="lower")
            phi_cap = options.alpha * (g_value - options.g_hat)
        v, lam, phi, a = barrier_direction(grad_f, grad_g, options.beta, options.exponent, phi_cap)
        eta = step_size(options, state.k)
        return DBGDState(
            x=x - eta * v, k=state.k + 1, eta_last=eta,
            lam_last=lam, lam_max=torch.maximum(state.lam_max, lam),
            barrier_tight=state.barrier_tight + (lam > 0).to(x.dtype),
            grad_lower_norm=a, last_grad_f=grad_f, last_direction=v, last_grad_lower=grad_g, last_phi=phi)

    def report(self, state: DBGDState, oracle, options: DBGDOptions) -> dict:
        """Extras per method note 03 (d), read back once."""
        nan = torch.full_like(state.lam_max, math.nan)
        vnorm, residual = nan, nan
        if state.last_direction is not None:
            vnorm = torch.linalg.vector_norm(state.last_direction)
            residual = barrier_residual(state.last_grad_f, state.last_grad_lower, state.last_direction,
                                        state.lam_last, state.last_phi)
        lam_last, lam_max, tight, err, vnorm, gnorm = torch.stack([
            state.lam_last, state.lam_max, state.barrier_tight, residual, vnorm, state.grad_lower_norm]).tolist()
        p = options.p
        return {
            "iterations_done": state.k,
            "eta": options.eta,
            "eta_last": None if math.isnan(state.eta_last) else state.eta_last,
            "step_decay": options.step_decay,
            "beta": options.beta,
            "p": p,
            "q": options.exponent,
            "barrier": ("min{alpha (g - g_hat), beta |grad g|^q}" if options.alpha is not None
                        else "beta |grad g|^q"),
            "alpha": options.alpha,
            "g_hat": options.g_hat if options.alpha is not None else None,   # g(x) − ĝ = lower_objective − g_hat
            "lambda_last": lam_last,
            "lambda_max": lam_max,
            "barrier_tight_steps": int(tight),
            "barrier_identity_rel_error": None if math.isnan(err) else err,   # last step, see barrier_residual
            "direction_norm": None if math.isnan(vnorm) else vnorm,       # ‖∇f + λ∇g‖ at the last step's x_k
            "grad_lower_norm_last_step": None if math.isnan(gnorm) else gnorm,
            "predicted_exponent_eps_f": (3 + p) / (1 + p),   # iterations O(eps_f^-(3+p)/(1+p)) [paper]
            "predicted_exponent_eps_g": (3 + p) / 2,         # iterations O(eps_g^-(3+p)/2)   [paper]
        }
