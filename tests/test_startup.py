"""Start-up (issue 16): what a command imports, as known answers (module lists), never timings.

* ``solve`` with lbfgs, adam and bfgs-wolfe never imports ``torch._dynamo`` (no torch.optim
  optimizer is built) and reaches the ridge's closed form;
* ``validate`` of a ``minimize`` problem imports neither torch nor cvxpy nor scipy nor pydantic nor rich;
* ``import solverhub``, ``solverhub.plugin`` and the registry's names cost no pydantic, numpy or
  plugin solver module; a ``{name: "module:Class"}`` registration imports its module on use only.
The times are in benchmarks/bench_cli_startup.py.
"""
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from solverhub import registry as reg_mod
from solverhub.errors import UnknownName
from solverhub.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]
RIDGE = ROOT / "problems" / "smooth" / "ridge.yaml"
HEAVY = ("torch", "torch._dynamo", "cvxpy", "scipy", "matplotlib", "sympy")


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_solve_with_lbfgs_adam_bfgs_wolfe_imports_no_dynamo_and_reaches_the_closed_form():
    out = _run(f"""
        import json, sys
        import numpy as np
        import solverhub
        p = solverhub.load_problem({str(RIDGE)!r})
        A, b, lam = p.data["A"], p.data["b"], 0.1
        exact = np.linalg.solve(A.T @ A + lam * np.eye(20), A.T @ b)
        errors = {{}}
        for name, opts in (("lbfgs", {{}}), ("adam", {{"lr": 0.05, "max_iterations": 1000}}), ("bfgs-wolfe", {{}})):
            r = solverhub.solve(p, name, options={{"tolerance": 1e-6, **opts}}, isolate=False)
            errors[name] = float(np.abs(r.solution["x"] - exact).max())
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print(json.dumps({{"errors": errors, "heavy": heavy}}))
    """)
    assert out["heavy"] == ["torch"], out          # torch itself, nothing torch.optim pulls in
    assert all(err < 1e-4 for err in out["errors"].values()), out["errors"]


def test_validate_imports_no_torch_cvxpy_or_scipy():
    out = _run(f"""
        import io, json, sys, contextlib
        from solverhub.cli import main
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            try:
                main(["validate", {str(RIDGE)!r}])
            except SystemExit as e:
                assert not e.code, e.code
        heavy = sorted(m for m in {HEAVY + ("pydantic", "rich")!r} if m in sys.modules)
        print(json.dumps({{"out": text.getvalue(), "heavy": heavy,
                           "options": "solverhub.options" in sys.modules}}))
    """)
    assert out["out"].startswith("ok ") and "20 unknowns" in out["out"]
    # nor pydantic (the common sections and minimize's are plain records) nor rich
    assert out["heavy"] == [] and not out["options"], out


def test_registry_names_cost_no_pydantic_numpy_or_solver_module():
    out = _run("""
        import json, sys
        import solverhub, solverhub.plugin
        from solverhub.registry import get_registry
        reg = get_registry()
        names = {"lbfgs": "lbfgs" in reg.solvers, "bfgs-wolfe": "bfgs-wolfe" in reg.solvers,
                 "minimize": "minimize" in reg.kinds, "unlearning": "unlearning" in reg.kinds}
        loaded = sorted(m for m in ("pydantic", "numpy", "torch", "solverhub.solver", "solverhub.builtin.lbfgs",
                                    "solverhub_bfgs_wolfe.bfgs", "solverhub_minnorm_og.kind") if m in sys.modules)
        cls = reg.solver("bfgs-wolfe")
        print(json.dumps({"names": names, "loaded": loaded, "after": "solverhub_bfgs_wolfe.bfgs" in sys.modules,
                          "cls": cls.name}))
    """)
    assert all(out["names"].values()), out
    assert out["loaded"] == [] and out["after"] and out["cls"] == "bfgs-wolfe", out


@pytest.fixture
def fresh_registry():
    reg_mod.reset_registry()
    yield reg_mod.get_registry()
    reg_mod.reset_registry()


def test_a_name_registration_imports_its_module_only_when_used(fresh_registry, tmp_path, monkeypatch):
    (tmp_path / "h16d_lazy_solver.py").write_text(textwrap.dedent("""
        from solverhub.plugin import IterState, Solver
        class Lazy(Solver):
            name, kinds = "lazy-one", ("minimize",)
            def init(self, problem, oracle, x0, options):
                return IterState(x=x0)
            def step(self, state, oracle, options):
                return IterState(x=state.x - 0.1 * oracle.grad(state.x))
        class Misnamed(Lazy):
            name = "something-else"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = types.ModuleType("lazy_plugin")
    plugin.solverhub_solvers = hookimpl(lambda: {"lazy-one": "h16d_lazy_solver:Lazy",
                                                 "misnamed": "h16d_lazy_solver:Misnamed",
                                                 "missing": "h16d_no_such_module:Nope"})
    reg = fresh_registry
    reg.manager.register(plugin, name="lazy_plugin")
    reg._solvers = None
    assert {"lazy-one", "misnamed", "missing"} <= set(reg.solvers)
    assert "h16d_lazy_solver" not in sys.modules              # names known, nothing imported
    assert reg.solver("lazy-one").name == "lazy-one" and "h16d_lazy_solver" in sys.modules
    assert reg.solvers["lazy-one"].distribution == "lazy_plugin"
    with pytest.raises(UnknownName, match="failed to load.*ModuleNotFoundError"):
        reg.solver("missing")
    errors = " | ".join(f"{f.plugin}: {f.error}" for f in reg.failures)
    assert "registered as 'misnamed' but Misnamed.name is 'something-else'" in errors
    assert "missing" not in reg.solvers and "misnamed" not in reg.solvers and "lazy-one" in reg.solvers
    sys.modules.pop("h16d_lazy_solver", None)
