"""The dispatch table of docs/cli.md agrees with ``Registry.dispatch`` (issue 15).

Each row: kinds, a structure class (``smooth``, ``bounds``, ``composite``, ``nonsmooth``,
``constrained`` as :func:`solverhub.bench.profiles.structure_class` reads it, or
``any``), a condition, the dispatched solver and an example file. The first row
matching a problem applies. Checked: every example dispatches to its row's solver
and matches that row first; every shipped problem matches a row and dispatches to
its solver; the size threshold in the text is bfgs-wolfe's own ``dense_dim``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import solverhub
from solverhub.bench.profiles import structure_class
from solverhub.registry import get_registry

REPO = Path(__file__).resolve().parents[1]
SIZE = re.compile(r"^(at most|more than) (\d+) unknowns$")


def _rows() -> list[dict]:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- dispatch-table -->\n(.*?)<!-- /dispatch-table -->", text, re.S)
    assert block, "docs/cli.md has no dispatch table"
    rows = []
    for line in block.group(1).strip().splitlines()[2:]:
        kinds, structure, when, solver, example = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append({"kinds": set(re.findall(r"`([^`]+)`", kinds)), "structure": structure, "when": when,
                     "solver": re.findall(r"`([^`]+)`", solver)[0], "examples": re.findall(r"`([^`]+)`", example),
                     "line": line})
    return rows


ROWS = _rows()


def _holds(when: str, problem, registry) -> bool:
    if not when:
        return True
    if when == "stochastic oracle":
        return bool(problem.oracle_config.stochastic)
    if when in ("DCP (cvxpy accepts it)", "not DCP"):
        dcp = bool(dict(registry.accepting(problem)).get("cvxpy"))
        return dcp if when.startswith("DCP") else not dcp
    m = SIZE.match(when)
    assert m, f"unknown condition {when!r} in the dispatch table"
    n = int(m.group(2))
    return problem.dim <= n if m.group(1) == "at most" else problem.dim > n


def _first_row(problem, registry):
    for row in ROWS:
        if problem.kind.name in row["kinds"] and row["structure"] in ("any", structure_class(problem)) \
                and _holds(row["when"], problem, registry):
            return row
    return None


@pytest.fixture(scope="module")
def shipped():
    return {str(f.relative_to(REPO)): solverhub.load_problem(f) for f in sorted((REPO / "problems").rglob("*.yaml"))}


def test_table_parses_and_names_registered_solvers():
    registry = get_registry()
    assert len(ROWS) >= 10
    for row in ROWS:
        assert row["solver"] in registry.solvers, row["line"]
        assert row["structure"] in ("any", "smooth", "bounds", "composite", "nonsmooth", "constrained"), row["line"]
        assert row["examples"], row["line"]


def test_size_threshold_is_bfgs_wolfe_dense_dim():
    from solverhub_bfgs_wolfe import BFGSWolfe
    sizes = {int(m.group(2)) for row in ROWS if (m := SIZE.match(row["when"]))}
    assert sizes == {BFGSWolfe.dense_dim}


def test_examples_dispatch_as_their_row(shipped):
    registry = get_registry()
    for row in ROWS:
        for example in row["examples"]:
            problem = shipped[example]
            assert _first_row(problem, registry) is row, (example, row["line"])
            assert registry.dispatch(problem)[0].name == row["solver"], (example, row["line"])


def test_every_shipped_problem_follows_the_table(shipped):
    registry = get_registry()
    wrong = []
    for path, problem in shipped.items():
        row = _first_row(problem, registry)
        got = registry.dispatch(problem)[0].name
        if row is None or row["solver"] != got:
            wrong.append(f"{path}: kind {problem.kind.name}, {structure_class(problem)}, n={problem.dim}: "
                         f"dispatch {got}, table {row and row['solver']}")
    assert not wrong, "\n".join(wrong)
