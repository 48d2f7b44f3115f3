"""auglag's inner problem ``min_z L_ρ(z)`` as a ``minimize`` problem that any registered solver
accepting it runs (option ``inner``): the augmented Lagrangian's smooth part ``s + penalty``,
the variables' bounds and, when every nonsmooth objective term has a prox, those terms kept as
prox terms (``fista``/``proxgrad`` take them exactly); otherwise the epigraph form's ``z = (x, t)``
(``_nlp.Constraints``) with the auxiliaries as one extra unbounded variable ``_epigraph_t``.

The inner solver runs in the shared run loop (``solver.run_loop``) on its own
:class:`~solverhub.oracle.Oracle` over ``L_ρ`` (one trace sample, i.e. one host sync and one
uncounted ∇L_ρ, per inner iteration: the stop test ``‖prox-gradient mapping of L_ρ‖∞ <=
tolerance``, auglag's schedule); its calls are charged to the run's oracle afterwards under the names of the
functions they evaluate (f, or the smooth part ``smooth``), within the run's remaining budget.
Birgin & Martínez (2014), §4.1: any method for the bound-constrained subproblem will do.
"""
from __future__ import annotations

__all__ = ["InnerProblem", "inner_problem", "inner_choices", "resolve", "run_inner", "prox_terms", "FAST"]

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..errors import OptionError
from ..oracle import BudgetExhausted, Oracle
from ..options import RunOptions
from ..problem.structure import Structure, TorchStructure
from ..result import Status

torch = lazy_module("torch")
np = lazy_module("numpy")

FAST = ("lbfgs", "lbfgsb")     # run by auglag itself (torch.optim.LBFGS / scipy L-BFGS-B called directly)


@dataclass(frozen=True)
class InnerProblem:
    """The inner ``minimize`` problem (for ``accepts``/dispatch and the solver's ``init``), its torch
    structure over ``z``, the prox terms' problem structure, and ``composite``: prox terms kept."""

    problem: Any
    structure: Any
    composite: bool


def inner_problem(problem, cons) -> InnerProblem:
    """The inner problem of ``problem`` (a ``constrained`` or epigraph ``minimize`` one)."""
    from ..problem.composite import split_objective, torch_terms
    from ..problem.model import Variable
    from ..registry import get_registry
    st = problem.structure
    terms = ()
    if cons.epigraph is None and st.epigraph is not None:     # every nonsmooth term has a prox (prox_terms)
        terms = split_objective(problem.sections.objective, problem.variables, problem.parameters)[1]
    variables = tuple(problem.variables)
    if cons.epigraph is not None:
        n_aux = cons.dim - cons.n
        variables += (Variable("_epigraph_t", (n_aux,), cons.n, n_aux),)
    box = cons.box(problem)
    lower = upper = None
    if box is not None:
        lower, upper = (torch.as_tensor(b, dtype=cons.dtype).to(cons.device) for b in box)
    tstruct = TorchStructure(lower=lower, upper=upper,
                             nonsmooth=torch_terms(terms, problem.variables) if terms else ())
    minimize = get_registry().kinds["minimize"]()
    sections = dataclasses.replace(problem.sections, constraints=(), functions={})
    inner = dataclasses.replace(problem, kind=minimize, variables=variables, sections=sections,
                                structure=Structure(bounds=st.bounds, nonsmooth=tuple(terms)),
                                x0=np.zeros(cons.dim))
    return InnerProblem(inner, tstruct, bool(terms))


def prox_terms(problem) -> bool:
    """True when every nonsmooth objective term of ``problem`` (in epigraph form) has a prox."""
    from ..problem.composite import split_objective
    if problem.structure.epigraph is None:
        return False
    _, terms, unsplit = split_objective(problem.sections.objective, problem.variables, problem.parameters)
    return bool(terms) and not unsplit


def inner_choices(inner: InnerProblem, device) -> list[str]:
    """Registered solvers that accept the inner problem on ``device`` (sorted by name)."""
    from ..registry import get_registry
    registry = get_registry()
    dev = str(getattr(device, "type", device))
    return [name for name, verdict in registry.accepting(inner.problem)    # iterative ones (not cvxpy's solve_direct)
            if verdict and dev in registry.solvers[name].cls.capabilities.devices
            and getattr(registry.solvers[name].cls, "solve_direct", None) is None]


CORE = ("fista", "proxgrad", "lbfgsb", "lbfgs", "gd", "adam")    # auto chooses among these builtins


def resolve(name: str, inner: InnerProblem, device) -> str:
    """The inner solver's name: ``auto`` -> the registry's dispatch rule (highest ``priority_for``,
    then the name) among the core builtins ``CORE`` accepting the inner problem (fista with prox
    terms, lbfgsb with bounds, lbfgs otherwise; plugins do not change the default, and no plugin
    is imported); a name that is not registered or refuses the inner problem -> OptionError naming
    the choices (every registered iterative solver that accepts it)."""
    from ..registry import get_registry
    registry = get_registry()
    if name == "auto":
        core = [(-cls().priority_for(inner.problem), n) for n, cls in ((n, registry.solver(n)) for n in CORE)
                if cls().accepts(inner.problem)]
        return min(core)[1]
    if name in registry.solvers:
        cls = registry.solver(name)
        if cls.solve_direct is None and str(getattr(device, "type", device)) in cls.capabilities.devices \
                and cls().accepts(inner.problem):
            return name
    what = "is not a registered solver" if name not in registry.solvers else "refuses the inner problem"
    raise OptionError(f"auglag option inner: {name!r} {what} (min L_rho over "
                      f"{'the bounds' if inner.problem.has_bounds else 'R^n'}"
                      f"{' + prox terms' if inner.composite else ''})", allowed=["auto", *inner_choices(inner, device)])


def run_inner(name, inner: InnerProblem, lagrangian, oracle, z0, options, tolerance):
    """Run solver ``name`` on ``L_ρ`` from ``z0``: ``(z, capped)``; the calls are charged to ``oracle``.

    ``lagrangian(z, smooth_only) -> 0-d tensor`` is ``L_ρ`` (differentiable; ``smooth_only``:
    without the prox terms); ``of`` names the run oracle's function it evaluates (None: f)."""
    from ..problem.composite import prox_grad_mapping
    from ..registry import get_registry
    from ..solver import run_loop
    cls = get_registry().solver(name)
    solver = cls()
    cls.prepare()
    functions = {"smooth": lambda z, rows=None: lagrangian(z, True)} if inner.composite else {}
    remaining = None if oracle.max_calls is None else max(0, oracle.max_calls - oracle.total_calls)
    sub = Oracle(lambda z, rows=None: lagrangian(z, False), x0=z0, functions=functions, max_calls=remaining,
                 structure=inner.structure)
    of = "smooth" if inner.composite else None

    def measure(z, known):
        value, grad = sub.peek_value_and_grad(z, of=of)
        return value, torch.linalg.vector_norm(prox_grad_mapping(inner.structure, z, grad), float("inf"))
    sub_options = cls.Options(**({"history_size": options.history_size}
                                 if "history_size" in getattr(cls.Options, "model_fields", {}) else {}))
    run = RunOptions(max_iterations=options.inner_iterations, tolerance=tolerance, trace_every=1)
    try:
        out = run_loop(solver, inner.problem, sub, z0, sub_options, run, measure)
    finally:
        _charge(oracle, sub.counts, inner)
    if out.state is not None:
        with sub.uncounted():
            solver.report(out.state, sub, sub_options)      # closes scipy worker threads
    if out.state is None or out.status is Status.BUDGET_EXHAUSTED:
        raise BudgetExhausted(out.message)
    return out.state.x.detach(), out.status is not Status.CONVERGED


def _charge(oracle, counts, inner):
    """Add the inner oracle's ``counts`` to the run's ``oracle`` (the epigraph form's inner f is ``smooth``)."""
    epigraph = inner.problem.variables[-1].name == "_epigraph_t"
    for key, n in counts.items():
        if not n:
            continue
        if epigraph and key in ("value", "grad"):
            key = f"{key}_smooth"
        oracle.counts[key] = oracle.counts.get(key, 0) + n
