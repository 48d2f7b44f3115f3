"""The conformance kit: ``check_solver(cls)`` runs the same checks on any solver
(cf. ``benchopt test``). The test suite runs it on every registered solver;
plugin authors call it from their own tests::

    from solverhub.testing import check_solver
    def test_conformance():
        check_solver(MySolver)

Checks: declared kinds are accepted on a tiny problem of each kind; a problem
of an undeclared kind is refused with a reason; the tiny problems are solved
(objective within 1% of the known optimum's progress); ``max_iterations`` and
``max_oracle_calls`` are respected; results are deterministic under a seed and
round-trip through JSON exactly.

``count_host_syncs(monkeypatch)`` counts device-to-host copies (``float(t)``,
``t.item()``, ``bool(t)``, ...) for the GPU rule: no per-iteration host syncs;
``check_solver`` holds ``step`` to it (a solver declares documented syncs in
``host_syncs_per_step``).

The module is also a pytest plugin (entry point ``pytest11``: installing solverhub is
enough), with the fixtures ``single_thread``, ``make_oracle``, ``drive`` and
``count_host_syncs``; loading it imports neither torch nor the registry.
"""
from __future__ import annotations

__all__ = ["check_solver", "check_entry_point", "TINY_PROBLEMS", "tiny_problem", "count_host_syncs", "HOST_SYNCS",
           "ALL_HOST_SYNCS", "HostSyncs", "make_oracle", "drive", "Driven"]

import dataclasses
import math
from typing import Mapping

from .result import Result, Status
from .solver import RefusalCode, verdict_of

TINY_PROBLEMS: dict[str, str] = {
    "minimize": """
name: tiny-quadratic
kind: minimize
variables: {x: {shape: [3], x0: [1.0, -1.0, 2.0]}}
data:
  A: [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]]
  b: [1.0, 0.0, -1.0]
objective: "0.5 * sum_squares(A @ x - b) + 0.05 * sum_squares(x)"
""",
    "finite_sum": """
name: tiny-least-squares
kind: finite_sum
variables: {w: {shape: [2]}}
data:
  X: [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]]
  y: [1.0, 2.0, 3.0, -1.0]
objective: "0.5 * mean(square(X @ w - y)) + 0.01 * sum_squares(w)"
""",
    "constrained": """
name: tiny-simplex-qp
kind: constrained
variables: {x: {shape: [3]}}
data:
  c: [0.3, -0.2, 0.1]
objective: "sum_squares(x) + c @ x"
constraints: ["sum(x) == 1", "x >= 0"]
""",
    "bilevel": """
name: tiny-minnorm-bilevel
kind: bilevel
variables: {x: {shape: [3], x0: [1.0, 1.0, 1.0]}}
data:
  A: [[1.0, 2.0, 0.5]]
  b: [1.0]
upper: {objective: "0.5 * sum_squares(x)"}
lower: {objective: "0.5 * sum_squares(A @ x - b)"}
""",
    "monotone": """
name: tiny-monotone
kind: monotone
variables: {z: {shape: [4], x0: [1.0, -2.0, 0.5, 1.5]}}
data:
  M: [[2.0, 1.0, 0.0, 0.0], [-1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, -0.5, 1.0]]
  q: [1.0, -1.0, 0.5, 0.0]
operator: "M @ z + q"
""",
    "minimax": """
name: tiny-saddle
kind: minimax
variables: {x: {shape: [2], x0: [1.0, -1.0]}, y: {shape: [2], x0: [0.5, 2.0]}}
data: {B: [[0.5, -0.3], [0.2, 0.4]], c: [1.0, -0.5]}
min: x
max: y
objective: "sum_squares(x) + x @ (B @ y) - 0.5 * sum_squares(y) + c @ x"
""",
}


HOST_SYNCS = ("__float__", "item", "__bool__")
#: everything that copies a tensor's value to the host: what ``check_solver`` counts inside ``step``
ALL_HOST_SYNCS = ("__float__", "item", "__bool__", "tolist", "cpu", "numpy")


class HostSyncs(dict):
    """Live counts from :func:`count_host_syncs`: ``["n"]`` all counted calls, ``[phase]`` those made
    while a phase's method runs, and ``calls[phase]`` the count of each call of that method."""

    def __init__(self, phases=()):
        super().__init__(n=0, **{name: 0 for name in phases})
        self.calls = {name: [] for name in phases}
        self._active: list[str] = []


def count_host_syncs(monkeypatch, methods: tuple[str, ...] = HOST_SYNCS, *,
                     phases: Mapping[str, tuple[object, str]] | None = None) -> HostSyncs:
    """Count calls of the ``torch.Tensor`` ``methods`` that copy a value to the host.

    Returns a :class:`HostSyncs` (a dict) with ``"n"``, the count, updated live; ``monkeypatch``
    (pytest's fixture, one of its ``context()``s, or anything with ``setattr(obj, name, value)``
    that restores) restores the methods. Add ``"tolist"``, ``"cpu"``, ``"numpy"``, ``"__int__"``
    ... to ``methods`` to count those too (``ALL_HOST_SYNCS``). On CPU a solver's step should
    leave ``n`` unchanged.

    ``phases`` maps a name to ``(owner, method name)`` (or a list of them), e.g. ``{"in_step": (MySolver, "step"),
    "in_report": (MySolver, "report")}``: syncs made while that method runs (innermost phase)
    are also counted under the name, and ``calls[name]`` lists the count of each of its calls.
    """
    import torch
    syncs = HostSyncs(phases or {})
    for name in methods:
        original = getattr(torch.Tensor, name)

        def counting(self, *a, _orig=original, **k):
            syncs["n"] += 1
            if syncs._active:
                phase = syncs._active[-1]
                syncs[phase] += 1
                syncs.calls[phase][-1] += 1
            return _orig(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, counting)
    for phase, targets in (phases or {}).items():
        for owner, attr in (targets if isinstance(targets, list) else [targets]):
            _enter_phase(monkeypatch, syncs, phase, owner, attr)
    return syncs


def _enter_phase(monkeypatch, syncs: HostSyncs, phase: str, owner, attr: str) -> None:
    """Wrap ``owner.attr`` so that host syncs during its calls count under ``phase``."""
    wrapped = getattr(owner, attr)

    def in_phase(*a, **k):
        syncs._active.append(phase)
        syncs.calls[phase].append(0)
        try:
            return wrapped(*a, **k)
        finally:
            syncs._active.pop()
    if isinstance(owner, type) and isinstance(vars(owner).get(attr), staticmethod):
        in_phase = staticmethod(in_phase)
    monkeypatch.setattr(owner, attr, in_phase)


class _Patches:
    """The ``setattr``/``undo`` part of pytest's monkeypatch, for the kit outside a fixture."""

    def __init__(self):
        self._undo = []

    def setattr(self, owner, name, value):
        had = name in vars(owner)
        self._undo.append((owner, name, vars(owner)[name] if had else None, had))
        setattr(owner, name, value)

    def undo(self):
        for owner, name, value, had in reversed(self._undo):
            if had:
                setattr(owner, name, value)
            else:
                delattr(owner, name)
        self._undo.clear()


def make_oracle(problem, device="cpu", *, dtype=None, seed: int | None = None, max_calls: int | None = None):
    """The counting oracle ``solverhub.solve`` would build for ``problem`` (a Problem or YAML text)
    on ``device`` (float64 unless ``dtype``), with the problem's oracle config (``seed`` overrides
    its seed). ``oracle.x0`` is the run's start point (drawn from the seed when the file fixes none)."""
    import dataclasses

    from .oracle import Oracle
    from .problem.model import Problem, load_problem
    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    tp = problem.lower_torch(device, dtype, seed=problem.oracle_config.seed if seed is None else seed)  # as solve
    config = problem.oracle_config if seed is None else dataclasses.replace(problem.oracle_config, seed=seed)
    return Oracle.for_problem(tp, problem, config=config, max_calls=max_calls)


@dataclasses.dataclass
class Driven:
    """What :func:`drive` returns: the ``states`` (the initial state, then one per step; with
    ``every``, only the initial and the final one), ``kept`` (``[(k, state)]`` every ``every``
    steps), the ``oracle`` and the ``problem`` (``None`` when an oracle was given)."""
    states: list
    oracle: object
    problem: object = None
    kept: list = dataclasses.field(default_factory=list)

    @property
    def final(self):
        return self.states[-1]


def drive(solver, problem_or_oracle, options=None, steps: int = 100, *, x0=None, every: int | None = None,
          until=None, edit=None, device="cpu") -> Driven:
    """``init`` + up to ``steps`` ``step`` calls of ``solver`` (a class or an instance), by hand,
    without the run loop: to test a method's iterates against its paper's recursion.

    ``problem_or_oracle``: a Problem or YAML text (the oracle is :func:`make_oracle`'s on
    ``device``), or an oracle (then ``x0`` defaults to ``oracle.x0``; ``init`` gets no problem).
    ``options``: the solver's Options, a dict of them, or ``None`` (the defaults). ``until(state,
    oracle)`` true stops before the next step; ``edit(state)`` replaces the initial state.
    """
    solver = solver() if isinstance(solver, type) else solver
    if options is None or isinstance(options, Mapping):
        options = type(solver).Options(**(options or {}))
    problem = None
    if hasattr(problem_or_oracle, "grad"):
        oracle = problem_or_oracle
    else:
        from .problem.model import Problem, load_problem
        problem = problem_or_oracle if isinstance(problem_or_oracle, Problem) else load_problem(problem_or_oracle)
        oracle = make_oracle(problem, device)
    if x0 is None:
        x0 = oracle.x0.clone()
    elif not hasattr(x0, "dtype") or not hasattr(x0, "clone"):       # numpy or a list: float64, like the kit
        import torch
        x0 = torch.as_tensor(x0, dtype=torch.float64)
    state = solver.init(problem, oracle, x0, options)
    if edit is not None:
        state = edit(state)
    states, kept = [state], []
    for k in range(1, steps + 1):
        if until is not None and until(state, oracle):
            break
        state = solver.step(state, oracle, options)
        if every is None:
            states.append(state)
        elif k % every == 0:
            kept.append((k, state))
    if every is not None:
        states.append(state)
    return Driven(states, oracle, problem, kept)


def tiny_problem(kind: str, problems: Mapping[str, str] | None = None):
    """The tiny problem of ``kind``: from ``problems``, the core's set, or the kind class's own
    ``tiny_problem`` (YAML text a kind plugin provides for the kit)."""
    from .problem.model import load_problem
    from .registry import get_registry
    text = (problems or {}).get(kind) or TINY_PROBLEMS.get(kind)
    if text is None:
        kind_cls = get_registry().kinds.get(kind)
        text = getattr(kind_cls, "tiny_problem", None)
    return None if text is None else load_problem(text)


def _clip(text, limit: int = 100) -> str:
    """A text from elsewhere (a refusal, a Result message, an exception) on one short line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fail(cls, message: str):
    """One line: the solver, then what was expected and what happened (numbers as ``:.3g``)."""
    name = getattr(cls, "name", None) or getattr(cls, "__name__", None) or cls
    raise AssertionError(_clip(f"check_solver: solver {name!r}: {message}", 400))


def _optimum(problem) -> float | None:
    from .baseline import NoBaseline, compute_baseline
    try:
        return compute_baseline(problem).objective
    except NoBaseline:
        return None


STEP_WARMUP = 3      # steps before the host-sync count starts (set-up work may sync once)


def _check_step_host_syncs(cls, problem, steps: int = 12) -> None:
    """``step`` makes no more host syncs than ``cls.host_syncs_per_step`` (default 0) once past
    the first ``STEP_WARMUP`` steps: the GPU rule, counted on the oracle's device (CPU here)."""
    if cls.solve_direct is not None:
        return
    from .api import solve
    allowed = cls.host_syncs_per_step
    patches = _Patches()
    try:
        syncs = count_host_syncs(patches, ALL_HOST_SYNCS, phases={"step": (cls, "step")})
        solve(problem, cls, options={"max_iterations": steps, "tolerance": 0.0}, seed=1)
    finally:
        patches.undo()
    per_step = syncs.calls["step"][STEP_WARMUP:]
    if per_step and max(per_step) > allowed:
        _fail(cls, f"step makes {max(per_step)} host syncs (.item(), float(t), bool(t), .cpu(), .tolist(), "
                   f".numpy()) on {problem.name} after {STEP_WARMUP} steps; declared host_syncs_per_step = "
                   f"{allowed} (counts per step: {per_step})")


def check_solver(solver_cls, *, problems: Mapping[str, str] | None = None, max_iterations: int = 3000,
                 progress: float = 0.99) -> None:
    """Run the conformance checks on ``solver_cls``; raise AssertionError on the first failure.

    ``problems`` maps a kind name to a tiny problem (YAML text) for kinds the
    core does not ship a tiny problem for. ``progress``: the fraction of
    f(x0) - f* a solver must close on each tiny problem.
    """
    from .api import solve
    from .solver import Solver

    cls = solver_cls
    # a reference method that by design does not solve (e.g. gradient ascent on a forget set)
    # declares ``conformance_progress = -math.inf``; everything else is still checked
    progress = getattr(cls, "conformance_progress", None) if getattr(cls, "conformance_progress", None) \
        is not None else progress
    if not (isinstance(cls, type) and issubclass(cls, Solver)):
        _fail(cls, f"expected a solverhub.Solver subclass, got {_clip(repr(cls), 60)}")
    if not cls.name or not cls.kinds:
        _fail(cls, f"expected a name and at least one kind, got name {cls.name!r}, kinds {cls.kinds!r}")
    if not (isinstance(cls.Options, type)):
        _fail(cls, f"expected Options to be a SolverOptions (or dataclass) type, got {_clip(repr(cls.Options), 60)}")
    try:
        cls.Options()
    except (TypeError, ValueError) as err:          # pydantic's ValidationError is a ValueError
        _fail(cls, f"expected every option to have a valid default, Options() raised: {_clip(err)}")
    fields = getattr(cls.Options, "model_fields", {})
    undescribed = [name for name, info in fields.items() if not info.description]
    if undescribed:
        _fail(cls, f"expected every option to have a description (option(default, description)), "
                   f"missing: {', '.join(undescribed)}")

    checked = 0
    for kind in cls.kinds:
        problem = tiny_problem(kind, problems)
        if problem is None:
            continue
        checked += 1
        verdict = verdict_of(cls(), problem)
        if not verdict:
            _fail(cls, f"declares kind {kind!r} but refuses its tiny problem {problem.name}: {_clip(verdict.text)}")
        if not isinstance(verdict.text, str) or not verdict.text:
            _fail(cls, f"accepts {problem.name} without a reason: expected a non-empty text, "
                       f"got {_clip(repr(verdict.text), 40)}")

        result = solve(problem, cls, options={"max_iterations": max_iterations}, seed=1)
        # a method that by design does not solve (progress -inf) may end diverged; the tolerance and the
        # divergence are seen at trace samples (solverhub.schedule), so its last objective may be inf
        may_diverge = progress == -math.inf and result.status is Status.DIVERGED
        if not math.isfinite(result.objective) and not may_diverge:
            _fail(cls, f"expected a finite objective on {problem.name}, got {result.objective:.3g} "
                       f"(status {result.status}: {_clip(result.message, 80)})")
        f_star = _optimum(problem)
        start = problem.lower_torch("cpu", seed=1)       # the run's start (seed 1 draws it when the file fixes none)
        f0 = float(start.objective(start.x0))
        if f_star is not None and math.isfinite(f0) and f0 > f_star:
            closed = (f0 - result.objective) / (f0 - f_star)
            if closed < progress:
                _fail(cls, f"expected to close {progress:.3g} of the gap f(x0) - f* on {problem.name}, "
                           f"closed {closed:.3g} (objective {result.objective:.3g}, f* {f_star:.3g}, "
                           f"f(x0) {f0:.3g}, status {result.status})")
        if result.status is Status.CONVERGED and result.stationarity.value > result.options["tolerance"] * 1.0001:
            if cls.solve_direct is None:
                _fail(cls, f"reports converged on {problem.name} with {result.stationarity.name} "
                           f"{result.stationarity.value:.3g}, expected at most the tolerance "
                           f"{result.options['tolerance']:.3g}")

        # limits
        capped = solve(problem, cls, options={"max_iterations": 3}, seed=1)
        if capped.iterations > 3:
            _fail(cls, f"expected at most 3 iterations with max_iterations=3 on {problem.name}, "
                       f"ran {capped.iterations}")
        budget = solve(problem, cls, options={"max_oracle_calls": 5, "max_iterations": 10_000}, seed=1)
        if budget.total_oracle_calls > 5:
            _fail(cls, f"expected at most 5 oracle calls with max_oracle_calls=5 on {problem.name}, "
                       f"made {budget.total_oracle_calls}")
        if cls.solve_direct is None and budget.status not in (Status.BUDGET_EXHAUSTED, Status.CONVERGED):
            _fail(cls, f"expected status budget_exhausted with max_oracle_calls=5 on {problem.name}, "
                       f"got {budget.status}")

        # determinism and JSON
        again = solve(problem, cls, options={"max_iterations": max_iterations}, seed=1)
        if again.objective != result.objective or again.iterations != result.iterations \
                or [p.objective for p in again.trace] != [p.objective for p in result.trace]:
            _fail(cls, f"expected the same run twice under seed 1 on {problem.name} (not deterministic), got "
                       f"objective {result.objective:.3g} then {again.objective:.3g}, "
                       f"iterations {result.iterations} then {again.iterations}")
        if Result.from_json(result.to_json()) != result:
            _fail(cls, f"expected the Result on {problem.name} to round-trip through JSON exactly; it does not")

        _check_step_host_syncs(cls, problem)

    if checked == 0:
        _fail(cls, f"expected a tiny problem for a declared kind ({', '.join(cls.kinds)}), found none; "
                   f"pass problems={{kind: yaml}}")

    # refusal with a reason, for a kind the solver does not declare
    for kind, text in TINY_PROBLEMS.items():
        if kind in cls.kinds:
            continue
        verdict = verdict_of(cls(), tiny_problem(kind))
        if verdict:
            _fail(cls, f"expected a refusal of kind {kind!r} (not in kinds), but accepts "
                       f"{tiny_problem(kind).name}")
        if not isinstance(verdict.code, RefusalCode):
            _fail(cls, f"refuses kind {kind!r} without a RefusalCode: expected solverhub.Refusal(code, text), "
                       f"got code {_clip(repr(verdict.code), 40)}")
        if not isinstance(verdict.text, str) or not verdict.text.strip():
            _fail(cls, f"refuses kind {kind!r} without a reason: expected a non-empty text, "
                       f"got {_clip(repr(verdict.text), 40)}")


def check_entry_point(name: str, solvers: tuple[str, ...] = (), kinds: tuple[str, ...] = ()) -> None:
    """In a fresh interpreter: the ``solverhub`` entry point ``name`` is installed, its module's
    hooks return exactly the solvers and problem kinds named (sorted names), and loading it and
    calling them imports no torch (registration stays cheap; cf. pluggy's lazy plugins); a hook
    that returns ``{name: "module:Class"}`` must name classes whose ``name`` is that name."""
    import subprocess
    import sys
    code = ("import sys; from importlib.metadata import entry_points\n"
            f"eps = [e for e in entry_points(group='solverhub') if e.name == {name!r}]\n"
            f"assert eps, 'no solverhub entry point named {name}'\n"
            "mod = eps[0].load()\n"
            "def got(hook): return getattr(mod, hook, lambda: [])() or []\n"
            "def names(hook): r = got(hook); return sorted(r) if isinstance(r, dict) else sorted(c.name for c in r)\n"
            f"assert names('solverhub_solvers') == {sorted(solvers)!r}, names('solverhub_solvers')\n"
            f"assert names('solverhub_problem_kinds') == {sorted(kinds)!r}, names('solverhub_problem_kinds')\n"
            "assert 'torch' not in sys.modules, 'torch imported at registration'\n"
            # a {name: 'module:Class'} registration names the class it imports
            "import importlib\n"
            "for hook in ('solverhub_solvers', 'solverhub_problem_kinds'):\n"
            "    r = got(hook)\n"
            "    for n, t in (r.items() if isinstance(r, dict) else ()):\n"
            "        m, _, a = t.partition(':') if isinstance(t, str) else ('', '', '')\n"
            "        c = getattr(importlib.import_module(m), a) if m else t\n"
            "        assert c.name == n, f'{hook}: {n!r} names {t!r}, whose name is {c.name!r}'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise AssertionError(f"entry point {name!r}: {_clip(last, 300)}")


# -- the pytest plugin: fixtures for plugin tests (registered by the ``pytest11`` entry point) --
try:
    import pytest
except ImportError:                       # the kit's functions work without pytest
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="module", name="single_thread")
    def _single_thread_fixture():
        """torch on one intra-op thread for the module (tiny tensors: more threads only add
        contention), the previous count restored after it. Opt in with
        ``pytestmark = pytest.mark.usefixtures("single_thread")``."""
        import torch
        saved = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(saved)

    @pytest.fixture(name="make_oracle")
    def _make_oracle_fixture():
        """:func:`make_oracle`: ``make_oracle(problem_or_yaml, device="cpu", *, dtype, seed, max_calls)``."""
        return make_oracle

    @pytest.fixture(name="drive")
    def _drive_fixture():
        """:func:`drive`: ``drive(solver, problem_or_oracle, options, steps, *, x0, every, until, edit)``."""
        return drive

    @pytest.fixture(name="count_host_syncs")
    def _count_host_syncs_fixture(monkeypatch):
        """:func:`count_host_syncs` bound to the test's monkeypatch:
        ``count_host_syncs(methods=HOST_SYNCS, *, phases=None) -> HostSyncs``."""
        def count(methods: tuple[str, ...] = HOST_SYNCS, *, phases=None) -> HostSyncs:
            return count_host_syncs(monkeypatch, methods, phases=phases)
        return count

    @pytest.fixture(name="write_problem")
    def _write_problem_fixture(tmp_path):
        """``write_problem(yaml_text, name="p.yaml")`` -> path of the (dedented) file in ``tmp_path``."""
        import textwrap

        def write(text: str, name: str = "p.yaml"):
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
            return path
        return write

    @pytest.fixture(name="run_cli")
    def _run_cli_fixture():
        """``run_cli(*args, env=None)`` -> click result (``exit_code``, ``stdout``, ``stderr``) of
        ``solverhub ARGS`` run in-process; exceptions other than SystemExit propagate."""
        from click.testing import CliRunner

        from .cli import main

        def run(*args, env=None):
            return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
        return run

