"""The ``solverhub`` command line (click).

Every user-facing error (:class:`SolverhubError`) is printed as one line
``file:line: what is wrong; allowed: ...`` with exit status 2, here and only here.
torch and cvxpy are imported only by the commands that solve.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import OptionError, SolverhubError

EXIT_USAGE = 2
EXIT_NO_BASELINE = 1


class _Group(click.Group):
    """Maps SolverhubError (and click's own usage errors) to one line + exit 2."""

    def main(self, *args, **kwargs):
        kwargs.setdefault("standalone_mode", False)
        try:
            return super().main(*args, **kwargs)
        except SolverhubError as err:
            click.echo(f"error: {err.one_line()}", err=True)
            sys.exit(EXIT_USAGE)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as err:
            msg = err.format_message().replace("\n", " ")
            ctx = getattr(err, "ctx", None)
            cmd = f"{ctx.command_path}: " if ctx is not None else ""
            click.echo(f"error: {cmd}{msg}", err=True)
            sys.exit(err.exit_code if err.exit_code != 1 else EXIT_USAGE)
        except click.exceptions.Exit as err:
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _console():
    from rich.console import Console
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _write_json(path: str, text: str, flag: str = "--json") -> None:
    """Write atomically through :mod:`solverhub.outputs`: never onto a FIFO, a device, a folder
    or an input of the running command (its problem files)."""
    from .outputs import atomic_write_text, check_distinct
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        params = ctx.params
        inputs = [params["problem_file"]] if params.get("problem_file") else []
        inputs += [p for p in params.get("paths") or () if Path(p).is_file()]
        check_distinct({flag: path}, inputs)
    atomic_write_text(path, text + "\n", flag)


def _output_file_option(ctx, param, value):
    """click callback: refuse a bad output file path (FIFO, device, folder, ...) before any work."""
    if value is not None:
        from .outputs import check_output_file
        check_output_file(value, param.opts[0])
    return value


def _output_dir_option(ctx, param, value):
    """click callback: refuse a bad output folder (a regular file, a FIFO, ...) before any work."""
    if value is not None:
        from .outputs import check_output_dir
        check_output_dir(value, param.opts[0], files=("index.html",))
    return value


def _store_option(ctx, param, value):
    """click callback: the result store is new or an existing SQLite file (a text file is refused)."""
    if value is not None:
        from .outputs import check_store
        check_store(value, param.opts[0])
    return value


def _problem(path: str, sets=()):
    from .problem.model import load_problem
    if not sets:                 # validate imports neither the options models nor torch
        return load_problem(Path(path))
    from .options import parse_assignments
    return load_problem(Path(path), overrides=parse_assignments(sets, flag="--set"))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="solverhub", message="solverhub %(version)s")
def main():
    """solverhub: solve YAML optimization problems with any registered method."""


# -- registry ------------------------------------------------------------------
@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--for", "for_problem", metavar="P.yaml", help="Show which solvers accept this problem, and why not.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a problem parameter.")
@click.option("--options", "options_of", metavar="SOLVER",
              help="Print SOLVER's options (type, bounds, default, symbol, meaning); 'run': the run options.")
def list_cmd(as_json, for_problem, sets, options_of):
    """List registered solvers (distribution, paper, kinds)."""
    from .registry import get_registry
    reg = get_registry()
    if options_of:
        from .options import RunOptions, options_rows, options_table
        cls = RunOptions if options_of == "run" else reg.solver(options_of).Options
        click.echo(json.dumps(options_rows(cls), indent=2) if as_json else options_table(cls))
        return
    verdicts = {}
    if for_problem:
        problem = _problem(for_problem, sets)
        verdicts = {name: (bool(verdict), verdict.text) for name, verdict in reg.accepting(problem)}
    rows = []
    for name, entry in sorted(reg.solvers.items()):
        cls = entry.cls
        row = {"name": name, "distribution": entry.distribution, "version": entry.version, "paper": cls.paper,
               "kinds": list(cls.kinds), "priority": cls.priority, "description": cls.description}
        if for_problem:
            row["accepts"], row["reason"] = verdicts[name]
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table
    table = Table(title="solvers" + (f" for {for_problem}" if for_problem else ""))
    for col in ("name", "distribution", "paper", "kinds") + (("accepts", "reason") if for_problem else ()):
        table.add_column(col, overflow="fold")
    for r in rows:
        cells = [r["name"], f"{r['distribution']} {r['version']}", r["paper"], ", ".join(r["kinds"])]
        if for_problem:
            cells += ["yes" if r["accepts"] else "no", r["reason"]]
        table.add_row(*cells)
    console = _console()
    console.print(table)
    if reg.models:
        console.print(f"models (kind: training): {', '.join(sorted(reg.models))}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json):
    """Loaded plugin distributions and load failures."""
    from .registry import get_registry
    reg = get_registry()
    loaded = [{"plugin": name, "distribution": dist, "version": version,
               "solvers": sorted(n for n, e in reg.solvers.items() if e.distribution == dist),
               "models": reg.models_of(name)}
              for name, (dist, version) in reg.plugins.items()]
    failures = [{"plugin": f.plugin, "error": f.error} for f in reg.failures]
    if as_json:
        click.echo(json.dumps({"loaded": loaded, "failures": failures}, indent=2))
        return
    for p in loaded:
        models = f"; models: {', '.join(p['models'])}" if p["models"] else ""
        click.echo(f"loaded  {p['plugin']}: {p['distribution']} {p['version']} "
                   f"({', '.join(p['solvers']) or 'no solvers'}{models})")
    for f in failures:
        click.echo(f"FAILED  {f['plugin']}: {f['error']}")
    if not failures:
        click.echo("no load failures")


# -- problems --------------------------------------------------------------------
@main.command()
@click.argument("problem_files", nargs=-1, required=True, metavar="P.yaml...")
def validate(problem_files):
    """Check problem files without solving (no torch, no cvxpy)."""
    for path in problem_files:
        p = _problem(path)
        click.echo(f"ok  {path}: {p.name} (kind {p.kind.name}, {p.dim} unknowns, hash {p.content_hash})")
        for c in p.structure.constraints:       # the classification (solverhub.problem.classify)
            click.echo(f"    {path}:{c.line if c.line is not None else '?'}: {c.label} {c.text!r}: "
                       f"{c.cls} ({c.detail}, {c.size} row{'s' if c.size != 1 else ''})")
        for t in p.structure.nonsmooth:         # the composite split (solverhub.problem.composite)
            block = t.variable if t.stop is None else f"{t.variable}[{t.start}:{t.stop}]"
            click.echo(f"    prox-able term: {t.weight:g} * {t.name}({block})")
        if p.structure.unsplit:
            epi = p.structure.epigraph
            how = (f"epigraph form with {epi.n_aux} auxiliary variable{'s' if epi.n_aux != 1 else ''} for "
                   "slsqp/trust-constr/auglag; smooth methods and proxgrad/fista refuse" if epi is not None
                   else f"no epigraph form: {p.structure.no_epigraph}; cvxpy only when convex")
            click.echo(f"    nonsmooth, no prox split: {', '.join(p.structure.unsplit)} ({how})")


@main.command()
@click.argument("problem_file", metavar="P.yaml")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE")
@click.option("--cvxpy-solver", default=None, help="cvxpy solver name (CLARABEL, SCS, OSQP, ...).")
@click.option("--json", "json_out", metavar="OUT", callback=_output_file_option, help="Write the baseline as JSON.")
def baseline(problem_file, sets, cvxpy_solver, json_out):
    """Solve with cvxpy and certify the answer with the torch oracle."""
    from .baseline import NoBaseline, compute_baseline
    problem = _problem(problem_file, sets)
    try:
        base = compute_baseline(problem, solver=cvxpy_solver)
    except NoBaseline as err:
        click.echo(f"no convex baseline: {err}")
        sys.exit(EXIT_NO_BASELINE)
    cert = f"{base.certificate.name} = {base.certificate.value:.3e}" if base.certificate else "-"
    said = f"{base.status}" + (f", {base.backend_status}" if base.backend_status else "")
    click.echo(f"{problem.name}: baseline {said} ({base.solver}), objective {base.objective:.10g}, "
               f"certified {cert}{' (polished)' if base.polished else ''}, {base.solve_time_s:.3f} s")
    if json_out:
        _write_json(json_out, json.dumps(base.to_dict(), indent=2))


def _device_choice(ctx, param, value):
    if value not in ("auto", "cpu", "cuda") and not (str(value).startswith("cuda:") and value[5:].isdigit()):
        raise OptionError(f"--device {value!r} is not a device", allowed="auto, cpu, cuda, cuda:N")
    return value


@main.command()
@click.argument("problem_file", metavar="P.yaml")
@click.option("--solver", "solver", default=None, help="Solver name; default: dispatched by the registry.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Solver or run option (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a problem parameter.")
@click.option("--device", default="auto", callback=_device_choice, help="auto | cpu | cuda")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed for stochastic oracles and solver randomness.")
@click.option("--max-iterations", type=int, default=None, help="Shortcut for --option max_iterations=N.")
@click.option("--baseline", "with_baseline", is_flag=True, help="Also solve the cvxpy baseline and report the gap.")
@click.option("--json", "json_out", metavar="OUT", callback=_output_file_option, help="Write the Result JSON to OUT.")
@click.option("--trace/--no-trace", default=False, help="Print the trace table.")
@click.option("--no-isolation", is_flag=True,
              help="Run the solver in this process (for pdb or a profiler): no hard time limit, no crash containment.")
def solve(problem_file, solver, options, sets, device, dtype, seed, max_iterations, with_baseline, json_out, trace,
          no_isolation):
    """Solve a problem with a registered method and print a summary.

    The solver runs in a child process: a hang is killed after time_limit_s (status
    time_limit), a crash is a failed result, its output is shown up to 64 KB."""
    from .api import solve as api_solve
    from .options import parse_assignments
    from .outputs import check_distinct
    check_distinct({"--json": json_out}, [problem_file])   # before the solve, not after it
    opts = parse_assignments(options, flag="--option")
    if max_iterations is not None:
        if max_iterations < 0:
            raise OptionError(f"--max-iterations must be >= 0, got {max_iterations}")
        opts["max_iterations"] = str(max_iterations)
    problem = _problem(problem_file, sets)
    result = api_solve(problem, solver, options=opts, device=device, dtype=dtype, seed=seed,
                       baseline=with_baseline, isolate=not no_isolation)
    if json_out:
        _write_json(json_out, result.to_json(indent=2))
    _print_result(result, trace)
    sys.exit(1 if result.status.is_failure else 0)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PROBLEMS...")
@click.option("--solver", "solvers", multiple=True, metavar="NAME[:k=v,...]",
              help="Solver, with its own options (repeatable); default: every registered solver.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, help="Seeds 0..N-1 per (problem, solver).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Option for every solver that has it (run options go to all).")
@click.option("--store", "store_path", default="runs.sqlite", show_default=True, callback=_store_option,
              help="SQLite result store (new, or one written by compare).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Local worker processes.")
@click.option("--time-limit-s", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="Per-run time limit (a hung run is killed and recorded time_limit).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="Run on a Dask distributed cluster.")
@click.option("--no-baseline", is_flag=True, help="Skip the cvxpy baselines.")
@click.option("--report", "report_dir", default=None, metavar="DIR", callback=_output_dir_option,
              help="Write the HTML report to DIR at the end.")
@click.option("--json", "json_out", metavar="OUT", callback=_output_file_option,
              help="Write this compare's Results as a JSON list.")
@click.option("--allow-outside-set", is_flag=True,
              help="Let problem-set files list problems outside their own folder.")
@click.option("--device", default="cpu", show_default=True, metavar="auto|cpu|cuda|cuda:N",
              help="Where the runs solve: cuda runs one worker per GPU (or --jobs, if more).")
def compare(paths, solvers, seeds, options, store_path, jobs, time_limit_s, scheduler, no_baseline, report_dir,
            json_out, allow_outside_set, device):
    """Run problems x solvers x seeds into a resumable result store and print the table."""
    from .bench.api import compare as run
    from .bench.problemset import collect_entries
    from .options import parse_assignments
    from .outputs import check_distinct

    entries = collect_entries(paths, allow_outside=allow_outside_set, validate=False)
    check_distinct({"--store": store_path, "--json": json_out, "--report": report_dir},
                   inputs=[*paths, *(e.path for e in entries)])
    console = _console()
    console.print(f"compare: {len(entries)} problem file(s), {len(solvers) or 'every registered'} solver(s), "
                  f"{seeds} seed(s); planning...")
    with _CompareProgress(console, store_path) as events:
        results = run(list(paths), list(solvers) or None, seeds=seeds, store=store_path, jobs=jobs, device=device,
                      options=parse_assignments(options, flag="--option"), time_limit_s=time_limit_s,
                      scheduler=scheduler, baseline=not no_baseline, allow_outside_set=allow_outside_set,
                      events=events)
    _print_compare_table(results, events.skipped, console)
    if json_out:
        _write_json(json_out, "[" + ",\n".join(r.to_json() for r in results) + "]")
    if report_dir:
        from .bench.report import problem_classes, write_report
        from .bench.store import ResultStore
        with ResultStore(store_path) as store:
            records = store.records()
            index = write_report([rec.result for rec in records], Path(report_dir), skipped=store.skipped(),
                                 flag="--report", classes=problem_classes(records), machine=store.machine())
        console.print(f"report: {index}  (open it in a browser)")
    failures = sum(_failed_or_limited(r.status) for r in results)
    if failures:
        console.print(f"[yellow]{failures} run(s) failed, diverged or hit the time limit (recorded in the store)[/yellow]")


def _failed_or_limited(status) -> bool:
    """A compare run counted as failed: failed, diverged, or stopped by the time limit."""
    from .result import Status
    return status.is_failure or status is Status.TIME_LIMIT


class _CompareProgress:
    """The events of a compare (:class:`solverhub.bench.api.CompareEvents`), shown from the first
    second: on a terminal a rich bar (refreshed by the compare's own loop: no thread, so workers
    can be forked at any time), else one line per finished run and baseline."""

    def __init__(self, console, store_path):
        self.console, self.store_path = console, store_path
        self.skipped: list = []
        self.bar = None
        self.done = self.failed = self.total = 0
        self.shown = 0.0            # when the bar was last redrawn (monotonic)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False

    def planned(self, plan) -> None:
        self.skipped, self.total = plan.skipped, len(plan.tasks)
        self.console.print(f"{len(plan.keys)} run(s): {len(plan.done)} already in {self.store_path}, "
                           f"{len(plan.tasks)} to do; {len(plan.skipped)} (problem, solver) pair(s) skipped")
        if self.console.is_terminal and self.total:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("[bold]compare"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), console=self.console, auto_refresh=False, transient=False)
            self.task = self.bar.add_task("runs", total=self.total, failed=0)
            self.bar.start()

    def baseline(self, problem, status, cached) -> None:
        line = f"baseline {problem}: {status}{' (cached)' if cached else ''}"
        if self.bar is not None:
            self.bar.console.print(f"[dim]{line}[/dim]")
            self.bar.refresh()
        else:
            self.console.print(line, markup=False)

    def result(self, result) -> None:
        self.done += 1
        self.failed += _failed_or_limited(result.status)
        if self.bar is not None:
            self.bar.update(self.task, advance=1, failed=self.failed)
            import time
            now = time.monotonic()
            if now - self.shown >= 0.1 or self.done == self.total:     # a redraw costs ~1 ms
                self.shown = now
                self.bar.refresh()
            return
        width = len(str(self.total))     # not a terminal: plain lines (rich's print costs ~1 ms a line)
        self.console.file.write(f"[{self.done:>{width}}/{self.total}] {result.problem} "
                                f"{result.extras.get('label', result.solver)} seed {result.seed}: "
                                f"{result.status.value} in {result.wall_time_s:.3g} s\n")
        self.console.file.flush()

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.refresh()


def compare_table_rows(results) -> list[tuple[str, ...]]:
    """One row per configuration (problem, solver label), its seeds pooled by the report's own
    table (:func:`solverhub.bench.summary.summarize`): the statuses with their counts, the
    median objective, the worst gap to the baseline and the worst stationarity, the median
    oracle calls and the median time with its range. A deterministic solver on a deterministic
    problem gives the same run for every seed: its row reads like one run, with the timing
    spread. Every run stays in the store and the report."""
    from .bench.summary import summarize
    ordered = sorted(results, key=lambda r: (r.problem, r.extras.get("label", r.solver), r.seed))
    rows = []
    for row in summarize(ordered, labels=[r.extras.get("label", r.solver) for r in ordered]):
        one = row.runs == 1
        status = ", ".join(name if one else f"{name} x{n}" for name, n in row.status_counts.items())
        seeds = str(row.seeds[0]) if one else f"{row.runs} ({row.seeds[0]}-{row.seeds[-1]})"
        time_s = f"{row.wall_time_s:.3f}" + ("" if one else f" ({row.wall_time_min:.3f}-{row.wall_time_max:.3f})")
        gap = "-" if row.baseline_gap_max is None else f"{row.baseline_gap_max:.1e}"
        rows.append((row.problem, row.solver, seeds, status, f"{row.objective:.8g}", gap,
                     f"{row.stationarity_name} {row.stationarity_max:.1e}", f"{row.oracle_calls:g}", time_s))
    return rows


def _print_compare_table(results, skipped, console) -> None:
    from rich.table import Table
    rows = compare_table_rows(results)
    pooled = len(rows) < len(results)
    title = f"{len({r.problem_hash for r in results})} problem(s), {len(results)} run(s)"
    if pooled:
        title += ("; one row per configuration: median objective, worst gap and stationarity, "
                  "median oracle calls and time (min-max) over its seeds")
    table = Table(title=title)
    for col in ("problem", "solver", "seeds" if pooled else "seed", "status", "objective", "rel. gap to baseline",
                "stationarity", "oracle calls", "time s"):
        table.add_column(col, justify="left" if col in ("problem", "solver", "status") else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if skipped:
        console.print(f"[dim]skipped ({len(skipped)}): {_skipped_summary(skipped)}[/dim]")


def _skipped_summary(skipped) -> str:
    """Refusals for another kind (code ``WRONG_KIND``) are counted per solver (with many
    plugins they are most pairs); every other refusal is listed in full, by its text. Reads
    the refusal's code, never its text. The store and the HTML report keep every pair."""
    from .solver import RefusalCode
    other_kind: dict[str, int] = {}
    listed = []
    for problem, solver, refusal in skipped:
        if getattr(refusal, "code", None) is RefusalCode.WRONG_KIND:
            other_kind[solver] = other_kind.get(solver, 0) + 1
        else:
            listed.append(f"{solver} on {problem}: {refusal}")
    if other_kind:
        n = sum(other_kind.values())
        listed.append(f"{n} pair(s) of a solver and a problem of a kind it does not take "
                      f"({', '.join(sorted(other_kind))})")
    return "; ".join(listed)


@main.command()
@click.argument("store_path", metavar="STORE.sqlite")
@click.option("--out", "out_dir", default="report", show_default=True,
              help="Output folder (html: new or existing; csv/parquet: a folder, or a file name ending in .csv/.parquet).")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "parquet"]), default="html", show_default=True)
@click.option("--tau", "taus", multiple=True, type=float, help="Profile tolerance(s); default 1e-1, 1e-3, 1e-6.")
@click.option("--pooled", is_flag=True,
              help="Also draw profiles over all problems pooled (default: one per kind and structure class).")
def report(store_path, out_dir, fmt, taus, pooled):
    """Write the HTML report (profiles, convergence plots, table) or a CSV/parquet export of a store."""
    import os
    import stat

    from .bench.report import export_path
    from .bench.store import ResultStore
    from .outputs import check_distinct, check_output_dir, check_store, kind_of
    try:
        mode = os.stat(store_path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is None or not stat.S_ISREG(mode):
        what = "nothing" if mode is None else kind_of(mode)
        raise OptionError(f"no result store at {store_path} (found {what})",
                          allowed="a .sqlite file written by solverhub compare")
    check_store(store_path, "STORE", allowed="a .sqlite file written by solverhub compare")   # before SQLite opens it
    # every output path is checked before the store is read
    target = (check_output_dir(out_dir, "--out", files=("index.html",)) if fmt == "html"
              else export_path(out_dir, fmt, "--out"))
    check_distinct({"--out": target}, inputs=[store_path])
    with ResultStore(store_path) as store:
        records, skipped, machine = store.records(), store.skipped(), store.machine()
    results = [rec.result for rec in records]
    if not results:
        raise OptionError(f"{store_path} holds no runs", allowed="run solverhub compare --store first")
    if fmt == "html":
        from .bench.report import problem_classes, write_report
        kwargs = {"taus": tuple(taus)} if taus else {}
        index = write_report(results, target, skipped=skipped, flag="--out", classes=problem_classes(records),
                             pooled=pooled, machine=machine, **kwargs)
        click.echo(f"report: {index}")
    else:
        from .bench.report import export_runs
        click.echo(f"wrote {export_runs(results, target, fmt=fmt, flag='--out')}")


# -- plugin authors ----------------------------------------------------------------
@main.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", default=".", show_default=True, metavar="DIR",
              help="Folder to write solverhub-NAME/ into.")
def new_plugin(name, parent):
    """Write a new solver plugin solverhub-NAME/ (package and tests)."""
    from .registry import get_registry
    from .scaffold import scaffold
    if name in get_registry().solvers:      # the new plugin would fail to load as a duplicate
        raise OptionError(f"a solver named {name!r} is already registered "
                          f"(by {get_registry().solvers[name].distribution})",
                          allowed="a name no installed solver uses (see `solverhub list`)")
    root, files = scaffold(name, parent)
    click.echo(f"wrote {root}/: {', '.join(files)}")
    click.echo(f"next: pip install -e {root} && python -m pytest {root}")


def _print_result(r, show_trace: bool) -> None:
    from rich.table import Table
    console = _console()
    if "dispatch" in r.extras:
        console.print(f"[dim]{r.extras['dispatch']}[/dim]")
    table = Table(title=f"{r.problem} / {r.solver}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    calls = ", ".join(f"{k} {v}" for k, v in r.oracle_calls.items() if v) or "0"
    rows = [("status", f"{r.status.value}: {r.message}"), ("objective", f"{r.objective:.12g}"),
            (r.stationarity.name, f"{r.stationarity.value:.3e}"), ("iterations", str(r.iterations)),
            ("oracle calls", calls), ("wall time", f"{r.wall_time_s:.3f} s"),
            ("device", f"{r.device} ({r.dtype})"), ("seed", str(r.seed))]
    if r.baseline_objective is not None:
        rows.append(("baseline", f"{r.baseline_objective:.12g} (relative gap {r.baseline_gap:.2e})"))
    elif "baseline" in r.extras:
        rows.append(("baseline", r.extras["baseline"]["message"]))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    measures = _scalar_extras(r.extras)
    if measures:
        m = Table(title="measures (Result.extras)", show_header=False)
        m.add_column("name")
        m.add_column("value", overflow="fold")
        for k, v in measures:
            m.add_row(k, v)
        console.print(m)
    if show_trace and r.trace:
        t = Table(title="trace")
        for col in ("iteration", "time_s", "oracle_calls", "objective", "stationarity"):
            t.add_column(col, justify="right")
        for p in r.trace:
            t.add_row(str(p.iteration), f"{p.time_s:.4f}", str(p.oracle_calls), f"{p.objective:.10g}",
                      f"{p.stationarity:.3e}")
        console.print(t)


def _scalar_extras(extras: dict) -> list[tuple[str, str]]:
    """The numbers a kind or solver reported (train/test accuracy, factorization error, final step size...)."""
    out = []
    for k, v in extras.items():
        if k in ("dispatch", "label", "traceback") or isinstance(v, (dict, list, tuple)):
            continue
        if isinstance(v, int) or v is None:      # bool is an int
            text = str(v)
        elif isinstance(v, float):
            text = f"{v:.6g}"
        elif isinstance(v, str) and len(v) <= 80:
            text = v
        else:
            continue
        out.append((k, text))
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
