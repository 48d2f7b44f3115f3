"""Rewrite the option tables of the docs from the solvers' Options models.

Every table sits between ``<!-- options: SOLVER -->`` and ``<!-- /options -->`` in
``docs/methods/*.md`` or ``docs/cli.md`` (``SOLVER`` = ``run`` for the run options) and is
:func:`solverhub.options.options_table` of that solver's ``Options``; the prose around the
markers is left alone. ``--check`` rewrites nothing and exits 1 naming the pages that drifted
(``tests/test_options.py`` runs the same check).

    python scripts/option_tables.py [--check]
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("docs/methods/*.md", "docs/cli.md")
BLOCK = re.compile(r"(<!-- options: (?P<solver>[\w.+-]+) -->\n)(?P<table>.*?)(<!-- /options -->)", re.S)


def pages(root: Path = ROOT) -> list[Path]:
    return sorted(p for pattern in PAGES for p in root.glob(pattern))


def table_for(solver: str) -> str:
    """The generated table of ``solver`` (``run``: the run options)."""
    from solverhub.options import RunOptions, options_table
    from solverhub.registry import get_registry
    if solver == "run":
        return options_table(RunOptions)
    return options_table(get_registry().solver(solver).Options)


def render(text: str) -> str:
    """``text`` with every marked block's table regenerated."""
    return BLOCK.sub(lambda m: f"{m.group(1)}{table_for(m.group('solver'))}\n{m.group(4)}", text)


def marked(text: str) -> list[str]:
    """The solvers whose tables ``text`` marks, in order."""
    return [m.group("solver") for m in BLOCK.finditer(text)]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    drifted = []
    for page in pages():
        text = page.read_text()
        new = render(text)
        if new != text:
            drifted.append(page.relative_to(ROOT))
            if not check:
                page.write_text(new)
    verb = "out of date" if check else "rewritten"
    for page in drifted:
        print(f"{page}: option tables {verb}")
    return 1 if check and drifted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
