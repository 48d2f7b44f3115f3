"""Typed answers of ``Solver.accepts``: Acceptance / Refusal(code, text), legacy tuples
normalized, consumers that read codes and Status members, never text."""
import math
import re
import types
from pathlib import Path

import pytest

import solverhub
from solverhub import Acceptance, Refusal, RefusalCode, Status
from solverhub import registry as reg_mod
from solverhub.errors import SolverRefused
from solverhub.hookspecs import hookimpl
from solverhub.problem.model import load_problem
from solverhub.solver import Solver, as_verdict, verdict_of
from solverhub.testing import TINY_PROBLEMS, check_solver, tiny_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_registry():
    reg_mod.reset_registry()
    yield reg_mod.get_registry()
    reg_mod.reset_registry()


@pytest.fixture(scope="module")
def tiny_by_kind():
    """The tiny problem of every kind that has one (the core's set and the kinds' own)."""
    kinds = set(TINY_PROBLEMS) | set(solverhub.get_registry().kinds)
    problems = {kind: tiny_problem(kind) for kind in sorted(kinds)}
    return {kind: p for kind, p in problems.items() if p is not None}


def test_every_solver_refuses_an_undeclared_kind_with_code_wrong_kind(tiny_by_kind):
    checked = 0
    for name, entry in sorted(solverhub.get_registry().solvers.items()):
        for kind, problem in tiny_by_kind.items():
            if kind in entry.cls.kinds:
                continue
            if "minimize" in entry.cls.kinds and getattr(problem.kind, "generic_minimization", False):
                continue        # a generic-minimization kind is open to every minimize solver
            verdict = verdict_of(entry.cls(), problem)
            assert isinstance(verdict, Refusal) and not verdict, (name, kind, verdict)
            assert verdict.code is RefusalCode.WRONG_KIND, (name, kind, verdict)
            assert verdict.text.strip() and kind in verdict.text, (name, kind, verdict)
            checked += 1
    assert checked > 50


def test_verdicts_are_truthy_typed_and_unpack_like_the_old_pair():
    yes, no = Acceptance("accepts kind 'minimize'"), Refusal(RefusalCode.STRUCTURE, "no convex form")
    assert yes and not no and yes.code is None and no.code is RefusalCode.STRUCTURE
    ok, why = no                      # callers written against (bool, reason) keep working
    assert (ok, why) == (False, "no convex form") and yes[0] is True and str(no) == "no convex form"
    with pytest.raises(TypeError, match="RefusalCode"):
        Refusal("wrong_kind", "text")
    assert as_verdict((False, "legacy")) == Refusal(RefusalCode.OTHER, "legacy")
    assert as_verdict((True, "fine")) == Acceptance("fine")
    with pytest.raises(TypeError, match="Acceptance, a Refusal or a"):
        as_verdict("yes")


def test_builtin_refusal_codes_name_the_capability():
    constrained, stochastic = tiny_problem("constrained"), tiny_problem("finite_sum")
    gd = solverhub.get_registry().solvers["gd"].cls()
    assert gd.accepts(constrained).code is RefusalCode.WRONG_KIND
    bfgs = solverhub.get_registry().solvers["bfgs-wolfe"].cls
    limit = bfgs.capabilities.max_dim
    assert limit is not None
    big = load_problem(f"name: big\nkind: minimize\nvariables: {{x: {{shape: [{limit + 1}]}}}}\n"
                       "objective: 'sum_squares(x)'\n")
    assert bfgs().accepts(big).code is RefusalCode.TOO_LARGE
    if stochastic.oracle_config.stochastic:
        for entry in solverhub.get_registry().solvers.values():
            if "finite_sum" in entry.cls.kinds and not entry.cls.capabilities.stochastic_ok:
                assert entry.cls().accepts(stochastic).code is RefusalCode.NEEDS_EXACT


class _LegacyAcceptsProblem(Solver):
    """A third-party solver written before the typed answer: accepts_problem returns a tuple."""

    name = "legacy-pair"
    kinds = ("minimize",)

    def accepts_problem(self, problem):
        if problem.dim > 3:
            return False, "legacy: at most 3 unknowns"
        return True, "legacy: small enough"

    def init(self, problem, oracle, x0, options):
        return solverhub.IterState(x=x0)

    def step(self, state, oracle, options):
        return solverhub.IterState(x=state.x - 0.25 * oracle.grad(state.x))


class _LegacyAccepts(_LegacyAcceptsProblem):
    """Overrides accepts itself, returning a tuple."""

    name = "legacy-accepts"

    def accepts(self, problem):
        return (False, "legacy: never") if problem.kind.name != "minimize" else (True, "legacy: minimize only")


def test_legacy_tuple_solvers_are_normalized_and_still_run(fresh_registry):
    plugin = types.ModuleType("legacy_plugin")
    plugin.solverhub_solvers = hookimpl(lambda: [_LegacyAcceptsProblem, _LegacyAccepts])
    fresh_registry.manager.register(plugin, name="legacy_plugin")
    fresh_registry._solvers = None
    small = tiny_problem("minimize")
    big = load_problem("name: big\nkind: minimize\nvariables: {x: {shape: [5]}}\nobjective: 'sum_squares(x)'\n")
    verdicts = dict(fresh_registry.accepting(big))
    assert verdicts["legacy-pair"] == Refusal(RefusalCode.OTHER, "legacy: at most 3 unknowns")
    assert verdicts["legacy-accepts"] == Acceptance("legacy: minimize only")
    assert dict(fresh_registry.accepting(tiny_problem("bilevel")))["legacy-accepts"].code is RefusalCode.OTHER
    with pytest.raises(SolverRefused, match="legacy: at most 3 unknowns"):
        solverhub.solve(big, "legacy-pair")
    if small.dim <= 3:
        result = solverhub.solve(small, "legacy-pair", options={"max_iterations": 5})
        assert result.solver == "legacy-pair" and not result.status.is_failure
    result = solverhub.solve(big, _LegacyAccepts, options={"max_iterations": 5})
    assert not result.status.is_failure


def test_an_accepts_that_raises_is_a_refusal_with_code_error(fresh_registry):
    class Raises(_LegacyAcceptsProblem):
        name = "raises"

        def accepts_problem(self, problem):
            raise RuntimeError("broken check")

    plugin = types.ModuleType("raising_accepts")
    plugin.solverhub_solvers = hookimpl(lambda: [Raises])
    fresh_registry.manager.register(plugin, name="raising_accepts")
    fresh_registry._solvers = None
    verdict = dict(fresh_registry.accepting(tiny_problem("minimize")))["raises"]
    assert verdict.code is RefusalCode.ERROR and "broken check" in verdict.text


def test_skipped_summary_groups_by_code_not_by_text():
    from solverhub.cli import _skipped_summary
    skipped = [("ridge", "dbgd", Refusal(RefusalCode.WRONG_KIND, "takes bilevel problems only")),
               ("rosen", "dbgd", Refusal(RefusalCode.WRONG_KIND, "accepts kinds bilevel, not 'minimize'")),
               # reads like a wrong-kind refusal, but its code says otherwise: listed in full
               ("ridge", "odd", Refusal(RefusalCode.OTHER, "accepts kinds of a mood, not today"))]
    text = _skipped_summary(skipped)
    assert text == ("odd on ridge: accepts kinds of a mood, not today; "
                    "2 pair(s) of a solver and a problem of a kind it does not take (dbgd)")


def test_status_is_failure():
    assert {s for s in Status if s.is_failure} == {Status.FAILED, Status.DIVERGED}


def test_check_solver_requires_a_coded_refusal_with_text():
    class Mute(_LegacyAcceptsProblem):
        name = "mute"

        def accepts(self, problem):
            if problem.kind.name == "minimize":
                return Acceptance("fine")
            return Refusal(RefusalCode.WRONG_KIND, "  ")

    with pytest.raises(AssertionError, match="without a reason"):
        check_solver(Mute, max_iterations=50, progress=-math.inf)


_SOURCES = sorted([*ROOT.glob("solverhub/**/*.py"), *ROOT.glob("plugins/*/solverhub_*/**/*.py")])
_STRING_STATUS = re.compile(r"""\.value\s*(==|!=|in|not\s+in)\s*[("']""")
_TEXT_PARSING = re.compile(r"""startswith\(\s*["']accepts""")


def test_no_code_compares_statuses_or_refusals_as_strings():
    assert len(_SOURCES) > 50
    offenders = []
    for path in _SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _STRING_STATUS.search(line) or _TEXT_PARSING.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "compare Status / RefusalCode members, not strings:\n" + "\n".join(offenders)
