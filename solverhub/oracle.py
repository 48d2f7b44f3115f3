"""Counting oracles: the only door between a solver and its problem.

An :class:`Oracle` evaluates a lowered objective ``f(x)`` on a flat torch vector
``x`` (all problem variables concatenated, see ``oracle.unflatten``). It counts
every call by kind (``value``, ``grad``, ``hvp``, ``stochastic_grad``) in plain
Python integers (no device sync) and enforces the oracle budget by raising
:class:`BudgetExhausted` *before* a call that would exceed it.

``grad`` returns the gradient as the problem file configures it: exact, a
minibatch gradient (``oracle: {stochastic: {batch_size, seed}}``) or an exact
gradient plus Gaussian noise (``oracle: {noise: {sigma, seed, model}}``, additive
``variance`` or multiplicative ``second_moment``); the latter two
are counted as ``stochastic_grad``. ``peek_value``/``peek_grad`` are exact and
uncounted: the run loop uses them for measurements only.
"""
from __future__ import annotations

__all__ = ["Oracle", "BudgetExhausted", "OracleConfig"]

from dataclasses import dataclass
from typing import Callable

from ._lazy import lazy_module

torch = lazy_module("torch")


class BudgetExhausted(Exception):
    """Raised by the oracle before a call that would exceed ``max_oracle_calls``."""


@dataclass(frozen=True)
class OracleConfig:
    """How gradients are delivered: exact, minibatch, or with additive noise."""

    batch_size: int | None = None   # minibatch size over the rows of a finite sum
    sigma: float | tuple = 0.0      # std of Gaussian gradient noise: one for all, or one per unknown
    seed: int = 0
    noise_model: str = "variance"   # variance: g + sigma*xi ; second_moment: g * (1 + sigma*xi)

    @property
    def noisy(self) -> bool:
        return any(s > 0 for s in self.sigma) if isinstance(self.sigma, tuple) else self.sigma > 0

    @property
    def stochastic(self) -> bool:
        return self.batch_size is not None or self.noisy


class Oracle:
    """Counting value/gradient/Hessian-vector oracle on one device.

    ``objective(x, rows)`` is the lowered objective: ``rows`` is ``None`` for the
    full objective or an index tensor selecting rows of the finite-sum data.
    """

    def __init__(self, objective: Callable, *, x0, n_rows: int | None = None,
                 config: OracleConfig = OracleConfig(), max_calls: int | None = None,
                 unflatten: Callable | None = None):
        self._objective = objective
        self.x0 = x0
        self.device = x0.device
        self.dtype = x0.dtype
        self.dim = x0.numel()
        self.n_rows = n_rows
        self.config = config
        self.max_calls = max_calls
        self.unflatten = unflatten
        self.counts = {"value": 0, "grad": 0, "hvp": 0, "stochastic_grad": 0}
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(config.seed))
        self._sigma = (torch.as_tensor(config.sigma, dtype=self.dtype, device=self.device)
                       if isinstance(config.sigma, tuple) else float(config.sigma))

    # -- bookkeeping -------------------------------------------------------
    @property
    def stochastic(self) -> bool:
        return self.config.stochastic

    @property
    def total_calls(self) -> int:
        return sum(self.counts.values())

    def _charge(self, *kinds: str) -> None:
        """Charge one call of each kind, all or nothing."""
        if self.max_calls is not None and self.total_calls + len(kinds) > self.max_calls:
            raise BudgetExhausted(f"oracle budget of {self.max_calls} calls exhausted")
        for kind in kinds:
            self.counts[kind] += 1

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    # -- exact evaluations -------------------------------------------------
    def _value(self, x, rows=None):
        with torch.no_grad():
            return self._objective(x, rows)

    def _value_and_grad(self, x, rows=None):
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            value = self._objective(xg, rows)
            (grad,) = torch.autograd.grad(value, xg)
        return value.detach(), grad

    def value(self, x):
        """f(x), counted as one ``value`` call."""
        self._charge("value")
        return self._value(x)

    def value_and_grad(self, x):
        """(f(x), the configured gradient); counted as one value and one gradient call."""
        if self.stochastic:
            self._charge("value", "stochastic_grad")
            return self._value(x), self._configured_grad(x)
        self._charge("value", "grad")
        return self._value_and_grad(x)

    def grad(self, x):
        """The configured gradient: exact, minibatch or noisy."""
        if not self.config.stochastic:
            self._charge("grad")
            return self._value_and_grad(x)[1]
        self._charge("stochastic_grad")
        return self._configured_grad(x)

    def _configured_grad(self, x):
        cfg = self.config
        rows = None
        if cfg.batch_size is not None and self.n_rows:
            rows = torch.randint(self.n_rows, (cfg.batch_size,), generator=self.generator,
                                 device=self.device)
        grad = self._value_and_grad(x, rows)[1]
        if cfg.noisy:
            noise = self._sigma * torch.randn(grad.shape, generator=self.generator, device=self.device,
                                              dtype=grad.dtype)
            grad = grad + (noise if cfg.noise_model == "variance" else grad * noise)
        return grad

    def hvp(self, x, v):
        """Exact Hessian-vector product ∇²f(x) v, counted as one ``hvp`` call."""
        self._charge("hvp")
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self._objective(xg, None), xg, create_graph=True)
            (hv,) = torch.autograd.grad(g, xg, grad_outputs=v)
        return hv.detach()

    # -- uncounted, for measurements ---------------------------------------
    def peek_value(self, x):
        return self._value(x)

    def peek_grad(self, x):
        return self._value_and_grad(x)[1]

    def peek_value_and_grad(self, x):
        return self._value_and_grad(x)

    def hessian(self, x):
        """Dense exact Hessian (uncounted; for small problems and measurements)."""
        with torch.enable_grad():
            return torch.autograd.functional.hessian(lambda z: self._objective(z, None), x.detach())
