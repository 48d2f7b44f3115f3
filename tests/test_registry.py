"""Registry: builtins through hooks, entry points, broken plugins, the disable switch, dispatch."""
import importlib.metadata as md
import types

import pytest

from solverhub import registry as reg_mod
from solverhub.errors import SolverRefused, UnknownName
from solverhub.hookspecs import hookimpl
from solverhub.problem.model import load_problem
from solverhub.solver import Solver
from solverhub.testing import TINY_PROBLEMS


@pytest.fixture
def fresh_registry():
    reg_mod.reset_registry()
    yield
    reg_mod.reset_registry()


def test_builtins_register_through_the_same_hooks(fresh_registry):
    reg = reg_mod.get_registry()
    assert {"gd", "adam", "lbfgs", "cvxpy"} <= set(reg.solvers)
    assert {"minimize", "constrained", "finite_sum"} <= set(reg.kinds)
    assert "breast_cancer" in reg.datasets
    impls = [i.plugin_name for i in reg.manager.hook.solverhub_solvers.get_hookimpls()]
    assert "solverhub.builtin" in impls
    assert reg.solvers["gd"].distribution == "solverhub"


def test_paper_plugin_is_found_through_its_entry_point(fresh_registry):
    reg = reg_mod.get_registry()
    assert "bfgs-wolfe" in reg.solvers, "plugins/bfgs-wolfe must be pip-installed (see README)"
    assert reg.solvers["bfgs-wolfe"].distribution == "solverhub-bfgs-wolfe"


def test_broken_plugin_is_reported_and_the_rest_keep_working(fresh_registry, monkeypatch):
    real = md.entry_points

    def fake_entry_points(group=None, **kw):
        eps = list(real(group=group, **kw)) if group else []
        return eps + [md.EntryPoint(name="broken-one", value="solverhub_no_such_module_xyz", group="solverhub")]

    monkeypatch.setattr(reg_mod.md, "entry_points", fake_entry_points)
    reg = reg_mod.get_registry()
    assert "gd" in reg.solvers
    failures = {f.plugin: f.error for f in reg.failures}
    assert any("broken-one" in name for name in failures)
    assert any("ModuleNotFoundError" in err for err in failures.values())


def test_hook_that_raises_and_invalid_solver_are_reported(fresh_registry):
    reg = reg_mod.get_registry()

    class NoKinds(Solver):
        name = "no-kinds"

    plugin = types.ModuleType("bad_plugin")
    plugin.solverhub_solvers = hookimpl(lambda: [NoKinds, int])
    raising = types.ModuleType("raising_plugin")

    def boom():
        raise RuntimeError("boom")
    raising.solverhub_solvers = hookimpl(boom)
    reg.manager.register(plugin, name="bad_plugin")
    reg.manager.register(raising, name="raising_plugin")
    reg._solvers = None
    assert "gd" in reg.solvers and "no-kinds" not in reg.solvers
    errors = " | ".join(f"{f.plugin}: {f.error}" for f in reg.failures)
    assert "declares no kinds" in errors and "not a solverhub.Solver" in errors and "boom" in errors


def test_disable_autoload_switch(fresh_registry, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD", "1")
    reg = reg_mod.get_registry()
    assert "bfgs-wolfe" not in reg.solvers and "gd" in reg.solvers


def test_unknown_solver_lists_valid_ones(fresh_registry):
    with pytest.raises(UnknownName) as err:
        reg_mod.get_registry().solver("nope")
    assert "allowed: " in str(err.value) and "adam, " in str(err.value) and "gd" in str(err.value)


def test_refusal_names_reason_and_accepting_solvers(fresh_registry):
    problem = load_problem(TINY_PROBLEMS["constrained"])
    with pytest.raises(SolverRefused) as err:
        reg_mod.get_registry().check_accepts("gd", problem)
    text = str(err.value)
    assert "accepts kinds minimize, finite_sum, not 'constrained'" in text and "cvxpy" in text


def test_dispatch_rule_is_deterministic_and_documented(fresh_registry):
    reg = reg_mod.get_registry()
    smooth = load_problem(TINY_PROBLEMS["minimize"])
    cls, why = reg.dispatch(smooth, "cpu")
    assert cls.name == "bfgs-wolfe" and "highest priority" in why
    constrained = load_problem(TINY_PROBLEMS["constrained"])
    assert reg.dispatch(constrained, "cpu")[0].name == "cvxpy"
    stochastic = load_problem(TINY_PROBLEMS["finite_sum"] + "oracle: {stochastic: {batch_size: 2, seed: 0}}\n")
    cls, _ = reg.dispatch(stochastic, "cpu")
    assert cls.name == "adam"          # bfgs-wolfe and lbfgs refuse stochastic oracles
    # ties are broken by name
    class Zed(Solver):
        name, kinds, priority = "zed", ("minimize",), 20
    class Aaa(Solver):
        name, kinds, priority = "aaa", ("minimize",), 20
    for c in (Zed, Aaa):
        reg.solvers[c.name] = reg_mod.SolverEntry(c, "test", "0")
    assert reg.dispatch(smooth, "cpu")[0].name == "aaa"


def test_large_problem_routes_away_from_dense_bfgs(fresh_registry):
    big = load_problem("""
name: big
kind: minimize
variables: {x: {shape: [6000]}}
objective: "sum_squares(x - 1)"
""")
    ok, why = reg_mod.get_registry().solvers["bfgs-wolfe"].cls().accepts(big)
    assert not ok and "6000" in why
    assert reg_mod.get_registry().dispatch(big, "cpu")[0].name == "lbfgs"


def test_duplicate_entry_point_name_is_reported(fresh_registry, monkeypatch):
    real = md.entry_points

    def fake_entry_points(group=None, **kw):
        eps = list(real(group=group, **kw)) if group else []
        return eps + [md.EntryPoint(name="bfgs-wolfe", value="solverhub.builtin.plugin", group="solverhub")]

    monkeypatch.setattr(reg_mod.md, "entry_points", fake_entry_points)
    failures = reg_mod.get_registry().failures
    assert any("already used" in f.error for f in failures)


def test_generic_minimization_kinds_are_open_to_minimize_solvers(fresh_registry):
    reg = reg_mod.get_registry()
    kind_cls = reg.kinds.get("mixture_of_experts")
    if kind_cls is None:
        pytest.skip("plugins/em-moe is not installed")
    problem = load_problem("name: m\nkind: mixture_of_experts\nexperts: 2\nexpert: linear\n"
                           "planted: {n: 200, d: 3, snr: 4.0, gate_norm: 2.0, seed: 0}\n")
    assert reg.solvers["gd"].cls().accepts(problem)[0]
    assert not reg.solvers["cvxpy"].cls().accepts(problem)[0]
    monotone = load_problem(TINY_PROBLEMS["monotone"])      # not generic: gd refuses it
    assert not reg.solvers["gd"].cls().accepts(monotone)[0]
