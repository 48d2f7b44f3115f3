"""The layer rules of docs/design.md#layers, as import-linter contracts in pyproject.toml."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))

pytestmark = pytest.mark.skipif(not Path(LINT_IMPORTS).exists(), reason="import-linter is not installed (dev extra)")


def _lint(config: Path, *, cwd: Path = ROOT, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run([LINT_IMPORTS, "--config", str(config), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_contracts_kept():
    run = _lint(ROOT / "pyproject.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_a_plugin_importing_a_private_module_breaks_the_contract(tmp_path):
    """The plugin contract fails for a plugin that imports ``solverhub.solver`` directly."""
    package = tmp_path / "solverhub_leaky"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text("from solverhub.solver import Solver            # private\n"
                                       "from solverhub.plugin import hookimpl          # public: fine\n")
    config = tmp_path / "contracts.toml"
    config.write_text(textwrap.dedent("""\
        [tool.importlinter]
        root_packages = ["solverhub", "solverhub_leaky"]

        [[tool.importlinter.contracts]]
        name = "plugins import only the public API"
        type = "forbidden"
        source_modules = ["solverhub_leaky"]
        forbidden_modules = ["solverhub.solver", "solverhub.hookspecs"]
        allow_indirect_imports = true
        """))
    run = _lint(config, cwd=tmp_path, pythonpath=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "BROKEN" in run.stdout
    assert "solverhub_leaky.plugin -> solverhub.solver" in run.stdout
    assert "solverhub.hookspecs" not in run.stdout.split("BROKEN", 1)[1]   # only the direct private import
