"""The compare table: one row per (problem, solver), medians over seeds, status counts.

Pure functions over :class:`~solverhub.result.Result` lists. Solvers are keyed by
:func:`~solverhub.bench.profiles.solver_labels` (two option sets of one solver are two
rows); problems by ``problem_hash`` (a problem run with different ``--set`` values is
two problems). A deterministic solver's seeds (:func:`~solverhub.bench.profiles.deterministic_groups`)
are one run, shown with the spread of its wall times; each kind's measures in
``Result.extras`` (:data:`MEASURE_COLUMNS`) become columns.
"""
from __future__ import annotations

__all__ = ["SummaryRow", "summarize", "problem_labels", "measure_columns", "STATUS_ORDER", "MEASURE_COLUMNS"]

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..result import Result, Status
from .profiles import deterministic_groups, solver_labels

STATUS_ORDER = tuple(Status)
# Kinds' own measures (Result.extras) shown as table columns when any run has them.
MEASURE_COLUMNS = ("test_accuracy", "fit_accuracy", "test_loss", "factorization_error", "rel_error", "param_error",
                   "max_violation", "eps_g", "eps_f")


@dataclass(frozen=True)
class SummaryRow:
    """Medians over the runs (seeds) of one solver on one problem.

    ``objective``, ``baseline_gap`` and ``stationarity`` are medians over the runs where
    the value is finite (``nan`` when none is; failed runs have no objective);
    ``oracle_calls`` and ``wall_time_s`` are medians over all runs; ``baseline_gap_max`` and
    ``stationarity_max`` are the worst run's (the terminal table of ``compare``). ``status_counts``
    maps each status value that occurred to its number of runs.
    """

    problem: str                    # display label (name, plus a hash prefix if two problems share a name)
    problem_hash: str
    solver: str                     # display label (see solver_labels)
    runs: int
    seeds: tuple[int, ...]
    objective: float
    baseline_objective: float | None
    baseline_gap: float
    stationarity_name: str
    stationarity: float
    oracle_calls: float
    wall_time_s: float
    iterations: float
    status_counts: dict[str, int] = field(default_factory=dict)
    deterministic: bool = False     # every seed gave the same run: shown once
    wall_time_min: float = math.nan
    wall_time_max: float = math.nan
    measures: dict[str, float] = field(default_factory=dict)   # medians of MEASURE_COLUMNS present
    baseline_gap_max: float | None = None   # the worst run's gap (nan when a run's is; None: no run has one)
    stationarity_max: float | None = None   # the worst run's stationarity (nan when a run's is nan)

    @property
    def converged(self) -> int:
        return self.status_counts.get(Status.CONVERGED.value, 0)

    def status_text(self) -> str:
        """``"converged 3"`` or ``"converged 2, diverged 1"`` in the order of :class:`Status`."""
        return ", ".join(f"{s.value} {self.status_counts[s.value]}" for s in STATUS_ORDER
                         if self.status_counts.get(s.value))


def _median(values) -> float:
    """Median of the finite values (``None`` is not one), as :func:`statistics.median` (the mean
    of the two middle ones for an even count); ``nan`` when there is none."""
    v = np.array(values, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def _worst(values) -> float | None:
    """The largest of the values (``None`` is none of them), ``nan`` when one is ``nan`` (a
    run without a measure is the worst run); ``None`` when there is none."""
    v = np.array([x for x in values if x is not None], dtype=float)
    return float(v.max()) if v.size else None


def problem_labels(results: Sequence[Result]) -> dict[str, str]:
    """``{problem_hash: label}``: the problem's name, or ``name [hash8]`` when several
    problems (different content, e.g. ``--set`` overrides) share that name."""
    hashes: dict[str, set[str]] = defaultdict(set)
    for r in results:
        hashes[r.problem].add(r.problem_hash)
    out = {}
    for r in results:
        shared = len(hashes[r.problem]) > 1
        out[r.problem_hash] = f"{r.problem} [{r.problem_hash[:8]}]" if shared else r.problem
    return out


def measure_columns(rows: Iterable[SummaryRow]) -> list[str]:
    """The :data:`MEASURE_COLUMNS` some row has, in that order."""
    present = set().union(*(row.measures for row in rows))
    return [k for k in MEASURE_COLUMNS if k in present]


def summarize(results: Iterable[Result], labels: Sequence[str] | None = None,
              deterministic: dict[tuple[str, str], bool] | None = None) -> list[SummaryRow]:
    """The compare table, sorted by problem label then solver label (``labels``: the
    results' solver labels, default :func:`~solverhub.bench.profiles.solver_labels`;
    ``deterministic``: :func:`~solverhub.bench.profiles.deterministic_groups` of them, computed
    when not given)."""
    results = list(results)
    labels = list(labels) if labels is not None else solver_labels(results)
    plabels = problem_labels(results)
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r, label in zip(results, labels):
        groups[(r.problem_hash, label)].append(r)
    if deterministic is None:
        deterministic = deterministic_groups(results, labels)
    rows = []
    for (phash, solver), runs in groups.items():
        base = next((r.baseline_objective for r in runs if r.baseline_objective is not None), None)
        names = Counter(r.stationarity.name for r in runs)
        walls = np.array([r.wall_time_s for r in runs], dtype=float)
        walls = walls[np.isfinite(walls)]
        keys = set().union(*(r.extras for r in runs if r.extras))
        measures = {k: _median([v for r in runs if isinstance(v := r.extras.get(k), (int, float))])
                    for k in MEASURE_COLUMNS if k in keys}
        rows.append(SummaryRow(
            problem=plabels[phash], problem_hash=phash, solver=solver, runs=len(runs),
            seeds=tuple(sorted({r.seed for r in runs})),
            objective=_median([r.objective for r in runs]), baseline_objective=base,
            baseline_gap=_median([r.baseline_gap for r in runs]),
            stationarity_name=names.most_common(1)[0][0],
            stationarity=_median([r.stationarity.value for r in runs]),
            oracle_calls=_median([r.total_oracle_calls for r in runs]),
            wall_time_s=_median(walls),
            iterations=_median([r.iterations for r in runs]),
            status_counts=dict(Counter(r.status.value for r in runs)),
            deterministic=deterministic.get((phash, solver), False),
            wall_time_min=float(walls.min()) if walls.size else math.nan,
            wall_time_max=float(walls.max()) if walls.size else math.nan,
            measures=measures,
            baseline_gap_max=_worst(r.baseline_gap for r in runs),
            stationarity_max=_worst(r.stationarity.value for r in runs)))
    rows.sort(key=lambda row: (row.problem, row.solver))
    return rows
