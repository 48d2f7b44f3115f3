"""The examples in docs/*.md and README.md are tested.

- every ```yaml block starting with ``name:`` is a problem: it must load (a block
  marked ``<!-- file: PATH -->`` is a file of an example and is tested with it);
- every ``$ solverhub ...`` line of a ```console block runs and exits 0, or the
  status its trailing ``# exit N`` comment names; leading ``NAME=VALUE``
  assignments set environment variables; a block preceded by
  ``<!-- docs-test: skip (reason) -->`` is not run (documented in docs/index.md);
- the atom table of docs/yaml-reference.md lists exactly the atoms of ``ATOMS``;
- docs/cli.md names every command and option of the CLI;
- the example plugin of docs/problem-kinds.md (its ``<!-- file: PATH -->`` blocks) is
  written to a temporary folder, registered, loaded, solved by ``gd`` and its
  baselines computed, against answers known in closed form.

Commands run "from the repository root": in a scratch folder holding links to
every top-level entry of the repository, so files they write (``--json out/...``)
never land in the checkout.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOC_FILES = sorted(DOCS.glob("*.md")) + sorted((DOCS / "methods").glob("*.md")) + [REPO / "README.md"]
SKIP_MARK = re.compile(r"<!--\s*docs-test:\s*skip\b")
FILE_MARK = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->$")
EXIT_COMMENT = re.compile(r"#\s*exit\s+(\d+)\s*$")
ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int          # 1-based line of the opening fence
    lang: str
    text: str
    skip: bool
    file: str | None = None     # PATH of a preceding <!-- file: PATH --> mark


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mark = FILE_MARK.match(prev.strip())
        out.append(Block(path.relative_to(REPO).as_posix(), start + 1, lang, "\n".join(lines[start + 1:j]) + "\n",
                         bool(SKIP_MARK.search(prev)), mark.group(1) if mark else None))
        i = j + 1
    return out


ALL_BLOCKS = [b for path in DOC_FILES for b in _blocks(path)]
PROBLEM_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "yaml" and not b.skip and b.file is None
                  and b.text.lstrip().startswith("name:")]


@dataclass(frozen=True)
class Command:
    id: str
    env: dict
    argv: list
    expected: int


def _commands() -> list[Command]:
    out = []
    for b in ALL_BLOCKS:
        if b.lang != "console" or b.skip:
            continue
        for offset, line in enumerate(b.text.splitlines()):
            if not line.startswith("$ "):
                continue
            raw = line[2:].strip()
            m = EXIT_COMMENT.search(raw)
            expected = int(m.group(1)) if m else 0
            words = shlex.split(raw, comments=True)
            env = {}
            while words and ENV_ASSIGN.match(words[0]):
                name, _, value = words.pop(0).partition("=")
                env[name] = value
            if not words or words[0] != "solverhub":
                continue
            out.append(Command(f"{b.doc}:{b.line + 1 + offset}", env, words, expected))
    return out


COMMANDS = _commands()


def _solverhub_argv() -> list[str]:
    exe = Path(sys.executable).with_name("solverhub")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("solverhub")
    return [found] if found else [sys.executable, "-m", "solverhub.cli"]


@pytest.fixture(scope="module")
def command_results(tmp_path_factory):
    """Run every documented command once, in parallel, from a repo-root stand-in."""
    work = tmp_path_factory.mktemp("docs-cwd")
    for entry in REPO.iterdir():
        if entry.name != ".git":
            (work / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    base = _solverhub_argv()

    def run(cmd: Command):
        env = {**os.environ, **cmd.env}
        return subprocess.run(base + cmd.argv[1:], cwd=work, env=env, capture_output=True, text=True,
                              timeout=180)

    def key(cmd: Command):
        return tuple(sorted(cmd.env.items())), tuple(cmd.argv)

    unique = list({key(cmd): cmd for cmd in COMMANDS}.values())   # a command shown twice runs once
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        results = dict(zip(map(key, unique), pool.map(run, unique)))
    return {cmd.id: results[key(cmd)] for cmd in COMMANDS}


def test_docs_exist():
    names = {p.name for p in DOC_FILES}
    assert {"index.md", "yaml-reference.md", "cli.md", "plugin-guide.md"} <= names
    assert PROBLEM_BLOCKS and COMMANDS


@pytest.mark.parametrize("block", PROBLEM_BLOCKS, ids=lambda b: f"{b.doc}:{b.line}")
def test_yaml_problem_loads(block, tmp_path):
    import solverhub
    path = tmp_path / "problem.yaml"
    path.write_text(block.text, encoding="utf-8")
    problem = solverhub.load_problem(path)
    assert problem.name == block.text.split("\n", 1)[0].partition(":")[2].strip()
    assert problem.dim > 0


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c.id)
def test_console_command(cmd, command_results):
    res = command_results[cmd.id]
    assert res.returncode == cmd.expected, (
        f"{cmd.id}: `{shlex.join(cmd.argv)}` exited {res.returncode}, the doc says {cmd.expected}\n"
        f"stdout:\n{res.stdout[-2000:]}\nstderr:\n{res.stderr[-2000:]}")
    if cmd.expected == 2:   # bad input: one line on stderr, no traceback
        assert "Traceback" not in res.stderr and res.stderr.startswith("error: ")


# -- the atom table ---------------------------------------------------------------
def _atom_rows() -> list[list[str]]:
    text = (DOCS / "yaml-reference.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- atoms:begin.*?-->\n(.*?)<!-- atoms:end -->", text, re.S)
    assert m, "yaml-reference.md has no <!-- atoms:begin --> ... <!-- atoms:end --> table"
    rows = []
    for line in m.group(1).splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells[0] == "atom":
            continue
        rows.append(cells)
    return rows


def test_atom_table_lists_exactly_the_atoms():
    from solverhub.problem.atoms import ATOMS
    rows = _atom_rows()
    documented = {}
    for cells in rows:
        sig = re.fullmatch(r"`(\w+)\(([^)]*)\)`", cells[0])
        assert sig, f"bad atom cell {cells[0]!r}"
        documented[sig.group(1)] = (sig.group(2), cells)
    assert len(documented) == len(rows), "an atom is listed twice"
    assert sorted(documented) == sorted(ATOMS), (
        f"missing from the doc: {sorted(set(ATOMS) - set(documented))}; "
        f"not atoms: {sorted(set(documented) - set(ATOMS))}")
    for name, (args, cells) in documented.items():
        atom = ATOMS[name]
        assert len([a for a in args.split(",") if a.strip()]) == atom.arity, name
        assert cells[2] == atom.curvature, f"{name}: curvature {cells[2]!r} != {atom.curvature!r}"
        has_cvxpy = cells[3].startswith("`cp.")
        assert has_cvxpy == (atom.cvxpy is not None), f"{name}: cvxpy form column {cells[3]!r}"
        assert cells[4].replace("\\|", "|") == atom.doc, f"{name}: meaning {cells[4]!r} != {atom.doc!r}"


# -- the CLI page names every command and option ----------------------------------
def test_cli_doc_covers_every_command_and_option():
    from solverhub.cli import main
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        heading = re.search(rf"^## `solverhub {name}\b.*$", text, re.M)
        assert heading, f"cli.md has no section for `solverhub {name}`"
        rest = text[heading.end():]
        section = rest[:m.start()] if (m := re.search(r"^## ", rest, re.M)) else rest
        for param in command.params:
            for opt in param.opts + param.secondary_opts:
                if opt.startswith("-") and opt not in ("-h", "--help"):
                    assert f"`{opt}" in section or f" {opt}" in section, f"cli.md: `solverhub {name}` lacks {opt}"


def test_result_json_keys_documented():
    import dataclasses
    from solverhub.result import Result
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for f in dataclasses.fields(Result):
        assert f"| `{f.name}` |" in text, f"cli.md: Result key {f.name!r} is not documented"


# -- the problem-kind guide's example plugin ------------------------------------------
KINDS_GUIDE = "docs/problem-kinds.md"
KINDS_FILES = {b.file: b for b in ALL_BLOCKS if b.doc == KINDS_GUIDE and b.file}


def test_kinds_example_has_its_files():
    assert set(KINDS_FILES) == {
        "solverhub-lsq/pyproject.toml", "solverhub-lsq/solverhub_lsq/__init__.py",
        "solverhub-lsq/solverhub_lsq/plugin.py", "solverhub-lsq/solverhub_lsq/least_squares.py",
        "solverhub-lsq/solverhub_lsq/polyfit.py", "solverhub-lsq/problems/least_squares.yaml",
        "solverhub-lsq/problems/polyfit.yaml"}


def test_kinds_example_imports_only_the_public_api():
    import tomllib
    for path, block in KINDS_FILES.items():
        if block.lang != "python":
            continue
        imported = re.findall(r"^\s*(?:from\s+(solverhub[\w.]*)\s+import|import\s+(solverhub[\w.]*))", block.text, re.M)
        modules = {a or b for a, b in imported}
        assert modules <= {"solverhub.plugin"}, f"{path} imports {sorted(modules)}; a kind plugin imports solverhub.plugin"
    project = tomllib.loads(KINDS_FILES["solverhub-lsq/pyproject.toml"].text)
    (target,) = project["project"]["entry-points"]["solverhub"].values()
    assert f"solverhub-lsq/{target.replace('.', '/')}.py" in KINDS_FILES, f"the entry point {target} is not a file"


@pytest.fixture
def kinds_example(tmp_path, monkeypatch):
    """The guide's example files in a temporary folder (the working directory), its plugin
    module importable, and a fresh registry (the previous one is restored afterwards)."""
    from solverhub import registry as reg_mod
    for rel, block in KINDS_FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(block.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "solverhub-lsq"))
    monkeypatch.setattr(reg_mod, "_REGISTRY", None)
    yield tmp_path
    for name in [m for m in sys.modules if m.split(".")[0] == "solverhub_lsq"]:
        del sys.modules[name]


def test_kinds_example_plugin_imports_without_torch(kinds_example):
    code = ("import sys, solverhub_lsq.plugin as p; "
            "assert 'torch' not in sys.modules, 'importing the plugin imported torch'; "
            "assert [k.name for k in p.solverhub_problem_kinds()] == ['least_squares', 'polyfit']; "
            "assert 'torch' not in sys.modules, 'the hook imported torch'")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(kinds_example / "solverhub-lsq"), str(REPO)])}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]


def test_kinds_example_snippet_solves_polyfit(kinds_example):
    """The guide's Python snippet, as written: register, load, gd, baseline."""
    (snippet,) = [b for b in ALL_BLOCKS if b.doc == KINDS_GUIDE and b.lang == "python" and b.file is None
                  and "register(solverhub_lsq.plugin" in b.text]
    scope: dict = {}
    exec(compile(snippet.text, f"{KINDS_GUIDE}:{snippet.line}", "exec"), scope)
    import numpy as np
    from solverhub import ReferenceStatus, Status
    # the nine points lie on y = 1 - 2t + 0.5t^2: the least-squares fit is exact
    coef_star = np.array([1.0, -2.0, 0.5])
    result, reference = scope["result"], scope["reference"]
    assert result.solver == "gd" and result.status is Status.CONVERGED, result.message
    # tolerance 1e-10 on ||grad||; the smallest eigenvalue of V^T V / n here is > 0.05, so ||c - c*|| < 2e-9
    np.testing.assert_allclose(result.solution["coef"], coef_star, rtol=0, atol=1e-8)
    assert reference.status is ReferenceStatus.CERTIFIED and reference.solver == "numpy lstsq (closed form)"
    np.testing.assert_allclose(reference.x, coef_star, rtol=0, atol=1e-12)
    assert abs(reference.objective) <= 1e-20 and reference.certificate.value <= 1e-12
    assert result.extras["rms_residual"] <= 1e-8                      # the kind's report


def test_kinds_example_least_squares_and_errors(kinds_example):
    import numpy as np
    import solverhub
    import solverhub_lsq.plugin
    from solverhub import ReferenceStatus, Status
    from solverhub.plugin import ProblemError

    solverhub.get_registry().manager.register(solverhub_lsq.plugin, name="lsq")
    problem = solverhub.load_problem("solverhub-lsq/problems/least_squares.yaml")
    # normal equations A^T A x = A^T b: [[2, 1], [1, 5]] x = [4, 7], so x* = (13/9, 10/9), f* = 2/9
    x_star, f_star = np.array([13 / 9, 10 / 9]), 2 / 9
    result = solverhub.solve(problem, "gd", options={"tolerance": 1e-10}, device="cpu")
    assert result.status is Status.CONVERGED, result.message
    np.testing.assert_allclose(result.solution["x"], x_star, rtol=0, atol=1e-9)   # A^T A >= 1.38 I
    reference = solverhub.compute_baseline(problem)                                # cvxpy, certified
    assert reference.status is ReferenceStatus.CERTIFIED, reference.message
    np.testing.assert_allclose(reference.x, x_star, rtol=0, atol=1e-6)
    assert abs(reference.objective - f_star) <= 1e-9

    # a minibatch oracle samples polyfit's rows (n_rows from build_model)
    text = (kinds_example / "solverhub-lsq/problems/polyfit.yaml").read_text()
    sampled = solverhub.load_problem(text + "oracle: {stochastic: {batch_size: 3, seed: 0}}\n")
    assert sampled.sections.n_rows == 9 and sampled.oracle_config.stochastic

    # the kinds' validation errors point at the line of the offending key
    bad = kinds_example / "bad.yaml"
    bad.write_text(text.replace("degree: 2", "degree: 9"))
    with pytest.raises(ProblemError, match=r"degree: 9 needs at least 10 points") as err:
        solverhub.load_problem(bad)
    assert err.value.location.line == text.splitlines().index("degree: 2") + 1
    bad.write_text((kinds_example / "solverhub-lsq/problems/least_squares.yaml").read_text()
                   .replace('"A @ x - b"', '"sum(A @ x - b)"'))
    with pytest.raises(ProblemError, match=r"residual: must be a vector"):
        solverhub.load_problem(bad)

    # no cvxpy form for the model kind; its reference is the closed form
    polyfit = solverhub.load_problem("solverhub-lsq/problems/polyfit.yaml")
    verdicts = dict(solverhub.get_registry().accepting(polyfit))
    assert not verdicts["cvxpy"] and "closed form" in verdicts["cvxpy"].text
    assert verdicts["gd"] and verdicts["lbfgs"]          # generic_minimization


# -- the structure guide (docs/structure.md): named constraints and their errors ----------
STRUCTURE_GUIDE = "docs/structure.md"


def test_structure_guide_named_constraints_key_the_duals(tmp_path):
    """The guide's named-constraint example, solved: Result.duals is keyed by its names, and the
    budget multiplier is the hand KKT value (x = 1/3 each: 2(x - 1) + nu = 0, nu = 4/3)."""
    import solverhub
    (block,) = [b for b in PROBLEM_BLOCKS if b.doc == STRUCTURE_GUIDE and "name: budget" in b.text]
    path = tmp_path / "p.yaml"
    path.write_text(block.text, encoding="utf-8")
    problem = solverhub.load_problem(path)
    assert [c.label for c in problem.structure.constraints] == ["budget", "constraints[1]"]
    for solver in ("cvxpy", "slsqp"):
        result = solverhub.solve(problem, solver)
        assert set(result.duals) == {"budget", "constraints[1]"}, solver
        assert abs(result.duals["budget"][0] - 4 / 3) <= 1e-6, (solver, result.duals)
        assert result.extras["max_violation"] <= 1e-8


def test_structure_guide_error_example_is_the_real_error(tmp_path):
    """The guide's bad-input block (skipped by the loader) fails with exactly the message it shows."""
    import solverhub
    from solverhub.errors import ProblemError
    blocks = [b for b in ALL_BLOCKS if b.doc == STRUCTURE_GUIDE]
    (i,) = [k for k, b in enumerate(blocks) if b.lang == "yaml" and b.skip]
    shown = blocks[i + 1]
    assert shown.lang == "text" and shown.text.startswith("error: p.yaml:")
    path = tmp_path / "p.yaml"
    path.write_text(blocks[i].text, encoding="utf-8")
    with pytest.raises(ProblemError) as err:
        solverhub.load_problem(path)
    assert shown.text.strip() == "error: " + err.value.one_line().replace(str(path), "p.yaml"), str(err.value)
