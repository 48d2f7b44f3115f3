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


def _write_json(path: str, text: str) -> None:
    try:
        target = Path(path)
        if target.parent and not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(target)
    except OSError as err:
        raise OptionError(f"--json {path}: cannot write: {err}") from None


def _problem(path: str, sets=()):
    from .options import parse_assignments
    from .problem.model import load_problem
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
def list_cmd(as_json, for_problem, sets):
    """List registered solvers (distribution, paper, kinds)."""
    from .registry import get_registry
    reg = get_registry()
    verdicts = {}
    if for_problem:
        problem = _problem(for_problem, sets)
        verdicts = {name: (ok, why) for name, ok, why in reg.accepting(problem)}
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
    _console().print(table)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json):
    """Loaded plugin distributions and load failures."""
    from .registry import get_registry
    reg = get_registry()
    loaded = [{"plugin": name, "distribution": dist, "version": version,
               "solvers": sorted(n for n, e in reg.solvers.items() if e.distribution == dist)}
              for name, (dist, version) in reg.plugins.items()]
    failures = [{"plugin": f.plugin, "error": f.error} for f in reg.failures]
    if as_json:
        click.echo(json.dumps({"loaded": loaded, "failures": failures}, indent=2))
        return
    for p in loaded:
        click.echo(f"loaded  {p['plugin']}: {p['distribution']} {p['version']} "
                   f"({', '.join(p['solvers']) or 'no solvers'})")
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


@main.command()
@click.argument("problem_file", metavar="P.yaml")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE")
@click.option("--cvxpy-solver", default=None, help="cvxpy solver name (CLARABEL, SCS, OSQP, ...).")
@click.option("--json", "json_out", metavar="OUT", help="Write the baseline as JSON.")
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
    click.echo(f"{problem.name}: cvxpy status {base.status} ({base.solver}), objective {base.objective:.10g}, "
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
@click.option("--json", "json_out", metavar="OUT", help="Write the Result JSON to OUT.")
@click.option("--trace/--no-trace", default=False, help="Print the trace table.")
def solve(problem_file, solver, options, sets, device, dtype, seed, max_iterations, with_baseline, json_out, trace):
    """Solve a problem with a registered method and print a summary."""
    from .api import solve as api_solve
    from .options import parse_assignments
    opts = parse_assignments(options, flag="--option")
    if max_iterations is not None:
        if max_iterations < 0:
            raise OptionError(f"--max-iterations must be >= 0, got {max_iterations}")
        opts["max_iterations"] = str(max_iterations)
    problem = _problem(problem_file, sets)
    result = api_solve(problem, solver, options=opts, device=device, dtype=dtype, seed=seed,
                       baseline=with_baseline)
    if json_out:
        _write_json(json_out, result.to_json(indent=2))
    _print_result(result, trace)
    sys.exit(0 if result.status.value not in ("failed", "diverged") else 1)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PROBLEMS...")
@click.option("--solver", "solvers", multiple=True, help="Solver name (repeatable); default: every registered solver.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, help="Seeds 0..N-1 per (problem, solver).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Run option for every solve.")
@click.option("--no-baseline", is_flag=True, help="Skip the cvxpy baselines.")
@click.option("--json", "json_out", metavar="OUT", help="Write every Result as a JSON list.")
def compare(paths, solvers, seeds, options, no_baseline, json_out):
    """Solve problem files/folders with several solvers and print a comparison table."""
    from rich.table import Table

    from .bench.table import collect_problem_files, run_table
    from .options import parse_assignments
    files = collect_problem_files(paths)
    console = _console()
    rows = run_table(files, solvers or None, seeds=seeds, options=parse_assignments(options, flag="--option"),
                     baseline=not no_baseline,
                     progress=lambda row: console.print(f"[dim]{row.problem} / {row.solver}: "
                                                        f"{row.result.status.value}[/dim]"))
    table = Table(title=f"{len(files)} problem(s) x {len(solvers) or 'all'} solver(s) x {seeds} seed(s)")
    for col in ("problem", "solver", "status", "objective", "rel. gap to baseline", "stationarity",
                "oracle calls", "time s"):
        table.add_column(col, justify="left" if col in ("problem", "solver", "status") else "right")
    skipped = []
    for row in rows:
        r = row.result
        if r is None:
            skipped.append(f"{row.solver} on {row.problem}: {row.skipped}")
            continue
        gap = "-" if r.baseline_gap is None else f"{r.baseline_gap:.1e}"
        table.add_row(r.problem, r.solver, r.status.value, f"{r.objective:.8g}", gap,
                      f"{r.stationarity.name} {r.stationarity.value:.1e}", str(r.total_oracle_calls),
                      f"{r.wall_time_s:.3f}")
    console.print(table)
    if skipped:
        console.print(f"[dim]skipped ({len(skipped)}): " + "; ".join(skipped) + "[/dim]")
    if json_out:
        _write_json(json_out, "[" + ",\n".join(r.result.to_json() for r in rows if r.result) + "]")


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
    if show_trace and r.trace:
        t = Table(title="trace")
        for col in ("iteration", "time_s", "oracle_calls", "objective", "stationarity"):
            t.add_column(col, justify="right")
        for p in r.trace:
            t.add_row(str(p.iteration), f"{p.time_s:.4f}", str(p.oracle_calls), f"{p.objective:.10g}",
                      f"{p.stationarity:.3e}")
        console.print(t)


if __name__ == "__main__":  # pragma: no cover
    main()
