"""``kind: lora_finetune`` -- fine-tune a small pretrained network on a new task with LoRA adapters.

The network is a multilayer perceptron h_{l+1} = act(h_l W_lᵀ + b_l) (no activation after
the last layer). Its pretrained weights are either

* loaded from the file's data: ``W0, b0, W1, b1, ...`` (W_l of shape (out_l, in_l)), or
* trained in the set-up of the problem (``pretrain:`` section) on the source task
  ``X_pretrain, y_pretrain`` from ``pretrain.seed`` (nn.Linear's uniform init, full-batch
  Adam, ``steps`` iterations, float64 on the CPU, one thread: deterministic), cached per
  problem within a process.

Fine-tuning adapts layer l as W_l + s·B_l A_l with s = alpha / rank, A_l (rank × in_l),
B_l (out_l × rank) -- the unknowns, implied by the kind (``A0, B0, A1, B1, ...`` for the
layers in ``lora.layers``, default all). The pretrained weights stay frozen. Objective:
the loss on the new task ``X, y`` (``mse``: mean squared error over all outputs;
``cross_entropy``: mean cross-entropy, integer labels 0..out−1). ``X`` and ``y`` are the
rows of a finite sum, so ``oracle: {stochastic: {batch_size}}`` gives minibatches.
Optional ``X_test, y_test``: a held-out split, reported only.

Start (``x0``) when the file gives none: the standard LoRA init (peft's: A ~ U(−1/√in, 1/√in),
i.e. kaiming_uniform with a = √5; B = 0) drawn with numpy from ``lora.init_seed``.

Report: ``post_finetune_loss`` (the objective at the end), ``pretrained_loss`` (the
network without adapters on the new task), ``test_loss``, accuracies for
``cross_entropy``, ``pretrain_source_loss`` when pretrained in the set-up.

Baseline (a classical method, not a certified optimum): L-BFGS (strong Wolfe, up to
``REFERENCE_ITERATIONS`` iterations) on the same objective from the standard LoRA init --
a local minimum of a nonconvex problem, so gaps to it can be negative.
"""
from __future__ import annotations

__all__ = ["LoraFinetune", "LoraSections", "LoraTorchProblem", "mlp_forward", "pretrained_weights"]

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import (CompiledSections, Const, CvxpySolution, Location, NoBaseline, ProblemError, ProblemKind,
                              TorchProblem, lazy_module)

torch = lazy_module("torch")

REFERENCE_ITERATIONS = 2000
ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkSpec(_Strict):
    widths: list[int] | None = None          # [in, hidden..., out]; implied by W0, W1, ... when loaded
    activation: Literal["tanh", "relu", "sigmoid", "gelu"] = "tanh"


class PretrainSpec(_Strict):
    seed: int = 0
    steps: int = Field(500, ge=0)
    lr: float = Field(0.01, gt=0)


class LoraSpec(_Strict):
    rank: int = Field(ge=1)
    alpha: float | None = Field(None, gt=0)  # scaling s = alpha / rank; default alpha = 2·rank (NoRA's scripts)
    layers: list[int] | None = None          # adapted layers (0-based); default all
    init_seed: int = 0                       # seed of the standard LoRA start x0


class LoraSections(_Strict):
    network: NetworkSpec = NetworkSpec()
    pretrain: PretrainSpec | None = None
    lora: LoraSpec
    loss: Literal["mse", "cross_entropy"] = "mse"


def _activation(name):
    return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "gelu": torch.nn.functional.gelu}[name]


def mlp_forward(weights, inputs, activation: str, adapters: dict | None = None, scaling: float = 1.0):
    """Network output; ``adapters`` maps a layer index to (A, B): W_l + scaling · B A."""
    act = _activation(activation)
    h = inputs
    last = len(weights) - 1
    for l, (W, b) in enumerate(weights):
        z = h @ W.T + b
        if adapters and l in adapters:
            A, B = adapters[l]
            z = z + scaling * ((h @ A.T) @ B.T)
        h = act(z) if l < last else z
    return h


def _loss(kind: str, out, y):
    if kind == "cross_entropy":
        return torch.nn.functional.cross_entropy(out, y)
    return torch.mean((out - y.reshape(out.shape)) ** 2)


_PRETRAINED: dict[str, list] = {}


def pretrained_weights(problem) -> list[tuple[np.ndarray, np.ndarray]]:
    """The frozen network [(W_l, b_l)] as float64 numpy: loaded from data or trained once (cached)."""
    extra = problem.sections.extra
    n_layers = len(extra["widths"]) - 1
    if extra["weights_from_data"]:
        return [(np.asarray(problem.data[f"W{l}"], dtype=np.float64),
                 np.asarray(problem.data[f"b{l}"], dtype=np.float64)) for l in range(n_layers)]
    key = problem.content_hash
    if key not in _PRETRAINED:
        _PRETRAINED[key] = _pretrain(problem)
    return _PRETRAINED[key]


def _pretrain(problem):
    extra = problem.sections.extra
    spec, widths = extra["pretrain"], extra["widths"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)           # one thread: the same weights in every process
    try:
        gen = torch.Generator().manual_seed(int(spec["seed"]))
        params = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1.0 / np.sqrt(fan_in)  # nn.Linear's default init
            W = (torch.rand(fan_out, fan_in, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            b = (torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            params += [W.requires_grad_(True), b.requires_grad_(True)]
        X = torch.as_tensor(problem.data["X_pretrain"], dtype=torch.float64)
        y = _targets(problem, "y_pretrain", extra, torch.device("cpu"), torch.float64)
        # plain Adam (betas 0.9, 0.999, eps 1e-8), written out: torch.optim's first use costs seconds
        m = [torch.zeros_like(q) for q in params]
        v = [torch.zeros_like(q) for q in params]
        for t in range(1, spec["steps"] + 1):
            loss = _loss(extra["loss"], mlp_forward(list(zip(params[::2], params[1::2])), X, extra["activation"]), y)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for q, g, m_q, v_q in zip(params, grads, m, v):
                    m_q.mul_(0.9).add_(g, alpha=0.1)
                    v_q.mul_(0.999).addcmul_(g, g, value=0.001)
                    q.sub_(spec["lr"] * (m_q / (1 - 0.9 ** t)) / (torch.sqrt(v_q / (1 - 0.999 ** t)) + 1e-8))
        return [(W.detach().numpy().copy(), b.detach().numpy().copy()) for W, b in zip(params[::2], params[1::2])]
    finally:
        torch.set_num_threads(threads)


def _targets(problem, name, extra, device, dtype):
    y = np.asarray(problem.data[name])
    if extra["loss"] == "cross_entropy":
        n_classes = extra["widths"][-1]
        if y.ndim != 1 or np.any(y != np.round(y)) or y.min() < 0 or y.max() >= n_classes:
            raise ProblemError(f"data {name}: cross_entropy needs integer labels 0..{n_classes - 1} in a vector",
                               location=problem.location("data", name),
                               allowed=f"labels 0..{n_classes - 1} (the network has {n_classes} outputs)")
        return torch.as_tensor(y.astype(np.int64), device=device)
    return torch.as_tensor(y, dtype=dtype, device=device)


@dataclass
class LoraTorchProblem(TorchProblem):
    weights: list = field(default_factory=list)     # [(W, b)] tensors on the device, frozen
    adapters: Any = None                            # x -> {layer: (A, B)}
    evaluate: Any = None                            # (x, inputs) -> network output
    loss_of: Any = None                             # (x, inputs, targets) -> loss
    train: tuple | None = None                      # (X, y) tensors of the new task
    test: tuple | None = None                       # (X_test, y_test) tensors
    classification: bool = False                   # cross_entropy loss: report accuracies
    pretrain: tuple | None = None                   # (X_pretrain, y_pretrain) tensors


class LoraFinetune(ProblemKind):
    name = "lora_finetune"
    description = "fine-tune a small pretrained MLP on a new task with LoRA adapters (loss of the new task)"
    Sections = LoraSections
    default_measure = "grad_norm"
    polishable = False
    generic_minimization = True     # the new task's loss is a plain smooth function of the adapters
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

    # -- YAML -> problem -------------------------------------------------------
    @staticmethod
    def _layout(sections, data_shapes: dict, location) -> tuple[list[int], bool, list[int]]:
        """(widths, weights loaded from data?, adapted layers), checked against the data shapes."""
        def fail(msg, allowed=None):
            raise ProblemError(msg, location=location, allowed=allowed)

        loaded = "W0" in data_shapes
        if loaded:
            widths, l = [], 0
            while f"W{l}" in data_shapes:
                shape = tuple(data_shapes[f"W{l}"])
                if len(shape) != 2 or (widths and shape[1] != widths[-1]):
                    fail(f"data W{l} has shape {shape}; expected (out, {widths[-1] if widths else 'in'})")
                if tuple(data_shapes.get(f"b{l}", ())) != (shape[0],):
                    fail(f"data b{l} must be a vector of length {shape[0]} (the outputs of W{l})",
                         allowed=f"b{l}: shape [{shape[0]}]")
                widths = widths or [shape[1]]
                widths.append(shape[0])
                l += 1
            if sections.network.widths is not None and list(sections.network.widths) != widths:
                fail(f"network.widths {sections.network.widths} disagree with the weights in data: {widths}")
            if sections.pretrain is not None:
                fail("pretrain: given, but the pretrained weights are in data (W0, b0, ...)",
                     allowed="one of pretrain: or data W0, b0, ...")
        else:
            widths = list(sections.network.widths or [])
            if len(widths) < 2 or min(widths) < 1:
                fail("network.widths: needs [in, ..., out] (at least 2 positive widths) when no weights are loaded",
                     allowed="network: {widths: [in, hidden, out]} with pretrain:, or data W0, b0, ...")
            if sections.pretrain is None:
                fail("lora_finetune needs pretrained weights: data W0, b0, W1, b1, ... or a pretrain: section",
                     allowed="pretrain: {seed, steps, lr} with data X_pretrain, y_pretrain")
            for name in ("X_pretrain", "y_pretrain"):
                if name not in data_shapes:
                    fail(f"pretrain: needs data {name} (the source task)")
            if tuple(data_shapes["X_pretrain"])[1:] != (widths[0],):
                fail(f"data X_pretrain has shape {tuple(data_shapes['X_pretrain'])}; expected (N, {widths[0]})")
        for name in ("X", "y"):
            if name not in data_shapes:
                fail(f"lora_finetune needs data {name} (the new task)", allowed="data: {X: ..., y: ...}")
        if len(data_shapes["X"]) != 2 or data_shapes["X"][1] != widths[0]:
            fail(f"data X has shape {tuple(data_shapes['X'])}; expected (N, {widths[0]}) for the network's input")
        if data_shapes["y"][0] != data_shapes["X"][0]:
            fail(f"data y has {data_shapes['y'][0]} rows, X has {data_shapes['X'][0]}")
        n_layers = len(widths) - 1
        layers = list(range(n_layers)) if sections.lora.layers is None else list(sections.lora.layers)
        if not layers or len(set(layers)) != len(layers) or any(not 0 <= l < n_layers for l in layers):
            fail(f"lora.layers {sections.lora.layers}: distinct layer indices in 0..{n_layers - 1}")
        if sections.lora.rank > min(min(widths[l], widths[l + 1]) for l in layers):
            fail(f"lora.rank {sections.lora.rank} exceeds the smallest adapted layer dimension")
        return widths, loaded, sorted(layers)

    def implicit_variables(self, sections, data_shapes: dict, location) -> dict:
        widths, _, layers = self._layout(sections, data_shapes, location)
        r = sections.lora.rank
        out = {}
        for l in layers:
            out[f"A{l}"] = (r, widths[l])
            out[f"B{l}"] = (widths[l + 1], r)
        return out

    def compile(self, sections, ctx) -> CompiledSections:
        location = Location(ctx.file, ctx.line_of(("lora",)))
        widths, loaded, layers = self._layout(sections, ctx.symbols.data, location)
        want = self.implicit_variables(sections, ctx.symbols.data, location)
        have = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        if have != want:
            raise ProblemError(f"variables {have} do not match the adapters {want}",
                               location=Location(ctx.file, ctx.line_of(("variables",))),
                               allowed="leave variables: out (the kind implies A0, B0, ...)")
        alpha = sections.lora.alpha if sections.lora.alpha is not None else 2.0 * sections.lora.rank
        return CompiledSections(
            objective=Const(shape=(), value=0.0), rows=("X", "y"), n_rows=int(ctx.symbols.data["X"][0]),
            extra={"widths": widths, "activation": sections.network.activation, "layers": layers,
                   "rank": sections.lora.rank, "alpha": alpha, "scaling": alpha / sections.lora.rank,
                   "init_seed": sections.lora.init_seed, "loss": sections.loss, "weights_from_data": loaded,
                   "pretrain": None if sections.pretrain is None else sections.pretrain.model_dump()})

    # -- torch -------------------------------------------------------------
    @staticmethod
    def standard_init(problem, rng_or_generator=None):
        """The standard LoRA start as float64 numpy: A ~ U(−1/√in, 1/√in), B = 0."""
        extra = problem.sections.extra
        rng = rng_or_generator if rng_or_generator is not None else np.random.default_rng(extra["init_seed"])
        x = np.zeros(problem.dim)
        for v in problem.variables:
            if v.name.startswith("A"):
                bound = 1.0 / np.sqrt(v.shape[1])
                x[v.offset:v.offset + v.size] = rng.uniform(-bound, bound, size=v.size)
        return x

    def lower_torch(self, problem, device, dtype) -> LoraTorchProblem:
        extra = problem.sections.extra
        weights = [(torch.as_tensor(W, dtype=dtype, device=device), torch.as_tensor(b, dtype=dtype, device=device))
                   for W, b in pretrained_weights(problem)]
        X = torch.as_tensor(problem.data["X"], dtype=dtype, device=device)
        y = _targets(problem, "y", extra, device, dtype)
        layout = [(v.name, v.shape, v.offset, v.size) for v in problem.variables]
        activation, scaling, loss_kind = extra["activation"], extra["scaling"], extra["loss"]

        def unflatten(x):
            return {name: x[off:off + size].reshape(shape) for name, shape, off, size in layout}

        def adapters(x):
            parts = unflatten(x)
            return {l: (parts[f"A{l}"], parts[f"B{l}"]) for l in extra["layers"]}

        def evaluate(x, inputs):
            return mlp_forward(weights, inputs, activation, adapters(x), scaling)

        def loss_of(x, inputs, targets):
            return _loss(loss_kind, evaluate(x, inputs), targets)

        def objective(x, rows=None):
            if rows is None:
                return loss_of(x, X, y)
            return loss_of(x, X.index_select(0, rows), y.index_select(0, rows))

        x0 = problem.x0 if np.any(problem.x0 != 0) else self.standard_init(problem)
        test = pre = None
        if "X_test" in problem.data and "y_test" in problem.data:
            test = (torch.as_tensor(problem.data["X_test"], dtype=dtype, device=device),
                    _targets(problem, "y_test", extra, device, dtype))
        if not extra["weights_from_data"]:
            pre = (torch.as_tensor(problem.data["X_pretrain"], dtype=dtype, device=device),
                   _targets(problem, "y_pretrain", extra, device, dtype))
        return LoraTorchProblem(objective, (), unflatten, torch.as_tensor(x0, dtype=dtype, device=device),
                                weights=weights, adapters=adapters, evaluate=evaluate, loss_of=loss_of,
                                train=(X, y), test=test, classification=loss_kind == "cross_entropy", pretrain=pre)

    # -- report ------------------------------------------------------------
    def report(self, tp, oracle, x) -> dict:
        with torch.no_grad():
            zero = torch.zeros_like(x)
            out = {"post_finetune_loss": float(oracle.peek_value(x)),
                   "pretrained_loss": float(oracle.peek_value(zero))}
            if tp.test is not None:
                out["test_loss"] = float(tp.loss_of(x, *tp.test))
                out["pretrained_test_loss"] = float(tp.loss_of(zero, *tp.test))
            if tp.pretrain is not None:
                out["pretrain_source_loss"] = float(tp.loss_of(zero, *tp.pretrain))
            if tp.classification:
                zero = torch.zeros_like(x)
                for label, split in (("train", tp.train), ("test", tp.test)):
                    if split is not None:
                        out[f"{label}_accuracy"] = _accuracy(tp, x, split)
                        out[f"pretrained_{label}_accuracy"] = _accuracy(tp, zero, split)
        return out

    # -- baseline: a reference local solve -------------------------------------
    def lower_cvxpy(self, problem):
        raise NoBaseline("lora_finetune trains a nonconvex network; its baseline is a reference local solve "
                         "(L-BFGS from the standard LoRA init), not cvxpy")

    def cvxpy_solve(self, problem, solver=None) -> CvxpySolution:
        tp = self.lower_torch(problem, torch.device("cpu"), torch.float64)
        param = tp.x0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([param], max_iter=REFERENCE_ITERATIONS, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-10, tolerance_change=0.0, history_size=20)
        t0 = time.perf_counter()

        def closure():
            opt.zero_grad()
            loss = tp.objective(param)
            loss.backward()
            return loss
        opt.step(closure)
        return CvxpySolution("optimal_inaccurate", param.detach().numpy().copy(), None,
                             f"reference local solve: L-BFGS ({REFERENCE_ITERATIONS} iterations max) "
                             "from the standard LoRA init", time.perf_counter() - t0,
                             message="a local minimum of a nonconvex objective, not certified global")


def _accuracy(tp, x, split) -> float:
    inputs, labels = split
    return float((tp.evaluate(x, inputs).argmax(1) == labels).double().mean())
