"""Run problems x solvers x seeds in-process and tabulate the results.

This is the minimal compare: sequential, no store. Solvers that refuse a
problem are skipped and listed, not errors; baselines are computed once per
problem.
"""
from __future__ import annotations

__all__ = ["collect_problem_files", "run_table", "TableRow"]

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import ProblemError
from ..result import Result


@dataclass(frozen=True)
class TableRow:
    problem: str
    solver: str
    result: Result | None
    skipped: str = ""


def collect_problem_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (recursively, ``*.yaml``/``*.yml``) in a stable order."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise ProblemError(f"no such problem file or folder: {path}")
    return out


def run_table(files: Sequence[Path], solvers: Sequence[str] | None = None, *, seeds: int = 1,
              options: dict | None = None, baseline: bool = True, progress=None) -> list[TableRow]:
    """Solve every problem with every (accepting) solver; ``solvers=None``: all registered."""
    from ..api import solve
    from ..baseline import NoBaseline, compute_baseline
    from ..problem.model import load_problem
    from ..registry import get_registry

    from ..errors import OptionError
    from ..options import RunOptions, option_names

    registry = get_registry()
    names = list(solvers) if solvers else sorted(registry.solvers)
    for name in names:
        registry.solver(name)        # unknown names fail before any work
    # options go to the solvers that have them; run options to every solver; a name
    # no selected solver knows fails before any work
    options = dict(options or {})
    run_names = set(option_names(RunOptions))
    known = {name: run_names | set(option_names(registry.solvers[name].cls.Options)) for name in names}
    for key in options:
        if not any(key.replace("-", "_") in k for k in known.values()):
            raise OptionError(f"--option {key}: no selected solver has this option",
                              allowed=", ".join(sorted(set().union(*known.values()))))
    rows: list[TableRow] = []
    for path in files:
        problem = load_problem(path)
        base = None
        if baseline:
            try:
                base = compute_baseline(problem)
            except NoBaseline:
                base = None
        for name in names:
            ok, why = registry.solvers[name].cls().accepts(problem)
            if not ok:
                rows.append(TableRow(problem.name, name, None, skipped=why))
                continue
            for seed in range(seeds):
                mine = {k: v for k, v in options.items() if k.replace("-", "_") in known[name]}
                result = solve(problem, name, options=mine, seed=seed)
                if base is not None:
                    gap = (result.objective - base.objective) / max(1.0, abs(base.objective))
                    result = result.replace(baseline_objective=base.objective, baseline_gap=gap)
                rows.append(TableRow(problem.name, name, result))
                if progress is not None:
                    progress(rows[-1])
    return rows
