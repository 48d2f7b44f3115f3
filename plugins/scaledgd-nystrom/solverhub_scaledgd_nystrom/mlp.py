"""The small multilayer perceptron of ``kind: lora_finetune``: its forward pass with LoRA
adapters (Hu et al. 2021, arXiv 2106.09685), its task losses, and its pretraining.

h_{l+1} = act(h_l W_lᵀ + b_l), no activation after the last layer; an adapted layer uses
W_l + s·B_l A_l."""
from __future__ import annotations

__all__ = ["mlp_forward", "task_loss", "pretrain_mlp"]

import numpy as np

from solverhub.plugin import adam_init, adam_step, lazy_module

torch = lazy_module("torch")


def mlp_forward(weights, inputs, activation: str, adapters: dict | None = None, scaling: float = 1.0):
    """Network output; ``adapters`` maps a layer index to (A, B): W_l + scaling · B A."""
    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "gelu": torch.nn.functional.gelu}
    act, h, last = act[activation], inputs, len(weights) - 1
    for l, (W, b) in enumerate(weights):
        z = h @ W.T + b
        if adapters and l in adapters:
            A, B = adapters[l]
            z = z + scaling * ((h @ A.T) @ B.T)
        h = act(z) if l < last else z
    return h


def task_loss(kind: str, out, y):
    """``mse``: mean squared error over all outputs; ``cross_entropy``: mean cross-entropy."""
    if kind == "cross_entropy":
        return torch.nn.functional.cross_entropy(out, y)
    return torch.mean((out - y.reshape(out.shape)) ** 2)


def pretrain_mlp(widths, X, y, loss: str, activation: str, *, seed: int, steps: int, lr: float) -> list:
    """[(W_l, b_l)] as float64 numpy: nn.Linear's uniform init from ``seed``, then ``steps`` full-batch
    Adam steps (betas 0.9, 0.999, eps 1e-8; the shared sync-free ``adam_step``) on (X, y), float64
    on the CPU, one thread -- the same weights in every process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(int(seed))
        params = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1.0 / np.sqrt(fan_in)  # nn.Linear's default init
            params.append((torch.rand(fan_out, fan_in, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
            params.append((torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
        moments = [adam_init(q) for q in params]
        for _ in range(steps):
            params = [q.detach().requires_grad_(True) for q in params]
            value = task_loss(loss, mlp_forward(list(zip(params[::2], params[1::2])), X, activation), y)
            grads = torch.autograd.grad(value, params)
            with torch.no_grad():
                params, moments = zip(*(adam_step(q, mq, g, lr, 0.9, 0.999, 1e-8)
                                        for q, mq, g in zip(params, moments, grads)))
        return [(W.detach().numpy().copy(), b.detach().numpy().copy()) for W, b in zip(params[::2], params[1::2])]
    finally:
        torch.set_num_threads(threads)
