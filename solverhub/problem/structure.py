"""Typed structure of a problem beyond its smooth objective: variable bounds,
prox-able nonsmooth terms and constraint functions.

The :class:`Problem` carries a :class:`Structure` (numpy, device-free) and its torch
lowering a :class:`TorchStructure` (tensors on the oracle's device, constraint
functions in the form ``h(x) = 0`` / ``g(x) <= 0`` that autograd differentiates).
Solvers read these fields; nothing re-derives them from the expression IR.
Expression constraints (``constraints:`` in YAML) fill the constraint functions
today; bounds come from the variables' ``lower``/``upper`` (``solverhub.problem.bounds``)
and nonsmooth terms are declared by kinds.
"""
from __future__ import annotations

__all__ = ["Bounds", "NonsmoothTerm", "ConstraintInfo", "CONSTRAINT_CLASSES", "Structure", "TorchStructure",
           "TorchNonsmooth"]

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class Bounds:
    """Elementwise bounds of one variable (flattened, float64); ``None``: unbounded on that side."""

    lower: np.ndarray | None = None
    upper: np.ndarray | None = None

    def __post_init__(self):
        if self.lower is not None and self.upper is not None and np.any(self.lower > self.upper):
            raise ValueError("bounds: lower > upper somewhere")


@dataclass(frozen=True)
class NonsmoothTerm:
    """``weight * h(variable[start:stop])`` with a known proximal operator: ``name`` is the atom
    (``norm1``, ``norm2``, ``norm_inf``, ``max``, ``abs``, ``pos``, ``neg``, ``relu``; elementwise
    atoms summed), ``variable`` the variable it applies to, ``start``/``stop`` a slice of a vector
    variable (``stop`` None: the whole variable), ``constants`` the atom's constant arguments.
    Split from the objective by :mod:`solverhub.problem.composite`."""

    name: str
    variable: str
    weight: float = 1.0
    start: int = 0
    stop: int | None = None
    constants: tuple[float, ...] = ()


CONSTRAINT_CLASSES = ("bound", "simple_set", "affine", "smooth")


@dataclass(frozen=True)
class ConstraintInfo:
    """How one ``constraints:`` line was classified when the problem loaded
    (``solverhub.problem.classify``): ``cls`` is ``bound`` (a variable against a constant),
    ``simple_set`` (simplex or a norm ball with a cheap projection), ``affine`` (``A @ x == b``)
    or ``smooth`` (a general function, Jacobian by autograd); ``detail`` says which (``x >= 0``,
    ``simplex of x``, ``l2 ball``); ``label`` keys ``Result.duals``; ``size``: scalar rows."""

    index: int
    label: str
    op: str
    cls: str
    detail: str
    size: int
    line: int | None = None
    text: str = ""
    # the Euclidean projection it admits on its own, for proxgrad/fista (classify.py): ("simplex",
    # var, r), ("ball", "norm2"|"norm1"|"norm_inf", var, r), ("lower"|"upper", var, c), ("implied", var)
    # (x >= 0 beside a simplex on x); () when the line is no simple set of a whole variable
    projection: tuple = ()


@dataclass(frozen=True)
class Structure:
    """What a problem declares besides the smooth objective (device-free)."""

    bounds: Mapping[str, Bounds] = field(default_factory=dict)
    nonsmooth: tuple[NonsmoothTerm, ...] = ()
    unsplit: tuple[str, ...] = ()  # nonsmooth atoms left in the smooth part (no prox split; composite.py)
    n_equalities: int = 0          # number of expression constraints of each sense (the functions
    n_inequalities: int = 0        # themselves are lowered with the problem: TorchStructure)
    constraints: tuple[ConstraintInfo, ...] = ()   # one per ``constraints:`` line, classified
    # unsplit nonsmooth terms in epigraph form for the constrained solvers (problem.epigraph.Epigraph),
    # or None; ``no_epigraph``: why they have none (file:line text)
    epigraph: Any = None
    no_epigraph: str = ""

    @property
    def has_bounds(self) -> bool:
        return any(b.lower is not None or b.upper is not None for b in self.bounds.values())

    @property
    def simple_sets(self) -> bool:
        """Every ``constraints:`` line is a simple set of a whole variable with a cheap projection
        (simplex, l2/l1/linf ball, a constant bound), no variable has two sets or a set and its own
        lower/upper: proxgrad and fista project onto them (``TorchStructure.sets``)."""
        if not self.constraints or any(not c.projection for c in self.constraints):
            return False
        sets = [c.projection[1 if c.projection[0] != "ball" else 2] for c in self.constraints
                if c.projection[0] in ("simplex", "ball")]
        bounded = {c.projection[1] for c in self.constraints if c.projection[0] in ("lower", "upper")}
        return len(sets) == len(set(sets)) and not (set(sets) & (bounded | set(self.bounds)))

    @property
    def has_constraint_functions(self) -> bool:
        return bool(self.n_equalities or self.n_inequalities)

    def nonsmooth_refusal(self, line: int | None = None) -> str:
        """Why a smooth method refuses an objective with unsplit nonsmooth atoms (``line``: the objective's)."""
        at = f", line {line}" if line else ""
        if self.epigraph is not None:
            terms = ", ".join(t.text for t in self.epigraph.terms)
            return (f"objective has a nonsmooth term without a prox ({terms}{at}); a gradient method is neither "
                    "convergent nor measurable on it: use auglag/slsqp/trust-constr (epigraph form) or cvxpy")
        return (f"objective has a nonsmooth term without a prox ({', '.join(self.unsplit)}{at}) and no epigraph "
                f"form ({self.no_epigraph}): cvxpy solves it when it is convex")

    def box(self, variables) -> tuple[np.ndarray, np.ndarray] | None:
        """Flat ``(lower, upper)`` over all unknowns (``variables``: the problem's, with
        ``name``/``offset``/``size``), ``-inf``/``inf`` where open; None when nothing is bounded."""
        if not self.has_bounds:
            return None
        dim = sum(v.size for v in variables)
        lower, upper = np.full(dim, -np.inf), np.full(dim, np.inf)
        for v in variables:
            b = self.bounds.get(v.name)
            if b is not None and b.lower is not None:
                lower[v.offset:v.offset + v.size] = b.lower
            if b is not None and b.upper is not None:
                upper[v.offset:v.offset + v.size] = b.upper
        return lower, upper


@dataclass(frozen=True)
class TorchNonsmooth:
    """A lowered nonsmooth term: ``value(x_flat)`` and ``prox(x_flat, step)`` on the flat vector."""

    term: NonsmoothTerm
    value: Callable
    prox: Callable


@dataclass(frozen=True)
class TorchStructure:
    """The torch side of :class:`Structure`: flat bound tensors (``-inf``/``inf`` where a side is
    open, ``None`` when nothing is bounded), nonsmooth terms with their prox, and constraint
    functions ``equalities(x) -> h(x)`` (want 0) and ``inequalities(x) -> g(x)`` (want <= 0), each a
    flat tensor, or ``None`` when the problem has none; ``epigraph``: the epigraph form of nonsmooth
    terms without a prox (``solverhub.problem.epigraph``)."""

    lower: Any = None
    upper: Any = None
    nonsmooth: tuple[TorchNonsmooth, ...] = ()
    equalities: Callable | None = None
    inequalities: Callable | None = None
    epigraph: Any = None          # problem.epigraph.TorchEpigraph of the unsplit nonsmooth terms, or None
    sets: Callable | None = None  # projection onto the constraint lines' simple sets (Structure.simple_sets)

    @property
    def bounded(self) -> bool:
        return self.lower is not None or self.upper is not None

    def project_bounds(self, x):
        """Euclidean projection of the flat ``x`` onto the bounds (``x`` when unbounded)."""
        if not self.bounded:
            return x
        import torch
        return torch.clamp(x, min=self.lower, max=self.upper)

    def bound_kkt(self, x, grad):
        """Elementwise KKT residual of the bounds for the (Lagrangian) gradient ``grad``, in the
        scale of the constraint lines' residuals: the implied bound multiplier ν ∈ [0, |gᵢ|] on the
        side ``gᵢ`` pushes to (lower when gᵢ > 0) is chosen to balance the dual residual
        ``|gᵢ| - ν`` against the complementarity ``ν dᵢ`` (``dᵢ`` the distance to that bound):
        ``|gᵢ| dᵢ / (1 + dᵢ)``, about ``min(|gᵢ|, |gᵢ| dᵢ)``; ``|gᵢ|`` where that side is open.
        The projected gradient measures the distance ``dᵢ`` itself instead, so an interior-point
        iterate ``dᵢ ~ μ/ν`` from an active bound failed it where the same bound written as a
        ``constraints:`` line passed (``|λ g| = μ``). ``grad`` itself when unbounded."""
        if not self.bounded:
            return grad
        import torch
        inf = torch.full_like(x, float("inf"))
        lower = inf.neg() if self.lower is None else self.lower
        upper = inf if self.upper is None else self.upper
        dist = torch.where(grad > 0, x - lower, upper - x).clamp(min=0)
        g = torch.abs(grad)
        return torch.where(torch.isfinite(dist), g * dist / (1 + dist), g)

    def projected_gradient(self, x, grad):
        """``x - P(x - grad)``: the projected-gradient step whose norm is zero exactly at the
        stationary points of f on the box (``grad`` itself when unbounded)."""
        if not self.bounded:
            return grad
        return x - self.project_bounds(x - grad)
