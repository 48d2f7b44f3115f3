"""Output paths (--json, --store, --report, report --out, the CSV/parquet export): only ever a
regular file (replaced atomically) or a folder meant for it; FIFOs, device nodes, sockets,
symlinks to them, folders where a file is expected (and files where a folder is), non-SQLite
stores and outputs that name an input are refused with exit 2 and one line, before any work.
And the CSV export neutralises cells a spreadsheet would run as formulas."""
from __future__ import annotations

import csv
import json
import math
import os
import socket
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from solverhub.errors import OptionError
from solverhub.result import Result, Stationarity, Status

from texts import RIDGE  # noqa: E402
CHEAP = ("--solver", "gd", "--option", "max_iterations=5", "--no-baseline")


# -- things that are not regular files --------------------------------------------------
def make_chr(path: Path) -> Path:
    """A character device node like /dev/null (1, 7 is /dev/full), made in a temporary folder."""
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 7))
    return path


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_socket(path: Path) -> Path:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
    return path


def make_link_to_fifo(path: Path) -> Path:
    make_fifo(path.with_name(path.name + ".target"))
    os.symlink(path.name + ".target", path)
    return path


SPECIALS = {"char-device": (make_chr, stat.S_ISCHR), "fifo": (make_fifo, stat.S_ISFIFO),
            "socket": (make_socket, stat.S_ISSOCK), "symlink-to-fifo": (make_link_to_fifo, stat.S_ISFIFO)}


def _one_error_line(res, *fragments):
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def _no_solve(monkeypatch):
    """Make any solve fail the test: the refusal must come before any work."""
    import solverhub.api

    def boom(*a, **k):
        raise AssertionError("a solve ran before the output path was checked")
    monkeypatch.setattr(solverhub.api, "solve", boom)


@pytest.fixture
def ridge(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(RIDGE)
    return tmp_path / "p.yaml"


# -- the checks themselves --------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(SPECIALS))
def test_check_output_file_refuses_special_files(tmp_path, kind):
    from solverhub.outputs import check_output_file
    make, is_kind = SPECIALS[kind]
    path = make(tmp_path / "out.json")
    with pytest.raises(OptionError) as info:
        check_output_file(path, "--json")
    assert str(path) in str(info.value) and "--json" in str(info.value) and "allowed:" in str(info.value)
    assert is_kind(os.stat(path).st_mode)


def test_check_output_file_refuses_folders_dangling_links_and_file_parents(tmp_path):
    from solverhub.outputs import check_output_file
    (tmp_path / "d").mkdir()
    os.symlink("nowhere", tmp_path / "dangling")
    (tmp_path / "notes.txt").write_text("keep me")
    for bad, words in ((tmp_path / "d", "folder"), (tmp_path / "dangling", "dangling"),
                       (tmp_path / "notes.txt" / "out.json", "not a")):
        with pytest.raises(OptionError, match=words):
            check_output_file(bad, "--json")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_check_output_file_accepts_new_regular_and_linked_regular_files(tmp_path):
    from solverhub.outputs import check_output_file
    (tmp_path / "old.json").write_text("{}")
    os.symlink("old.json", tmp_path / "link.json")
    for ok in (tmp_path / "new" / "deeper" / "a.json", tmp_path / "old.json", tmp_path / "link.json"):
        assert check_output_file(ok, "--json") == ok


def test_check_output_dir(tmp_path):
    from solverhub.outputs import check_output_dir
    (tmp_path / "file").write_text("x")
    make_fifo(tmp_path / "pipe")
    (tmp_path / "rep").mkdir()
    make_fifo(tmp_path / "rep" / "index.html")
    for bad in ("file", "pipe"):
        with pytest.raises(OptionError, match="not a folder"):
            check_output_dir(tmp_path / bad, "--out")
    with pytest.raises(OptionError, match="FIFO"):
        check_output_dir(tmp_path / "rep", "--out", files=("index.html",))
    assert check_output_dir(tmp_path / "new", "--out") == tmp_path / "new"


def test_check_store(tmp_path):
    from solverhub.outputs import check_store
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    with pytest.raises(OptionError, match="not a SQLite"):
        check_store(text)
    assert text.read_text() == "not a database\n"
    db = tmp_path / "s.sqlite"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    assert check_store(db) == db
    make_fifo(tmp_path / "s.sqlite-wal")
    with pytest.raises(OptionError, match="s.sqlite-wal"):
        check_store(db)
    (tmp_path / "empty.sqlite").write_bytes(b"")
    assert check_store(tmp_path / "empty.sqlite") == tmp_path / "empty.sqlite"


def test_atomic_write_keeps_links_modes_and_ignores_a_fifo_at_the_old_temp_name(tmp_path):
    from solverhub.outputs import atomic_write_text
    real = tmp_path / "real.json"
    real.write_text("old")
    os.chmod(real, 0o640)
    os.symlink("real.json", tmp_path / "link.json")
    # the previous writer used the fixed name OUT.tmp: a FIFO there blocked it forever
    make_fifo(tmp_path / "link.json.tmp")
    make_fifo(tmp_path / "real.json.tmp")
    done = threading.Event()
    thread = threading.Thread(target=lambda: (atomic_write_text(tmp_path / "link.json", "new", "--json"), done.set()),
                              daemon=True)
    thread.start()
    thread.join(60)          # a hang guard
    if thread.is_alive():    # unblock the writer so the test run can end
        for name in ("link.json.tmp", "real.json.tmp"):
            fd = os.open(tmp_path / name, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
    assert done.is_set(), "the write blocked on a FIFO"
    assert os.path.islink(tmp_path / "link.json") and real.read_text() == "new"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert stat.S_ISFIFO(os.stat(tmp_path / "link.json.tmp").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "link.json.tmp", "real.json", "real.json.tmp"]


def test_check_distinct(tmp_path):
    from solverhub.outputs import check_distinct
    (tmp_path / "p.yaml").write_text(RIDGE)
    with pytest.raises(OptionError, match="input"):
        check_distinct({"--json": tmp_path / "p.yaml"}, [tmp_path / "sub" / ".." / "p.yaml"])
    with pytest.raises(OptionError, match="--store"):
        check_distinct({"--store": tmp_path / "s.sqlite", "--json": tmp_path / "./s.sqlite"})
    check_distinct({"--store": tmp_path / "s.sqlite", "--json": tmp_path / "o.json", "--report": None},
                   [tmp_path / "p.yaml"])


# -- through the CLI: solve and baseline -------------------------------------------------
@pytest.mark.parametrize("kind", sorted(SPECIALS))
def test_solve_json_onto_special_file_is_refused_before_solving(ridge, run_cli, monkeypatch, kind):
    make, is_kind = SPECIALS[kind]
    target = make(ridge.parent / "out.json")
    _no_solve(monkeypatch)
    res = run_cli("solve", "p.yaml", "--solver", "gd", "--json", "out.json")
    _one_error_line(res, "error: out.json: --json", "allowed:")
    assert is_kind(os.stat(target).st_mode)


def test_solve_json_onto_a_folder_or_under_a_file(ridge, run_cli, monkeypatch):
    (ridge.parent / "d").mkdir()
    (ridge.parent / "notes.txt").write_text("keep")
    _no_solve(monkeypatch)
    _one_error_line(run_cli("solve", "p.yaml", "--solver", "gd", "--json", "d"), "error: d: --json", "folder")
    _one_error_line(run_cli("solve", "p.yaml", "--solver", "gd", "--json", "notes.txt/r.json"), "notes.txt")
    assert (ridge.parent / "notes.txt").read_text() == "keep" and not any((ridge.parent / "d").iterdir())


def test_solve_json_never_overwrites_the_problem_file(ridge, run_cli, monkeypatch):
    import solverhub.api
    def no_solve(*args, **kwargs):
        raise AssertionError("solve ran although its --json names its own problem file")
    monkeypatch.setattr(solverhub.api, "solve", no_solve)   # refused before any work
    res = run_cli("solve", "p.yaml", "--solver", "gd", "--max-iterations", "3", "--json", "./p.yaml")
    _one_error_line(res, "--json", "input")
    assert ridge.read_text() == RIDGE


def test_solve_json_is_written_atomically_through_a_symlink(ridge, run_cli):
    (ridge.parent / "results").mkdir()
    (ridge.parent / "results" / "r.json").write_text("old")
    os.symlink("results/r.json", ridge.parent / "r.json")
    res = run_cli("solve", "p.yaml", "--solver", "gd", "--max-iterations", "3", "--json", "r.json")
    assert res.exit_code in (0, 1), res.output
    assert os.path.islink(ridge.parent / "r.json")
    assert json.loads((ridge.parent / "results" / "r.json").read_text())["problem"] == "ridge"
    assert sorted(p.name for p in (ridge.parent / "results").iterdir()) == ["r.json"]


def test_baseline_json_onto_a_device_node(ridge, run_cli):
    node = make_chr(ridge.parent / "full")
    _one_error_line(run_cli("baseline", "p.yaml", "--json", "full"), "error: full: --json", "character device")
    assert stat.S_ISCHR(os.stat(node).st_mode)


# -- compare --------------------------------------------------------------------------------
@pytest.mark.parametrize("flag,kind", [("--json", "char-device"), ("--json", "fifo"), ("--store", "fifo"),
                                       ("--store", "char-device"), ("--store", "socket"),
                                       ("--report", "fifo"), ("--report", "symlink-to-fifo")])
def test_compare_refuses_special_outputs_before_any_run(ridge, run_cli, monkeypatch, flag, kind):
    make, is_kind = SPECIALS[kind]
    target = make(ridge.parent / "out")
    _no_solve(monkeypatch)
    args = ["compare", "p.yaml", *CHEAP, "--store", "s.sqlite", flag, "out"]
    if flag == "--store":
        args = ["compare", "p.yaml", *CHEAP, "--store", "out"]
    _one_error_line(run_cli(*args), f"error: out: {flag}", "allowed:")
    assert is_kind(os.stat(target).st_mode)
    assert not (ridge.parent / "s.sqlite").exists()       # nothing was run or created


def test_compare_store_that_is_a_text_file_or_a_folder(ridge, run_cli):
    (ridge.parent / "notes.txt").write_text("my notes\n")
    (ridge.parent / "d").mkdir()
    _one_error_line(run_cli("compare", "p.yaml", *CHEAP, "--store", "notes.txt"), "notes.txt", "SQLite")
    _one_error_line(run_cli("compare", "p.yaml", *CHEAP, "--store", "d"), "error: d: --store", "folder")
    assert (ridge.parent / "notes.txt").read_text() == "my notes\n" and not any((ridge.parent / "d").iterdir())


def test_compare_outputs_must_differ_from_each_other_and_from_inputs(ridge, run_cli):
    _one_error_line(run_cli("compare", "p.yaml", *CHEAP, "--store", "s.sqlite", "--json", "s.sqlite"), "--json")
    _one_error_line(run_cli("compare", "p.yaml", *CHEAP, "--store", "p.yaml"), "error: p.yaml: --store")
    _one_error_line(run_cli("compare", "p.yaml", *CHEAP, "--store", "s.sqlite", "--json", "p.yaml"), "input")
    assert ridge.read_text() == RIDGE and not (ridge.parent / "s.sqlite").exists()


def test_compare_report_onto_a_regular_file(ridge, run_cli):
    (ridge.parent / "rep").write_text("not a folder")
    _one_error_line(run_cli("compare", "p.yaml", *CHEAP, "--store", "s.sqlite", "--report", "rep"),
                    "error: rep: --report", "folder")
    assert (ridge.parent / "rep").read_text() == "not a folder" and not (ridge.parent / "s.sqlite").exists()


# -- report --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a few cheap runs, written by the CLI."""
    from click.testing import CliRunner

    from solverhub.cli import main
    folder = tmp_path_factory.mktemp("store")
    (folder / "p.yaml").write_text(RIDGE)
    res = CliRunner().invoke(main, ["compare", str(folder / "p.yaml"), *CHEAP, "--seeds", "2",
                                    "--store", str(folder / "s.sqlite")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return folder / "s.sqlite"


def test_report_out_onto_a_regular_file_is_exit_2(store, run_cli, tmp_path):
    out = tmp_path / "report"
    out.write_text("a file")
    _one_error_line(run_cli("report", store, "--out", out), str(out), "folder")
    assert out.read_text() == "a file"


def test_report_csv_out_onto_the_store_or_a_device(store, run_cli, tmp_path):
    before = store.read_bytes()
    _one_error_line(run_cli("report", store, "--format", "csv", "--out", store), str(store))
    copy = tmp_path / "runs.csv"            # a store that happens to end in .csv
    copy.write_bytes(before)
    _one_error_line(run_cli("report", copy, "--format", "csv", "--out", copy), "input")
    node = make_chr(tmp_path / "dev.csv")
    _one_error_line(run_cli("report", store, "--format", "csv", "--out", node), "character device")
    assert store.read_bytes() == before and copy.read_bytes() == before and stat.S_ISCHR(os.stat(node).st_mode)


def test_report_html_refuses_a_fifo_among_the_files_it_writes_before_writing_any(store, run_cli, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    from solverhub.bench.store import ResultStore
    with ResultStore(store) as s:
        h = s.results()[0].problem_hash
    # a convergence figure's name is convergence_<problem>_<hash8>.png
    make_fifo(out / f"convergence_ridge_{h[:8]}.png")
    _one_error_line(run_cli("report", store, "--out", out), "FIFO")
    assert sorted(p.name for p in out.iterdir()) == [f"convergence_ridge_{h[:8]}.png"]


def test_report_store_that_is_not_sqlite_is_left_alone(run_cli, tmp_path):
    text = tmp_path / "runs.sqlite"
    text.write_text("hello\n")
    _one_error_line(run_cli("report", text, "--out", tmp_path / "rep"), "not a SQLite")
    assert text.read_text() == "hello\n" and not (tmp_path / "rep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.sqlite"]


# -- CSV injection ---------------------------------------------------------------------------
def _result(**kw):
    base = dict(solver="gd", problem="p", problem_hash="0123456789abcdef", status=Status.CONVERGED, message="ok",
                objective=-1.5, stationarity=Stationarity("grad_norm", 1e-3), iterations=3,
                oracle_calls={"grad": 3}, wall_time_s=0.25, device="cpu", seed=0, options={})
    base.update(kw)
    return Result(**base)


FORMULAS = ['=HYPERLINK("http://x","click")', "@SUM(1+1)", "+1+2", "-2+3", "\tTAB", "\rCR=1"]


def test_csv_export_neutralises_formula_cells(tmp_path):
    from solverhub.bench.report import export_runs
    results = [_result(problem=FORMULAS[0], solver=FORMULAS[1], message=FORMULAS[3], device=FORMULAS[4]),
               _result(problem=FORMULAS[2], solver="gd", message=FORMULAS[5], objective=-math.inf,
                       baseline_objective=-2.0, baseline_gap=-0.25, seed=1)]
    path = export_runs(results, tmp_path / "runs.csv", fmt="csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    for row, r in zip(rows, results):
        for col in ("problem", "solver", "message", "device"):
            value = getattr(r, col)
            expected = "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
            assert row[col] == expected, (col, row[col])
        # numbers stay numbers, negative ones included
        assert float(row["objective"]) == r.objective
        assert float(row["wall_time_s"]) == r.wall_time_s and int(row["seed"]) == r.seed
    assert float(rows[1]["baseline_objective"]) == -2.0 and float(rows[1]["baseline_gap"]) == -0.25
    assert not any(v.startswith(("=", "+", "@", "\t", "\r")) for row in rows for v in row.values())
    assert all(not v.startswith("-") or _is_number(v) for row in rows for v in row.values())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_export_of_a_compare_with_a_formula_problem_name(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = '=HYPERLINK("http://x")'
    (tmp_path / "p.yaml").write_text(RIDGE.replace("name: ridge", f"name: '{name}'"))
    assert run_cli("compare", "p.yaml", *CHEAP, "--solver", "gd:lr=0.1", "--store", "s.sqlite").exit_code == 0
    assert run_cli("report", "s.sqlite", "--format", "csv", "--out", "runs.csv").exit_code == 0
    with open("runs.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {row["problem"] for row in rows} == {"'" + name}
    assert all(_is_number(row["objective"]) for row in rows)
