"""The result store: one SQLite file, one record per run, keyed by
(problem content hash, solver, solver version, options, seed).

Every ``put`` / ``put_many`` is one transaction, and a compare commits its runs
as they are answered (those of one wake-up together), so a compare killed at any
moment (even ``kill -9``) loses only the runs in flight. WAL mode and a busy
timeout make concurrent writers from several processes safe. Baselines are
cached per problem hash.

Run keys hash *typed canonical* options (:func:`~solverhub.options.canonical_options`:
``lr=0.01``, ``lr=1e-2`` and ``lr=.01`` are one key). The file's schema version is
``PRAGMA user_version``:

* 0 -- stores written before canonical keys: keys hashed the options as typed.
* 1 -- ``runs.key_form`` says how a row's key was made: 1 canonical (every row the
  current code writes), 0 legacy. On open, legacy rows are re-keyed in one
  transaction (see :meth:`ResultStore._rekey_legacy`); rows that collapse into one key
  keep the most recently written one, and the others move to ``superseded_runs``.
* 2 -- compact runs: a new row keeps its Result in ``runs.data``, a zlib blob with the trace as
  float32/integer-delta columns (:mod:`~solverhub.bench.codec`, ~1 KB for a 30-point trace,
  against ~6 KB of JSON), and ``result`` empty; rows written before keep their JSON ``result``
  and read as they are (nothing is rewritten). ``runs.load1`` is the 1-minute load average
  when the run was stored, and ``sessions`` records each compare's machine (platform, CPU
  count, ``--jobs``), so the report can say what the wall times were measured on.
"""
from __future__ import annotations

__all__ = ["ResultStore", "RunRecord", "run_key"]

import gc
import hashlib
import json
import os
import platform
import sqlite3
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import OptionError, SolverhubError
from ..options import canonical_json
from ..result import Result
from .codec import decode_result, encode_result

SCHEMA_VERSION = 2

# The columns of a run, shared by ``runs`` and ``superseded_runs`` (which adds why and when).
_RUN_FIELDS = """
    problem TEXT NOT NULL,
    problem_hash TEXT NOT NULL,
    problem_path TEXT,
    solver TEXT NOT NULL,
    solver_version TEXT NOT NULL,
    options TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    data BLOB,
    load1 REAL"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,{_RUN_FIELDS},
    key_form INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS baselines (
    problem_hash TEXT PRIMARY KEY,
    problem TEXT NOT NULL,
    status TEXT NOT NULL,
    objective REAL,
    message TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    started REAL NOT NULL,
    platform TEXT NOT NULL,
    cpu_count INTEGER,
    jobs INTEGER,
    load1 REAL
);
CREATE TABLE IF NOT EXISTS skipped (
    problem TEXT NOT NULL,
    solver TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (problem, solver)
);
"""

# Rows dropped when legacy keys collapse into one canonical key (kept for the record, never read
# back as runs). ``superseded_by`` is the canonical key of the row that was kept.
_SUPERSEDED = f"""
CREATE TABLE IF NOT EXISTS superseded_runs (
    key TEXT NOT NULL,{_RUN_FIELDS},
    superseded_by TEXT NOT NULL,
    superseded_at REAL NOT NULL
);
"""

_RUN_COLUMNS = ("key, problem, problem_hash, problem_path, solver, solver_version, options, seed, status, result, "
                "created")
# Added by schema 2 (to ``runs`` and ``superseded_runs`` of older files by ALTER TABLE).
_NEW_COLUMNS = (("data", "BLOB"), ("load1", "REAL"))


def _load1() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):      # not on this platform
        return None


class _NoStore:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def done_keys() -> set[str]:
        return set()


def canonical_options(options: dict[str, Any]) -> str:
    """The options' text in a run key: sorted compact JSON of canonical values, names with
    ``_`` (type them first with :func:`~solverhub.options.canonical_options`: this function
    cannot know that ``"0.01"`` is a float option)."""
    return canonical_json({str(k).replace("-", "_"): v for k, v in options.items()})


def _key_of(problem_hash: str, solver: str, solver_version: str, options_text: str, seed: int) -> str:
    text = "\x1f".join([problem_hash, solver, solver_version, options_text, str(int(seed))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def run_key(problem_hash: str, solver: str, solver_version: str, options: dict[str, Any] | str, seed: int) -> str:
    """The identity of a run; the same compare re-run finds its finished runs by it.
    ``options``: typed canonical options (see :func:`canonical_options`), or their text."""
    text = options if isinstance(options, str) else canonical_options(options)
    return _key_of(problem_hash, solver, solver_version, text, seed)


def _legacy_key(problem_hash: str, solver: str, solver_version: str, options_text: str, seed: int) -> str:
    """The key of schema 0: the same hash over the options as the user typed them (the stored
    ``options`` column is exactly the text that was hashed)."""
    return _key_of(problem_hash, solver, solver_version, options_text, seed)


def _canonical_label(label: str, cls) -> str:
    """``gd:lr=1e-2`` -> ``gd:lr=0.01``; a label that does not parse or type is kept."""
    from ..options import canonical_label
    from ..options import canonical_options as typed
    name, sep, rest = label.partition(":")
    if not sep:
        return label
    try:
        pairs = [item.partition("=") for item in filter(None, (p.strip() for p in rest.split(",")))]
        if any(not eq for _, eq, _ in pairs):
            return label
        return canonical_label(name, typed(cls, {k.strip(): v.strip() for k, _, v in pairs}))
    except SolverhubError:
        return label


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception)."""

    __slots__ = ("db",)

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


@dataclass(frozen=True)
class RunRecord:
    key: str
    problem_path: str | None
    result: Result


class ResultStore:
    """A SQLite result store (``runs.sqlite``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._session_recorded = False     # the first put records one (jobs unknown) unless compare did
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(runs)")]
            version = self._version()
        except sqlite3.DatabaseError as err:
            raise OptionError(f"--store {path}: not a usable SQLite result store ({err})") from None
        if version > SCHEMA_VERSION:
            self._db.close()
            raise OptionError(f"--store {path}: written by a newer solverhub (store schema {version}, this one "
                              f"reads up to {SCHEMA_VERSION})", allowed="upgrade solverhub, or use another --store")
        missing = [c.strip() for c in _RUN_COLUMNS.split(",") if c.strip() not in columns]
        if columns and missing:                    # some other program's table: change nothing
            self._db.close()
            raise OptionError(f"--store {path}: not a solverhub result store (its table 'runs' has no column "
                              f"{', '.join(missing)})", allowed="a .sqlite file written by solverhub compare, "
                                                                "or a new file")
        try:
            self._db.executescript(_SCHEMA + _SUPERSEDED)
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise OptionError(f"--store {path}: not a usable SQLite result store ({err})") from None
        try:
            self._upgrade()
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise OptionError(f"--store {path}: cannot upgrade this result store ({err})") from None
        except BaseException:
            self._db.close()
            raise

    # -- schema versions ----------------------------------------------------
    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _upgrade(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION`, then re-key any legacy rows."""
        if self._version() < SCHEMA_VERSION:
            with self._transaction():
                version = self._version()          # again, under the write lock: another process may be first
                if version < 1:
                    columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
                    if "key_form" not in columns:  # a schema-0 file: every row is legacy (key_form 0)
                        self._db.execute("ALTER TABLE runs ADD COLUMN key_form INTEGER NOT NULL DEFAULT 0")
                if version < 2:
                    for table in ("runs", "superseded_runs"):
                        have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                        for name, sqltype in _NEW_COLUMNS:
                            if name not in have:
                                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sqltype}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if self._db.execute("SELECT 1 FROM runs WHERE key_form = 0 LIMIT 1").fetchone() is not None:
            self._rekey_legacy()

    def _rekey_legacy(self) -> None:
        """Re-key rows whose key hashed the options as typed (``key_form = 0``), in one
        transaction (a kill leaves the store as it was; a concurrent opener waits, then
        finds nothing left to do).

        Each row's options are typed through its solver's ``Options`` as installed now, and
        its key becomes :func:`run_key` of (problem hash, solver, the version its old key
        used, canonical options, seed); the ``options`` column, the failed runs' ``Result.options``
        and the label are rewritten to match. Rows that now share a key are one
        configuration run twice: the most recently written row (``created``; every stored row
        is a finished run) is kept, the others move to ``superseded_runs``. Rows of a solver
        that is not installed stay legacy and are retried on a later open; rows whose key is not
        the old formula's (written by hand through the API) or whose options the installed
        solver rejects keep their key and are marked done."""
        try:
            from ..registry import get_registry
            solvers = get_registry().solvers
        except Exception as err:  # noqa: BLE001 - a broken plugin must not make the store unreadable
            print(f"solverhub: {self.path}: old-format run keys not re-keyed ({type(err).__name__}: {err})",
                  file=sys.stderr)
            return
        from ..options import canonical_options as typed
        with self._transaction():
            rows = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE key_form = 0").fetchall()
            moves: dict[str, tuple] = {}          # old key -> (new key, options text, version, result json)
            keep_as_is: list[str] = []
            for (key, _problem, phash, _path, solver, version, options_text, seed, _status, result_json,
                 _created) in rows:
                entry = solvers.get(solver)
                if entry is None:
                    continue                       # not installed now: stays legacy, retried later
                used = next((v for v in dict.fromkeys((version, entry.version))
                             if _legacy_key(phash, solver, v, options_text, seed) == key), None)
                try:
                    raw = json.loads(options_text)
                    canon = typed(entry.cls, raw) if used is not None and isinstance(raw, dict) else None
                except (ValueError, SolverhubError):
                    canon = None
                if canon is None:
                    keep_as_is.append(key)
                    continue
                moves[key] = (run_key(phash, solver, used, canon, seed), canonical_options(canon), used,
                              self._rewrite_result(result_json, canon, entry.cls, used))
            self._db.executemany("UPDATE runs SET key_form = 1 WHERE key = ?", [(k,) for k in keep_as_is])
            if not moves:
                return
            self._fill_options(moves, {row[0]: (row[2], row[4]) for row in rows})   # key -> (hash, solver)
            created = dict(self._db.execute("SELECT key, created FROM runs WHERE key_form = 0").fetchall())
            groups: dict[str, list[tuple[float, int, str]]] = {}
            for old, (new, *_rest) in moves.items():
                groups.setdefault(new, []).append((created[old], 0, old))
            for new, members in groups.items():
                row = self._db.execute("SELECT created FROM runs WHERE key = ? AND key_form = 1", (new,)).fetchone()
                if row is not None:                     # a canonical row already under that key competes too
                    members.append((row[0], 1, new))
            now = time.time()
            for new, members in groups.items():
                members.sort()                          # most recent last (a tie: the canonical row, then key)
                winner = members[-1][2]
                for _, _, loser in members[:-1]:
                    self._db.execute(f"INSERT INTO superseded_runs ({_RUN_COLUMNS}, data, load1, superseded_by, "
                                     f"superseded_at) SELECT {_RUN_COLUMNS}, data, load1, ?, ? FROM runs "
                                     "WHERE key = ?", (new, now, loser))
                    self._db.execute("DELETE FROM runs WHERE key = ?", (loser,))
                if winner in moves:
                    _new, text, used, result_json = moves[winner]
                    self._db.execute("UPDATE runs SET key = ?, options = ?, solver_version = ?, result = ?, "
                                     "key_form = 1 WHERE key = ?", (new, text, used, result_json, winner))

    def _fill_options(self, moves: dict[str, tuple], where: dict[str, tuple[str, str]]) -> None:
        """A run that never reached the solver (killed, crashed worker) stored only the given
        options, so the report would tell it apart from the solved seeds of its configuration.
        Give it every option of a solved run of the same configuration (problem, solver, version,
        canonical options) when the store holds one: those do not depend on the seed."""
        def options_of(result_json):
            try:
                return json.loads(result_json).get("options") or {}
            except ValueError:
                return {}
        full: dict[tuple, dict] = {}
        short: list[tuple[str, tuple]] = []
        for old, (new, text, used, result_json) in moves.items():
            phash, solver = where[old]
            config = (phash, solver, used, text)
            options = options_of(result_json)
            if set(options) > set(json.loads(text)):
                full.setdefault(config, options)
            else:
                short.append((old, config))
        for old, config in short:
            if config not in full:
                for text, blob in self._db.execute(
                        "SELECT result, data FROM runs WHERE key_form = 1 AND problem_hash = ? AND solver = ? "
                        "AND solver_version = ? AND options = ?", config):
                    options = options_of(text) if blob is None else dict(decode_result(blob).options)
                    if set(options) > set(json.loads(config[3])):
                        full[config] = options
                        break
            if config in full:
                new, text, used, result_json = moves[old]
                data = json.loads(result_json)
                data["options"] = dict(full[config])
                moves[old] = (new, text, used, Result.from_dict(data).to_json())

    @staticmethod
    def _rewrite_result(result_json: str, canon: dict, cls, version: str) -> str:
        """The stored Result with its given options typed and its version known (a run that
        never reached the solver stored its options as the user typed them, and version "0"),
        and its label canonical."""
        try:
            data = json.loads(result_json)
            options = {str(k).replace("-", "_"): v for k, v in (data.get("options") or {}).items()}
            if set(options) <= set(canon):          # a run that never reached the solver: options as typed
                data["options"] = dict(canon)
            if data.get("solver_version") == "0":
                data["solver_version"] = version
            extras = data.get("extras") or {}
            if isinstance(extras.get("label"), str):
                extras["label"] = _canonical_label(extras["label"], cls)
                data["extras"] = extras
            return Result.from_dict(data).to_json()
        except Exception:  # noqa: BLE001 - keep the row as it was rather than lose it
            return result_json

    @staticmethod
    def existing_keys(path: str | Path) -> set[str]:
        """Keys already in the store at ``path`` (empty if there is none yet); creates nothing."""
        with ResultStore(path) if Path(path).is_file() else _NoStore() as store:
            return store.done_keys()

    # -- runs ---------------------------------------------------------------
    def done_keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM runs")}

    def put(self, key: str, result: Result, problem_path: str | None = None, options: dict | str | None = None,
            solver_version: str | None = None, blob: bytes | None = None) -> None:
        """Insert or replace one run, in its own transaction. ``key`` is a canonical key
        (:func:`run_key` of typed ``options``, or of their :func:`canonical_options` text, which
        is stored as it is); ``solver_version``: the version that key
        hashed (default: the Result's); ``blob``: ``result`` already encoded
        (:func:`~solverhub.bench.codec.encode_result`, as a compare worker sends it)."""
        self.put_many([(key, result, problem_path, options, solver_version, blob)])

    def put_many(self, runs: Iterable[tuple]) -> None:
        """Insert or replace several runs in one transaction: ``(key, result, problem_path,
        options, solver_version[, blob])`` tuples, as :meth:`put` takes them."""
        if not self._session_recorded:
            self.record_session()
        load1 = _load1()
        rows = [(key, result.problem, result.problem_hash, problem_path, result.solver,
                 solver_version or result.solver_version,
                 options if isinstance(options, str) else
                 canonical_options(options if options is not None else result.options), int(result.seed),
                 result.status.value, "", time.time(), blob if blob is not None else encode_result(result), load1)
                for key, result, problem_path, options, solver_version, blob in (
                    (*run, None) if len(run) == 5 else run for run in runs)]
        with self._transaction():
            self._db.executemany(f"INSERT OR REPLACE INTO runs ({_RUN_COLUMNS}, data, load1, key_form) "
                                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,1)", rows)

    def records(self, known: Mapping[str, Result] | None = None) -> list[RunRecord]:
        """Every run. ``known``: Results decoded from the very blobs stored under their keys (a
        compare's own runs), taken as they are instead of being decoded again."""
        known = known or {}
        rows = self._db.execute("SELECT key, problem_path, result, data FROM runs "
                                "ORDER BY problem, solver, seed, key")
        collecting = gc.isenabled()
        gc.disable()        # decoded runs hold no cycles: collections would only re-walk 10^5 of them
        try:
            return [RunRecord(key, path, known[key] if key in known else
                              Result.from_json(text) if blob is None else self._decode(key, blob))
                    for key, path, text, blob in rows]
        finally:
            if collecting:
                gc.enable()

    def _decode(self, key: str, blob: bytes) -> Result:
        try:
            return decode_result(blob)
        except (ValueError, zlib.error, struct.error) as err:
            raise OptionError(f"--store {self.path}: run {key} cannot be read ({err})",
                              allowed="the solverhub that wrote this store (upgrade), or another --store") from None

    def size_per_run(self) -> float:
        """Bytes per run of the stored Results (JSON text or compact blob)."""
        n, size = self._db.execute("SELECT COUNT(*), SUM(LENGTH(result) + IFNULL(LENGTH(data), 0)) "
                                   "FROM runs").fetchone()
        return (size or 0) / max(1, n)

    # -- the machine ----------------------------------------------------------
    def record_session(self, jobs: int | None = None) -> None:
        """Note the machine a compare runs on (platform, CPU count, ``jobs``, load average);
        a store that stores runs without it records one session with ``jobs`` unknown."""
        self._session_recorded = True
        with self._transaction():
            self._db.execute("INSERT INTO sessions VALUES (?,?,?,?,?)",
                             (time.time(), platform.platform(terse=True), os.cpu_count(), jobs, _load1()))

    def machine(self) -> dict[str, Any]:
        """What the runs were measured on: ``platforms``, ``cpu_counts``, ``jobs`` (sets over the
        recorded sessions), ``load1`` (the runs' 1-minute load averages: min, median, max) and
        ``runs_with_load``; empty sets where nothing was recorded (stores before schema 2)."""
        sessions = self._db.execute("SELECT platform, cpu_count, jobs FROM sessions").fetchall()
        loads = sorted(v for (v,) in self._db.execute("SELECT load1 FROM runs WHERE load1 IS NOT NULL"))
        return {"platforms": sorted({p for p, _, _ in sessions}),
                "cpu_counts": sorted({c for _, c, _ in sessions if c is not None}),
                "jobs": sorted({j for _, _, j in sessions if j is not None}),
                "load1": (loads[0], loads[len(loads) // 2], loads[-1]) if loads else None,
                "runs_with_load": len(loads)}

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
    def put_skipped(self, pairs: Iterable[tuple[str, str, object]]) -> None:
        """Store ``(problem, solver, refusal)`` pairs; the store keeps the refusal's text
        (a :class:`~solverhub.solver.Refusal` or a plain reason string)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO skipped VALUES (?,?,?)",
                                 [(problem, solver, str(reason)) for problem, solver, reason in pairs])

    def skipped(self) -> list[tuple[str, str, str]]:
        return list(self._db.execute("SELECT problem, solver, reason FROM skipped ORDER BY problem, solver"))

    # -- plumbing -----------------------------------------------------------
    def _transaction(self):
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
