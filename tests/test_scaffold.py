"""``solverhub new-plugin``: the scaffold installs, registers, solves and passes its own tests;
and the conformance kit's failure messages are one readable line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from solverhub.plugin import IterState, Solver
from solverhub.testing import check_solver

TINY = """\
name: shifted
kind: minimize
variables: {x: {shape: [3]}}
data: {c: [1.0, -2.0, 0.5]}
objective: "0.5 * sum_squares(x - c)"
"""


def _solverhub() -> list[str]:
    exe = Path(sys.executable).with_name("solverhub")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "solverhub.cli"]


def _run(argv, *, cwd=None, site=None, timeout=120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    """``solverhub new-plugin tiny-gd`` built and installed into a folder for PYTHONPATH
    (``pip --target``: nothing lands in the running environment)."""
    root = tmp_path_factory.mktemp("scaffold")
    res = _ok(_run(_solverhub() + ["new-plugin", "tiny-gd", "--dir", str(root)]))
    src = root / "solverhub-tiny-gd"
    assert res.stdout.startswith(f"wrote {src}/")
    written = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())   # before pip builds
    site = root / "site"
    _ok(_run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
              "--disable-pip-version-check", "--quiet", "--target", str(site), str(src)], timeout=180))
    return src, site, written


def test_scaffold_files(scaffolded):
    src, site, files = scaffolded
    assert files == ["README.md", "pyproject.toml", "solverhub_tiny_gd/__init__.py", "solverhub_tiny_gd/plugin.py",
                     "solverhub_tiny_gd/solver.py", "tests/test_tiny_gd.py"]
    pyproject = (src / "pyproject.toml").read_text()
    assert '[project.entry-points.solverhub]\ntiny-gd = "solverhub_tiny_gd.plugin"' in pyproject
    assert 'name = "solverhub-tiny-gd"' in pyproject
    solver = (src / "solverhub_tiny_gd" / "solver.py").read_text()
    imports = [line for line in solver.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations",
                       "from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, option"]
    assert "Reference:" in solver and "class Options(SolverOptions):" in solver
    assert (site / "solverhub_tiny_gd" / "plugin.py").is_file()


def test_scaffold_is_listed_solves_and_passes_its_tests(scaffolded, tmp_path):
    src, site, _ = scaffolded
    text = _ok(_run(_solverhub() + ["plugins"], site=site)).stdout
    assert "loaded  tiny-gd: solverhub-tiny-gd 0.1.0 (tiny-gd)" in text and "no load failures" in text

    problem, out = tmp_path / "shifted.yaml", tmp_path / "out.json"
    problem.write_text(TINY)
    _ok(_run(_solverhub() + ["solve", str(problem), "--solver", "tiny-gd", "--device", "cpu", "--json", str(out)],
             site=site))
    result = json.loads(out.read_text())
    assert result["status"] == "converged", result["message"]
    assert result["solver"] == "tiny-gd" and result["solver_version"] == "0.1.0"
    assert max(abs(a - b) for a, b in zip(result["solution"]["x"], [1.0, -2.0, 0.5])) < 1e-5

    res = _ok(_run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(src / "tests")],
                   cwd=src, site=site, timeout=180))
    assert "2 passed" in res.stdout


@pytest.mark.parametrize("name", ["My_Plugin", "3d", "bad--name", "trailing-", "with space", ""])
def test_bad_name_is_exit_2_one_line(name, tmp_path):
    res = _run(_solverhub() + ["new-plugin", name, "--dir", str(tmp_path)])
    assert res.returncode == 2
    assert res.stderr.startswith("error: invalid plugin name") and res.stderr.count("\n") == 1
    assert "lowercase letters, digits and single hyphens" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_registered_solver_name_is_exit_2_one_line(tmp_path):
    res = _run(_solverhub() + ["new-plugin", "gd", "--dir", str(tmp_path)])
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: a solver named 'gd' is already registered")
    assert list(tmp_path.iterdir()) == []


def test_existing_target_is_exit_2_one_line(tmp_path):
    (tmp_path / "solverhub-taken").mkdir()
    (tmp_path / "solverhub-taken" / "keep.txt").write_text("mine")
    res = _run(_solverhub() + ["new-plugin", "taken", "--dir", str(tmp_path)])
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: ") and "already exists" in res.stderr
    assert [p.name for p in (tmp_path / "solverhub-taken").iterdir()] == ["keep.txt"]
    (tmp_path / "solverhub-empty").mkdir()        # an empty folder is fine
    _ok(_run(_solverhub() + ["new-plugin", "empty", "--dir", str(tmp_path)]))
    assert (tmp_path / "solverhub-empty" / "solverhub_empty" / "solver.py").is_file()


# -- the kit's failure messages: one readable line ------------------------------
class _Diverging(Solver):
    name, kinds = "kit-diverging", ("minimize",)

    def init(self, problem, oracle, x0, options):
        return IterState(x=x0)

    def step(self, state, oracle, options):
        return IterState(x=state.x + 10 * oracle.grad(state.x))     # ascent: blows up


class _NaN(_Diverging):
    name = "kit-nan"

    def step(self, state, oracle, options):
        return IterState(x=state.x + float("nan") * oracle.grad(state.x))


class _Huge(_Diverging):
    name = "kit-huge"

    def step(self, state, oracle, options):                         # finite, but f ~ 1e300
        return IterState(x=0 * state.x + 1e150 + 0 * oracle.grad(state.x))


@pytest.mark.parametrize("cls", [_Diverging, _NaN, _Huge], ids=lambda c: c.name)
def test_kit_failure_is_one_short_line(cls):
    with pytest.raises(AssertionError) as info:
        check_solver(cls)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    assert cls.name in message and "tiny-quadratic" in message and "expected" in message
    assert not any(len(word) > 40 for word in message.split()), message    # no 300-digit numbers


def test_kit_message_shows_inf_and_nan():
    with pytest.raises(AssertionError, match=r"got (inf|nan)\b"):
        check_solver(_NaN)
