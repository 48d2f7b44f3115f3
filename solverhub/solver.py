"""The :class:`Solver` base class and the one shared run loop.

A solver is optax-shaped: ``init(problem, oracle, x0, options) -> state`` and
``step(state, oracle, options) -> state`` (one iteration, nothing else). Stopping
rules, budgets, timing, trace sampling, device handling and the Result all live
here, once. Non-iterative solvers (the cvxpy baseline) override ``solve_direct`` and
return a :class:`~solverhub.reference.Reference`. The loop measures progress
without reading solver state: it passes what the state already holds (``value``,
``grad``, ``duals``) and the solver's ``log(state)`` to the kind's measure.
"""
from __future__ import annotations

__all__ = ["Solver", "Capabilities", "IterState", "NoOptions", "run_loop",
           "Acceptance", "Refusal", "RefusalCode", "Verdict", "as_verdict", "verdict_of"]

import enum
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Union

from ._lazy import lazy_module
from .oracle import BudgetExhausted, Known, Oracle
from .options import RunOptions, SolverOptions
from .result import Status, TracePoint
from .schedule import Schedule

torch = lazy_module("torch")


@dataclass(frozen=True)
class Capabilities:
    """What a solver needs from a problem and what it can handle."""

    needs_hvp: bool = False        # calls oracle.hvp
    stochastic_ok: bool = False    # meaningful with minibatch / noisy gradients
    constraints: bool = False      # handles explicit constraints
    bounds: bool = False           # keeps the iterates within the variables' lower/upper bounds
    devices: tuple[str, ...] = ("cpu", "cuda")
    max_dim: int | None = None     # refuses problems with more unknowns (e.g. dense d x d state)
    # takes objectives with nonsmooth atoms no prox splits (structure.unsplit): the epigraph form,
    # a convex solver, or a nonsmooth method with its own stationarity measure (Goldstein)
    nonsmooth: bool = False


class RefusalCode(str, enum.Enum):
    """Why a solver refuses a problem: the ``code`` of a :class:`Refusal`. Code that acts on
    a refusal (grouping, counting, dispatch) reads the code, never the text."""

    WRONG_KIND = "wrong_kind"            # the problem's kind is not among the solver's ``kinds``
    NO_CONSTRAINTS = "no_constraints"    # the problem has explicit constraints; the solver does not handle them
    NO_BOUNDS = "no_bounds"              # the problem's variables have bounds; the solver cannot keep to them
    NEEDS_EXACT = "needs_exact"          # the problem's oracle is stochastic; the solver needs exact gradients
    TOO_LARGE = "too_large"              # more unknowns than ``capabilities.max_dim``
    STRUCTURE = "structure"              # a structure the method relies on is missing (no convex form,
                                         # an operator proven non-monotone, ...)
    ERROR = "error"                      # ``accepts()`` itself raised; the text names the exception
    OTHER = "other"                      # any other reason, and every legacy ``(False, reason)`` answer

    def __str__(self) -> str:
        return self.value


class _LegacyPair:
    """``ok, why = solver.accepts(problem)`` and ``solver.accepts(problem)[0]`` keep working
    for callers written against the old ``(bool, reason)`` answer."""

    def __iter__(self):
        return iter((bool(self), self.text))

    def __getitem__(self, index):
        return (bool(self), self.text)[index]

    def __len__(self) -> int:
        return 2

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Acceptance(_LegacyPair):
    """A solver's yes to a problem: truthy, with the explanation that ``solverhub list --for``
    and dispatch show (``"accepts kind 'minimize'"``)."""

    text: str
    code: ClassVar[None] = None

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Refusal(_LegacyPair):
    """A solver's no to a problem (cf. benchopt's ``skip()`` with a reason): falsy, with a
    :class:`RefusalCode` for code to act on and a text for people to read."""

    code: RefusalCode
    text: str

    def __post_init__(self):
        if not isinstance(self.code, RefusalCode):
            raise TypeError(f"Refusal code must be a RefusalCode ({', '.join(c.name for c in RefusalCode)}), "
                            f"not {self.code!r}")

    def __bool__(self) -> bool:
        return False


Verdict = Union[Acceptance, Refusal]


def as_verdict(answer) -> Verdict:
    """Normalize what ``accepts``/``accepts_problem`` returned: an :class:`Acceptance` or a
    :class:`Refusal` passes through; a legacy ``(bool, reason)`` tuple (third-party plugins
    written before the typed answer) becomes ``Acceptance(reason)`` or
    ``Refusal(RefusalCode.OTHER, reason)``."""
    if isinstance(answer, (Acceptance, Refusal)):
        return answer
    if isinstance(answer, tuple) and len(answer) == 2:
        ok, why = answer
        return Acceptance(str(why)) if ok else Refusal(RefusalCode.OTHER, str(why))
    raise TypeError(f"accepts() must return an Acceptance, a Refusal or a (bool, reason) tuple, "
                    f"not {type(answer).__name__}")


def verdict_of(solver: "Solver", problem) -> Verdict:
    """``solver.accepts(problem)``, normalized by :func:`as_verdict` (exceptions propagate)."""
    return as_verdict(solver.accepts(problem))


class NoOptions(SolverOptions):
    """A solver without options of its own."""


@dataclass(frozen=True, kw_only=True)
class IterState:
    """Minimal solver state read by the run loop.

    ``x``: current iterate (flat tensor on the oracle's device). ``value`` and
    ``grad``: f(x) and the *exact* gradient at ``x`` if the solver already has
    them (saves a measurement call), else ``None``. ``stop``: ``(Status, message)``
    in the state ``step`` returns ends the run. States are frozen: ``step`` returns a
    new one (``dataclasses.replace``), holding arrays, not closures, options or optimizers.
    """

    x: Any
    value: Any = None
    grad: Any = None
    stop: tuple[Status, str] | None = None


class Solver:
    """Base class of every method. Subclasses set the class attributes and
    implement ``init``/``step`` (or ``solve_direct``)."""

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    version: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()
    priority: ClassVar[int] = 0
    Options: ClassVar[type] = NoOptions
    stationarity_measure: ClassVar[str | None] = None   # None: the kind's default
    description: ClassVar[str] = ""
    host_syncs_per_step: ClassVar[int] = 0   # documented device->host syncs per step (line-search tests); checked by the kit

    # -- acceptance and dispatch -------------------------------------------
    def accepts(self, problem) -> Verdict:
        """:class:`Acceptance` (truthy, with why) if this solver can run ``problem``, else a
        :class:`Refusal` with a :class:`RefusalCode` and a reason."""
        generic = "minimize" in self.kinds and getattr(problem.kind, "generic_minimization", False)
        if problem.kind.name not in self.kinds and not generic:
            return Refusal(RefusalCode.WRONG_KIND, f"accepts kinds {', '.join(self.kinds)}, not {problem.kind.name!r}")
        caps = self.capabilities
        if problem.has_constraints and not caps.constraints:
            return Refusal(RefusalCode.NO_CONSTRAINTS, "does not handle explicit constraints")
        if getattr(problem, "has_bounds", False) and not caps.bounds:
            return Refusal(RefusalCode.NO_BOUNDS, "does not handle variable bounds (lower/upper); "
                                                  "lbfgsb and cvxpy do")
        if problem.oracle_config.stochastic and not caps.stochastic_ok:
            return Refusal(RefusalCode.NEEDS_EXACT, "needs exact gradients (the problem's oracle is stochastic)")
        if caps.max_dim is not None and problem.dim > caps.max_dim:
            return Refusal(RefusalCode.TOO_LARGE,
                           f"keeps dense {problem.dim}x{problem.dim} state; limit is {caps.max_dim} unknowns")
        structure = getattr(problem, "structure", None)
        if structure is not None and structure.unsplit and not caps.nonsmooth:
            return Refusal(RefusalCode.STRUCTURE, structure.nonsmooth_refusal(problem.location("objective").line))
        return as_verdict(self.accepts_problem(problem))

    def accepts_problem(self, problem) -> Verdict:
        """Hook for solver-specific checks beyond kind and capabilities: return an
        :class:`Acceptance` or a :class:`Refusal` (a legacy ``(bool, reason)`` tuple is
        normalized, a refusal then has code ``OTHER``)."""
        return Acceptance(f"accepts kind {problem.kind.name!r}")

    def priority_for(self, problem) -> int:
        """Dispatch priority for ``problem`` (higher wins); default: the class's ``priority``."""
        return self.priority

    # -- the method --------------------------------------------------------
    @classmethod
    def prepare(cls) -> None:
        """One-time set-up kept out of the timed region (heavy imports, JIT warm-up).
        Called before every solve; make it idempotent and cheap after the first call."""

    def init(self, problem, oracle: Oracle, x0, options) -> IterState:
        raise NotImplementedError

    def step(self, state: IterState, oracle: Oracle, options) -> IterState:
        raise NotImplementedError

    def log(self, state: IterState) -> dict:
        """Solver-named measures at ``state`` as 0-d tensors on the oracle's device (e.g. O2NC's
        ``goldstein_grad_norm``), sampled by the run loop with the trace; no host sync here.
        Default: the state's attribute named ``stationarity_measure``, when the solver names one."""
        name = self.stationarity_measure
        value = getattr(state, name, None) if name else None
        return {} if value is None else {name: value}

    def report(self, state: IterState, oracle: Oracle, options) -> dict:
        """Method-specific numbers for ``Result.extras`` (called once at the end, outside the
        method's time; its oracle calls are not counted, ``oracle.uncounted``)."""
        return {}

    # ``solve_direct(problem, options) -> Reference`` for a non-iterative solver
    solve_direct: ClassVar[Callable | None] = None


@dataclass
class LoopOutcome:
    state: IterState | None
    status: Status
    message: str
    iterations: int
    trace: list[TracePoint]
    final_objective: float
    final_stationarity: float
    wall_time_s: float            # the method's time: the clock stops while the loop measures
    measure_time_s: float = 0.0   # time spent sampling the trace (measure + host sync)


class _Clock:
    """Method time: ``perf_counter`` minus the time spent measuring. On CUDA it synchronizes
    before reading the clock at each boundary, so queued kernels count where they ran."""

    def __init__(self, device):
        cuda = getattr(device, "type", str(device)) == "cuda"
        self.sync = (lambda: torch.cuda.synchronize(device)) if cuda else None
        self.measured = 0.0
        self.t0 = self.now()

    def now(self) -> float:
        if self.sync is not None:
            self.sync()
        return time.perf_counter()

    def method(self, at: float | None = None) -> float:
        return (time.perf_counter() if at is None else at) - self.t0 - self.measured


#: Stops that may fire between two trace samples, after the tolerance was already met.
_UNSAMPLED_STOPS = (Status.FAILED, Status.MAX_ITERATIONS, Status.TIME_LIMIT, Status.BUDGET_EXHAUSTED)


def run_loop(solver: Solver, problem, oracle: Oracle, x0, options, run: RunOptions,
             measure: Callable) -> LoopOutcome:
    """Iterate ``solver.step`` until a stopping rule fires.

    ``measure(x, known) -> (objective, stationarity)`` returns two 0-d tensors, given a
    :class:`~solverhub.oracle.Known` built from the state (``value``, ``grad``,
    ``duals``) and ``solver.log(state)``; it is called (and synced to the host) at the
    iterations of the :class:`~solverhub.schedule.Schedule` (``trace_every``; 0: the default
    log-spaced one) and at the last. The clock stops while it measures (``TracePoint.time_s``
    and ``wall_time_s`` are the method's time) and its oracle calls are not counted
    (``oracle.uncounted``). The tolerance is checked only at samples; a state's ``stop``
    ends the run at once; ``time_limit_s`` bounds the wall time, measuring included. A run
    stopped by a solver's failure or a budget between samples whose last point meets the
    tolerance ends ``converged`` (the message names the stop that fired).
    """
    schedule = Schedule(run.trace_every)
    clock = _Clock(oracle.device)
    trace: list[TracePoint] = []

    def sample(it: int, st: IterState) -> tuple[float, float]:
        t_in = clock.now()              # on CUDA: the method's queued work ends here
        with oracle.uncounted():
            objective, stat = measure(st.x, known_at(solver, st))
            obj, sv = float(objective), float(stat)     # the only host sync
        t_out = time.perf_counter()
        trace.append(TracePoint(it, clock.method(t_in), oracle.total_calls, obj, sv))
        clock.measured += t_out - t_in
        return obj, sv

    iterations = 0
    state = None
    try:
        state = solver.init(problem, oracle, x0, options)
    except BudgetExhausted as err:
        return LoopOutcome(None, Status.BUDGET_EXHAUSTED, str(err), 0, trace,
                           math.nan, math.nan, clock.method(clock.now()))
    obj, stat = sample(0, state)
    status, message = None, ""
    if not (math.isfinite(obj) and math.isfinite(stat)):
        status, message = Status.DIVERGED, "non-finite objective or gradient at the starting point"
    elif stat <= run.tolerance:
        status, message = Status.CONVERGED, f"stationarity {stat:.3g} <= tolerance {run.tolerance:g}"
    next_sample = schedule.next_after(0)
    limit, max_iterations, step, perf_counter = run.time_limit_s, run.max_iterations, solver.step, time.perf_counter
    while status is None:          # per iteration: two int compares, one clock read, the step
        if iterations >= max_iterations:
            status, message = Status.MAX_ITERATIONS, f"reached max_iterations={max_iterations}"
            break
        if limit is not None and perf_counter() - clock.t0 > limit:
            status, message = Status.TIME_LIMIT, f"reached time_limit_s={limit:g}"
            break
        try:
            new_state = step(state, oracle, options)
        except BudgetExhausted as err:
            status, message = Status.BUDGET_EXHAUSTED, str(err)
            break
        state = new_state
        iterations += 1
        if state.stop is not None:
            status, message = state.stop
            break
        if iterations == next_sample:
            next_sample = schedule.next_after(iterations)
            obj, stat = sample(iterations, state)
            if not (math.isfinite(obj) and math.isfinite(stat)):
                status, message = Status.DIVERGED, f"non-finite objective or gradient at iteration {iterations}"
            elif stat <= run.tolerance:
                status, message = Status.CONVERGED, f"stationarity {stat:.3g} <= tolerance {run.tolerance:g}"
    if not trace or trace[-1].iteration != iterations:
        obj, stat = sample(iterations, state)
        if status in (Status.CONVERGED, Status.MAX_ITERATIONS) and not math.isfinite(obj):
            status, message = Status.DIVERGED, f"non-finite objective at iteration {iterations}"
        elif status in _UNSAMPLED_STOPS and math.isfinite(obj) and stat <= run.tolerance:
            # the tolerance was met between samples: the stop that fired first (a solver's own
            # "no progress" at the attainable floor, the iteration/time/call budget) is not the outcome
            status, message = Status.CONVERGED, (f"stationarity {stat:.3g} <= tolerance {run.tolerance:g} "
                                                 f"at the final iteration (stopped by: {message})")
    return LoopOutcome(state, status, message, iterations, trace, trace[-1].objective,
                       trace[-1].stationarity, trace[-1].time_s, clock.measured)


def known_at(solver: Solver, state) -> Known:
    """What ``state`` already holds for the kind's measure: exact value and gradient (of f, and
    ``smooth_grad`` of a composite objective's smooth part) when the solver keeps them, the constraint multipliers, and the solver's logged measures."""
    return Known(value=getattr(state, "value", None), grad=getattr(state, "grad", None),
                 smooth_grad=getattr(state, "smooth_grad", None), duals=getattr(state, "duals", None),
                 logged=solver.log(state))
