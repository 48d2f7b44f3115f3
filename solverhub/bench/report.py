"""The compare report (one self-contained folder) and the per-run exports.

``write_report(results, out_dir)`` writes ``out_dir/index.html`` and its PNG
figures beside it: no external CSS, JavaScript, fonts or images, so the folder
opens offline and can be zipped or served as is. ``export_runs(results, path,
fmt)`` writes one row per run as CSV (standard library) or parquet (pandas +
pyarrow, imported only then).

Both are pure functions of a list of :class:`~solverhub.result.Result` objects;
the result store and the CLI feed them.
"""
from __future__ import annotations

__all__ = ["write_report", "export_runs", "export_path", "run_rows", "csv_cell", "problem_classes", "EXPORT_FORMATS",
           "DEFAULT_TAUS"]

import csv
import datetime as _dt
import gc
import html
import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import Location, OptionError
from ..outputs import atomic_output, atomic_write_text, check_output_dir, check_output_file
from ..result import Result, Status
from . import profiles as _profiles
from .summary import measure_columns, problem_labels, summarize

EXPORT_FORMATS = ("csv", "parquet")
DEFAULT_TAUS = (1e-1, 1e-3, 1e-6)
STOPPED = frozenset({Status.MAX_ITERATIONS, Status.BUDGET_EXHAUSTED, Status.TIME_LIMIT})
_ORACLE_KINDS = ("value", "grad", "hvp", "stochastic_grad")
MAX_LISTED_RUNS = 200     # failures / stopped-by-a-limit rows listed in full; the rest counted


# -- exports -------------------------------------------------------------------
def _oracle_kinds(results: Sequence[Result]) -> list[str]:
    extra = sorted({k for r in results for k in r.oracle_calls} - set(_ORACLE_KINDS))
    return list(_ORACLE_KINDS) + extra


def _columns(kinds: Sequence[str]) -> list[str]:
    return (["problem", "problem_hash", "problem_dim", "solver", "solver_version", "seed", "status", "message",
             "objective", "baseline_objective", "baseline_gap", "stationarity_name", "stationarity_value",
             "iterations", "oracle_calls_total"] + [f"oracle_calls_{k}" for k in kinds]
            + ["wall_time_s", "measure_time_s", "device", "dtype", "options", "extras"])


def run_rows(results: Iterable[Result]) -> list[dict[str, Any]]:
    """One flat dict per run, in the export's column order.

    Columns: problem, problem_hash, problem_dim, solver, solver_version, seed, status,
    message, objective, baseline_objective, baseline_gap, stationarity_name,
    stationarity_value, iterations, oracle_calls_total, oracle_calls_<kind> (value,
    grad, hvp, stochastic_grad, then any other kind, 0 where a run has none),
    wall_time_s (the method's time), measure_time_s (the run loop's measuring, 0 for runs
    written before it was recorded), device, dtype, options (JSON, keys sorted), extras (JSON: the solver's and
    the kind's own report, e.g. min_t of the l1 gradient norm; long lists are kept).
    """
    results = list(results)
    kinds = _oracle_kinds(results)
    rows = []
    for r in results:
        row = {"problem": r.problem, "problem_hash": r.problem_hash, "problem_dim": int(r.problem_dim),
               "solver": r.solver, "solver_version": r.solver_version, "seed": int(r.seed),
               "status": r.status.value, "message": r.message, "objective": float(r.objective),
               "baseline_objective": None if r.baseline_objective is None else float(r.baseline_objective),
               "baseline_gap": None if r.baseline_gap is None else float(r.baseline_gap),
               "stationarity_name": r.stationarity.name, "stationarity_value": float(r.stationarity.value),
               "iterations": int(r.iterations), "oracle_calls_total": int(r.total_oracle_calls)}
        row.update({f"oracle_calls_{k}": int(r.oracle_calls.get(k, 0)) for k in kinds})
        row.update({"wall_time_s": float(r.wall_time_s),
                    "measure_time_s": float(getattr(r, "measure_time_s", 0.0) or 0.0), "device": r.device,
                    "dtype": r.dtype,
                    "options": json.dumps(r.options, sort_keys=True),
                    "extras": json.dumps(r.extras, sort_keys=True, default=str)})
        rows.append(row)
    return rows


# a text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """One CSV cell: floats exactly (``repr``), None empty, ints as they are, and text that a
    spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return) prefixed with a single quote ``'``. Numbers are never prefixed (``-1.5`` stays a number)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_path(out: str | Path, fmt: str, flag: str = "--out") -> Path:
    """Where ``report --format csv|parquet --out OUT`` writes: ``OUT`` itself when it ends in
    ``.csv`` / ``.parquet``, else ``OUT/runs.<fmt>`` (``OUT`` a new or existing folder).
    Refuses, before anything is written, what :mod:`solverhub.outputs` refuses."""
    if fmt not in EXPORT_FORMATS:
        raise OptionError(f"unknown export format {fmt!r}", allowed=", ".join(EXPORT_FORMATS))
    target = Path(out)
    if target.suffix == f".{fmt}":
        return check_output_file(target, flag)
    check_output_dir(target, flag, allowed=f"a folder (new or existing), or a file name ending in .{fmt}")
    return check_output_file(target / f"runs.{fmt}", flag)


def export_runs(results: Iterable[Result], path: str | Path, fmt: str = "csv", *, flag: str = "path") -> Path:
    """Write one row per run (:func:`run_rows`) to ``path`` as ``csv`` or ``parquet``.

    CSV: a header line, floats written exactly (``repr``), an empty cell for a missing
    baseline, ``nan``/``inf`` as Python writes them (pandas reads them back); text cells
    that a spreadsheet would read as a formula get a leading ``'`` (:func:`csv_cell`).
    Parquet: needs pandas and pyarrow (imported only here); float columns are float64
    (missing baseline = null/NaN), counts int64; text is stored as it is (typed, never a
    formula). The file is written atomically (a temporary file, then a rename) and only
    over a regular file (:mod:`solverhub.outputs`). Returns ``path``.
    """
    if fmt not in EXPORT_FORMATS:
        raise OptionError(f"unknown export format {fmt!r}", allowed=", ".join(EXPORT_FORMATS))
    path = check_output_file(path, flag)
    results = list(results)
    rows = run_rows(results)
    columns = _columns(_oracle_kinds(results))
    if fmt == "parquet":
        try:
            import pandas as pd
            import pyarrow  # noqa: F401  (the engine)
        except ImportError:
            raise OptionError("parquet export needs pandas and pyarrow", allowed="csv") from None
        frame = pd.DataFrame(rows, columns=columns)
        for col in ("objective", "baseline_objective", "baseline_gap", "stationarity_value", "wall_time_s",
                    "measure_time_s"):
            frame[col] = frame[col].astype("float64")
        for col in columns:
            if col in ("problem_dim", "seed", "iterations") or col.startswith("oracle_calls_"):
                frame[col] = frame[col].astype("int64")
        with atomic_output(path, flag) as tmp:
            frame.to_parquet(tmp, engine="pyarrow", index=False)
        return path
    with atomic_output(path, flag) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([csv_cell(c) for c in columns])
            for row in rows:
                writer.writerow([csv_cell(row[c]) for c in columns])
    return path


# -- the HTML report -------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1240px;
 color:#222;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc;padding-bottom:.2em}
h3{margin-top:1.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #d0d0d0;padding:.25em .55em;vertical-align:top}
th{background:#f0f0f0;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
.st-converged{color:#17702c}.st-failed,.st-diverged,.st-infeasible,.st-unbounded{color:#b00020;font-weight:600}
.st-max_iterations,.st-budget_exhausted,.st-time_limit{color:#8a5a00}
.note{color:#555;font-size:.9em}img{max-width:100%;border:1px solid #e4e4e4;margin:.4em 0}
code{background:#f4f4f4;padding:0 .2em}
.scroll{overflow-x:auto;max-width:100%}td{overflow-wrap:anywhere;max-width:24em}
td.num{white-space:nowrap;overflow-wrap:normal}.spread{color:#666;font-size:.85em}
@media print{.scroll{overflow:visible}table{font-size:.72em}}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(v: float | None, fmt: str = ".6g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isnan(v):
        return "-"
    return format(v, fmt)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:60] or "problem"


def _tau_slug(tau: float) -> str:
    return f"{tau:.0e}".replace("+", "")


def _status_html(counts: dict[str, int]) -> str:
    return ", ".join(f'<span class="st-{_e(s.value)}">{_e(s.value)} {counts[s.value]}</span>'
                     for s in Status if counts.get(s.value))


def _table(table_id: str, header: Sequence[str], rows: Iterable[tuple[dict, Sequence[str]]],
           numeric: Sequence[int] = ()) -> str:
    """``rows``: (data-attributes, already-escaped cells)."""
    out = [f'<div class="scroll"><table id="{_e(table_id)}"><thead><tr>'
           + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for attrs, cells in rows:
        a = "".join(f' data-{k}="{_e(v)}"' for k, v in attrs.items())
        out.append(f"<tr{a}>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                         for i, c in enumerate(cells)) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _skipped_rows(skipped) -> list[tuple[str, str, str]]:
    """Normalize skipped pairs to ``(problem, solver, reason)``.

    Accepts plain ``(problem, solver, reason)`` tuples (the order of
    ``ResultStore.skipped()`` and ``runner.Plan.skipped``), mappings with keys
    ``problem``, ``solver``, ``reason``, or objects with attributes ``problem``,
    ``solver`` and ``reason`` (or ``skipped``, as ``bench.table.TableRow``); named
    fields win over position (a namedtuple may use any order).
    """
    out = []
    for item in skipped or ():
        if isinstance(item, dict):
            out.append((str(item["problem"]), str(item["solver"]), str(item.get("reason", item.get("skipped", "")))))
        elif hasattr(item, "solver") and hasattr(item, "problem"):
            reason = getattr(item, "reason", None)
            if reason is None:
                reason = getattr(item, "skipped", "")
            out.append((str(item.problem), str(item.solver), str(reason)))
        else:
            problem, solver, reason = item
            out.append((str(problem), str(solver), str(reason)))
    return out


def problem_classes(records) -> dict[str, tuple[str, str]]:
    """``{problem_hash: (kind, structure class)}`` for the report's per-class profiles, from
    ``(result, problem_path)`` pairs (``ResultStore.records()``: objects with ``.result`` and
    ``.problem_path``). Each file is loaded once, without the run's ``--set`` overrides; a
    file that is gone or no longer loads leaves its problems out (they go to ``unknown``)."""
    from ..problem.model import load_problem
    loaded: dict[str, tuple[str, str] | None] = {}
    out: dict[str, tuple[str, str]] = {}
    for rec in records:
        path = getattr(rec, "problem_path", None)
        if not path:
            continue
        if path not in loaded:
            try:
                problem = load_problem(Path(path))
                loaded[path] = (problem.kind.name, _profiles.structure_class(problem))
            except Exception:  # noqa: BLE001 - a moved or edited file: the report still renders
                loaded[path] = None
        if loaded[path] is not None:
            out.setdefault(rec.result.problem_hash, loaded[path])
    return out


def _profile_groups(results, labels, classes, pooled) -> list[tuple[str, str, list[int]]]:
    """``(slug, title, indices into results)`` per profile group: one per (kind, structure
    class) when ``classes`` is given, plus the pooled group (slug ``""``) when asked or when
    there are no classes."""
    everything = list(range(len(results)))
    if classes is None:
        return [("", "all problems", everything)]
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        groups[classes.get(r.problem_hash, ("unknown", "unknown"))].append(i)
    out = [(_slug(f"{kind}-{cls}"), f"kind {kind}, {cls}", idx) for (kind, cls), idx in sorted(groups.items())]
    if pooled:
        out.append(("", "all problems (pooled)", everything))
    return out


def machine_note(machine: dict | None) -> str:
    """One sentence on what the wall times were measured on (``ResultStore.machine()``), and a
    warning when the runs shared the machine (several jobs, or a load average above 1.5 per
    run slot); ``""`` when nothing was recorded."""
    if not machine:
        return ""
    cpus, jobs, load = machine.get("cpu_counts") or [], machine.get("jobs") or [], machine.get("load1")
    parts = []
    if machine.get("platforms"):
        parts.append(", ".join(machine["platforms"]))
    if cpus:
        parts.append(f"{'/'.join(map(str, cpus))} CPU(s)")
    if jobs:
        parts.append(f"--jobs {'/'.join(map(str, jobs))}")
    if load:
        parts.append(f"1-minute load average at run time {load[1]:.2f} (min {load[0]:.2f}, max {load[2]:.2f})")
    if not parts:
        return ""
    shared = (max(jobs, default=1) > 1) or (load is not None and cpus and load[1] > max(cpus))
    text = "Wall times measured on " + "; ".join(parts) + "."
    if shared:
        text += (" The runs shared this machine (concurrent jobs or a load above its CPU count): "
                 "time axes include contention; compare them within this report only.")
    return text


def _infeasible_note(r: Result) -> str:
    parts = [f"{k} {r.extras[k]:.2e}" for k in ("max_violation", "eps_g")
             if isinstance(r.extras.get(k), (int, float))]
    return "infeasible point" + (f" ({', '.join(parts)} > {_profiles.FEASIBILITY_TOL:g})" if parts else "")


def _check_taus(taus) -> tuple[float, ...]:
    out = [_profiles._check_tau(tau) for tau in taus]
    if not out:
        raise OptionError("no tau given", allowed="one or more numbers in (0, 1), e.g. 1e-3")
    return tuple(sorted(set(out), reverse=True))


def write_report(results: Iterable[Result], out_dir: str | Path, *, taus: Sequence[float] = DEFAULT_TAUS,
                 skipped: Iterable = (), title: str = "solverhub compare", flag: str = "out_dir",
                 classes: dict[str, tuple[str, str]] | None = None, pooled: bool = False,
                 machine: dict | None = None) -> Path:
    """Write the HTML report of ``results`` to ``out_dir/index.html`` (+ PNGs); return its path.

    Sections: runs overview, the table (:func:`~solverhub.bench.summary.summarize`), the
    reference values f_L per problem, for each ``tau`` the performance and data profiles by
    oracle calls and by time (a PNG and a table of solved / fastest fractions) -- one set per
    problem class when ``classes`` (``{problem_hash: (kind, structure class)}``, see
    :func:`problem_classes`) is given, each over that class's instances and the solvers that
    ran on them, plus a pooled set only when ``pooled``; without ``classes``, one pooled set --, one
    convergence figure per problem, failures (failed, diverged, infeasible, unbounded) and
    runs stopped by a limit, with their messages, and ``skipped`` pairs (``(problem, solver,
    reason)`` tuples as ``ResultStore.skipped()`` returns them, see :func:`_skipped_rows`). Existing files in ``out_dir`` other than
    the ones written are left alone.

    Labels are :func:`~solverhub.bench.profiles.solver_labels`; a deterministic solver's seeds
    are one row (with the min/median/max of its wall times) and, on a problem where every
    solver is deterministic, one profile instance (:func:`~solverhub.bench.profiles.collapse_repeats`);
    a skipped pair (a refusal) is not applicable to that solver, never a failure. ``machine``
    (``ResultStore.machine()``) is stated under the time axes (:func:`machine_note`).

    ``out_dir`` must be a new or existing folder, and every file the report writes in it
    (``index.html``, the PNGs) new or a regular file: all are checked before any work (a
    FIFO, a device node or a folder in the way is an :class:`OptionError` naming ``flag``),
    and each is written atomically (a temporary file, then a rename).
    """
    collecting = gc.isenabled()
    gc.disable()        # collections would re-walk every run's objects, finding nothing (10^5 runs: seconds)
    try:
        return _write_report(results, out_dir, taus=taus, skipped=skipped, title=title, flag=flag,
                             classes=classes, pooled=pooled, machine=machine)
    finally:
        if collecting:
            gc.enable()


def _write_report(results, out_dir, *, taus, skipped, title, flag, classes, pooled, machine) -> Path:
    from . import plots

    results = list(results)
    taus = _check_taus(taus)
    skipped_rows = _skipped_rows(skipped)
    plabels = problem_labels(results)
    problem_hashes = sorted({r.problem_hash for r in results}, key=plabels.get)
    labels = _profiles.solver_labels(results)
    deterministic = _profiles.deterministic_groups(results, labels)
    prof_results, prof_labels = _profiles.collapse_repeats(results, labels, deterministic)
    groups = _profile_groups(prof_results, prof_labels, classes, pooled)
    figure_names = ([_profile_name(t, g[0]) for t in taus for g in groups]
                    + [_convergence_name(plabels[h], h) for h in problem_hashes])
    out = check_output_dir(out_dir, flag, files=("index.html", *figure_names))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OptionError(f"{flag}: cannot create the folder ({err.strerror or err})",
                          location=Location(str(out)), allowed="a new folder name or an existing folder") from None
    colors = plots.solver_colors(labels)
    refs = _profiles.reference_values(results)
    summary = summarize(results, labels, deterministic)
    measures = measure_columns(summary)
    refused = [(p, s) for p, s, _ in skipped_rows]
    machine_text = machine_note(machine)
    infeasible_runs: dict[tuple[str, str], int] = defaultdict(int)
    for r, lab in zip(results, labels):
        if r.status is not Status.INFEASIBLE and _profiles.is_infeasible(r):
            infeasible_runs[(r.problem_hash, lab)] += 1
    seeds = sorted({r.seed for r in results})
    parts: list[str] = []
    add = parts.append

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    add(f"<h1>{_e(title)}</h1>")
    add(f'<p class="note">Generated {now} by solverhub. {len(results)} run(s): {len(plabels)} problem(s) x '
        f"{len(set(labels))} solver(s), seeds {_e(', '.join(map(str, seeds)) or '-')}; "
        f"{len(skipped_rows)} skipped pair(s).</p>")
    add('<p class="note">Contents: <a href="#table">table</a> · <a href="#references">reference values</a> · '
        '<a href="#profiles">profiles</a> · <a href="#convergence">convergence</a> · '
        '<a href="#failures">failures</a> · <a href="#skipped">skipped</a></p>')

    # the table
    add('<h2 id="table">Results per problem and solver</h2>')
    add('<p class="note">Medians over seeds: objective, relative gap to the baseline '
        "(f - f*)/max(1, |f*|), and stationarity over the runs where they are finite; oracle calls, "
        "wall time (with its min and max over seeds) and iterations over all runs. Status counts list every "
        "run. A deterministic solver whose seeds all gave the same run is one run (&quot;1 of N seeds&quot;). "
        "Solver labels: the solver and the options set to a non-default value (run options such as "
        "time_limit_s or trace_every never split a solver)."
        + (f" Kind measures (from each run's report): {_e(', '.join(measures))}." if measures else "")
        + (f" {_e(machine_text)}" if machine_text else "") + "</p>")

    def runs_cell(row):
        return f"1 of {row.runs} seeds" if row.deterministic else str(row.runs)

    def wall_cell(row):
        if row.runs < 2 or not math.isfinite(row.wall_time_min):
            return _num(row.wall_time_s, ".3g")
        return (f"{_num(row.wall_time_s, '.3g')} <span class=\"spread\">[{_num(row.wall_time_min, '.3g')}, "
                f"{_num(row.wall_time_max, '.3g')}]</span>")
    head = ["problem", "solver", "runs", "status", "objective", "gap to baseline", "stationarity", "oracle calls",
            "wall time (s) [min, max]", "iterations"] + [m.replace("_", " ") for m in measures]
    add(_table("summary", head,
               (({"problem": row.problem, "solver": row.solver},
                 [_e(row.problem), _e(row.solver), runs_cell(row), _status_html(row.status_counts)
                  + _infeasible_html(infeasible_runs.get((row.problem_hash, row.solver), 0)),
                  _num(row.objective, ".10g"), _num(row.baseline_gap, ".2e"),
                  f"{_e(row.stationarity_name)} {_num(row.stationarity, '.2e')}", _num(row.oracle_calls, ".12g"),
                  wall_cell(row), _num(row.iterations, ".12g")]
                 + [_num(row.measures.get(m), ".4g") for m in measures]) for row in summary),
               numeric=(2, 4, 5, 7, 8, 9, *range(10, 10 + len(measures)))))

    # reference values
    add('<h2 id="references">Reference values f<sub>L</sub></h2>')
    add('<p class="note">A run solves a (problem, seed) instance at tolerance tau at its first trace point with '
        "f(x<sub>k</sub>) - f<sub>L</sub> &le; tau (f(x<sub>0</sub>) - f<sub>L</sub>) (Moré &amp; Wild 2009). "
        "f<sub>L</sub> is the problem's baseline objective when known, else the best objective any run "
        "reached on it. Failed, diverged, infeasible and unbounded runs never solve, nor does a run whose final "
        f"point is infeasible (max_violation or the bilevel eps_g above {_profiles.FEASIBILITY_TOL:g}).</p>")
    dims = {r.problem_hash: r.problem_dim for r in results}
    add(_table("references", ["problem", "hash", "unknowns n", "f_L", "source"],
               (({"problem": plabels[h]},
                 [_e(plabels[h]), f"<code>{_e(h)}</code>", str(dims[h]),
                  _num(refs[h][0], ".10g") if h in refs else "-", _e(refs[h][1]) if h in refs else "none"])
                for h in sorted(plabels, key=plabels.get)), numeric=(2, 3)))

    # profiles
    add('<h2 id="profiles">Performance and data profiles</h2>')
    add('<p class="note">Instances are (problem, seed) pairs. Performance profile (Dolan &amp; Moré 2002): '
        "rho(alpha) is the fraction of instances a solver solves within alpha times the cost of the "
        "cheapest solver on that instance. Data profile (Moré &amp; Wild 2009): the fraction solved within "
        "alpha (n + 1) oracle calls (n: the problem's unknowns), or within alpha seconds. A solver that "
        "makes no oracle calls (cvxpy) appears in the time profiles only. Each solver's fractions are over the "
        "instances it accepts: a pair it refused (see skipped pairs) is left out of its profile, not counted "
        "as a failure. A deterministic solver's repeated seeds count once where every solver on the problem is "
        "deterministic.</p>")
    if machine_text:
        add(f'<p class="note">{_e(machine_text)}</p>')
    if classes is not None:
        add('<p class="note">One set of profiles per problem kind and structure class (smooth, bounds, composite, '
            "constrained), each over that class's instances and the solvers that ran on them"
            + ("; then all problems pooled." if pooled else "; pooled profiles with <code>report --pooled</code>.")
            + "</p>")
    frames = {gslug: _profiles.CostFrame([prof_results[i] for i in idx], [prof_labels[i] for i in idx], refused)
              for gslug, _, idx in groups}
    for tau, (gslug, gtitle, _idx) in ((t, g) for t in taus for g in groups):
        slug = _tau_slug(tau) + (f"-{gslug}" if gslug else "")
        frame = frames[gslug]
        profs = []
        for measure in ("oracle_calls", "time"):
            solvers_, t = frame.costs(tau, measure)
            profs.append(_profiles.matrix_profile("performance", solvers_, t, frame.dims, tau=tau, measure=measure))
            profs.append(_profiles.matrix_profile("data", solvers_, t, frame.dims, tau=tau, measure=measure))
        image = out / _profile_name(tau, gslug)
        heading = f"tau = {tau:g}" + (f", {gtitle}" if classes is not None else "")
        with atomic_output(image, flag) as tmp:
            plots.plot_profiles([profs[0], profs[2], profs[1], profs[3]], tmp, title=heading, colors=colors)
        add(f'<h3 id="tau-{_e(slug)}">{_e(heading)}</h3>')
        by = {(p.kind, p.measure): p for p in profs}
        solvers = sorted(set(by[("performance", "oracle_calls")].curves) | set(by[("performance", "time")].curves))

        def frac(p, s, at_one=False):
            if s not in p.curves:
                return "-"
            if at_one:
                idx = [i for i, a in enumerate(p.alphas) if a <= 1.0]
                return f"{100 * p.curves[s][idx[-1]]:.0f}%" if idx else "0%"
            return f"{100 * p.solved[s]:.0f}%"

        add(_table(f"profile-{slug}", ["solver", "solved", "cheapest by oracle calls (rho(1))",
                                       "fastest by time (rho(1))"],
                   (({"solver": s, "tau": f"{tau:g}"},
                     [_e(s), frac(by[("performance", "time")], s), frac(by[("performance", "oracle_calls")], s, True),
                      frac(by[("performance", "time")], s, True)]) for s in solvers), numeric=(1, 2, 3)))
        add(f'<img src="{_e(image.name)}" alt="performance and data profiles, {_e(heading)}">')

    # convergence
    add('<h2 id="convergence">Convergence per problem</h2>')
    add('<p class="note">y: relative gap (f - f*)/max(1, |f*|) to the baseline objective f* (floored at 1e-16) '
        "when the problem has one, else the stationarity measure. Lines: median over seeds; bands: min to max "
        "over seeds (each trace read as a step function that holds its last value), evaluated at up to "
        f"{plots.MAX_POINTS} x positions per panel: one line and one band per solver however many seeds, never "
        "one curve per run. Crosses: runs without a trace (cvxpy), at their final value. A deterministic solver "
        "is drawn once (its run of median wall time)." + (f" {_e(machine_text)}" if machine_text else "") + "</p>")
    by_problem: dict[str, list[int]] = defaultdict(list)
    drawn: set[tuple[str, str]] = set()
    members: dict[tuple[str, str], list[int]] = defaultdict(list)     # deterministic groups, by wall time
    for i in sorted(range(len(results)), key=lambda i: results[i].wall_time_s):
        if deterministic.get((results[i].problem_hash, labels[i])):
            members[(results[i].problem_hash, labels[i])].append(i)
    median_run = {key: idx[(len(idx) - 1) // 2] for key, idx in members.items()}
    for i, r in enumerate(results):
        key = (r.problem_hash, labels[i])
        if key in median_run:
            if key in drawn:
                continue
            drawn.add(key)
            i = median_run[key]
        by_problem[r.problem_hash].append(i)
    for h in sorted(by_problem, key=plabels.get):
        idx = by_problem[h]
        f_star = refs[h][0] if h in refs and refs[h][1] == "baseline" else None
        image = out / _convergence_name(plabels[h], h)
        with atomic_output(image, flag) as tmp:
            plots.plot_convergence([results[i] for i in idx], tmp, f_star=f_star,
                                   title=plabels[h], colors=colors, labels=[labels[i] for i in idx])
        add(f'<h3>{_e(plabels[h])}</h3><img src="{_e(image.name)}" alt="convergence on {_e(plabels[h])}">')

    # failures and stopped runs
    def run_table(table_id, keep, infeasible_points=False):
        chosen = [(r, lab) for r, lab in zip(results, labels)
                  if r.status in keep or (infeasible_points and _profiles.is_infeasible(r))]
        if not chosen:
            return '<p class="note">None.</p>'
        chosen.sort(key=lambda t: (plabels[t[0].problem_hash], t[1], t[0].seed))
        more = len(chosen) - MAX_LISTED_RUNS
        chosen = chosen[:MAX_LISTED_RUNS]
        return (f'<p class="note">The first {MAX_LISTED_RUNS} of {MAX_LISTED_RUNS + more} runs; all are in the '
                "CSV export.</p>" if more > 0 else "") + _table(table_id, ["problem", "solver", "seed", "status",
                                                                           "message"],
                      (({"problem": plabels[r.problem_hash], "solver": lab, "status": r.status.value},
                        [_e(plabels[r.problem_hash]), _e(lab), str(r.seed),
                         f'<span class="st-{_e(r.status.value)}">{_e(r.status.value)}</span>'
                         + ("" if r.status is Status.INFEASIBLE or not _profiles.is_infeasible(r) else
                            f', <span class="st-infeasible">{_e(_infeasible_note(r))}</span>'), _e(r.message)])
                       for r, lab in chosen), numeric=(2,))

    add('<h2 id="failures">Failures</h2>')
    add('<p class="note">Runs that ended failed, diverged, infeasible or unbounded, and runs whose final point '
        "is infeasible whatever their status.</p>")
    add(run_table("failures", _profiles.NEVER_SOLVES, infeasible_points=True))
    add('<h2 id="stopped">Stopped by a limit</h2>')
    add('<p class="note">Runs that ended at max_iterations, the oracle budget or the time limit '
        "(they may still solve instances at loose tau).</p>")
    add(run_table("stopped", STOPPED))
    add('<h2 id="skipped">Skipped pairs</h2>')
    if skipped_rows:
        add(_table("skipped", ["problem", "solver", "reason"],
                   (({"problem": p, "solver": s}, [_e(p), _e(s), _e(why)]) for p, s, why in skipped_rows)))
    else:
        add('<p class="note">None.</p>')

    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n" + "\n".join(parts)
            + "\n</body></html>\n")
    return atomic_write_text(out / "index.html", page, flag)


def _profile_name(tau: float, group_slug: str) -> str:
    return f"profiles_tau_{_tau_slug(tau)}" + (f"_{group_slug}" if group_slug else "") + ".png"


def _infeasible_html(n: int) -> str:
    return f', <span class="st-infeasible">infeasible point {n}</span>' if n else ""


def _convergence_name(label: str, problem_hash: str) -> str:
    return f"convergence_{_slug(label.split(' [')[0])}_{problem_hash[:8]}.png"
