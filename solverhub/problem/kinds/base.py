"""The :class:`ProblemKind` base: a kind knows its YAML sections, its torch and
cvxpy lowerings, its baseline and its stationarity measures. Code outside a kind
never branches on the kind's name."""
from __future__ import annotations

__all__ = ["ProblemKind", "ExpressionKind", "ModelKind", "CompiledSections", "NoBaseline", "TorchProblem", "TorchEvaluator",
           "ExpressionContext", "Known", "Catalog"]

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Protocol

import numpy as np

from ..._lazy import lazy_module
from ...errors import Location
from ...lower.to_cvxpy import NoCvxpyForm, compile_cvxpy
from ...lower.to_torch import compile_torch
from ...lower.to_torch_grad import compile_torch_value_and_grad
from ...oracle import Known
from ...reference import Reference, ReferenceStatus
from ..expr import Node, Symbols, parse_expression
from ..structure import TorchStructure
from ..records import Field, PlainModel, str_or_number

if TYPE_CHECKING:
    from pydantic import BaseModel

torch = lazy_module("torch")
cp = lazy_module("cvxpy")


class NoBaseline(Exception):
    """The problem has no convex (cvxpy) baseline; ``str(err)`` says why."""


class Catalog(Protocol):
    """The registry's named data sources and models. ``load_problem`` sets it on the kind
    (``kind.catalog``) before ``prepare``, so a kind never imports the registry."""

    @property
    def datasets(self) -> Mapping[str, Callable[[], dict]]: ...

    @property
    def models(self) -> Mapping[str, Callable[..., Any]]: ...


@dataclass(frozen=True)
class ExpressionContext:
    """What a kind needs to compile its sections: names in scope and where errors point."""

    symbols: Symbols
    file: str | None
    line_of: Callable[[tuple], int | None]

    def location(self, *path) -> Location:
        """``file:line`` of the YAML key at ``path`` (for errors)."""
        return Location(self.file, self.line_of(path))

    def charge(self, shape, path: tuple, what: str) -> None:
        """Count an array the kind builds itself (planted data, a model's parameters) against the
        element caps of the whole problem, before building it: an error at ``path``'s line."""
        from ..data import charge
        charge(tuple(int(n) for n in shape), self.location(*path), what)

    def parse(self, text, path: tuple, *, allow_compare: bool = False) -> Node:
        where = ".".join(str(p) for p in path)
        return parse_expression(text, self.symbols, where=where,
                                location=Location(self.file, self.line_of(path)), allow_compare=allow_compare)


@dataclass(frozen=True)
class CompiledSections:
    """What a kind's ``compile`` returns: typed, never an untyped bag.

    Expression kinds fill ``objective`` (IR) and, as they need, ``constraints``,
    ``functions`` (other named scalar functions: bilevel's ``lower``), ``operator``
    (monotone's components), ``minimize_over``/``maximize_over`` (minimax players) and
    ``sets`` (simple feasible sets per variable). Model kinds leave ``objective`` None and
    put their typed, frozen model spec in ``model``.
    """

    objective: Node | None = None
    constraints: tuple[Node, ...] = ()
    rows: tuple[str, ...] = ()
    n_rows: int | None = None
    functions: Mapping[str, Node] = field(default_factory=dict)
    operator: tuple[Node, ...] = ()
    minimize_over: tuple[str, ...] = ()
    maximize_over: tuple[str, ...] = ()
    sets: Mapping[str, Any] = field(default_factory=dict)
    model: Any = None
    # kinds that own the minibatch (training): an int configures the oracle as
    # ``oracle: {stochastic: {batch_size}}`` would, "full" means exact gradients; None: the file's oracle section
    batch_size: int | str | None = None
    # run-option defaults the kind derives from its sections (e.g. a training budget as
    # max_oracle_calls); the file's ``solve:`` section and the caller's options override them
    solve_defaults: dict = field(default_factory=dict)
    # files the kind read itself (outside ``data:``); their digests enter the content hash
    files: tuple = ()
    # the kind's start is drawn from a seed the file does not set: the run's seed draws it
    # (``ModelKind.start_seed``; set by ``ModelKind.compile``)
    seeded_start: bool = False


@dataclass
class TorchProblem:
    """The torch lowering of a problem on one device."""

    objective: Callable            # f(x_flat, rows=None) -> 0-d tensor
    constraints: tuple             # ((op, g(x_flat) -> tensor in violation form), ...)
    unflatten: Callable            # x_flat -> {name: tensor view}
    x0: Any                        # flat tensor
    functions: dict = field(default_factory=dict)   # other named scalar functions (bilevel: "lower")
    operator: Callable | None = None                # F(z_flat) -> flat tensor (monotone, minimax)
    project: Callable | None = None                 # Euclidean projection onto the feasible set (simple sets)
    structure: TorchStructure = field(default_factory=TorchStructure)   # bounds, nonsmooth terms, h(x)=0, g(x)<=0
    model: Any = None                               # a model kind's torch model (``ModelKind.torch_model``)

    @property
    def smooth(self) -> Callable:
        """The smooth part s of a composite objective f = s + Σ prox-able terms (``structure.nonsmooth``),
        as ``s(x_flat, rows=None)``; the oracle counts it as ``of="smooth"``. Without terms: the objective."""
        return self.functions.get("smooth", self.objective)


class TorchEvaluator:
    """Evaluates compiled IR nodes on flat vectors: the data live on the device once."""

    def __init__(self, problem, device, dtype):
        self.dtype, self.device = dtype, device
        self.params = dict(problem.parameters)
        self.data = {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in problem.data.items()}
        self.row_data = {k: self.data[k] for k in problem.sections.rows}
        self.layout = [(v.name, v.shape, v.offset, v.size) for v in problem.variables]

    def unflatten(self, x):
        if len(self.layout) == 1:        # one variable: the vector itself, or a view (no slice on the autograd path)
            name, shape, _, _ = self.layout[0]
            return {name: x if x.shape == shape else x.reshape(shape)}
        return {name: x[off:off + size].reshape(shape) for name, shape, off, size in self.layout}

    def env(self, x, rows=None):
        env = dict(self.data)
        if rows is not None:
            for name, full in self.row_data.items():
                env[name] = full.index_select(0, rows)
        env.update(self.unflatten(x))
        return env

    def tensor(self, value):
        return value if torch.is_tensor(value) else torch.as_tensor(value, dtype=self.dtype, device=self.device)

    def scalar(self, node):
        """``fn(x, rows=None) -> 0-d tensor`` for a scalar expression; with the attribute
        ``value_and_grad(x, rows=None) -> (0-d value, flat gradient)`` when every variable-dependent
        node has a reverse rule (``solverhub.lower.to_torch_grad``; else the oracle uses autograd)."""
        f = compile_torch(node, self.params)

        def value(x, rows=None):
            out = self.tensor(f(self.env(x, rows)))
            return out if out.dim() == 0 else out.reshape(())   # no view node on the autograd path
        vg = compile_torch_value_and_grad(node, self.params, [(name, shape) for name, shape, _, _ in self.layout])
        if vg is not None:
            def value_and_grad(x, rows=None):
                return vg(self.env(x.detach() if x.requires_grad else x, rows))
            value.value_and_grad = value_and_grad
        return value

    def array(self, node):
        """``fn(x) -> tensor`` for any expression (shape of the node)."""
        f = compile_torch(node, self.params)
        return lambda x: self.tensor(f(self.env(x)))


class ObjectiveSections(PlainModel):
    """``objective: <expression>`` (``str | float``); a plain record, so that ``validate`` of a
    ``minimize`` problem imports no pydantic (``solverhub.problem.records``)."""

    objective = Field(str_or_number)


def _solver_measure(name: str, known: Known, kind_measures):
    """A measure the solver logs (``Solver.log``: e.g. O2NC's Goldstein-style averaged gradient)."""
    value = known.logged.get(name)
    if value is None:
        raise KeyError(f"stationarity measure {name!r} is neither one of the kind's ({', '.join(kind_measures)}) "
                       f"nor logged by the solver (Solver.log)")
    return value


def _constraint_functions(constraints) -> TorchStructure:
    """``h(x) = 0`` and ``g(x) <= 0`` as two flat functions from the expression constraints'
    violation forms (``(op, fn)``: ``==`` into h, ``<=`` into g)."""
    eqs = [fn for op, fn in constraints if op == "=="]
    ineqs = [fn for op, fn in constraints if op != "=="]

    def stack(fns):
        if not fns:
            return None
        return lambda x: torch.cat([fn(x).reshape(-1) for fn in fns])
    return TorchStructure(equalities=stack(eqs), inequalities=stack(ineqs))


class ProblemKind:
    """Base of every problem kind: its YAML sections, its lowering to torch, its reference
    answer and its measures. Two families derive from it: :class:`ExpressionKind` (the
    objective is an expression IR, lowered to torch and to cvxpy) and :class:`ModelKind`
    (the objective is a torch model; no IR).

    ``measure`` knows ``grad_norm`` (l2), ``grad_norm_l1``, ``grad_norm_inf``,
    ``projected_grad_norm`` (||x - P(x - ∇f(x))|| on the variables' bounds; the default of a
    bounded problem, ``Problem.default_measure``) and ``prox_grad_norm`` (||x - P(prox_g(x - ∇s(x)))||
    for f = s + g, ``solverhub.problem.composite``; the default of a composite problem); a solver may name any other measure in
    ``stationarity_measure`` and return it from ``Solver.log``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Sections: ClassVar[type[BaseModel]] = ObjectiveSections
    default_measure: ClassVar[str] = "grad_norm"
    polishable: ClassVar[bool] = True     # the baseline may polish cvxpy's point by L-BFGS on the objective
    tiny_problem: ClassVar[str | None] = None   # YAML of a tiny instance for the conformance kit (plugin kinds)
    catalog: Catalog | None = None   # the registry's datasets and models; set by load_problem before prepare()
    # True: the torch objective is a plain unconstrained function to minimize (e.g. a model's NLL),
    # so every solver that accepts ``minimize`` may run on this kind too
    generic_minimization: ClassVar[bool] = False
    # True: the objective is split into smooth + prox-able terms when the problem loads
    # (solverhub.problem.composite; minimize and finite_sum)
    composite: ClassVar[bool] = False

    # -- YAML -> IR ------------------------------------------------------
    def prepare(self, sections, raw: dict, file: str | None, line_of: Callable[[tuple], int | None]) -> None:
        """Called once by ``load_problem`` after the kind's sections validate and before
        ``implicit_variables``: kinds that read their own data or build their own model
        (training) do it here, with ``file:line`` for errors. ``raw`` is the whole file. Default: nothing."""

    def implicit_variables(self, sections, data_shapes: dict, location) -> dict:
        """Variables implied by the kind when the file declares none (``{name: shape}``).
        Expression kinds need declared variables."""
        from ...errors import ProblemError
        raise ProblemError("variables: required section missing", location=location,
                           allowed="variables: {x: {shape: [n]}}")

    def compile(self, sections: BaseModel, ctx: ExpressionContext) -> CompiledSections:
        """YAML sections -> :class:`CompiledSections`."""
        raise NotImplementedError

    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        raise NotImplementedError

    def lower_cvxpy(self, problem):
        """``(cp.Problem, {name: cp.Variable}, [constraints])`` of the convex form, or raise NoBaseline."""
        raise NoBaseline(f"kind {self.name!r} has no cvxpy form")

    def reference_solve(self, problem, solver: str | None = None) -> Reference:
        """The kind's reference answer (raises NoBaseline when there is none)."""
        raise NoBaseline(f"kind {self.name!r} has no reference solve")

    def report(self, tp, oracle, x) -> dict:
        """Kind-specific numbers at the final point for ``Result.extras`` (uncounted)."""
        return {}

    # -- the start ---------------------------------------------------------
    def start_depends_on_seed(self, problem) -> bool:
        """True when the run's seed draws the start: here, some ``x0: {generate: ...}`` names no seed."""
        return bool(problem.x0_generators)

    def start(self, problem, seed: int | None = None):
        """The starting point (flat numpy): ``problem.x0``, with the x0 generators that name no
        seed drawn from ``seed`` (the run's seed) when it is given."""
        if seed is None or not problem.x0_generators:
            return problem.x0
        from ..data import build_array
        x0 = problem.x0.copy()
        for var, spec in problem.x0_generators:
            arr = build_array({**spec, "seed": int(seed) % 2**64}, base=None, what=f"x0.{var.name}",
                              location=problem.location("variables", var.name, "x0"), default_shape=var.shape)
            x0[var.offset:var.offset + var.size] = np.broadcast_to(arr, var.shape).reshape(-1)
        return x0

    # -- measures --------------------------------------------------------
    def measure(self, name: str, tp: TorchProblem, oracle, x, known: Known):
        """Return (objective, stationarity) as 0-d tensors at ``x`` (exact, uncounted), using
        what the solver already computed (:class:`Known`) when the oracle is exact."""
        value, grad = known.value, known.grad
        if name == "kkt_residual" and tp.structure.epigraph is not None:    # epigraph form (its multipliers)
            from ..epigraph import epigraph_kkt
            return oracle.peek_value(x), epigraph_kkt(tp, oracle, x, known.duals)
        if name == "prox_grad_norm" and "smooth" in oracle.functions:   # needs ∇s, not ∇f: f's value only
            from ..composite import prox_grad_mapping    # ||x - prox_g(x - ∇s(x))||, step 1
            exact = not oracle.stochastic
            value = value if value is not None and exact else oracle.peek_value(x)
            smooth_grad = known.smooth_grad if known.smooth_grad is not None and exact \
                else oracle.peek_grad(x, of="smooth")
            return value, torch.linalg.vector_norm(prox_grad_mapping(tp.structure, x, smooth_grad))
        if value is None or grad is None or oracle.stochastic:
            value, grad = oracle.peek_value_and_grad(x)
        if name == "grad_norm":
            return value, torch.linalg.vector_norm(grad)
        if name == "grad_norm_l1":
            return value, torch.linalg.vector_norm(grad, 1)
        if name == "grad_norm_inf":
            return value, torch.linalg.vector_norm(grad, float("inf"))
        if name == "projected_grad_norm":     # ||x - P(x - grad f(x))||: 0 exactly at the box's stationary points
            return value, torch.linalg.vector_norm(tp.structure.projected_gradient(x, grad))
        if name == "prox_grad_norm":          # no nonsmooth term: the projected gradient (∇f with no bounds)
            return value, torch.linalg.vector_norm(tp.structure.projected_gradient(x, grad))
        return value, _solver_measure(name, known, self.measures)

    measures: ClassVar[tuple[str, ...]] = ("grad_norm", "grad_norm_l1", "grad_norm_inf", "projected_grad_norm",
                                           "prox_grad_norm")




class ExpressionKind(ProblemKind):
    """A kind whose objective (and constraints, operator, ...) is an expression IR: lowered
    to torch by :class:`TorchEvaluator` and to cvxpy for the baseline. The core's
    ``minimize``, ``constrained``, ``finite_sum``, ``bilevel``, ``monotone`` and ``minimax``."""

    def compile(self, sections: BaseModel, ctx: ExpressionContext) -> CompiledSections:
        objective = ctx.parse(sections.objective, ("objective",))
        self._check_scalar(objective, ctx, ("objective",))
        return CompiledSections(objective=objective)

    @staticmethod
    def _check_scalar(node: Node, ctx: ExpressionContext, path: tuple) -> None:
        from ...errors import ProblemError
        if node.shape not in ((), (1,)):
            raise ProblemError(f"{'.'.join(map(str, path))}: must be a scalar, got shape {node.shape}; "
                               "wrap it in sum(...) or mean(...)",
                               location=Location(ctx.file, ctx.line_of(path)))

    # -- IR -> torch -----------------------------------------------------
    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        ev = TorchEvaluator(problem, device, dtype)
        constraints = tuple((node.op, ev.array(node)) for node in problem.sections.constraints)
        x0 = torch.as_tensor(problem.x0, dtype=dtype, device=device).clone()
        structure = _constraint_functions(constraints)
        functions = {}
        if problem.structure.nonsmooth:      # composite: the smooth part and the terms' value/prox
            from ..composite import torch_terms
            functions["smooth"] = ev.scalar(problem.sections.functions["smooth"])
            structure = dataclasses.replace(structure, nonsmooth=torch_terms(problem.structure.nonsmooth,
                                                                             problem.variables))
        if problem.structure.simple_sets:        # constraint lines that are simple sets: their projection
            from ..composite import set_projection
            structure = dataclasses.replace(structure, sets=set_projection(problem.structure.constraints,
                                                                           problem.variables))
        if problem.structure.epigraph is not None:     # unsplit terms: their epigraph form and the smooth rest
            from ..epigraph import torch_epigraph
            functions["smooth"] = ev.scalar(problem.sections.functions["smooth"])
            structure = dataclasses.replace(structure, epigraph=torch_epigraph(problem.structure.epigraph, ev,
                                                                               problem.dim))
        return TorchProblem(ev.scalar(problem.sections.objective), constraints, ev.unflatten, x0,
                            functions=functions, structure=structure)

    # -- IR -> cvxpy (the baseline) ------------------------------------------
    def lower_cvxpy(self, problem):
        """Return ``(cp.Problem, {name: cp.Variable}, [cvxpy constraints])`` or raise NoBaseline."""
        sec = problem.sections
        variables = {v.name: cp.Variable(v.shape, name=v.name) for v in problem.variables}
        env = dict(problem.data)
        env.update(variables)
        try:
            objective = compile_cvxpy(sec.objective, env, problem.parameters)
            constraints = [compile_cvxpy(c, env, problem.parameters) for c in sec.constraints]
        except NoCvxpyForm as err:
            raise NoBaseline(str(err)) from None
        except Exception as err:  # cvxpy raises ValueError/DCPError on e.g. products of variables
            raise NoBaseline(f"cvxpy cannot represent the problem: {err}") from None
        if not isinstance(objective, cp.Expression):
            objective = cp.Constant(objective)
        prob = cp.Problem(cp.Minimize(objective), constraints + bound_constraints(problem, variables))
        if not prob.is_dcp():
            bad = "objective" if not cp.Minimize(objective).is_dcp() else "a constraint"
            raise NoBaseline(f"the problem is not DCP ({bad} is not convex by cvxpy's rules)")
        return prob, variables, constraints

    def reference_solve(self, problem, solver: str | None = None) -> Reference:
        """The kind's reference answer (raises NoBaseline when there is none): here cvxpy on
        ``lower_cvxpy``'s form. The baseline certifies the point with the torch oracle."""
        prob, variables, constraints = self.lower_cvxpy(problem)
        import numpy as np
        elapsed, used = solve_cvxpy(prob, solver)
        x = np.zeros(problem.dim)
        for v in problem.variables:
            value = variables[v.name].value
            if value is None:
                x = None
                break
            x[v.offset:v.offset + v.size] = np.asarray(value, dtype=np.float64).reshape(-1)
        duals = [np.asarray(c.dual_value, dtype=np.float64) if c.dual_value is not None else np.zeros(1)
                 for c in constraints] if constraints else None
        return cvxpy_reference(prob.status, x, used, elapsed, duals=duals)



def field_given(sections, path: tuple[str, ...]) -> bool:
    """True when the file sets the (nested) section field at ``path`` (pydantic's fields set)."""
    node = sections
    for key in path:
        if key not in (getattr(node, "model_fields_set", None) or ()):   # a pydantic or a plain model
            return False
        node = getattr(node, key)
    return True


def bound_constraints(problem, variables) -> list:
    """The variables' finite bounds as cvxpy constraints (``lower <= x``, ``x <= upper``), kept out
    of the expression constraints' list so that its duals stay one per ``constraints:`` line."""
    out = []
    for name, b in problem.structure.bounds.items():
        var = variables[name]
        for side, arr in (("lower", b.lower), ("upper", b.upper)):
            if arr is None:
                continue
            arr = arr.reshape(var.shape)
            finite = np.isfinite(arr)
            if not finite.any():
                continue
            if finite.all():
                out.append(var >= arr if side == "lower" else var <= arr)
            else:           # only the finite entries (cvxpy rejects inf constants)
                idx = np.flatnonzero(finite.reshape(-1))
                flat = cp.reshape(var, (var.size,), order="C")[idx]
                vals = arr.reshape(-1)[idx]
                out.append(flat >= vals if side == "lower" else flat <= vals)
    return out


def reference_takes_bounds(kind) -> bool:
    """True when the kind's reference is :class:`ExpressionKind`'s cvxpy form, which adds the
    variables' bounds as constraints; another kind's reference ignores them (no baseline then)."""
    cls = type(kind)
    return (isinstance(kind, ExpressionKind) and cls.lower_cvxpy is ExpressionKind.lower_cvxpy
            and cls.reference_solve is ExpressionKind.reference_solve)


def solve_cvxpy(prob, solver: str | None) -> tuple[float, str]:
    """``prob.solve`` with the named cvxpy solver; (seconds, solver used). A cvxpy failure
    becomes NoBaseline."""
    import time
    t0 = time.perf_counter()
    try:
        prob.solve(solver=solver.upper() if solver else None)
    except cp.error.SolverError as err:
        raise NoBaseline(f"cvxpy failed: {err}") from None
    used = prob.solver_stats.solver_name if prob.solver_stats else (solver or "cvxpy")
    return time.perf_counter() - t0, used


_CVXPY_STATUS = {"optimal": ReferenceStatus.CERTIFIED, "optimal_inaccurate": ReferenceStatus.INACCURATE,
                 "infeasible": ReferenceStatus.INFEASIBLE, "infeasible_inaccurate": ReferenceStatus.INFEASIBLE,
                 "unbounded": ReferenceStatus.UNBOUNDED, "unbounded_inaccurate": ReferenceStatus.UNBOUNDED}


def cvxpy_reference(cvxpy_status: str, x, solver: str, seconds: float, message: str = "", **more) -> Reference:
    """A :class:`Reference` from cvxpy's status word (``optimal`` is *certified* pending the
    baseline's certificate, ``optimal_inaccurate`` *inaccurate*, anything unknown *failed*)."""
    status = _CVXPY_STATUS.get(cvxpy_status, ReferenceStatus.FAILED)
    if x is None and status.has_answer:
        status, message = ReferenceStatus.FAILED, message or f"cvxpy returned no point ({cvxpy_status})"
    return Reference(status, solver, x=x, solve_time_s=seconds, message=message, backend_status=cvxpy_status, **more)


class ModelKind(ProblemKind):
    """Base of kinds whose objective is a model written in torch, not an expression
    (mixtures of experts, factorizations, training a network): no IR, no cvxpy form.

    A model kind implements
      * ``build_model(sections, ctx) -> spec``: validate the kind's sections and data shapes,
        return a typed, frozen spec (numpy data, configuration) kept as ``problem.sections.model``;
      * ``torch_model(problem, device, dtype) -> model``: an object with
        ``objective(x_flat, rows=None) -> 0-d tensor`` (and whatever its measures and report
        need), kept as ``TorchProblem.model``;
    and may override ``default_start(problem, seed=None)`` (the start when the file gives no
    ``x0``; a kind that names its start seed's YAML key in ``start_seed`` gets the run's seed
    there when the file does not set that key), ``reference_solve``
    (a classical method or closed form returning a :class:`Reference`, LOCAL for a local
    optimum), ``measure`` and ``report``.
    """

    generic_minimization: ClassVar[bool] = True
    no_cvxpy_reason: ClassVar[str] = "the objective is a model, not a convex expression"
    # the ``data:`` entries the kind reads (others are an error at their line); None: any
    data_names: ClassVar[tuple[str, ...] | None] = None
    # the YAML path of the kind's start seed (e.g. ("init", "seed")): when the file does not set
    # it, ``default_start(problem, seed)`` gets the run's seed; None: the start takes no seed
    start_seed: ClassVar[tuple[str, ...] | None] = None

    def build_model(self, sections, ctx: ExpressionContext):
        raise NotImplementedError

    def torch_model(self, problem, device, dtype):
        raise NotImplementedError

    def start(self, problem, seed: int | None = None):
        """The starting point (flat numpy): the file's ``x0`` when it gives one (not all
        zeros), else :meth:`default_start` (with ``seed``, the run's seed, when the start depends on it)."""
        if np.any(problem.x0 != 0):
            return problem.x0
        return self.default_start(problem) if seed is None else self.default_start(problem, seed)

    def default_start(self, problem, seed: int | None = None):
        """The kind's own start when the file gives none (e.g. a seeded initialisation); ``seed``
        replaces the file's start seed (only for a kind that names ``start_seed``)."""
        return problem.x0

    def start_depends_on_seed(self, problem) -> bool:
        return problem.sections.seeded_start and not np.any(problem.x0 != 0)

    def compile(self, sections, ctx: ExpressionContext) -> CompiledSections:
        """Checks the data names and the declared variables against the kind's, then ``build_model``."""
        self._check_data_names(ctx)
        if ctx.symbols.variables:
            want = {k: tuple(v) for k, v in self.implicit_variables(sections, dict(ctx.symbols.data),
                                                                    ctx.location("data")).items()}
            declared = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
            if declared != want:
                from ...errors import ProblemError
                raise ProblemError(f"variables: {declared} do not match the model's {want}",
                                   location=ctx.location("variables"),
                                   allowed="omit variables: (the kind implies them)")
        built = self.build_model(sections, ctx)
        built = built if isinstance(built, CompiledSections) else CompiledSections(model=built)
        if self.start_seed is not None and not field_given(sections, self.start_seed):
            built = dataclasses.replace(built, seeded_start=True)
        return built

    def _check_data_names(self, ctx: ExpressionContext) -> None:
        if self.data_names is None:
            return
        unknown = [k for k in ctx.symbols.data if k not in self.data_names]
        if unknown:
            from ...errors import ProblemError
            raise ProblemError(f"data: unknown entry {unknown[0]!r} for kind {self.name}",
                               location=ctx.location("data", unknown[0]),
                               allowed=", ".join(self.data_names) or "(no data entries)")

    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        model = self.torch_model(problem, device, dtype)
        layout = [(v.name, v.shape, v.offset, v.size) for v in problem.variables]

        def unflatten(x):
            return {name: x[off:off + size].reshape(shape) for name, shape, off, size in layout}
        x0 = torch.as_tensor(self.start(problem), dtype=dtype, device=device).clone()
        return TorchProblem(objective=model.objective, constraints=(), unflatten=unflatten, x0=x0, model=model)

    def lower_cvxpy(self, problem):
        raise NoBaseline(f"{self.no_cvxpy_reason}; the kind's reference is its reference_solve "
                         "(solverhub baseline FILE)" if type(self).reference_solve is not ModelKind.reference_solve
                         else self.no_cvxpy_reason)

    def reference_solve(self, problem, solver: str | None = None) -> Reference:
        raise NoBaseline(self.no_cvxpy_reason)
