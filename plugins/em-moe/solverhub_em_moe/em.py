"""EM for mixtures of experts, read as mirror descent on the NLL.

Reference: Fruytier, Mokhtari, Sanghavi, "Learning Mixtures of Experts with EM: A Mirror
Descent Perspective", arXiv 2411.06056 (ICML 2025): one EM iteration is one step of mirror
descent with unit step size on the NLL, with the log-partition A of the complete-data
exponential family as the mirror map (so EM never increases the NLL):

    theta_{t+1} = argmin_theta  <grad NLL(theta_t), theta> + D_A(theta, theta_t)

E-step: r_ik = P(z_i = k | x_i, y_i; theta_t). M-step: linear experts by weighted least squares
beta_k = (Xᵀ R_k X)⁻¹ Xᵀ R_k y (symmetric: beta = (XᵀX)⁻¹ Xᵀ((2r - 1) ⊙ y)); logistic experts and
the softmax gate by Newton's method on soft labels.
Reconstructed: the M-step solvers (``newton_steps`` Newton steps warm-started at theta_t; the
step sizes 1, 1/2, ..., 2^-h, 0 evaluated in parallel, the full step taken unless it raises
the M-step objective beyond 8 eps |Q|; a 1e-12 x mean(diag) jitter) and the accounting (one
counted ``value`` per iteration: the next E-step's forward pass). See docs/methods/em-moe.md.
"""
from __future__ import annotations

__all__ = ["EMMoE", "Options", "EMState", "m_step", "newton_binary", "newton_gate"]

from dataclasses import dataclass
from typing import Any

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, lazy_module, option

torch = lazy_module("torch")

JITTER = 1e-12


class Options(SolverOptions):
    newton_steps: int = option(10, "Newton steps per M-step of the gate and of logistic experts (note: ~10)", ge=1)
    newton_halvings: int = option(12, "parallel backtracking candidates 1, 1/2, ..., 2^-h, 0 (reconstructed)",
                                  symbol="h", ge=0, le=60)


@dataclass(frozen=True, kw_only=True)
class EMState(IterState):
    model: Any = None
    gram_cholesky: Any = None     # Cholesky factor of XᵀX (symmetric linear experts)
    em_steps: int = 0
    newton_steps_total: int = 0


def _step_sizes(halvings: int, like):
    return torch.tensor([2.0 ** -i for i in range(halvings + 1)] + [0.0], dtype=like.dtype, device=like.device)


def _jittered(H):
    """H + (1e-12 mean(diag H) + tiny) I: keeps the Newton and least-squares systems solvable."""
    shift = JITTER * torch.diagonal(H, dim1=-2, dim2=-1).mean(-1) + torch.finfo(H.dtype).tiny
    return H + shift[..., None, None] * torch.eye(H.shape[-1], dtype=H.dtype, device=H.device)


def _pick(candidates, objective):
    """candidates (T, B, ...) for the step sizes (1, 1/2, ..., 0), objective (T, B): per batch entry
    the full Newton step unless it increases the objective beyond rounding (near the solution a
    strict argmin would stall), else the best candidate. No host sync."""
    slack = 8 * torch.finfo(objective.dtype).eps * objective[-1].abs()
    full_ok = objective[0] <= objective[-1] + slack
    best = torch.where(full_ok, torch.zeros_like(full_ok, dtype=torch.long), objective.argmin(dim=0))   # (B,)
    index = best.reshape(1, -1, *([1] * (candidates.dim() - 2))).expand(1, *candidates.shape[1:])
    return candidates.gather(0, index).squeeze(0)


def binary_objective(beta, F, a, b):
    """-sum_i [a_i log sigmoid(u_i) + b_i log sigmoid(-u_i)], u = F beta; beta (..., B, d) -> (..., B)."""
    u = beta @ F.T                      # log sigmoid(u) = u - softplus(u), log sigmoid(-u) = -softplus(u)
    return ((a + b) * torch.nn.functional.softplus(u) - a * u).sum(-1)


def newton_binary(F, a, b, beta, steps: int, halvings: int):
    """Newton's method on ``binary_objective`` for B problems at once: F (n, d) shared,
    a, b (B, n) nonnegative weights of the labels 1 and 0, beta (B, d) the warm start."""
    T = _step_sizes(halvings, beta)
    for _ in range(steps):
        p = torch.sigmoid(beta @ F.T)                              # (B, n)
        grad = ((a + b) * p - a) @ F                                # (B, d)
        H = torch.einsum("bn,nd,ne->bde", (a + b) * p * (1 - p), F, F)      # (B, d, d)
        delta = torch.linalg.solve(_jittered(H), grad.unsqueeze(-1)).squeeze(-1)
        candidates = beta.unsqueeze(0) - T[:, None, None] * delta.unsqueeze(0)
        beta = _pick(candidates, binary_objective(candidates, F, a, b))
    return beta


def _lse_with_reference(logits):
    """log(1 + sum_k exp(logits_k)) over dim -2 (the K-1 free logits; the reference logit is 0)."""
    if logits.shape[-2] == 1:
        return torch.nn.functional.softplus(logits[..., 0, :])
    top = logits.amax(dim=-2).clamp(min=0.0)
    return top + torch.log(torch.exp(-top) + torch.exp(logits - top.unsqueeze(-2)).sum(dim=-2))


def gate_objective(W, X, r):
    """-sum_i sum_k r_ik log softmax([W x_i; 0])_k for W (..., K-1, d) -> (...).
    Rows are laid out as (K-1, n) so every reduction runs over contiguous rows."""
    K1 = W.shape[-2]
    logits = W @ X.T                                            # (..., K-1, n)
    return (r.sum(1) * _lse_with_reference(logits)).sum(-1) - (r[:, :K1].T * logits).sum((-1, -2))


def newton_gate(X, r, W, steps: int, halvings: int):
    """Newton's method on ``gate_objective`` (softmax regression with soft labels r (n, K))."""
    K1, d = W.shape
    T = _step_sizes(halvings, W)
    targets, weight = r[:, :K1].T, r.sum(1)                     # (K-1, n), (n,)
    for _ in range(steps):
        logits = W @ X.T                                        # (K-1, n)
        P = torch.exp(logits - _lse_with_reference(logits))      # (K-1, n) gate probabilities
        grad = (weight * P - targets) @ X                       # (K-1, d)
        if K1 == 1:
            H = (X.T * (weight * P[0] * (1 - P[0]))) @ X
        else:
            M = torch.diag_embed(P.T).permute(1, 2, 0) - P[:, None, :] * P[None, :, :]   # (K-1, K-1, n)
            H = torch.einsum("jln,na,nb->jalb", M * weight, X, X).reshape(K1 * d, K1 * d)
        delta = torch.linalg.solve(_jittered(H), grad.reshape(-1)).reshape(K1, d)
        candidates = W.unsqueeze(0) - T[:, None, None] * delta.unsqueeze(0)     # (T, K-1, d)
        W = _pick(candidates.unsqueeze(1), gate_objective(candidates, X, r).unsqueeze(1)).squeeze(0)
    return W


def m_step(model, x, r, *, steps: int = 10, halvings: int = 12, gram_cholesky=None):
    """EM's M-step from the responsibilities r (n, K); returns (theta_new, inner Newton steps)."""
    cfg, X, y = model.cfg, model.X, model.y
    B, W = model.split(x)
    if cfg.expert == "linear" and cfg.symmetric:          # beta = (XᵀX)⁻¹ Xᵀ((2r - 1) ⊙ y)
        L = gram_cholesky if gram_cholesky is not None else torch.linalg.cholesky(X.T @ X)
        beta = torch.cholesky_solve((X.T @ ((r[:, 0] - r[:, 1]) * y)).unsqueeze(-1), L).squeeze(-1)
        B_new = torch.stack([beta, -beta])
    elif cfg.expert == "linear":                          # beta_k = (Xᵀ R_k X)⁻¹ Xᵀ R_k y
        A = torch.einsum("nk,nd,ne->kde", r, X, X)
        B_new = torch.linalg.solve(_jittered(A), ((r * y[:, None]).T @ X).unsqueeze(-1)).squeeze(-1)
    elif cfg.symmetric:                                   # logistic on features s_i x_i, soft labels r_i
        beta = newton_binary((2 * y - 1)[:, None] * X, r[:, :1].T, r[:, 1:].T, B[:1], steps, halvings)[0]
        B_new = torch.stack([beta, -beta])
    else:                                                 # weighted logistic regressions, soft targets
        B_new = newton_binary(X, (r * y[:, None]).T, (r * (1 - y)[:, None]).T, B, steps, halvings)
    W_new = newton_gate(X, r, W, steps, halvings)         # softmax regression of the gate on r
    return model.join(B_new, W_new), steps if cfg.expert == "linear" else 2 * steps


class EMMoE(Solver):
    """EM for gated mixtures of linear or logistic experts (kind ``mixture_of_experts``)."""

    name = "em-moe"
    paper = "arXiv:2411.06056"
    kinds = ("mixture_of_experts",)
    capabilities = Capabilities(stochastic_ok=False)
    priority = 30     # the default for its kind, above any generic gradient method
    Options = Options
    description = "EM for mixtures of experts (mirror descent with unit step on the NLL; arXiv 2411.06056)"

    def init(self, problem, oracle, x0, options: Options) -> EMState:
        model = problem.kind.torch_model(problem, oracle.device, oracle.dtype)
        cfg = model.cfg
        chol = torch.linalg.cholesky(model.X.T @ model.X) if cfg.expert == "linear" and cfg.symmetric else None
        return EMState(x=x0, model=model, gram_cholesky=chol)

    def step(self, state: EMState, oracle, options: Options) -> EMState:
        r = state.model.posterior(state.x)                                   # E-step
        x_new, inner = m_step(state.model, state.x, r, steps=options.newton_steps,
                              halvings=options.newton_halvings, gram_cholesky=state.gram_cholesky)
        value = oracle.value(x_new)        # the next E-step's forward pass: one counted NLL evaluation
        return EMState(x=x_new, value=value, model=state.model, gram_cholesky=state.gram_cholesky,
                       em_steps=state.em_steps + 1, newton_steps_total=state.newton_steps_total + inner)

    def report(self, state: EMState, oracle, options) -> dict:
        return {"em_steps": state.em_steps, "newton_steps_total": state.newton_steps_total}
