"""The result store: one SQLite file, one record per run, keyed by
(problem content hash, solver, solver version, options, seed).

Every record is written in its own transaction, so a compare killed at any
moment (even ``kill -9``) loses only the runs in flight. WAL mode and a busy
timeout make concurrent writers from several processes safe. Baselines are
cached per problem hash.
"""
from __future__ import annotations

__all__ = ["ResultStore", "RunRecord", "run_key"]

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import OptionError
from ..result import Result

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    problem TEXT NOT NULL,
    problem_hash TEXT NOT NULL,
    problem_path TEXT,
    solver TEXT NOT NULL,
    solver_version TEXT NOT NULL,
    options TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS baselines (
    problem_hash TEXT PRIMARY KEY,
    problem TEXT NOT NULL,
    status TEXT NOT NULL,
    objective REAL,
    message TEXT
);
CREATE TABLE IF NOT EXISTS skipped (
    problem TEXT NOT NULL,
    solver TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (problem, solver)
);
"""


class _NoStore:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def done_keys() -> set[str]:
        return set()


def canonical_options(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)


def run_key(problem_hash: str, solver: str, solver_version: str, options: dict[str, Any], seed: int) -> str:
    """The identity of a run; the same compare re-run finds its finished runs by it."""
    text = "\x1f".join([problem_hash, solver, solver_version, canonical_options(options), str(int(seed))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RunRecord:
    key: str
    problem_path: str | None
    result: Result


class ResultStore:
    """A SQLite result store (``runs.sqlite``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise OptionError(f"--store {path}: not a usable SQLite result store ({err})") from None

    @staticmethod
    def existing_keys(path: str | Path) -> set[str]:
        """Keys already in the store at ``path`` (empty if there is none yet); creates nothing."""
        with ResultStore(path) if Path(path).is_file() else _NoStore() as store:
            return store.done_keys()

    # -- runs ---------------------------------------------------------------
    def done_keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM runs")}

    def put(self, key: str, result: Result, problem_path: str | None = None, options: dict | None = None) -> None:
        """Insert or replace one run, in its own transaction."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (key, result.problem, result.problem_hash, problem_path, result.solver, result.solver_version,
                 canonical_options(options if options is not None else result.options), int(result.seed),
                 result.status.value, result.to_json(), time.time()))

    def records(self) -> list[RunRecord]:
        rows = self._db.execute("SELECT key, problem_path, result FROM runs ORDER BY problem, solver, seed, key")
        return [RunRecord(key, path, Result.from_json(text)) for key, path, text in rows]

    def results(self) -> list[Result]:
        return [r.result for r in self.records()]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    # -- baselines ----------------------------------------------------------
    def baseline(self, problem_hash: str) -> tuple[str, float | None, str] | None:
        row = self._db.execute("SELECT status, objective, message FROM baselines WHERE problem_hash=?",
                               (problem_hash,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def put_baseline(self, problem_hash: str, problem: str, status: str, objective: float | None,
                     message: str = "") -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO baselines VALUES (?,?,?,?,?)",
                             (problem_hash, problem, status, objective, message))

    # -- skipped pairs -----------------------------------------------------------
    def put_skipped(self, pairs: Iterable[tuple[str, str, str]]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO skipped VALUES (?,?,?)", list(pairs))

    def skipped(self) -> list[tuple[str, str, str]]:
        return list(self._db.execute("SELECT problem, solver, reason FROM skipped ORDER BY problem, solver"))

    # -- plumbing -----------------------------------------------------------
    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, exc, tb):
                db.execute("COMMIT" if exc_type is None else "ROLLBACK")
                return False
        return _Tx()

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
