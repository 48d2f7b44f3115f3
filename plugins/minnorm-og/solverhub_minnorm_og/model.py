"""The models of the ``unlearning`` kind as pure functions of one flat θ (variables in
:func:`layer_shapes` order, row-major): ``linear`` f(θ, x) = x̃ᵀw (+ b) and ``mlp``
x̃ → σ(W1 x̃ + b1) → ... → W_out h + b_out (x̃: the input, optionally standardized); their
Jacobian J(θ) = [∇_θ f(θ, x_i)]_i; the deterministic set-up trainers.
"""
from __future__ import annotations

__all__ = ["ModelSpec", "TorchModel", "layer_shapes", "init_params", "train", "TrainOutcome"]

import math
from dataclasses import dataclass

import numpy as np

from solverhub.plugin import adam_init, adam_step, lazy_module

torch = lazy_module("torch")

ACTIVATIONS = ("tanh", "silu", "relu", "softplus")


@dataclass(frozen=True)
class ModelSpec:
    """What the YAML ``model:`` section describes, with the input dimension filled in."""

    type: str                          # "linear" | "mlp"
    d_in: int
    widths: tuple[int, ...] = ()       # hidden widths (mlp)
    activation: str = "tanh"
    bias: bool = False
    input_shift: tuple[float, ...] | None = None   # standardization x̃ = (x - shift) / scale
    input_scale: tuple[float, ...] | None = None


def layer_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The kind's variables, in flat order: ``w`` (+ ``b``) or ``W1, b1, ..., W<L+1>, b<L+1>``."""
    if spec.type == "linear":
        shapes = {"w": (spec.d_in,)}
        if spec.bias:
            shapes["b"] = (1,)
        return shapes
    dims = (spec.d_in, *spec.widths, 1)
    shapes = {}
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
        shapes[f"W{i}"] = (fan_out, fan_in)
        if spec.bias:
            shapes[f"b{i}"] = (fan_out,)
    return shapes


def init_params(spec: ModelSpec, seed: int, scale: float) -> np.ndarray:
    """θ0: PyTorch's default ``nn.Linear`` law, U(−1/√fan_in, 1/√fan_in) for weights and
    biases, times ``scale``, drawn with numpy (identical on every device)."""
    rng, parts, fan_in = np.random.default_rng(seed), [], spec.d_in
    for shape in layer_shapes(spec).values():
        if spec.type == "mlp" and len(shape) == 2:
            fan_in = shape[1]                # a bias keeps the fan_in of its layer's weight
        bound = 1.0 / math.sqrt(fan_in)
        parts.append(rng.uniform(-bound, bound, size=shape).reshape(-1) * scale)
    return np.concatenate(parts).astype(np.float64)


class TorchModel:
    """f(θ, X) -> (n,) and J(θ, X) -> (n, p) on one device; no host syncs."""

    def __init__(self, spec: ModelSpec, device, dtype):
        self.spec, self.shapes = spec, list(layer_shapes(spec).values())
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.dim = sum(self.sizes)
        self.shift = self.scale = None
        if spec.input_shift is not None:
            self.shift = torch.tensor(spec.input_shift, device=device, dtype=dtype)
            self.scale = torch.tensor(spec.input_scale, device=device, dtype=dtype)
        F = torch.nn.functional
        self.act, self.act_derivative = {                       # σ and σ'
            "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
            "silu": (F.silu, lambda z: torch.sigmoid(z) * (1 + z * (1 - torch.sigmoid(z)))),
            "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
            "softplus": (F.softplus, torch.sigmoid)}[spec.activation]

    def features(self, X):
        X = X.reshape(X.shape[0], -1)
        return X if self.shift is None else (X - self.shift) / self.scale

    def _layers(self, theta):
        params = [part.reshape(shape) for part, shape in zip(torch.split(theta, self.sizes), self.shapes)]
        step = 2 if self.spec.bias else 1
        return [params[i:i + step] for i in range(0, len(params), step)]

    def _forward(self, theta, X):
        """The mlp's (layers, layer inputs h_{l−1}, hidden pre-activations z_l, output)."""
        layers, h, inputs, pre = self._layers(theta), self.features(X), [], []
        for i, layer in enumerate(layers):
            inputs.append(h)
            h = h @ layer[0].T
            if self.spec.bias:
                h = h + layer[1]
            if i < len(layers) - 1:
                pre.append(h)
                h = self.act(h)
        return layers, inputs, pre, h

    def __call__(self, theta, X):
        if self.spec.type == "mlp":
            return self._forward(theta, X)[-1][:, 0]
        params = self._layers(theta)[0]              # [w] or [w, b]
        out = self.features(X) @ params[0]
        return out + params[1] if self.spec.bias else out

    def jacobian(self, theta, X):
        """Rows ∇_θ f(θ, x_i), one per input row, in the flat order of θ.

        Linear: the design matrix. MLP: by hand (one forward pass keeping the
        pre-activations z_l, one backward pass of δ_l = ∂f/∂z_l per example):
        ∂f/∂W_l = δ_l h_{l−1}ᵀ, ∂f/∂b_l = δ_l (tested against ``torch.func.jacrev``).
        """
        if self.spec.type == "linear":
            h = self.features(X)
            return torch.cat([h, torch.ones_like(h[:, :1])], dim=1) if self.spec.bias else h
        layers, inputs, pre, out = self._forward(theta, X)
        delta = torch.ones_like(out[:, :1])          # ∂f/∂z_L for the single output
        blocks = []
        for i in range(len(layers) - 1, -1, -1):
            grads = [(delta[:, :, None] * inputs[i][:, None, :]).reshape(delta.shape[0], -1)]
            if self.spec.bias:
                grads.append(delta)
            blocks.append(grads)
            if i > 0:
                delta = (delta @ layers[i][0]) * self.act_derivative(pre[i - 1])
        return torch.cat([g for grads in reversed(blocks) for g in grads], dim=1)


@dataclass(frozen=True)
class TrainOutcome:
    theta: np.ndarray
    iterations: int
    mse: float
    method: str


def train(model: TorchModel, theta0: np.ndarray, X: np.ndarray, y: np.ndarray, tr) -> TrainOutcome:
    """Fit f(θ, X) = y from θ0 on CPU in float64, deterministically, as the ``train:`` section
    ``tr`` says (method, max_iterations, tolerance, lr).

    ``min_norm`` (linear models): θ0 + A⁺(y − Aθ0) with A the design matrix, the limit of
    gradient descent (and of Gauss–Newton) from θ0: the interpolator closest to θ0.
    ``gauss_newton``: Levenberg–Marquardt with minimum-norm steps
    d = −Jᵀ(JJᵀ + μI)⁻¹r and Nielsen's damping update, until mean((f − y)²) ≤ tolerance.
    ``adam``: full-batch Adam on the mean squared error (the paper's trainer), fixed steps.
    """
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    theta = torch.as_tensor(theta0, dtype=torch.float64).clone()
    n, method, max_iterations = yt.numel(), tr.method, tr.max_iterations
    if method == "min_norm":
        A = model.jacobian(theta, Xt).numpy()
        theta = theta0 + np.linalg.lstsq(A, y - A @ theta0, rcond=None)[0]
        return TrainOutcome(theta, 1, float(np.mean((A @ theta - y) ** 2)), method)
    if method == "adam":
        moments = adam_init(theta)
        for _ in range(max_iterations):
            with torch.enable_grad():
                th = theta.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(torch.mean((model(th, Xt) - yt) ** 2), th)
            theta, moments = adam_step(theta, moments, g, tr.lr, 0.9, 0.999, 1e-8)
        return TrainOutcome(theta.numpy(), max_iterations, float(torch.mean((model(theta, Xt) - yt) ** 2)), method)
    residual = model(theta, Xt) - yt
    J = model.jacobian(theta, Xt)
    mu, nu = 1e-3 * float((J * J).sum(dim=1).max()), 2.0
    eye = torch.eye(n, dtype=torch.float64)
    iterations = 0
    while iterations < max_iterations and float(residual @ residual) / n > tr.tolerance:
        iterations += 1
        half_sq = 0.5 * float(residual @ residual)
        step = -(J.T @ torch.linalg.solve(J @ J.T + mu * eye, residual))
        trial = model(theta + step, Xt) - yt
        linear = residual + J @ step
        predicted = half_sq - 0.5 * float(linear @ linear)
        gain = (half_sq - 0.5 * float(trial @ trial)) / predicted if predicted > 0 else -1.0
        if gain > 0:
            theta, residual = theta + step, trial
            J = model.jacobian(theta, Xt)
            mu *= max(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
            nu = 2.0
        else:
            mu *= nu
            nu *= 2.0
            if not math.isfinite(mu) or mu > 1e300:
                break
    return TrainOutcome(theta.numpy(), iterations, float(residual @ residual) / n, method)
