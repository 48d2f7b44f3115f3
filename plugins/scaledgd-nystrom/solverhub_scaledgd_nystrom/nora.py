"""NoRA: LoRA with Nyström initialization, NoRA+, and the standard LoRA reference.

B. Li, L. Zhang, A. Mokhtari, N. He, "On the Crucial Role of Initialization for Matrix
Factorization", ICLR 2025, arXiv 2410.18965, and its official code (a peft fork). A layer
W₀ (out × in) is adapted as W₀ + s·B A, s = alpha / r:

    LoRA   (Hu et al. 2021, peft)  A ~ U(−1/√in, 1/√in),            B = 0
    NoRA   (paper, code)           A = σ Ωᵀ W₀ / s, Ω ∈ R^{out×r} ~ N(0, 1),  B = 0
    NoRA+  (code)                  g_A ← P_B g_A / ‖P_B‖_F,  P_B = (BᵀB + εI)^{-1}  (not at step 0)
                                   g_B ← g_B P_A / ‖P_A‖_F,  P_A = (AAᵀ + εI)^{-1}
    step   Adam (Kingma & Ba 2015) or SGD on the adapters, constant η

RECONSTRUCTED: the toy-scale defaults (η = 1e-2, weight decay 0). The official code's Nyström
init is a no-op (``lora_A.data = ...``); :func:`apply_nora_` writes ``.weight.data``
(docs/methods/scaledgd-nystrom.md).
"""
from __future__ import annotations

__all__ = ["Lora", "Nora", "LoraOptions", "NoraOptions", "AdapterState", "nystrom_adapter", "apply_nora_",
           "standard_adapter", "nora_plus_precondition"]

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from solverhub import Capabilities, IterState, Solver
from solverhub.plugin import SolverOptions, adam_init, adam_step, lazy_module, option

from .common import Layout

torch = lazy_module("torch")


def nystrom_adapter(W0, rank: int, sigma: float, scaling: float, generator=None):
    """NoRA's A = σ Ωᵀ W₀ / scaling (rank × in), Ω ∈ R^{out×rank} standard Gaussian."""
    omega = torch.randn(W0.shape[0], rank, generator=generator, dtype=W0.dtype, device=W0.device)
    return sigma * (omega.T @ W0) / scaling


def standard_adapter(fan_in: int, rank: int, generator=None, dtype=None, device=None):
    """peft's A: kaiming_uniform(a=√5) = U(−1/√in, 1/√in) (rank × in)."""
    bound = 1.0 / fan_in ** 0.5
    return (torch.rand(rank, fan_in, generator=generator, dtype=dtype, device=device) * 2 - 1) * bound


def apply_nora_(lora_A, lora_B, W0, *, sigma: float = 0.1, scaling: float = 1.0, generator=None):
    """NoRA init of two ``nn.Linear`` adapters in place (lora_A: in→r, lora_B: r→out), written into
    ``.weight.data`` (assigning ``lora_A.data``, as the official code does, changes nothing)."""
    with torch.no_grad():
        lora_A.weight.data.copy_(nystrom_adapter(W0.to(lora_A.weight.dtype), lora_A.weight.shape[0], sigma,
                                                 scaling, generator))
        lora_B.weight.data.zero_()
    return lora_A, lora_B


def nora_plus_precondition(A, B, gA, gB, eps: float, precondition_A: bool = True):
    """NoRA+'s adapter gradients (gA, gB); ``inv_ex``: no error check, no device sync."""
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    PA = torch.linalg.inv_ex(A @ A.T + eps * eye).inverse
    gB = (gB @ PA) / torch.linalg.matrix_norm(PA)
    if precondition_A:
        PB = torch.linalg.inv_ex(B.T @ B + eps * eye).inverse
        gA = (PB @ gA) / torch.linalg.matrix_norm(PB)
    return gA, gB


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


@dataclass(frozen=True, kw_only=True)
class AdapterState(IterState):
    adam: Any = None                # AdamMoments (m, v, t; t a Python int: no sync)
    layout: Any = None              # the blocks A0, B0, A1, B1, ... of x
    layers: tuple = ()              # the adapted layers l


class _AdapterSolver(Solver):
    kinds = ("lora_finetune",)
    capabilities = Capabilities(stochastic_ok=True)

    def init(self, problem, oracle, x0, options):
        x = self._start(problem, oracle, x0, options)     # the subclass's adapters A, B
        return AdapterState(x=x, adam=adam_init(x), layout=Layout.of(problem), layers=problem.sections.model.layers)

    def _direction(self, state, grad, options):
        return grad

    def step(self, state, oracle, options):
        g = self._direction(state, oracle.grad(state.x), options)
        if options.optimizer == "sgd":
            x, adam = state.x - options.lr * g, dataclasses.replace(state.adam, t=state.adam.t + 1)
        else:
            x, adam = adam_step(state.x, state.adam, g, options.lr, options.beta1, options.beta2, options.eps)
        return dataclasses.replace(state, x=x, adam=adam)

    def report(self, state, oracle, options):
        return {"adapter_steps": state.adam.t}


class Nora(_AdapterSolver):
    """LoRA fine-tuning from the Nyström init (NoRA), optionally with NoRA+ preconditioning."""

    name = "nora"
    paper = "arXiv:2410.18965"
    priority = 30
    Options = NoraOptions
    description = "LoRA with Nystrom init of the adapters (NoRA; plus=true: NoRA+), Adam"

    def _start(self, problem, oracle, x0, options):
        from .lora_kind import pretrained_weights
        spec, weights = problem.sections.model, pretrained_weights(problem)
        x = torch.zeros_like(x0)
        views = Layout.of(problem).views(x)
        for l in spec.layers:
            W0 = torch.as_tensor(weights[l][0], dtype=oracle.dtype, device=oracle.device)
            views[f"A{l}"].copy_(nystrom_adapter(W0, spec.rank, options.sigma, spec.scaling, oracle.generator))
        return x

    def _direction(self, state, grad, options):
        if not options.plus:
            return grad
        out = grad.clone()
        x, g, new = state.layout.views(state.x), state.layout.views(grad), state.layout.views(out)
        for a, b in ((f"A{l}", f"B{l}") for l in state.layers):
            new[a][...], new[b][...] = nora_plus_precondition(x[a], x[b], g[a], g[b], options.precond_eps,
                                                              precondition_A=state.adam.t > 0)
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
        spec, x = problem.sections.model, torch.zeros_like(x0)
        views = Layout.of(problem).views(x)
        for l in spec.layers:
            views[f"A{l}"].copy_(standard_adapter(spec.widths[l], spec.rank, oracle.generator, oracle.dtype,
                                                  oracle.device))
        return x
