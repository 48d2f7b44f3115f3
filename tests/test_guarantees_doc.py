"""docs/guarantees.md stays true: every test it names exists, and its numbers are the code's."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "guarantees.md").read_text()
sys.path.insert(0, str(ROOT / "tests" / "hostile"))


def _row(first_cell_fragment: str) -> list[str]:
    for line in PAGE.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and first_cell_fragment in cells[0]:
            return cells
    raise AssertionError(f"no row starting with {first_cell_fragment!r} in docs/guarantees.md")


def _number(text: str) -> float:
    return float(re.search(r"[0-9][0-9,.]*(?:e[0-9]+)?", text).group(0).replace(",", ""))


def test_every_named_test_exists():
    refs = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", PAGE)
    assert len(refs) >= 20
    for path, name in refs:
        source = (ROOT / path).read_text()
        if name:
            assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} named in docs/guarantees.md is gone"


def test_every_named_corpus_case_exists():
    from kit import all_cases
    ids = {c.id for c in all_cases()}
    named = re.findall(r"`corpus:([\w-]+)`", PAGE)
    assert named and set(named) <= ids, set(named) - ids


def test_caps_are_the_codes():
    from solverhub.problem import data, expr, yamlsafe
    assert _number(_row("problem file size")[1]) == yamlsafe.MAX_YAML_BYTES
    assert _number(_row("YAML nesting")[1]) == yamlsafe.MAX_YAML_DEPTH
    assert _number(_row("expression length")[1]) == expr.MAX_EXPRESSION_CHARS
    elements = _row("elements of all arrays")
    assert _number(elements[1]) == data.DEFAULT_MAX_ELEMENTS and elements[2] == "`SOLVERHUB_MAX_ELEMENTS`"
    flops = _row("estimated flops")
    assert _number(flops[1]) == data.DEFAULT_MAX_GENERATOR_FLOPS and flops[2] == "`SOLVERHUB_MAX_GENERATOR_FLOPS`"


def test_isolation_numbers_are_the_codes():
    from solverhub import isolation
    hang = _row("hangs (in Python")[1]
    assert "max(2 s, ½ `time_limit_s`)" in hang
    assert isolation.hard_limit_s(1.0) == pytest.approx(1.0 + 2.0)       # grace 2 s below 4 s
    assert isolation.hard_limit_s(10.0) == pytest.approx(10.0 + 5.0)     # half the limit above
    flood = _row("floods stdout")[1]
    kept = [int(k) for k in re.findall(r"(\d+) KB", flood)]
    assert kept == [isolation.HEAD_BYTES // 1024, isolation.TAIL_BYTES // 1024, isolation.PASSTHROUGH_BYTES // 1024]


def test_the_page_is_linked_from_the_docs_index():
    assert "guarantees.md" in (ROOT / "docs" / "index.md").read_text()
    assert "guarantees.md" in (ROOT / "README.md").read_text()
