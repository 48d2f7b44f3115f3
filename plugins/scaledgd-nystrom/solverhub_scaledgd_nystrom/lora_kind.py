"""``kind: lora_finetune`` -- fine-tune a small pretrained MLP on a new task with LoRA adapters
(Hu et al. 2021, arXiv 2106.09685; the NoRA experiments of arXiv 2410.18965 at toy scale).

    minimize_{A_l, B_l}  loss(h_L, y),  h_{l+1} = act(h_l (W_l + s·B_l A_l)ᵀ + b_l),  h_0 = X,  s = alpha / rank
    (no activation after the last layer)

The pretrained W_l, b_l are frozen: data ``W0, b0, ...`` or trained in the set-up (``pretrain:``,
cached per problem). ``X, y`` are the rows of a finite sum. Default start: the standard LoRA init
(A ~ U(−1/√in, 1/√in), B = 0; numpy, ``lora.init_seed``). Reference: L-BFGS from that start, LOCAL.
Keys, errors and report: docs/methods/scaledgd-nystrom.md.
"""
from __future__ import annotations

__all__ = ["LoraFinetune", "LoraSections", "LoraModelSpec", "LoraModel", "mlp_forward", "task_loss", "pretrain_mlp",
           "pretrained_weights"]

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from solverhub.plugin import (CompiledSections, ModelKind, ProblemError, Reference, ReferenceStatus, adam_init,
                              adam_step, lazy_module)

from .common import Layout, Strict, need_data, per_problem

torch = lazy_module("torch")

REFERENCE_ITERATIONS = 2000


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


class NetworkSpec(Strict):
    widths: list[int] | None = None          # [in, hidden..., out]; implied by W0, W1, ... when loaded
    activation: Literal["tanh", "relu", "sigmoid", "gelu"] = "tanh"


class PretrainSpec(Strict):
    seed: int = 0
    steps: int = Field(500, ge=0)
    lr: float = Field(0.01, gt=0)


class LoraSpec(Strict):
    rank: int = Field(ge=1)
    alpha: float | None = Field(None, gt=0)  # scaling s = alpha / rank; default alpha = 2·rank (NoRA's scripts)
    layers: list[int] | None = None          # adapted layers (0-based); default all
    init_seed: int = 0                       # seed of the standard LoRA start x0


class LoraSections(Strict):
    network: NetworkSpec = NetworkSpec()
    pretrain: PretrainSpec | None = None
    lora: LoraSpec
    loss: Literal["mse", "cross_entropy"] = "mse"


@dataclass(frozen=True)
class LoraModelSpec:
    """A checked lora_finetune problem: the network, its adapters, the loss and the start."""

    widths: tuple[int, ...]                  # [in, hidden..., out]
    activation: str
    layers: tuple[int, ...]                  # adapted layers, sorted
    rank: int
    alpha: float
    loss: str                                # mse | cross_entropy
    init_seed: int
    pretrain: PretrainSpec | None            # None: the pretrained weights are data W0, b0, ...

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank

    @property
    def adapters(self) -> dict[str, tuple[int, int]]:
        """The implied unknowns: A_l (rank × in_l), B_l (out_l × rank) per adapted layer."""
        return {name: shape for l in self.layers for name, shape in
                ((f"A{l}", (self.rank, self.widths[l])), (f"B{l}", (self.widths[l + 1], self.rank)))}


class LoraModel:
    """The adapted network on one device: frozen weights, the new task's rows, the loss."""

    def __init__(self, spec: LoraModelSpec, layout: Layout, weights, train, test=None, source=None):
        self.spec, self.layout, self.weights = spec, layout, weights     # weights: [(W, b)] tensors, frozen
        self.train, self.test, self.source = train, test, source          # (X, y) tensors; source: pretraining task

    def forward(self, x, inputs):
        views = self.layout.views(x)
        adapters = {l: (views[f"A{l}"], views[f"B{l}"]) for l in self.spec.layers}
        return mlp_forward(self.weights, inputs, self.spec.activation, adapters, self.spec.scaling)

    def loss(self, x, inputs, targets):
        return task_loss(self.spec.loss, self.forward(x, inputs), targets)

    def objective(self, x, rows=None):
        X, y = self.train
        if rows is not None:
            X, y = X.index_select(0, rows), y.index_select(0, rows)
        return self.loss(x, X, y)

    def accuracy(self, x, inputs, labels) -> float:
        return float((self.forward(x, inputs).argmax(1) == labels).double().mean())


_PRETRAINED: dict[str, list] = {}


def pretrained_weights(problem) -> list[tuple[np.ndarray, np.ndarray]]:
    """The frozen network [(W_l, b_l)] as float64 numpy: loaded from data or trained once (cached)."""
    spec: LoraModelSpec = problem.sections.model
    if spec.pretrain is None:
        return [(np.asarray(problem.data[f"W{l}"], dtype=np.float64),
                 np.asarray(problem.data[f"b{l}"], dtype=np.float64)) for l in range(len(spec.widths) - 1)]
    return per_problem(_PRETRAINED, problem, lambda: pretrain_mlp(
        spec.widths, torch.as_tensor(problem.data["X_pretrain"], dtype=torch.float64),
        _targets(problem, "y_pretrain", torch.device("cpu"), torch.float64), spec.loss, spec.activation,
        seed=spec.pretrain.seed, steps=spec.pretrain.steps, lr=spec.pretrain.lr))


def _targets(problem, name, device, dtype):
    """Data ``name`` as targets: float, or integer labels 0..out−1 (checked) for cross_entropy."""
    spec: LoraModelSpec = problem.sections.model
    y = np.asarray(problem.data[name])
    if spec.loss == "cross_entropy":
        n_classes = spec.widths[-1]
        if y.ndim != 1 or np.any(y != np.round(y)) or y.min() < 0 or y.max() >= n_classes:
            raise ProblemError(f"data {name}: cross_entropy needs integer labels 0..{n_classes - 1} in a vector",
                               location=problem.location("data", name),
                               allowed=f"labels 0..{n_classes - 1} (the network has {n_classes} outputs)")
        return torch.as_tensor(y.astype(np.int64), device=device)
    return torch.as_tensor(y, dtype=dtype, device=device)


class LoraFinetune(ModelKind):
    name = "lora_finetune"
    start_seed = ("lora", "init_seed")  # unset in the file: the run's seed draws the start
    description = "fine-tune a small pretrained MLP on a new task with LoRA adapters (loss of the new task)"
    Sections = LoraSections
    polishable = False
    no_cvxpy_reason = ("lora_finetune trains a nonconvex network; its baseline is a reference local solve "
                       "(L-BFGS from the standard LoRA init), not cvxpy")
    tiny_problem = """
name: tiny-lora-finetune
kind: lora_finetune
data:
  X_pretrain: {generate: normal, shape: [40, 4], seed: 1}
  y_pretrain: {generate: normal, shape: [40, 2], seed: 2}
  X: {generate: normal, shape: [40, 4], seed: 3}
  y: {generate: normal, shape: [40, 2], seed: 4}
network: {widths: [4, 6, 2], activation: tanh}
pretrain: {seed: 0, steps: 50, lr: 0.05}
lora: {rank: 2}
loss: mse
"""

    @staticmethod
    def _spec(sections, data_shapes: dict, location) -> LoraModelSpec:
        """The spec, checked against the data shapes (errors at ``location``)."""
        def fail(msg, allowed=None):
            raise ProblemError(msg, location=location, allowed=allowed)

        if "W0" in data_shapes:                      # the pretrained weights are data W0, b0, W1, b1, ...
            widths, l = [], 0
            while f"W{l}" in data_shapes:
                shape = tuple(data_shapes[f"W{l}"])
                if len(shape) != 2 or (widths and shape[1] != widths[-1]):
                    fail(f"data W{l} has shape {shape}; expected (out, {widths[-1] if widths else 'in'})")
                if tuple(data_shapes.get(f"b{l}", ())) != (shape[0],):
                    fail(f"data b{l} must be a vector of length {shape[0]} (the outputs of W{l})",
                         allowed=f"b{l}: shape [{shape[0]}]")
                widths, l = (widths or [shape[1]]) + [shape[0]], l + 1
            if sections.network.widths is not None and list(sections.network.widths) != widths:
                fail(f"network.widths {sections.network.widths} disagree with the weights in data: {widths}")
            if sections.pretrain is not None:
                fail("pretrain: given, but the pretrained weights are in data (W0, b0, ...)",
                     allowed="one of pretrain: or data W0, b0, ...")
        else:                                        # pretrained in the set-up on X_pretrain, y_pretrain
            widths = list(sections.network.widths or [])
            if len(widths) < 2 or min(widths) < 1:
                fail("network.widths: needs [in, ..., out] (at least 2 positive widths) when no weights are loaded",
                     allowed="network: {widths: [in, hidden, out]} with pretrain:, or data W0, b0, ...")
            if sections.pretrain is None:
                fail("lora_finetune needs pretrained weights: data W0, b0, W1, b1, ... or a pretrain: section",
                     allowed="pretrain: {seed, steps, lr} with data X_pretrain, y_pretrain")
            for name in ("X_pretrain", "y_pretrain"):
                need_data(data_shapes, name, f"pretrain: needs data {name} (the source task)", location)
            if tuple(data_shapes["X_pretrain"])[1:] != (widths[0],):
                fail(f"data X_pretrain has shape {tuple(data_shapes['X_pretrain'])}; expected (N, {widths[0]})")
        X, y = (need_data(data_shapes, name, f"lora_finetune needs data {name} (the new task)", location,
                          allowed="data: {X: ..., y: ...}") for name in ("X", "y"))
        if len(X) != 2 or X[1] != widths[0]:
            fail(f"data X has shape {X}; expected (N, {widths[0]}) for the network's input")
        if y[0] != X[0]:
            fail(f"data y has {y[0]} rows, X has {X[0]}")
        n_layers = len(widths) - 1
        layers = list(range(n_layers)) if sections.lora.layers is None else list(sections.lora.layers)
        if not layers or len(set(layers)) != len(layers) or any(not 0 <= l < n_layers for l in layers):
            fail(f"lora.layers {sections.lora.layers}: distinct layer indices in 0..{n_layers - 1}")
        if sections.lora.rank > min(min(widths[l], widths[l + 1]) for l in layers):
            fail(f"lora.rank {sections.lora.rank} exceeds the smallest adapted layer dimension")
        alpha = sections.lora.alpha if sections.lora.alpha is not None else 2.0 * sections.lora.rank
        return LoraModelSpec(tuple(widths), sections.network.activation, tuple(sorted(layers)), sections.lora.rank,
                             alpha, sections.loss, sections.lora.init_seed, sections.pretrain)

    def implicit_variables(self, sections, data_shapes: dict, location) -> dict:
        return self._spec(sections, data_shapes, location).adapters

    def build_model(self, sections, ctx) -> CompiledSections:
        spec = self._spec(sections, ctx.symbols.data, ctx.location("lora"))
        return CompiledSections(model=spec, rows=("X", "y"), n_rows=int(ctx.symbols.data["X"][0]))

    def default_start(self, problem, seed=None) -> np.ndarray:
        """The standard LoRA start as float64 numpy: A ~ U(−1/√in, 1/√in), B = 0."""
        rng = np.random.default_rng(problem.sections.model.init_seed if seed is None else seed)
        x = np.zeros(problem.dim)
        for v in problem.variables:
            if v.name.startswith("A"):
                bound = 1.0 / np.sqrt(v.shape[1])
                x[v.offset:v.offset + v.size] = rng.uniform(-bound, bound, size=v.size)
        return x

    def torch_model(self, problem, device, dtype) -> LoraModel:
        spec: LoraModelSpec = problem.sections.model

        def tensor(array):
            return torch.as_tensor(array, dtype=dtype, device=device)

        def split(inputs, targets):
            return tensor(problem.data[inputs]), _targets(problem, targets, device, dtype)
        weights = [(tensor(W), tensor(b)) for W, b in pretrained_weights(problem)]
        test = split("X_test", "y_test") if "X_test" in problem.data and "y_test" in problem.data else None
        source = None if spec.pretrain is None else split("X_pretrain", "y_pretrain")
        return LoraModel(spec, Layout.of(problem), weights, split("X", "y"), test, source)

    def report(self, tp, oracle, x) -> dict:
        model: LoraModel = tp.model
        with torch.no_grad():
            zero = torch.zeros_like(x)            # B = 0: the pretrained network
            out = {"post_finetune_loss": float(oracle.peek_value(x)),
                   "pretrained_loss": float(oracle.peek_value(zero))}
            if model.test is not None:
                out["test_loss"] = float(model.loss(x, *model.test))
                out["pretrained_test_loss"] = float(model.loss(zero, *model.test))
            if model.source is not None:
                out["pretrain_source_loss"] = float(model.loss(zero, *model.source))
            if model.spec.loss == "cross_entropy":
                for label, split in (("train", model.train), ("test", model.test)):
                    if split is not None:
                        out[f"{label}_accuracy"] = model.accuracy(x, *split)
                        out[f"pretrained_{label}_accuracy"] = model.accuracy(zero, *split)
        return out

    def reference_solve(self, problem, solver=None) -> Reference:
        """L-BFGS from the kind's start on CPU float64: a LOCAL reference, not a global certificate."""
        tp = self.lower_torch(problem, torch.device("cpu"), torch.float64)
        param = tp.x0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([param], max_iter=REFERENCE_ITERATIONS, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-10, tolerance_change=0.0, history_size=20)

        def closure():
            opt.zero_grad()
            (loss := tp.objective(param)).backward()
            return loss
        t0 = time.perf_counter()
        opt.step(closure)
        return Reference(ReferenceStatus.LOCAL, f"reference local solve: L-BFGS ({REFERENCE_ITERATIONS} iterations "
                         "max) from the standard LoRA init", x=param.detach().numpy().copy(),
                         solve_time_s=time.perf_counter() - t0, iterations=int(opt.state[param]["n_iter"]),
                         message="a local minimum of a nonconvex objective, not certified global")
