"""The conformance kit runs on every registered solver, and it can fail."""
from dataclasses import dataclass

import pytest

from solverhub.registry import get_registry
from solverhub.solver import IterState, Solver
from solverhub.testing import check_solver


@pytest.mark.parametrize("name", sorted(get_registry().solvers))
def test_registered_solver_conforms(name):
    from solverhub.testing import tiny_problem
    cls = get_registry().solvers[name].cls
    if all(tiny_problem(kind) is None for kind in cls.kinds):
        pytest.skip(f"kind(s) {', '.join(cls.kinds)} ship no tiny_problem for the kit (see the plugin's own tests)")
    check_solver(cls)


class _GD(Solver):
    name, kinds = "test-gd", ("minimize",)

    def init(self, problem, oracle, x0, options):
        return IterState(x=x0)

    def step(self, state, oracle, options):
        return IterState(x=state.x - 0.1 * oracle.grad(state.x))


def test_kit_passes_a_correct_minimal_solver():
    check_solver(_GD)


def test_kit_rejects_a_silent_refusal():
    class Silent(_GD):
        def accepts_problem(self, problem):
            return True, ""
    with pytest.raises(AssertionError, match="reason"):
        check_solver(Silent)


def test_kit_rejects_a_nondeterministic_solver():
    import random

    class Jitter(_GD):
        def step(self, state, oracle, options):
            return IterState(x=state.x - random.uniform(0.05, 0.15) * oracle.grad(state.x))
    with pytest.raises(AssertionError, match="deterministic"):
        check_solver(Jitter)


def test_kit_rejects_a_solver_that_does_not_solve():
    class Stuck(_GD):
        def step(self, state, oracle, options):
            oracle.grad(state.x)
            return IterState(x=state.x)
    with pytest.raises(AssertionError, match="gap"):
        check_solver(Stuck)


def test_kit_rejects_options_without_defaults():
    @dataclass(frozen=True)
    class Needy:
        lr: float

    class NoDefaults(_GD):
        Options = Needy
    with pytest.raises(AssertionError, match="default"):
        check_solver(NoDefaults)


class _Syncing(_GD):
    """Reads the gradient's norm to the host every step (a step-size rule written with float())."""
    def step(self, state, oracle, options):
        g = oracle.grad(state.x)
        scale = 0.1 if float(g @ g) < 1e6 else 0.01
        return IterState(x=state.x - scale * g)


def test_kit_rejects_an_undeclared_host_sync_in_step():
    with pytest.raises(AssertionError, match="host syncs"):
        check_solver(_Syncing)


def test_kit_accepts_a_declared_host_sync_in_step():
    class Declared(_Syncing):
        host_syncs_per_step = 1
    check_solver(Declared)
