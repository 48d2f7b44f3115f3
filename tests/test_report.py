"""The compare report on real Results: files, HTML content, offline-ness, rendering in
headless Chromium (screenshot kept as a test artifact), and the CSV/parquet exports."""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import solverhub
from solverhub.bench.report import export_runs, run_rows, write_report
from solverhub.errors import OptionError
from solverhub.result import Status
from solverhub.solver import Solver

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("SOLVERHUB_ARTIFACTS", "test-artifacts"))
TAUS = (1e-1, 1e-4)

LSQ = """\
name: small_lsq
kind: minimize
variables: {x: {shape: [5]}}
data:
  A: {generate: normal, shape: [12, 5], seed: 0}
  b: {generate: normal, shape: [12], seed: 1}
objective: "0.5 * sum_squares(A @ x - b)"
"""

# gd with a fixed step of 1 overshoots to x < 0, where log(x) is NaN: a diverged run
LOG = """\
name: log_barrier
kind: minimize
variables: {x: {shape: [2], x0: [0.01, 0.01]}}
objective: "sum_squares(x) - sum(log(x))"
"""


class Exploding(Solver):
    """A solver whose step raises: its runs end ``failed`` with the exception as message."""

    name = "exploding"
    kinds = ("minimize",)

    def init(self, problem, oracle, x0, options):
        return solverhub.IterState(x=x0)

    def step(self, state, oracle, options):
        raise RuntimeError("boom <on purpose>")


class Skip:
    """A skipped pair as bench.table.TableRow carries it (``skipped`` holds the reason)."""

    def __init__(self, solver, problem, skipped):
        self.solver, self.problem, self.skipped = solver, problem, skipped


# (problem, solver, reason) as ResultStore.skipped() returns them, and a TableRow-like object
SKIPPED = [("rosenbrock2d", "cvxpy", "no convex form: the problem is not DCP"),
           Skip("lbfgs", "noisy_quadratic", "needs exact gradients")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("problems")
    (folder / "lsq.yaml").write_text(LSQ)
    (folder / "log.yaml").write_text(LOG)
    lsq = solverhub.load_problem(folder / "lsq.yaml")
    log = solverhub.load_problem(folder / "log.yaml")
    ridge = solverhub.load_problem(REPO / "problems" / "smooth" / "ridge.yaml")
    out = []
    for problem in (lsq, ridge):
        for solver in ("gd", "lbfgs"):
            for seed in (0, 1):
                out.append(solverhub.solve(problem, solver, seed=seed, baseline=True))
        out.append(solverhub.solve(problem, "cvxpy", baseline=True))
    out.append(solverhub.solve(log, "gd", options={"backtracking": False, "lr": 1.0}, baseline=True))
    out.append(solverhub.solve(log, "lbfgs", baseline=True))
    out.append(solverhub.solve(lsq, Exploding, baseline=True))
    return out


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    return write_report(results, tmp_path_factory.mktemp("out") / "report", taus=TAUS, skipped=SKIPPED,
                        title="test <report>", machine=MACHINE)


MACHINE = {"platforms": ["Linux-6.1-x86_64"], "cpu_counts": [2], "jobs": [2], "load1": (1.5, 2.5, 3.75),
           "runs_with_load": 13}


class Page(HTMLParser):
    """Tables by id -> rows of (attrs, cell texts); every img src; every URL-ish attribute."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self.imgs: list[str] = []
        self.refs: list[str] = []
        self.tags: set[str] = set()
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href", "srcset", "action", "data") and v]
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"anon{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._row = ({k[5:]: v for k, v in a.items() if k.startswith("data-")}, [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.imgs.append(a["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row[0]:          # body rows carry data- attributes; header rows do not
                self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_files(report, results):
    assert report.name == "index.html" and report.is_file()
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert [p for p in pngs if p.startswith("profiles_")] == ["profiles_tau_1e-01.png", "profiles_tau_1e-04.png"]
    assert len([p for p in pngs if p.startswith("convergence_")]) == len({r.problem_hash for r in results}) == 3
    for name in pngs:
        assert (report.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_tables(report, results):
    page = parse(report)
    summary = page.tables["summary"]
    pairs = {(a["problem"], a["solver"]) for a, _ in summary}
    assert pairs == {(r.problem, r.solver) for r in results}
    assert len(summary) == len(pairs) == 9
    cells = {(a["problem"], a["solver"]): c for a, c in summary}
    gd_ridge = cells[("ridge", "gd")]
    assert gd_ridge[2] == "1 of 2 seeds" and gd_ridge[3] == "converged 2"   # deterministic: one run; statuses
    assert gd_ridge[6].startswith("grad_norm ")
    assert cells[("log_barrier", "gd")][3] == "diverged 1"
    assert cells[("small_lsq", "exploding")][3] == "failed 1" and cells[("small_lsq", "exploding")][4] == "-"
    failures = {(a["problem"], a["solver"], a["status"]): c for a, c in page.tables["failures"]}
    assert set(failures) == {("log_barrier", "gd", "diverged"), ("small_lsq", "exploding", "failed")}
    assert "non-finite" in failures[("log_barrier", "gd", "diverged")][4]
    assert "RuntimeError: boom <on purpose>" in failures[("small_lsq", "exploding", "failed")][4]
    skipped = [c for _, c in page.tables["skipped"]]
    assert skipped == [["rosenbrock2d", "cvxpy", "no convex form: the problem is not DCP"],
                       ["noisy_quadratic", "lbfgs", "needs exact gradients"]]
    refs = {a["problem"]: c for a, c in page.tables["references"]}
    assert refs["ridge"][4] == "baseline" and refs["small_lsq"][4] == "baseline"
    for tau in ("1e-01", "1e-04"):
        solvers = {a["solver"] for a, _ in page.tables[f"profile-{tau}"]}
        assert {"gd", "lbfgs", "cvxpy", "exploding"} <= solvers
        rows = {a["solver"]: c for a, c in page.tables[f"profile-{tau}"]}
        assert rows["exploding"][1:] == ["0%", "0%", "0%"]            # failed runs never solve
        assert rows["cvxpy"][2] == "-"                                  # no oracle calls: time profiles only
    assert "test &lt;report&gt;" in report.read_text()      # escaped title


def test_report_is_self_contained(report):
    page = parse(report)
    assert page.imgs and all((report.parent / src).is_file() for src in page.imgs)
    assert all(src.endswith(".png") and "/" not in src for src in page.imgs)
    assert not {"script", "link", "iframe", "object", "embed"} & page.tags
    text = report.read_text(encoding="utf-8").lower()
    assert "http://" not in text and "https://" not in text and "url(" not in text
    assert all(ref.startswith("#") or (report.parent / ref).is_file() for ref in page.refs)


def test_diverging_runs_plot_without_overflow(tmp_path):
    """A run whose objective reaches 1e306 (gd with lr=1 on ridge) is drawn capped, without
    matplotlib overflowing on the log axis."""
    import warnings

    from solverhub.bench.plots import plot_convergence
    ridge = solverhub.load_problem(REPO / "problems" / "smooth" / "ridge.yaml")
    runs = [solverhub.solve(ridge, "gd", options={"backtracking": False, "lr": 1.0, "max_iterations": 100,
                                                   "trace_every": 1}, seed=seed) for seed in (0, 1)]
    assert max(p.objective for p in runs[0].trace) > 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for f_star in (None, 7.89493939125):
            assert plot_convergence(runs, tmp_path / f"c{f_star}.png", f_star=f_star).stat().st_size > 0


def test_report_rejects_bad_tau(results, tmp_path):
    with pytest.raises(OptionError, match="tau"):
        write_report(results, tmp_path, taus=(2.0,))
    with pytest.raises(OptionError, match="tau"):
        write_report(results, tmp_path, taus=())


def test_import_is_light():
    code = ("import sys, solverhub.bench.report, solverhub.bench.profiles, solverhub.bench.summary, "
            "solverhub.bench.plots; heavy = {'matplotlib', 'pandas', 'pyarrow', 'torch', 'cvxpy'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- rendering in headless Chromium ---------------------------------------------------
def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(binary: str, html: Path, *args: str, profile_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--no-first-run", f"--user-data-dir={profile_dir}", *args, html.resolve().as_uri()],
                          capture_output=True, text=True, timeout=90)


def screenshot(html: Path, png: Path, *, profile_dir: Path, size: str = "1280,2000") -> Path:
    """Render ``html`` in headless Chromium and save a ``size`` screenshot at ``png``."""
    binary = chromium()
    png.parent.mkdir(parents=True, exist_ok=True)
    if png.exists():
        png.unlink()
    res = run_chromium(binary, html, f"--screenshot={png.resolve()}", f"--window-size={size}",
                       "--hide-scrollbars", profile_dir=profile_dir)
    assert png.is_file(), f"chromium wrote no screenshot (exit {res.returncode}): {res.stderr[-2000:]}"
    return png


@pytest.fixture
def need_chromium():
    if chromium() is None:
        pytest.skip("no chromium / chromium-browser binary on PATH")


def test_chromium_renders_tables_and_images(report, need_chromium, tmp_path):
    res = run_chromium(chromium(), report, "--dump-dom", profile_dir=tmp_path / "profile")
    assert res.returncode == 0, res.stderr[-2000:]
    page = Page()
    page.feed(res.stdout)
    assert {"summary", "references", "profile-1e-01", "profile-1e-04", "failures", "skipped"} <= set(page.tables)
    assert len(page.tables["summary"]) == 9
    assert sorted(page.imgs) == sorted(parse(report).imgs) and len(page.imgs) == 2 + 3


def test_chromium_screenshot_is_not_blank(report, need_chromium, tmp_path):
    from matplotlib.image import imread
    png = screenshot(report, ARTIFACTS / "report.png", profile_dir=tmp_path / "profile")
    pixels = imread(png)
    assert pixels.shape[:2] == (2000, 1280)
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05                       # text, tables and plots, not one flat color
    assert (gray < 0.5).mean() > 0.005             # enough dark ink (text, lines)


# -- exports ---------------------------------------------------------------------------
def _expected(r):
    return {"problem": r.problem, "problem_hash": r.problem_hash, "solver": r.solver, "seed": r.seed,
            "status": r.status.value, "message": r.message, "objective": r.objective,
            "baseline_objective": r.baseline_objective, "baseline_gap": r.baseline_gap,
            "stationarity_name": r.stationarity.name, "stationarity_value": r.stationarity.value,
            "iterations": r.iterations, "oracle_calls_total": r.total_oracle_calls,
            "oracle_calls_value": r.oracle_calls.get("value", 0), "oracle_calls_grad": r.oracle_calls.get("grad", 0),
            "wall_time_s": r.wall_time_s, "measure_time_s": r.measure_time_s, "device": r.device, "dtype": r.dtype, "solver_version": r.solver_version}


def _same(a, b):
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    return a == b


def test_csv_round_trip_with_csv_module(results, tmp_path):
    path = export_runs(results, tmp_path / "sub" / "runs.csv")
    assert path == tmp_path / "sub" / "runs.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(results)
    assert list(rows[0]) == list(run_rows(results)[0])
    for row, r in zip(rows, results):
        assert row["problem"] == r.problem and row["solver"] == r.solver and int(row["seed"]) == r.seed
        assert row["status"] == r.status.value and row["message"] == r.message
        assert _same(float(row["objective"]), r.objective)
        assert _same(float(row["wall_time_s"]), r.wall_time_s)
        assert (row["baseline_objective"] == "") == (r.baseline_objective is None)
        assert int(row["oracle_calls_total"]) == r.total_oracle_calls
        assert json.loads(row["options"]) == r.options


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_pandas_round_trip(results, tmp_path, fmt):
    pd = pytest.importorskip("pandas")
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path = export_runs(results, tmp_path / f"runs.{fmt}", fmt=fmt)
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert len(frame) == len(results)
    assert {"oracle_calls_hvp", "oracle_calls_stochastic_grad", "stationarity_name", "options", "dtype",
            "problem_dim"} <= set(frame.columns)
    for rec, r in zip(frame.to_dict("records"), results):
        for key, want in _expected(r).items():
            got = rec[key]
            if want is None:
                assert got is None or (isinstance(got, float) and math.isnan(got)), key
            elif isinstance(want, float):
                assert _same(float(got), want), (key, got, want)
            elif isinstance(want, int):
                assert int(got) == want, key
            else:
                assert got == want, key
        assert json.loads(rec["options"]) == r.options
    failed = frame[frame["status"] == Status.FAILED.value]
    assert len(failed) == 1 and failed["message"].iloc[0].startswith("RuntimeError: boom")


def test_parquet_without_pyarrow_is_a_clear_error(results, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)      # import pyarrow -> ImportError
    with pytest.raises(OptionError) as err:
        export_runs(results, tmp_path / "runs.parquet", fmt="parquet")
    assert str(err.value) == "parquet export needs pandas and pyarrow; allowed: csv"
    assert not (tmp_path / "runs.parquet").exists()


def test_unknown_export_format(results, tmp_path):
    with pytest.raises(OptionError, match="allowed: csv, parquet"):
        export_runs(results, tmp_path / "runs.xlsx", fmt="xlsx")


# -- infeasible points and per-class profiles (issue 15) ----------------------------------
def test_report_infeasible_point_and_profiles_by_class(results, tmp_path):
    """An lbfgs run on ridge relabelled as a constrained run with max_violation 1e-2: the table
    and the failures list show it infeasible, and it solves nothing in the profiles. With
    ``classes`` the report draws one profile per class (its own instances and solvers), and a
    pooled one only when asked."""
    from solverhub.bench.report import problem_classes
    ridge = [r for r in results if r.problem == "ridge"]
    bad = [r.replace(extras={**r.extras, "max_violation": 1e-2}) if r.solver == "lbfgs" else r for r in ridge]
    lsq = [r for r in results if r.problem == "small_lsq" and r.solver != "exploding"]
    mixed = bad + lsq
    classes = {ridge[0].problem_hash: ("minimize", "smooth"), lsq[0].problem_hash: ("minimize", "bounds")}
    index = write_report(mixed, tmp_path / "split", taus=(1e-1,), classes=classes)
    page = parse(index)
    cells = {(a["problem"], a["solver"]): c for a, c in page.tables["summary"]}
    assert cells[("ridge", "lbfgs")][3] == "converged 2, infeasible point 2"
    assert cells[("ridge", "gd")][3] == "converged 2"
    failures = {(a["problem"], a["solver"]): c for a, c in page.tables["failures"]}
    assert set(failures) == {("ridge", "lbfgs")}
    assert "infeasible point (max_violation 1.00e-02" in failures[("ridge", "lbfgs")][3]
    assert "profile-1e-01" not in page.tables                              # no pooled profile unless asked
    smooth = {a["solver"]: c for a, c in page.tables["profile-1e-01-minimize-smooth"]}
    bounds = {a["solver"]: c for a, c in page.tables["profile-1e-01-minimize-bounds"]}
    assert smooth["lbfgs"][1] == "0%" and smooth["gd"][1] == "100%"       # the infeasible runs solve nothing
    assert bounds["lbfgs"][1] == "100%"                                    # feasible on the other class
    pngs = sorted(p.name for p in index.parent.glob("profiles_*.png"))
    assert pngs == ["profiles_tau_1e-01_minimize-bounds.png", "profiles_tau_1e-01_minimize-smooth.png"]
    pooled = parse(write_report(mixed, tmp_path / "pooled", taus=(1e-1,), classes=classes, pooled=True))
    assert {"profile-1e-01", "profile-1e-01-minimize-smooth"} <= set(pooled.tables)
    assert {a["solver"]: c for a, c in pooled.tables["profile-1e-01"]}["lbfgs"][1] == "50%"

    class Rec:
        def __init__(self, result, problem_path):
            self.result, self.problem_path = result, problem_path
    recs = [Rec(ridge[0], str(REPO / "problems" / "smooth" / "ridge.yaml")), Rec(lsq[0], str(tmp_path / "gone.yaml"))]
    assert problem_classes(recs) == {ridge[0].problem_hash: ("minimize", "smooth")}


# -- the machine note and the table's page fit (issue 16) ------------------------------------
def test_machine_note_states_the_machine_and_warns_when_shared():
    from solverhub.bench.report import machine_note
    assert machine_note(None) == "" and machine_note({"platforms": [], "cpu_counts": [], "jobs": []}) == ""
    quiet = machine_note({"platforms": ["Linux"], "cpu_counts": [16], "jobs": [1], "load1": (0.5, 1.0, 1.5)})
    assert quiet == ("Wall times measured on Linux; 16 CPU(s); --jobs 1; 1-minute load average at run time 1.00 "
                     "(min 0.50, max 1.50).")
    shared = machine_note(MACHINE)
    assert shared.startswith("Wall times measured on Linux-6.1-x86_64; 2 CPU(s); --jobs 2;")
    assert "shared this machine" in shared
    assert "shared this machine" in machine_note({"platforms": ["Linux"], "cpu_counts": [2], "jobs": [1],
                                                  "load1": (3.0, 4.0, 5.0)})


def test_report_shows_machine_and_scrolls_wide_tables(report):
    text = report.read_text(encoding="utf-8")
    assert text.count("shared this machine") >= 2          # under the table and under the time axes
    assert '<div class="scroll"><table id="summary">' in text and "overflow-x:auto" in text
