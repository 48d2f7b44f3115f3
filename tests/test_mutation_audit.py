"""benchmarks/mutation_audit.py: the lists stay valid, mutants run on a copy, bad lists are one-line errors."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _audit():
    spec = importlib.util.spec_from_file_location("mutation_audit", ROOT / "benchmarks" / "mutation_audit.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_audit"] = module         # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_listed_find_occurs_exactly_once(capsys):
    """The repo's mutation lists cannot rot: each `find` occurs once in its file (the --dry-run check)."""
    assert _audit().main(["--dry-run", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["mutations"] >= 6


def _fake_repo(tmp_path: Path, mutations: str) -> Path:
    root = tmp_path / "repo"
    (root / "plugins/fake/solverhub_fake").mkdir(parents=True)
    (root / "plugins/fake/tests").mkdir(parents=True)
    (root / "benchmarks/mutations").mkdir(parents=True)
    (root / "plugins/fake/solverhub_fake/__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "plugins/fake/tests/test_fake.py").write_text(
        "from solverhub_fake import double\n\ndef test_double():\n    assert double(3) == 6\n")
    (root / "benchmarks/mutations/fake.yaml").write_text(mutations)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_mutants_run_on_a_copy_caught_and_missed(tmp_path, monkeypatch, capsys):
    """A mutant that changes the answer is caught, a harmless one is missed; the shared tree is untouched.

    `solverhub_fake` is importable only from the copy's PYTHONPATH, so a pass proves the copy is imported.
    """
    root = _fake_repo(tmp_path, '- file: plugins/fake/solverhub_fake/__init__.py\n'
                                '  find: "return 2 * x"\n  replace: "return 3 * x"\n  breaks: "wrong factor"\n'
                                '- file: plugins/fake/solverhub_fake/__init__.py\n'
                                '  find: "return 2 * x"\n  replace: "return x * 2"\n  breaks: "harmless"\n')
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")     # a bare pytest: fast
    before = (root / "plugins/fake/solverhub_fake/__init__.py").read_text()
    assert _audit().main(["--root", str(root), "--json", "--no-baseline", "--timeout", "60"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["caught"], summary["total"]) == (1, 2)
    assert [m["breaks"] for m in summary["missed"]] == ["harmless"]
    assert (root / "plugins/fake/solverhub_fake/__init__.py").read_text() == before


@pytest.mark.parametrize("text, message", [
    ('- file: plugins/fake/solverhub_fake/__init__.py\n  find: "return 5"\n  replace: "x"\n  breaks: "b"\n',
     "benchmarks/mutations/fake.yaml:1: find 'return 5' occurs 0 times"),
    ('- file: plugins/fake/solverhub_fake/__init__.py\n  find: "2"\n  replace: "3"\n  because: "b"\n',
     "benchmarks/mutations/fake.yaml:4: unknown key 'because'; allowed: file, find, replace, breaks"),
])
def test_bad_list_is_a_one_line_error(tmp_path, capsys, text, message):
    root = _fake_repo(tmp_path, text)
    assert _audit().main(["--root", str(root), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
