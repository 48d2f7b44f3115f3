"""NoRA: LoRA with Nyström initialization, NoRA+ and the standard LoRA reference.

Reference: M. Li, Y. Zhang, A. Mokhtari, N. He, "On the Crucial Role of Initialization
for Matrix Factorization", ICLR 2025, arXiv 2410.18965, and its official code (a peft fork).

A layer W₀ (out × in) is adapted as W₀ + s·B A, s = alpha / r, A (r × in), B (out × r).

* standard LoRA (``lora``, Hu et al. 2021 / peft): A ~ U(−1/√in, 1/√in) (kaiming_uniform with
  a = √5), B = 0.
* NoRA (``nora``, paper/code): B = 0 and A = σ Ωᵀ W₀ / s with Ω ∈ R^{out×r} i.i.d. N(0, 1),
  σ = ``sigma`` (code default 0.1). The rows of A lie in the row space of W₀, the
  Nyström sketch of the symmetric case transposed to the adapter; B A = 0, so the
  network's output is unchanged at the start.
* NoRA+ (``nora --option plus=true``, code): before the optimizer's update the adapter
  gradients are preconditioned as ScaledGD does, each normalized by its preconditioner's
  Frobenius norm:
      g_A ← P_B g_A / ‖P_B‖_F,  P_B = (BᵀB + εI)^{-1};
      g_B ← g_B P_A / ‖P_A‖_F,  P_A = (AAᵀ + εI)^{-1}
  with ε = ``precond_eps`` = 1e-6; A's gradient is not preconditioned at step 0 (B = 0 there).

The official lora.py assigns ``self.lora_A.data = sketch`` where lora_A is an nn.Linear:
that sets a plain attribute and leaves ``lora_A.weight`` untouched, so its Nyström init is
a no-op (method note, WARNING). :func:`apply_nora_` writes into ``.weight.data``; the
solvers here keep the adapters in the flat unknown vector and never meet the issue.

Optimizer (both solvers): Adam (the paper fine-tunes with AdamW; weight decay 0 here) or
plain SGD, constant learning rate ``lr``. RECONSTRUCTED: the toy-scale defaults lr = 1e-2
(the paper's LLaMA-7B script: 3e-4), betas (0.9, 0.999), eps 1e-8. One ``grad`` per
iteration (minibatch when the problem's oracle says so); no host syncs in ``step``.
"""
from __future__ import annotations

__all__ = ["Lora", "Nora", "LoraOptions", "NoraOptions", "AdapterState", "nystrom_adapter", "apply_nora_",
           "standard_adapter", "nora_plus_precondition"]

from dataclasses import dataclass
from typing import Any, Literal

from solverhub import Capabilities, IterState, Solver
from solverhub.plugin import lazy_module
from solverhub.plugin import SolverOptions, option

from .common import Layout

torch = lazy_module("torch")


# -- the initializations, usable on their own ----------------------------------
def nystrom_adapter(W0, rank: int, sigma: float, scaling: float, generator=None):
    """NoRA's A = σ Ωᵀ W₀ / scaling (rank × in), Ω ∈ R^{out×rank} standard Gaussian."""
    omega = torch.randn(W0.shape[0], rank, generator=generator, dtype=W0.dtype, device=W0.device)
    return sigma * (omega.T @ W0) / scaling


def standard_adapter(fan_in: int, rank: int, generator=None, dtype=None, device=None):
    """peft's A: kaiming_uniform(a=√5) = U(−1/√in, 1/√in) (rank × in)."""
    bound = 1.0 / fan_in ** 0.5
    return (torch.rand(rank, fan_in, generator=generator, dtype=dtype, device=device) * 2 - 1) * bound


def apply_nora_(lora_A, lora_B, W0, *, sigma: float = 0.1, scaling: float = 1.0, generator=None):
    """NoRA init of two ``nn.Linear`` adapter modules in place (lora_A: in→r, lora_B: r→out).

    Writes into ``.weight.data`` -- assigning ``lora_A.data`` (as the stored official code
    does) would only set a new attribute of the module and leave its weight as it was.
    """
    rank = lora_A.weight.shape[0]
    with torch.no_grad():
        A = nystrom_adapter(W0.to(lora_A.weight.dtype), rank, sigma, scaling, generator)
        lora_A.weight.data.copy_(A)
        lora_B.weight.data.zero_()
    return lora_A, lora_B


def nora_plus_precondition(A, B, gA, gB, eps: float, precondition_A: bool = True):
    """NoRA+'s preconditioned adapter gradients (see the module docstring)."""
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    PA = torch.linalg.inv_ex(A @ A.T + eps * eye).inverse      # inv_ex: no error check, no device sync
    gB = (gB @ PA) / torch.linalg.matrix_norm(PA)
    if precondition_A:
        PB = torch.linalg.inv_ex(B.T @ B + eps * eye).inverse
        gA = (PB @ gA) / torch.linalg.matrix_norm(PB)
    return gA, gB


# -- options and state -----------------------------------------------------------
class _AdapterStep(SolverOptions):
    """The adapter step shared by ``lora`` and ``nora``."""

    lr: float = option(1e-2, "adapter step (reconstructed toy-scale default)", symbol="η", gt=0)
    optimizer: Literal["adam", "sgd"] = option("adam", "step rule")
    beta1: float = option(0.9, "Adam first-moment decay", symbol="β₁", ge=0, lt=1)
    beta2: float = option(0.999, "Adam second-moment decay", symbol="β₂", ge=0, lt=1)
    eps: float = option(1e-8, "Adam denominator guard", symbol="ε", gt=0)


class LoraOptions(_AdapterStep):
    init: Literal["random", "x0"] = option("random", "random: peft's init from the run's seed; x0: the file's start")


class NoraOptions(_AdapterStep):
    sigma: float = option(0.1, "nora_sigma (official code default; LLaMA-7B script 0.02)", symbol="σ", gt=0)
    plus: bool = option(False, "NoRA+: ScaledGD-type preconditioned adapter gradients")
    precond_eps: float = option(1e-6, "ε of NoRA+ (code)", symbol="ε", gt=0)


@dataclass(kw_only=True)
class AdapterState(IterState):
    m: Any = None                   # Adam's first moment
    v: Any = None                   # Adam's second moment
    t: int = 0                      # iterations taken (python int: no sync)
    layers: tuple = ()              # ((slice of A, shape of A, slice of B, shape of B), ...)


def _layer_slices(problem):
    layout = Layout.of(problem)
    return tuple((*layout.slice(f"A{l}"), *layout.slice(f"B{l}")) for l in problem.sections.model.layers)


class _AdapterSolver(Solver):
    kinds = ("lora_finetune",)
    capabilities = Capabilities(stochastic_ok=True)

    def _start(self, problem, oracle, x0, options):
        raise NotImplementedError

    def init(self, problem, oracle, x0, options):
        x = self._start(problem, oracle, x0, options)
        zeros = torch.zeros_like(x)
        return AdapterState(x=x, m=zeros, v=zeros.clone(), t=0, layers=_layer_slices(problem))

    def _direction(self, state, grad, options):
        return grad

    def step(self, state, oracle, options):
        grad = self._direction(state, oracle.grad(state.x), options)
        t = state.t + 1
        if options.optimizer == "sgd":
            return AdapterState(x=state.x - options.lr * grad, m=state.m, v=state.v, t=t, layers=state.layers)
        m = options.beta1 * state.m + (1 - options.beta1) * grad
        v = options.beta2 * state.v + (1 - options.beta2) * grad * grad
        m_hat = m / (1 - options.beta1 ** t)
        v_hat = v / (1 - options.beta2 ** t)
        x = state.x - options.lr * m_hat / (torch.sqrt(v_hat) + options.eps)
        return AdapterState(x=x, m=m, v=v, t=t, layers=state.layers)

    def report(self, state, oracle, options):
        return {"adapter_steps": state.t}


class Nora(_AdapterSolver):
    """LoRA fine-tuning from the Nyström init (NoRA), optionally with NoRA+ preconditioning."""

    name = "nora"
    paper = "arXiv:2410.18965"
    priority = 30
    Options = NoraOptions
    description = "LoRA with Nystrom init of the adapters (NoRA; plus=true: NoRA+), Adam"

    def _start(self, problem, oracle, x0, options):
        from .lora_kind import pretrained_weights
        weights = pretrained_weights(problem)
        scaling = problem.sections.model.scaling
        x = torch.zeros_like(x0)
        for l, (sa, shape_a, _sb, _shape_b) in zip(problem.sections.model.layers, _layer_slices(problem)):
            W0 = torch.as_tensor(weights[l][0], dtype=oracle.dtype, device=oracle.device)
            x[sa] = nystrom_adapter(W0, shape_a[0], options.sigma, scaling, oracle.generator).reshape(-1)
        return x

    def _direction(self, state, grad, options):
        if not options.plus:
            return grad
        out = grad.clone()
        for sa, shape_a, sb, shape_b in state.layers:
            A, B = state.x[sa].reshape(shape_a), state.x[sb].reshape(shape_b)
            gA, gB = nora_plus_precondition(A, B, grad[sa].reshape(shape_a), grad[sb].reshape(shape_b),
                                            options.precond_eps, precondition_A=state.t > 0)
            out[sa], out[sb] = gA.reshape(-1), gB.reshape(-1)
        return out


class Lora(_AdapterSolver):
    """Standard LoRA fine-tuning (peft's init), the reference NoRA is compared with."""

    name = "lora"
    paper = "Hu et al. (2021), arXiv:2106.09685 (reference of arXiv:2410.18965)"
    priority = 20
    Options = LoraOptions
    description = "LoRA fine-tuning from the standard init (A kaiming-uniform, B = 0), Adam"

    def _start(self, problem, oracle, x0, options):
        if options.init == "x0":
            return x0
        x = torch.zeros_like(x0)
        for sa, shape_a, _sb, _shape_b in _layer_slices(problem):
            x[sa] = standard_adapter(shape_a[1], shape_a[0], oracle.generator, oracle.dtype, oracle.device).reshape(-1)
        return x
