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
``t.item()``, ``bool(t)``, ...) for the GPU rule: no per-iteration host syncs.
"""
from __future__ import annotations

__all__ = ["check_solver", "TINY_PROBLEMS", "tiny_problem", "count_host_syncs", "HOST_SYNCS"]

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


def count_host_syncs(monkeypatch, methods: tuple[str, ...] = HOST_SYNCS) -> dict:
    """Count calls of the ``torch.Tensor`` ``methods`` that copy a value to the host.

    Returns ``{"n": count}``, updated live; ``monkeypatch`` (pytest's fixture, or one of its
    ``context()``s) restores the methods. Add ``"tolist"``, ``"cpu"``, ``"numpy"``, ``"__int__"``
    ... to ``methods`` to count those too. On CPU a solver's step should leave ``n`` unchanged.
    """
    import torch
    syncs = {"n": 0}
    for name in methods:
        original = getattr(torch.Tensor, name)

        def counting(self, *a, _orig=original, **k):
            syncs["n"] += 1
            return _orig(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, counting)
    return syncs


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


def _fail(cls, message: str):
    raise AssertionError(f"solver {getattr(cls, 'name', cls)!r}: {message}")


def _optimum(problem) -> float | None:
    from .baseline import NoBaseline, compute_baseline
    try:
        return compute_baseline(problem).objective
    except NoBaseline:
        return None


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
        _fail(cls, "is not a solverhub.Solver subclass")
    if not cls.name or not cls.kinds:
        _fail(cls, "must declare a name and at least one kind")
    if not (isinstance(cls.Options, type)):
        _fail(cls, "Options must be a dataclass type")
    try:
        cls.Options()
    except TypeError as err:
        _fail(cls, f"every option needs a default ({err})")

    checked = 0
    for kind in cls.kinds:
        problem = tiny_problem(kind, problems)
        if problem is None:
            continue
        checked += 1
        verdict = verdict_of(cls(), problem)
        if not verdict:
            _fail(cls, f"declares kind {kind!r} but refuses its tiny problem: {verdict.text}")
        if not isinstance(verdict.text, str) or not verdict.text:
            _fail(cls, "accepts() must give a reason string")

        result = solve(problem, cls, options={"max_iterations": max_iterations}, seed=1)
        if not math.isfinite(result.objective):
            _fail(cls, f"non-finite objective on {problem.name}: {result.status} {result.message}")
        f_star = _optimum(problem)
        f0 = float(problem.lower_torch("cpu").objective(problem.lower_torch("cpu").x0))
        if f_star is not None and math.isfinite(f0) and f0 > f_star:
            closed = (f0 - result.objective) / (f0 - f_star)
            if closed < progress:
                _fail(cls, f"closed only {closed:.3f} of the gap f(x0) - f* on {problem.name} "
                           f"(objective {result.objective:.6g}, optimum {f_star:.6g}, status {result.status})")
        if result.status is Status.CONVERGED and result.stationarity.value > result.options["tolerance"] * 1.0001:
            if cls.solve_direct is None:
                _fail(cls, f"reports converged with {result.stationarity.name} {result.stationarity.value:.3g} "
                           f"above tolerance")

        # limits
        capped = solve(problem, cls, options={"max_iterations": 3}, seed=1)
        if capped.iterations > 3:
            _fail(cls, f"ran {capped.iterations} iterations with max_iterations=3")
        budget = solve(problem, cls, options={"max_oracle_calls": 5, "max_iterations": 10_000}, seed=1)
        if budget.total_oracle_calls > 5:
            _fail(cls, f"made {budget.total_oracle_calls} oracle calls with max_oracle_calls=5")
        if cls.solve_direct is None and budget.status not in (Status.BUDGET_EXHAUSTED, Status.CONVERGED):
            _fail(cls, f"status {budget.status} with an exhausted oracle budget (expected budget_exhausted)")

        # determinism and JSON
        again = solve(problem, cls, options={"max_iterations": max_iterations}, seed=1)
        if again.objective != result.objective or again.iterations != result.iterations \
                or [p.objective for p in again.trace] != [p.objective for p in result.trace]:
            _fail(cls, f"not deterministic under a fixed seed on {problem.name}")
        if Result.from_json(result.to_json()) != result:
            _fail(cls, "Result does not round-trip through JSON")

    if checked == 0:
        _fail(cls, f"no tiny problem for any declared kind {cls.kinds}; pass problems={{kind: yaml}}")

    # refusal with a reason, for a kind the solver does not declare
    for kind, text in TINY_PROBLEMS.items():
        if kind in cls.kinds:
            continue
        verdict = verdict_of(cls(), tiny_problem(kind))
        if verdict:
            _fail(cls, f"accepts kind {kind!r} that it does not declare")
        if not isinstance(verdict.code, RefusalCode):
            _fail(cls, f"refuses kind {kind!r} without a RefusalCode")
        if not isinstance(verdict.text, str) or not verdict.text.strip():
            _fail(cls, f"refuses kind {kind!r} without a reason")
