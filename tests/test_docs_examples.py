"""The examples in docs/*.md and README.md are tested.

- every ```yaml block starting with ``name:`` is a problem: it must load;
- every ``$ solverhub ...`` line of a ```console block runs and exits 0, or the
  status its trailing ``# exit N`` comment names; leading ``NAME=VALUE``
  assignments set environment variables; a block preceded by
  ``<!-- docs-test: skip (reason) -->`` is not run (documented in docs/index.md);
- the atom table of docs/yaml-reference.md lists exactly the atoms of ``ATOMS``;
- docs/cli.md names every command and option of the CLI.

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
EXIT_COMMENT = re.compile(r"#\s*exit\s+(\d+)\s*$")
ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int          # 1-based line of the opening fence
    lang: str
    text: str
    skip: bool


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
        out.append(Block(path.relative_to(REPO).as_posix(), start + 1, lang, "\n".join(lines[start + 1:j]) + "\n",
                         bool(SKIP_MARK.search(prev))))
        i = j + 1
    return out


ALL_BLOCKS = [b for path in DOC_FILES for b in _blocks(path)]
PROBLEM_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "yaml" and not b.skip and b.text.lstrip().startswith("name:")]


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
