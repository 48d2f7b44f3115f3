"""The plugin author guide (docs/plugin-guide.md) and its example plugin
(docs/examples/heavyball/) do what the guide says.

Fast: the guide's code blocks are the example's files verbatim; its table of
``solverhub.plugin`` is that module's ``__all__``, and its Python blocks import
nothing private of the core; the plugin imports without torch; it passes the
conformance kit; a broken plugin (an installed distribution whose module raises
ImportError) is reported by ``solverhub plugins`` while ``solverhub list`` keeps
working.

Also (about 6 s, in the default run): the example is built into a wheel, installed with
``pip install --no-deps --target`` into a temporary folder (never into the
running environment) and used through the real CLI with ``PYTHONPATH``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "heavyball"
GUIDE = REPO / "docs" / "plugin-guide.md"
RIDGE = REPO / "problems" / "smooth" / "ridge.yaml"
FILE_MARK = re.compile(r"^<!-- file: (\S+) -->\n```[^\n]*\n(.*?)^```$", re.M | re.S)
_JUNK = ("__pycache__", "build", "dist")


def _example_files() -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in EXAMPLE.rglob("*")
            if p.is_file() and not any(part in _JUNK or part.endswith(".egg-info") for part in p.parts)}


def _solverhub() -> list[str]:
    exe = Path(sys.executable).with_name("solverhub")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "solverhub.cli"]


def _run(args, *, pythonpath=(), env=None, cwd=None, timeout=180):
    full_env = dict(os.environ)
    full_env.pop("SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD", None)
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"   # no __pycache__ inside docs/examples
    paths = [str(p) for p in pythonpath] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else [])
    if paths:
        full_env["PYTHONPATH"] = os.pathsep.join(paths)
    full_env.update(env or {})
    return subprocess.run(args, env=full_env, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout)


def _ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    return res


# -- fast -----------------------------------------------------------------------
def test_guide_blocks_are_the_example_files():
    blocks = {path: text for path, text in FILE_MARK.findall(GUIDE.read_text(encoding="utf-8"))}
    assert set(blocks) == _example_files(), "the guide must include every example file, and only those"
    for path, text in blocks.items():
        assert text == (REPO / path).read_text(encoding="utf-8"), f"{path} differs from its block in plugin-guide.md"


def test_api_table_is_the_public_api():
    import solverhub.plugin
    text = GUIDE.read_text(encoding="utf-8")
    m = re.search(r"<!-- api:begin -->\n(.*?)<!-- api:end -->", text, re.S)
    assert m, "plugin-guide.md has no <!-- api:begin --> ... <!-- api:end --> table"
    rows = [line for line in m.group(1).splitlines() if line.startswith("| ") and not line.startswith("| for ")]
    names = [re.sub(r"\([^)]*\)", "", row.split("|")[2]) for row in rows]     # (explanations) aside
    listed = [name for cell in names for name in re.findall(r"`(\w+)`", cell)]
    assert len(listed) == len(set(listed)), "a name is listed twice"
    public = set(solverhub.plugin.__all__)
    assert set(listed) == public, (f"not exported by solverhub.plugin: {sorted(set(listed) - public)}; "
                                   f"exported but not in the guide's table: {sorted(public - set(listed))}")
    for name in listed:
        getattr(solverhub.plugin, name)        # each one resolves (the lazy ones too)


ALLOWED_IMPORTS = {"solverhub", "solverhub.plugin", "solverhub.testing"}
REMOVED = ("DirectSolution", "CvxpySolution", "solver_measure", "Const(", "sections.extra", "report(state)")


def test_guide_uses_only_the_public_api():
    import solverhub.plugin
    for doc in (GUIDE, REPO / "docs" / "problem-kinds.md"):
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M):
            for module, names in re.findall(r"^\s*from\s+(solverhub[\w.]*)\s+import\s+([^\n#]+)", block, re.M):
                assert module in ALLOWED_IMPORTS or module.startswith("solverhub_"), \
                    f"{doc.name}: a code block imports {module}"
                if module == "solverhub.plugin":
                    for name in re.findall(r"\w+", names.replace(" as ", " ")):
                        assert name in solverhub.plugin.__all__, f"{doc.name}: solverhub.plugin has no {name}"
            for module in re.findall(r"^\s*import\s+(solverhub[\w.]*)", block, re.M):
                assert module in ALLOWED_IMPORTS or module.startswith("solverhub_"), \
                    f"{doc.name}: a code block imports {module}"
        for gone in REMOVED:
            assert gone not in text, f"{doc.name} still mentions {gone!r} (removed from the API)"


def test_example_imports_without_torch():
    code = ("import sys, solverhub_heavyball.plugin as p; "
            "assert 'torch' not in sys.modules, 'importing the plugin imported torch'; "
            "assert [c.name for c in p.solverhub_solvers()] == ['heavy-ball']")
    _ok(_run([sys.executable, "-c", code], pythonpath=[EXAMPLE]))


def test_example_passes_the_conformance_kit(monkeypatch):
    testing = pytest.importorskip("solverhub.testing")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)   # no __pycache__ inside docs/examples
    try:
        from solverhub_heavyball import HeavyBall
        testing.check_solver(HeavyBall)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "solverhub_heavyball"]:
            del sys.modules[name]


def _install_broken_plugin(target: Path) -> None:
    """An installed distribution ``solverhub-broken`` whose plugin module raises ImportError."""
    (target / "solverhub_broken").mkdir(parents=True)
    (target / "solverhub_broken" / "__init__.py").write_text('raise ImportError("needs libfoo >= 2")\n')
    info = target / "solverhub_broken-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: solverhub-broken\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[solverhub]\nbroken = solverhub_broken\n")
    (info / "RECORD").write_text("")


def test_broken_plugin_is_reported_and_harmless(tmp_path):
    _install_broken_plugin(tmp_path)
    res = _ok(_run(_solverhub() + ["plugins"], pythonpath=[tmp_path]))
    assert "FAILED  broken (solverhub-broken 0.1.0): ImportError: needs libfoo >= 2" in res.stdout
    failures = json.loads(_ok(_run(_solverhub() + ["plugins", "--json"], pythonpath=[tmp_path])).stdout)["failures"]
    assert {"plugin": "broken (solverhub-broken 0.1.0)", "error": "ImportError: needs libfoo >= 2"} in failures
    listed = json.loads(_ok(_run(_solverhub() + ["list", "--json"], pythonpath=[tmp_path])).stdout)
    assert "gd" in {row["name"] for row in listed}
    _ok(_run(_solverhub() + ["list"], pythonpath=[tmp_path]))
    quiet = _ok(_run(_solverhub() + ["plugins"], pythonpath=[tmp_path], env={"SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    assert "broken" not in quiet.stdout and "no load failures" in quiet.stdout


# -- a real wheel, installed into a temporary target ----------------------
def _build_wheel(src: Path, outdir: Path) -> Path:
    try:
        import build  # noqa: F401
        cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir), str(src)]
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
               "--wheel-dir", str(outdir), str(src)]
    _ok(_run(cmd, cwd=src))
    (wheel,) = outdir.glob("solverhub_heavyball-*.whl")
    return wheel


@pytest.fixture(scope="module")
def heavyball_site(tmp_path_factory) -> Path:
    """The example plugin built as a wheel and installed into a folder for PYTHONPATH."""
    root = tmp_path_factory.mktemp("heavyball")
    src = root / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(*_JUNK, "*.egg-info"))   # build here, not in docs/
    wheel = _build_wheel(src, root / "dist")
    site = root / "site"
    _ok(_run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check",
              "--quiet", "--target", str(site), str(wheel)]))
    assert (site / "solverhub_heavyball" / "plugin.py").is_file()
    return site


def test_installed_plugin_is_listed(heavyball_site):
    rows = json.loads(_ok(_run(_solverhub() + ["list", "--json"], pythonpath=[heavyball_site])).stdout)
    (row,) = [r for r in rows if r["name"] == "heavy-ball"]
    assert row["distribution"] == "solverhub-heavyball"
    assert row["version"] == "0.1.0"
    assert row["kinds"] == ["minimize", "finite_sum"]
    assert row["paper"].startswith("Polyak (1964)")


def test_installed_plugin_solves_ridge(heavyball_site, tmp_path):
    out = tmp_path / "out.json"
    _ok(_run(_solverhub() + ["solve", str(RIDGE), "--solver", "heavy-ball", "--device", "cpu", "--json", str(out)],
             pythonpath=[heavyball_site]))
    result = json.loads(out.read_text())
    assert result["solver"] == "heavy-ball" and result["solver_version"] == "0.1.0"
    assert result["status"] == "converged", result["message"]
    assert result["oracle_calls"]["grad"] == result["iterations"] and result["oracle_calls"]["value"] == 0

    import solverhub
    problem = solverhub.load_problem(RIDGE)
    A, b, lam = problem.data["A"], problem.data["b"], problem.parameters["lam"]
    x_star = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)   # normal equations
    # ||grad|| <= tolerance 1e-6 and strong convexity >= lam give ||x - x*|| <= 1e-5
    np.testing.assert_allclose(np.asarray(result["solution"]["x"]), x_star, rtol=0, atol=1e-5)
    f_star = 0.5 * np.sum((A @ x_star - b) ** 2) + 0.5 * lam * np.sum(x_star ** 2)
    assert abs(result["objective"] - f_star) <= 1e-9 * max(1.0, abs(f_star))


def test_installed_plugin_in_plugins_and_autoload_switch(heavyball_site):
    text = _ok(_run(_solverhub() + ["plugins"], pythonpath=[heavyball_site])).stdout
    assert "loaded  heavy-ball: solverhub-heavyball 0.1.0 (heavy-ball)" in text
    assert "no load failures" in text
    off = {"SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD": "1"}
    text = _ok(_run(_solverhub() + ["plugins"], pythonpath=[heavyball_site], env=off)).stdout
    assert "heavy-ball" not in text and "solverhub.builtin" in text
    rows = json.loads(_ok(_run(_solverhub() + ["list", "--json"], pythonpath=[heavyball_site], env=off)).stdout)
    names = {r["name"] for r in rows}
    assert "heavy-ball" not in names and "gd" in names
    refused = _run(_solverhub() + ["solve", str(RIDGE), "--solver", "heavy-ball"], pythonpath=[heavyball_site], env=off)
    assert refused.returncode == 2 and "unknown solver 'heavy-ball'" in refused.stderr
