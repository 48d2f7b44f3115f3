"""GALA: the learning rate of SGD or Adam from gradient alignment and local curvature.

Reference: R. Jiang, A. Kavis, A. Mokhtari, "Online Learning-guided Learning
Rate Adaptation via Gradient Alignment", arXiv 2506.08419 (2025). No official
code was available; method note /work/shared/methods/05-gala.md (abstract,
public reviews, an unofficial torch implementation).

One iteration (t = 0, 1, ...), with d_t the base optimiser's direction::

    d_t     = g_t                                   (base sgd)
            = m̂_t / (sqrt(v̂_t) + eps)               (base adam: Adam's moments fed with g_t)
    x_{t+1} = x_t − η_t d_t
    g'_{t+1}, g'_t = ∇f(x_{t+1}; ξ_{t+1}), ∇f(x_t; ξ_{t+1})      one new minibatch, two gradients
    a_t     = ⟨g'_{t+1}, d_t⟩                        alignment of the new gradient with the step
    L_t     = ‖g'_{t+1} − g'_t‖ / ‖x_{t+1} − x_t‖     secant curvature along the step (0 if x did not move)
    b_t     = L_t ‖d_t‖²
    η_{t+1} = clip((λ0 η0 + Σ_{s≤t} a_s) / (λ0 + Σ_{s≤t} b_s), η_min, η_max)
    g_{t+1} = g'_{t+1}                               (the next direction reuses the new gradient)

η_{t+1} is follow-the-regularized-leader on the surrogate losses
ℓ_s(η) = −η a_s + ½ η² b_s with the regulariser ½ λ0 (η − η0)², in closed form.
The note's "pure ratio of sums" Π_[0, η_max](Σa/Σb) is ``reg=0, eta_min=0``.

``rule="paper"`` is the paper's practical rule (Sec. 5.1 per the reviews; the unofficial
code's closed form): a_t = ⟨g'_{t+1}, g'_t⟩ (the same-batch pair; base adam: ⟨g'_{t+1}, d_t⟩,
the sources give the pair for SGD only), η_{t+1} = max(0, Σa / Σb) with no regulariser, floor
or cap, every round recorded (η_t = 0 included); ``reg``, ``eta_min``, ``eta_max`` are ignored.
Cost: one gradient at x_0, then two gradient calls per step, drawn with
``oracle.grad_pair`` so both are on the same minibatch (or noise draw).

From the note / unofficial code [U]: a_t, b_t, L_t, the closed-form FTRL, the
same-minibatch pair, w_t = x_{t+1} (the theory's random point on the segment is
not used), Adam-GALA with Adam's direction inside a_t and b_t.

Reconstructed [R] (not in any source we had; the tests check the properties):

- ``lr`` = η0 is the first step size and the centre of the regulariser.
- λ0 = ``reg`` · b_first, where b_first is the first positive b_s: the prior
  "η0" weighs like ``reg`` (default 1e-3) first observations, which makes the
  regulariser scale free (b_s scales with f). Before any b_s > 0 the ratio is
  0/0 and η stays at η0; a positive numerator over a zero denominator (f linear
  along every step so far) gives η_max.
- The floor η_min = 1e-8 and the cap η_max = 1e6 (absolute).
- A round with η_t = 0 (possible only with ``eta_min=0``) records nothing: no
  step was taken, so there is neither a secant nor an alignment *of a step*.
  This is what makes the pure variant freeze forever after an overshoot, as
  the note reports; with η_min > 0 every round is recorded and the method
  cannot freeze. (Counting a_t at η_t = 0 would also unfreeze the pure variant
  on the note's problem; see docs/methods/gala.md.)
- With a stochastic oracle a_t pairs the new gradient with the direction
  actually taken (d_t from the previous batch), not with g'_t on the new
  batch: ⟨g'_{t+1}, g'_t⟩ on one batch is biased upwards by the batch variance
  and would not shrink η when noise dominates. Full batch: identical.

No host syncs in ``step``: every guard is a ``torch.where``; Adam's direction is the
core's sync-free ``adam_direction`` (its bias corrections are Python floats of a
Python step counter).
"""
from __future__ import annotations

__all__ = ["GALAOptions", "GALAState", "GALA", "BASES", "ftrl_step_size"]

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from solverhub.plugin import (Capabilities, IterState, Solver, SolverOptions, adam_direction, adam_init, lazy_module,
                              model_validator, option)

torch = lazy_module("torch")

BASES = ("sgd", "adam")


class GALAOptions(SolverOptions):
    """Options of ``gala`` (defaults other than Adam's are reconstructed, see the module docstring)."""

    lr: float = option(1e-3, "the first step size and the regulariser's centre", symbol="η0", gt=0)
    base: Literal["sgd", "adam"] = option("sgd", "base optimiser whose direction d_t GALA scales")
    eta_min: float = option(1e-8, "floor on η (0 with reg=0: the note's pure ratio of sums)", symbol="η_min", ge=0)
    eta_max: float = option(1e6, "cap on η (may be inf)", symbol="η_max", allow_inf_nan=True)
    reg: float = option(1e-3, "λ0 / (first positive b_t): weight of the ½λ0(η − η0)² regulariser", ge=0)
    beta1: float = option(0.9, "Adam's first-moment decay (base=adam only)", symbol="β1", ge=0, lt=1)
    beta2: float = option(0.999, "Adam's second-moment decay (base=adam only)", symbol="β2", ge=0, lt=1)
    eps: float = option(1e-8, "Adam's denominator offset (base=adam only)", symbol="ε", ge=0)
    rule: Literal["regularized", "paper"] = option(
        "regularized", "regularized: FTRL with reg, floor and cap, a_t = ⟨g'_{t+1}, d_t⟩ (ours); "
        "paper: max(0, Σa/Σb), a_t = ⟨g'_{t+1}, g'_t⟩ on one batch (Sec. 5.1)")

    @model_validator(mode="before")
    @classmethod
    def _known_base(cls, values):
        if isinstance(values, dict) and values.get("base", "sgd") not in BASES:
            raise ValueError(f"base must be one of {', '.join(BASES)}, got {values['base']!r}")
        return values

    @model_validator(mode="after")
    def _eta_range(self):
        if not self.eta_min < self.eta_max or math.isnan(self.eta_max):
            raise ValueError(f"need 0 <= eta_min < eta_max, got eta_min={self.eta_min}, eta_max={self.eta_max}")
        return self


@dataclass(frozen=True, kw_only=True)
class GALAState(IterState):
    """Iterate, the base direction's gradient g_t, η_t and the FTRL sums (all 0-d tensors on the device)."""

    g: Any                     # g_t: the gradient the next direction is built from
    eta: Any                   # η_t
    sum_a: Any                 # Σ a_s
    sum_b: Any                 # Σ b_s
    lam: Any                   # λ0 (0 until the first positive b_s)
    adam: Any = None           # Adam's moments (base=adam): solverhub.plugin.AdamMoments
    steps: int = 0             # Python int: no sync
    # the last round, for tests and measurements
    a_last: Any = None
    b_last: Any = None
    L_last: Any = None
    # running summaries (0-d tensors)
    eta_lo: Any = None
    eta_hi: Any = None
    L_lo: Any = None           # min / max of L_t over rounds where x moved
    L_hi: Any = None
    unmoved_steps: Any = None  # rounds with x_{t+1} == x_t
    eta_trace: tuple = ()      # ((iteration, η), ...) at iterations 0, 1, 2, 4, 8, ... (tensors until report)


def ftrl_step_size(sum_a, sum_b, lam, eta0: float, eta_prev, eta_min: float, eta_max: float):
    """clip((λ0 η0 + Σa) / (λ0 + Σb), η_min, η_max) with the 0-denominator cases, without a host sync.

    Denominator 0: a positive numerator means η_max, a negative one η_min, a zero one keeps η_prev.
    """
    num = lam * eta0 + sum_a
    den = lam + sum_b
    pos = den > 0
    ratio = num / torch.where(pos, den, torch.ones_like(den))
    unbounded = torch.where(num > 0, torch.full_like(num, math.inf),
                            torch.where(num < 0, torch.full_like(num, -math.inf), eta_prev))
    return torch.clamp(torch.where(pos, ratio, unbounded), min=eta_min, max=eta_max)


class GALA(Solver):
    """SGD or Adam with GALA's learning rate; 2 gradient calls per step (plus one at the start)."""

    name = "gala"
    paper = "arXiv:2506.08419"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 3
    Options = GALAOptions
    description = "GALA: SGD/Adam learning rate from gradient alignment + secant curvature (arXiv 2506.08419)"

    def init(self, problem, oracle, x0, options: GALAOptions) -> GALAState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        g = oracle.grad(x)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        eta = torch.full((), options.lr, dtype=x.dtype, device=x.device)
        return GALAState(
            x=x, grad=None if oracle.stochastic else g, g=g, eta=eta, sum_a=zero, sum_b=zero, lam=zero,
            adam=adam_init(x) if options.base == "adam" else None, eta_lo=eta, eta_hi=eta,
            L_lo=torch.full_like(zero, math.inf), L_hi=torch.full_like(zero, -math.inf), unmoved_steps=zero,
            eta_trace=((0, eta),))

    def step(self, state: GALAState, oracle, options: GALAOptions) -> GALAState:
        if options.base == "adam":                              # d_t = m̂_t / (sqrt(v̂_t) + ε)
            d, adam = adam_direction(state.adam, state.g, options.beta1, options.beta2, options.eps)
        else:
            d, adam = state.g, None
        eta = state.eta
        x_new = state.x - eta * d
        g_new, g_old = oracle.grad_pair(x_new, state.x)         # same minibatch at x_{t+1} and x_t
        dx = torch.linalg.vector_norm(x_new - state.x)
        moved = dx > 0
        L = torch.where(moved, torch.linalg.vector_norm(g_new - g_old) / torch.where(moved, dx, torch.ones_like(dx)),
                        torch.zeros_like(dx))                   # 0/0 -> 0: no NaN when x_{t+1} = x_t
        if options.rule == "paper":                             # the paper's practical rule, every round counted
            a = torch.dot(g_new, g_old if options.base == "sgd" else d)
            b = L * torch.dot(d, d)
            lam = state.lam                                     # stays 0: no regulariser
            sum_a, sum_b = state.sum_a + a, state.sum_b + b
            eta_new = ftrl_step_size(sum_a, sum_b, lam, options.lr, eta, 0.0, math.inf)
        else:
            stepped = eta > 0                                   # a round with η_t = 0 records nothing
            a = torch.where(stepped, torch.dot(g_new, d), torch.zeros_like(dx))
            b = torch.where(stepped, L * torch.dot(d, d), torch.zeros_like(dx))
            lam = torch.where(state.lam > 0, state.lam, options.reg * b)   # λ0 = reg · (first positive b)
            sum_a, sum_b = state.sum_a + a, state.sum_b + b
            eta_new = ftrl_step_size(sum_a, sum_b, lam, options.lr, eta, options.eta_min, options.eta_max)
        steps = state.steps + 1
        trace = state.eta_trace
        if steps & (steps - 1) == 0:                            # iterations 1, 2, 4, 8, ...: a log-spaced trace
            trace = trace + ((steps, eta_new),)
        return replace(
            state, x=x_new, g=g_new, grad=None if oracle.stochastic else g_new, value=None,
            eta=eta_new, sum_a=sum_a, sum_b=sum_b, lam=lam, adam=adam, steps=steps,
            a_last=a, b_last=b, L_last=L,
            eta_lo=torch.minimum(state.eta_lo, eta_new), eta_hi=torch.maximum(state.eta_hi, eta_new),
            L_lo=torch.where(moved, torch.minimum(state.L_lo, L), state.L_lo),
            L_hi=torch.where(moved, torch.maximum(state.L_hi, L), state.L_hi),
            unmoved_steps=state.unmoved_steps + (~moved).to(dx.dtype), eta_trace=trace)

    def report(self, state: GALAState, oracle, options) -> dict:
        trace = state.eta_trace
        if not trace or trace[-1][0] != state.steps:
            trace = trace + ((state.steps, state.eta),)
        head = torch.stack([state.eta, state.eta_lo, state.eta_hi, state.L_lo, state.L_hi, state.sum_a,
                            state.sum_b, state.lam, state.unmoved_steps] + [e for _, e in trace])
        values = head.tolist()                                  # one transfer to the host
        eta, eta_lo, eta_hi, L_lo, L_hi, sum_a, sum_b, lam, unmoved = values[:9]
        return {
            "eta_final": eta,
            "eta_min_seen": eta_lo,                             # over η_0 .. η_T
            "eta_max_seen": eta_hi,
            "eta_trace": [[it, e] for (it, _), e in zip(trace, values[9:])],
            "curvature_min": L_lo if math.isfinite(L_lo) else None,   # min / max secant L_t over moving steps
            "curvature_max": L_hi if math.isfinite(L_hi) else None,
            "sum_alignment": sum_a,
            "sum_curvature_term": sum_b,
            "reg_weight": lam,                                  # λ0 actually used
            "unmoved_steps": int(unmoved),
            "gala_steps": state.steps,
            "gradient_calls": 1 + 2 * state.steps,              # 1 at x_0, then 2 per step (grad_pair)
        }
