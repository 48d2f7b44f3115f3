"""Hostile option spellings for ``compare``: one configuration is one run (issue 13).

A bad option is one ``error:`` line (exit 2) before any run or store exists; the same
configuration spelled differently, or found in a store written before canonical keys, runs once.
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

from kit import RIDGE, Case

P = {"p.yaml": RIDGE}
COMPARE = ("compare", "p.yaml", "--no-baseline", "--store", "s.sqlite")


def _no_store(folder, _got):
    assert not (folder / "s.sqlite").exists(), "a store was created for a compare that never ran"


def _runs(folder):
    db = sqlite3.connect(folder / "s.sqlite")
    try:
        return db.execute("SELECT key, options FROM runs").fetchall()
    finally:
        db.close()


def _compare_again(folder, *args):
    return subprocess.run([sys.executable, "-m", "solverhub.cli", *args], cwd=folder, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, COLUMNS="200"))


def _one_run_after_respelling(folder, got):
    assert len(_runs(folder)) == 1, _runs(folder)
    again = _compare_again(folder, *COMPARE, "--solver", "gd:lr=1e-2", "--option", "max-iterations=5.0")
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert "1 already in" in again.stdout and "0 to do" in again.stdout, again.stdout
    runs = _runs(folder)
    assert len(runs) == 1, runs
    assert json.loads(runs[0][1]) == {"lr": float("1e-2"), "max_iterations": int("5")}


def _one_run_per_seed(folder, got):
    assert len(_runs(folder)) == 2, _runs(folder)       # 2 seeds; the three spellings are one configuration


def _old_store(path):
    """A store as written before canonical keys (schema 0): keys hashed the options as typed."""
    from solverhub import load_problem
    from solverhub.bench.tasks import RunTask, failed_result
    from solverhub.registry import get_registry
    from solverhub.result import Status
    problem = load_problem(path.parent / "p.yaml")
    version = get_registry().solvers["gd"].version
    options = {"lr": "0.01", "max_iterations": "5"}
    text = json.dumps(options, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256("\x1f".join([problem.content_hash, "gd", version, text, "0"]).encode()).hexdigest()[:32]
    task = RunTask(key=key, problem_path="p.yaml", problem_name=problem.name, problem_hash=problem.content_hash,
                   solver="gd", seed=0, options=options)
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE runs (key TEXT PRIMARY KEY, problem TEXT NOT NULL, problem_hash TEXT NOT NULL, "
                     "problem_path TEXT, solver TEXT NOT NULL, solver_version TEXT NOT NULL, options TEXT NOT NULL, "
                     "seed INTEGER NOT NULL, status TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL);")
    db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
               (key, problem.name, problem.content_hash, "p.yaml", "gd", "0", text, 0, "failed",
                failed_result(task, Status.FAILED, "worker process died").to_json(), 1.0))
    db.commit()
    db.close()


def _old_store_resumed(folder, got):
    assert len(_runs(folder)) == 1, _runs(folder)
    db = sqlite3.connect(folder / "s.sqlite")
    try:
        from solverhub.bench.store import SCHEMA_VERSION      # upgraded in place to the current schema
        assert SCHEMA_VERSION >= 2 and db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        db.close()


def _newer_store(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (key TEXT PRIMARY KEY)")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()


def _foreign_db(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    db.commit()
    db.close()


def _foreign_db_untouched(folder, _got):
    db = sqlite3.connect(folder / "s.sqlite")
    try:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [("runs",)]
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
    finally:
        db.close()


CASES = [
    Case("keys-bad-float", P, (*COMPARE, "--solver", "gd:lr=abc"), contains=("'lr'", "expects a number", "'abc'"),
         check=_no_store),
    Case("keys-unknown-option", P, (*COMPARE, "--solver", "gd:foo=1"),
         contains=("unknown option 'foo'", "allowed:", "lr", "max_iterations"), check=_no_store),
    Case("keys-int-overflow", P, (*COMPARE, "--solver", "gd", "--option", "max-iterations=1e400"),
         contains=("'max_iterations'", "expects an integer", "1e400"), check=_no_store),
    Case("keys-int-fraction", P, (*COMPARE, "--solver", "gd", "--option", "max_iterations=2.5"),
         contains=("'max_iterations'", "expects an integer", "2.5"), check=_no_store),
    Case("keys-bad-bool", P, (*COMPARE, "--solver", "gd:backtracking=maybe"),
         contains=("'backtracking'", "boolean", "allowed: true, false"), check=_no_store),
    Case("keys-nan", P, (*COMPARE, "--solver", "gd:lr=nan"), contains=("'lr'", "finite"), check=_no_store),
    Case("keys-one-name-twice", P, (*COMPARE, "--solver", "gd:max-iterations=5,max_iterations=6"),
         contains=("'max_iterations'", "given twice"), check=_no_store),
    # extragradient refuses a minimize problem: its bad option is still an error, not a skipped pair
    Case("keys-bad-option-of-a-refusing-solver", P, (*COMPARE, "--solver", "extragradient:step=fast"),
         contains=("'step'", "expects a number"), check=_no_store),
    Case("keys-respelled-is-one-run", P,
         (*COMPARE, "--solver", "gd:lr=0.01", "--option", "max_iterations=5"), exit=0,
         check=_one_run_after_respelling),
    Case("keys-three-spellings-in-one-compare", P,
         (*COMPARE, "--solver", "gd:lr=0.01", "--solver", "gd:lr=1e-2", "--solver", "gd:lr=.01",
          "--option", "max_iterations=5", "--seeds", "2"), exit=0, contains=("2 run(s): 0 already in",),
         check=_one_run_per_seed),
    Case("keys-old-store-resumed", {**P, "s.sqlite": _old_store},
         (*COMPARE, "--solver", "gd:lr=1e-2", "--option", "max-iterations=5"), exit=0,
         contains=("1 already in", "0 to do"), check=_old_store_resumed),
    Case("keys-store-from-a-newer-solverhub", {**P, "s.sqlite": _newer_store}, (*COMPARE, "--solver", "gd"),
         contains=("s.sqlite", "newer solverhub", "schema 7")),
    # another program's SQLite file with a table called runs: refused, and left as it was
    Case("keys-foreign-runs-table", {**P, "s.sqlite": _foreign_db}, (*COMPARE, "--solver", "gd"),
         contains=("s.sqlite", "not a solverhub result store", "problem_hash"), check=_foreign_db_untouched),
]
