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

__all__ = ["Oracle", "BudgetExhausted", "OracleConfig", "Known"]

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

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
                 unflatten: Callable | None = None, functions: dict | None = None,
                 operator: Callable | None = None, project: Callable | None = None, structure=None):
        self._objective = objective
        self._functions = dict(functions or {})     # other named scalar functions, e.g. bilevel "lower"
        # generated reverse-mode (value, gradient) where the lowering has one (solverhub.lower.to_torch_grad)
        self._vg = getattr(objective, "value_and_grad", None)
        self._vgs = {name: getattr(fn, "value_and_grad", None) for name, fn in self._functions.items()}
        self._operator = operator                   # F(z) for monotone / minimax problems
        self.project = project                      # projection onto the feasible set (not an oracle call)
        # the lowered TorchStructure: bounds, nonsmooth terms' value/prox (not oracle calls); a
        # composite objective's smooth part is the function "smooth" (value(x, of="smooth"), counted)
        self.structure = structure
        self.x0 = x0
        self.device = x0.device
        self.dtype = x0.dtype
        self.dim = x0.numel()
        self.n_rows = n_rows
        self.config = config
        self._stochastic, self._noisy = config.stochastic, config.noisy   # read on every call: cached (frozen config)
        self.max_calls = max_calls
        self.unflatten = unflatten
        self.counts = {"value": 0, "grad": 0, "hvp": 0, "stochastic_grad": 0}
        for name in self._functions:
            self.counts[f"value_{name}"] = 0
            self.counts[f"grad_{name}"] = 0
        if operator is not None:
            self.counts["operator"] = 0
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(config.seed))
        self._sigma = (torch.as_tensor(config.sigma, dtype=self.dtype, device=self.device)
                       if isinstance(config.sigma, tuple) else float(config.sigma))

    # -- bookkeeping -------------------------------------------------------
    @property
    def stochastic(self) -> bool:
        return self._stochastic

    @property
    def total_calls(self) -> int:
        return sum(self.counts.values())

    def _charge(self, *kinds: str) -> None:
        """Charge one call of each kind, all or nothing."""
        if self.max_calls is not None and self.total_calls + len(kinds) > self.max_calls:
            raise BudgetExhausted(f"oracle budget of {self.max_calls} calls exhausted")
        for kind in kinds:
            self.counts[kind] += 1

    def _charge_one(self, kind: str) -> None:
        """``_charge(kind)`` without the argument tuple and loop (the per-step path of first-order methods)."""
        if self.max_calls is not None and self.total_calls + 1 > self.max_calls:
            raise BudgetExhausted(f"oracle budget of {self.max_calls} calls exhausted")
        self.counts[kind] += 1

    @contextlib.contextmanager
    def uncounted(self):
        """Calls made inside are not charged: the counts and the budget come back as they were
        (the run loop measures through it, so measuring never counts against the method)."""
        counts, cap = dict(self.counts), self.max_calls
        self.max_calls = None
        try:
            yield self
        finally:
            self.counts.update(counts)
            self.max_calls = cap

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    @property
    def functions(self) -> tuple[str, ...]:
        """Names of the other scalar functions (``of=`` in value/grad)."""
        return tuple(self._functions)

    @property
    def has_operator(self) -> bool:
        return self._operator is not None

    def _fn(self, of):
        if of is None:
            return self._objective
        try:
            return self._functions[of]
        except KeyError:
            raise KeyError(f"no function {of!r}; this problem has {', '.join(self._functions) or 'none'}") from None

    def _key(self, kind: str, of) -> str:
        return kind if of is None else f"{kind}_{of}"

    # -- exact evaluations -------------------------------------------------
    def _value(self, x, rows=None, of=None):
        with torch.no_grad():
            return self._fn(of)(x, rows)

    def _value_and_grad(self, x, rows=None, of=None):
        if of is None:
            fn, vg = self._objective, self._vg
        else:
            fn, vg = self._fn(of), self._vgs[of]
        if vg is not None:                 # generated reverse mode: no autograd graph
            return vg(x, rows)
        xg = x.detach().requires_grad_(True)
        if torch.is_grad_enabled():        # the usual case: no context manager on the hot path
            value = fn(xg, rows)
        else:
            with torch.enable_grad():
                value = fn(xg, rows)
        grad = torch.autograd.grad(value, xg, allow_unused=True)[0] if value.requires_grad else None
        if grad is None:       # the function does not depend on x (e.g. a constant lower level)
            grad = torch.zeros_like(x)
        return value.detach(), grad

    def _exact_grad(self, x):
        """∇f(x) of the objective: ``_value_and_grad(x)[1]`` without detaching a value nobody reads."""
        if self._vg is not None:
            return self._vg(x, None)[1]
        xg = x.detach().requires_grad_(True)
        if torch.is_grad_enabled():
            value = self._objective(xg, None)
        else:
            with torch.enable_grad():
                value = self._objective(xg, None)
        grad = torch.autograd.grad(value, xg, allow_unused=True)[0] if value.requires_grad else None
        return torch.zeros_like(x) if grad is None else grad

    def value(self, x, of: str | None = None):
        """f(x) (or the named function ``of``), counted as one ``value`` call."""
        self._charge(self._key("value", of))
        return self._value(x, of=of)

    def value_and_grad(self, x, of: str | None = None):
        """(f(x), the configured gradient); counted as one value and one gradient call."""
        if self._stochastic and of is None:
            self._charge("value", "stochastic_grad")
            return self._value(x), self._configured_grad(x)
        self._charge(self._key("value", of), self._key("grad", of))
        value, grad = self._value_and_grad(x, of=of)
        return value, (self._add_noise(grad) if self._noisy else grad)

    def grad(self, x, of: str | None = None):
        """The configured gradient (exact, minibatch or noisy) of f or of the named function ``of``."""
        if of is not None:
            self._charge(self._key("grad", of))
            grad = self._value_and_grad(x, of=of)[1]
            return self._add_noise(grad) if self._noisy else grad
        if not self._stochastic:
            self._charge_one("grad")
            return self._exact_grad(x)
        self._charge_one("stochastic_grad")
        return self._configured_grad(x)

    def grad_pair(self, x, y):
        """The configured gradient at two points on ONE draw of the randomness: the same
        minibatch rows (and the same noise realisation) at ``x`` and at ``y``.

        Returns ``(g(x; xi), g(y; xi))``; counted as two gradient calls (``grad`` or
        ``stochastic_grad``), charged all or nothing. For methods that difference
        gradients along a step (secant curvature, gradient alignment), which a
        fresh draw per point would swamp with sampling noise. Exact oracle: two exact gradients.
        """
        if not self._stochastic:
            self._charge("grad", "grad")
            return self._value_and_grad(x)[1], self._value_and_grad(y)[1]
        self._charge("stochastic_grad", "stochastic_grad")
        cfg = self.config
        rows = None
        if cfg.batch_size is not None and self.n_rows:
            rows = torch.randint(self.n_rows, (cfg.batch_size,), generator=self.generator, device=self.device)
        gx, gy = self._value_and_grad(x, rows)[1], self._value_and_grad(y, rows)[1]
        if not cfg.noisy:
            return gx, gy
        xi = torch.randn(gx.shape, generator=self.generator, device=self.device, dtype=gx.dtype)
        noise = self._sigma * xi
        if cfg.noise_model == "variance":
            return gx + noise, gy + noise
        return gx + gx * noise, gy + gy * noise

    def operator(self, z):
        """F(z) for monotone / minimax problems (noisy if the problem says so); one ``operator`` call."""
        if self._operator is None:
            raise KeyError("this problem has no operator (kinds monotone and minimax do)")
        self._charge("operator")
        with torch.enable_grad():
            value = self._operator(z.detach())
        value = value.detach()
        return self._add_noise(value) if self._noisy else value

    def operator_jvp(self, z, v, transpose: bool = False):
        """Exact J_F(z) v (``transpose``: J_F(z)ᵀ v) by autograd, noise-free; one ``operator`` call."""
        if self._operator is None:
            raise KeyError("this problem has no operator (kinds monotone and minimax do)")
        self._charge("operator")
        with torch.enable_grad():
            zg = z.detach().requires_grad_(True)
            F = self._operator(zg)
            if not F.requires_grad:                      # a constant operator: J = 0
                return torch.zeros_like(z)
            if transpose:
                (out,) = torch.autograd.grad(F, zg, grad_outputs=v, allow_unused=True)
            else:                                        # J v as the derivative of u -> Jᵀu (double vjp)
                u = torch.zeros_like(F, requires_grad=True)
                (g,) = torch.autograd.grad(F, zg, grad_outputs=u, create_graph=True, allow_unused=True)
                (out,) = torch.autograd.grad(g, u, grad_outputs=v, allow_unused=True) if g is not None else (None,)
        return torch.zeros_like(z) if out is None else out.detach()

    def peek_operator(self, z):
        with torch.enable_grad():
            return self._operator(z.detach()).detach()

    def _add_noise(self, grad):
        cfg = self.config
        noise = self._sigma * torch.randn(grad.shape, generator=self.generator, device=self.device, dtype=grad.dtype)
        return grad + (noise if cfg.noise_model == "variance" else grad * noise)

    def _configured_grad(self, x):
        cfg = self.config
        rows = None
        if cfg.batch_size is not None and self.n_rows:
            rows = torch.randint(self.n_rows, (cfg.batch_size,), generator=self.generator,
                                 device=self.device)
        grad = self._value_and_grad(x, rows)[1]
        return self._add_noise(grad) if cfg.noisy else grad

    def hvp(self, x, v, of: str | None = None):
        """Exact Hessian-vector product ∇²f(x) v (or of the named function ``of``; 0 where it is
        affine), counted as one ``hvp`` call."""
        self._charge("hvp")
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            value = self._fn(of)(xg, None)
            if not value.requires_grad:
                return torch.zeros_like(x)
            (g,) = torch.autograd.grad(value, xg, create_graph=True)
            if not g.requires_grad:
                return torch.zeros_like(x)
            # (g·v) summed, not grad_outputs=v: a tensor grad_outputs makes torch import sympy (~1 s)
            (hv,) = torch.autograd.grad((g * v).sum(), xg)
        return hv.detach()

    # -- uncounted, for measurements ---------------------------------------
    def peek_value(self, x, of: str | None = None):
        return self._value(x, of=of)

    def peek_grad(self, x, of: str | None = None):
        return self._value_and_grad(x, of=of)[1]

    def peek_value_and_grad(self, x, of: str | None = None):
        return self._value_and_grad(x, of=of)

    @classmethod
    def for_problem(cls, tp, problem=None, *, config: OracleConfig = OracleConfig(), max_calls: int | None = None):
        """The oracle of a lowered problem (``TorchProblem``), with all its functions."""
        n_rows = problem.sections.n_rows if problem is not None else None
        return cls(tp.objective, x0=tp.x0, n_rows=n_rows, config=config, max_calls=max_calls,
                   unflatten=tp.unflatten, functions=tp.functions, operator=tp.operator, project=tp.project,
                   structure=tp.structure)

    def hessian(self, x):
        """Dense exact Hessian (uncounted; for small problems and measurements)."""
        with torch.enable_grad():
            return torch.autograd.functional.hessian(lambda z: self._objective(z, None), x.detach())


@dataclass(frozen=True)
class Known:
    """What a solver already computed at the point being measured, so a measure need not
    call the oracle again or read solver state: ``value`` and ``grad`` (exact f(x) and
    ∇f(x), or None), ``smooth_grad`` (exact ∇s(x) of a composite objective's smooth part, or
    None), ``duals`` (one multiplier tensor per constraint, or None) and ``logged`` (the
    solver's ``log(state)``: solver-named measures as 0-d tensors)."""

    value: Any = None
    grad: Any = None
    smooth_grad: Any = None
    duals: Any = None
    logged: Mapping[str, Any] = field(default_factory=dict)
