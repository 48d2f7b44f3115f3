"""Builtin model architectures for ``kind: training``, registered through the
``solverhub_models`` hook like any plugin's (see ``solverhub.hookspecs``).

A factory is ``factory(in_shape, n_out, **options) -> torch.nn.Module``: ``in_shape``
is the shape of one input row, ``n_out`` the number of outputs the loss needs.
Factories raise ``ValueError``/``TypeError`` on bad options (the kind reports them
with the file and line). torch is imported inside the factories only.
"""
from __future__ import annotations

__all__ = ["MODELS", "mlp", "logistic", "cnn", "ACTIVATIONS"]

import math
from typing import Sequence

ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid")


def _activation(name: str):
    import torch.nn as nn
    table = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}
    if name not in table:
        raise ValueError(f"activation {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return table[name]()


def _positive_ints(value, what: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                       for v in value):
        raise ValueError(f"{what} must be a list of positive integers, got {value!r}")
    return list(value)


def mlp(in_shape: tuple[int, ...], n_out: int, *, hidden: Sequence[int] = (64,), activation: str = "relu"):
    """Fully connected network: flatten, then ``Linear -> activation`` per hidden width, then
    a linear output layer (``hidden: []`` is a linear model)."""
    import torch.nn as nn
    widths = _positive_ints(hidden, "hidden")
    _activation(activation)   # validate before building
    layers: list = [nn.Flatten()]
    prev = math.prod(in_shape)
    for width in widths:
        layers += [nn.Linear(prev, width), _activation(activation)]
        prev = width
    layers.append(nn.Linear(prev, n_out))
    return nn.Sequential(*layers)


def logistic(in_shape: tuple[int, ...], n_out: int):
    """A linear layer on the flattened input: multinomial logistic regression with
    ``loss: cross_entropy``, binary with ``loss: logistic``, least squares with ``mse``."""
    import torch.nn as nn
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), n_out))


def _image_shape(in_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(in_shape) == 3:
        return tuple(in_shape)
    if len(in_shape) == 2:
        return (1, *in_shape)
    if len(in_shape) == 1:
        side = math.isqrt(in_shape[0])
        if side * side == in_shape[0]:
            return (1, side, side)
    raise ValueError(f"cnn needs image inputs: rows of shape (C, H, W), (H, W) or H*W with H = W; "
                     f"got rows of shape {tuple(in_shape)}")


def cnn(in_shape: tuple[int, ...], n_out: int, *, channels: Sequence[int] = (8, 16), kernel_size: int = 3,
        activation: str = "relu"):
    """A small convolutional network: per entry of ``channels`` a ``Conv2d(kernel_size,
    'same' padding) -> activation -> MaxPool2d(2)`` block (the pooling is skipped once the
    image is 1 pixel wide), then a linear layer. Flat rows of H*W pixels (digits: 64) are
    reshaped to 1 x H x W images."""
    import torch.nn as nn
    widths = _positive_ints(channels, "channels")
    if not widths:
        raise ValueError("channels must name at least one convolution")
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    _activation(activation)
    c, h, w = _image_shape(tuple(in_shape))
    layers: list = [nn.Unflatten(1, (c, h, w))] if tuple(in_shape) != (c, h, w) else []
    for width in widths:
        layers += [nn.Conv2d(c, width, kernel_size, padding=kernel_size // 2), _activation(activation)]
        if min(h, w) >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = width
    layers += [nn.Flatten(), nn.Linear(c * h * w, n_out)]
    return nn.Sequential(*layers)


MODELS = {"mlp": mlp, "logistic": logistic, "cnn": cnn}
