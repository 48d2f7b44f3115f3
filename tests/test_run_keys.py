"""One configuration is one run: run keys and labels from typed canonical options, and the
migration of stores whose keys hashed the options as the user typed them (schema 0)."""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from solverhub.bench.problemset import collect_entries, parse_solver_spec
from solverhub.bench.runner import plan_compare, run_compare
from solverhub.bench.store import ResultStore
from solverhub.bench.summary import summarize
from solverhub.bench.tasks import RunTask, failed_result, run_task
from solverhub.errors import OptionError
from solverhub.registry import get_registry
from solverhub.result import Status

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from kit import RIDGE  # noqa: E402  (a 3-unknown ridge problem: runs take milliseconds)


@pytest.fixture()
def ridge(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(RIDGE)
    return path


def _plan(path, *specs, seeds=1, common=None, done=()):
    return plan_compare(collect_entries([path]), [parse_solver_spec(s) for s in specs], seeds, set(done),
                        common_options=common)


def _keys(path, spec, common=None):
    return [t.key for t in _plan(path, spec, seeds=2, common=common).tasks]


# -- keys and labels -----------------------------------------------------------------------------
SPELLINGS = [
    # (one configuration written several ways, as (solver spec, --option values))
    [("gd:lr=0.01", None), ("gd:lr=1e-2", None), ("gd:lr=.01", None), ("gd:lr=0.010", None)],
    [("gd:max-iterations=50", None), ("gd:max_iterations=50.0", None), ("gd:max_iterations=5e1", None),
     ("gd", {"max_iterations": "50"}), ("gd", {"max-iterations": 50})],
    [("gd:backtracking=true", None), ("gd:backtracking=True", None), ("gd:backtracking=1", None),
     ("gd:backtracking=yes", None)],
    [("gd:lr=0.01,backtracking=false", None), ("gd:backtracking=0,lr=1e-2", None),
     ("gd:backtracking=False", {"lr": ".01"})],
    [("adagrad:grad_stats=off", None), ("adagrad:grad-stats=off", None)],
]


@pytest.mark.parametrize("spellings", SPELLINGS, ids=lambda s: s[0][0])
def test_spellings_of_one_configuration_are_one_key(ridge, spellings):
    keys = [_keys(ridge, spec, common) for spec, common in spellings]
    assert all(k == keys[0] for k in keys), keys
    assert len(set(keys[0])) == 2                    # the two seeds are two runs


def test_labels_are_canonical(ridge):
    labels = {spec: _plan(ridge, spec).tasks[0].label
              for spec in ("gd:lr=1e-2", "gd:lr=.01", "gd:backtracking=True,max-iterations=50.0")}
    assert labels["gd:lr=1e-2"] == labels["gd:lr=.01"] == f"gd:lr={float('1e-2')!r}"
    assert labels["gd:backtracking=True,max-iterations=50.0"] == f"gd:backtracking=true,max_iterations={int(50.0)}"


def test_one_compare_with_two_spellings_plans_one_configuration(ridge):
    plan = _plan(ridge, "gd:lr=0.01", "gd:lr=1e-2", "gd:lr=.01", "gd:lr=0.02", "gd", "gd:lr=1e-2,backtracking=false",
                 "gd:backtracking=0,lr=0.01", seeds=3)
    configurations = 4                                    # lr 0.01, lr 0.02, defaults, lr 0.01 without backtracking
    assert len(plan.tasks) == 3 * configurations and len(set(plan.keys)) == 3 * configurations
    assert len({t.label for t in plan.tasks}) == configurations


def test_key_and_stored_options_are_the_same_in_another_process(ridge, tmp_path):
    """A fresh interpreter (another hash seed) spelling the option differently finds the same key,
    and the store's options column holds typed values."""
    code = textwrap.dedent(f"""
        from solverhub.bench.problemset import collect_entries, parse_solver_spec
        from solverhub.bench.runner import plan_compare
        plan = plan_compare(collect_entries([{str(ridge)!r}]), [parse_solver_spec("gd:lr=1e-2,max-iterations=5.0")],
                            1, set())
        print(plan.tasks[0].key)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONHASHSEED="12345")).stdout.split()[-1]
    plan = _plan(ridge, "gd:lr=0.01,max_iterations=5")
    assert plan.tasks[0].key == out
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_compare(plan, store)
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        (options,), = db.execute("SELECT options FROM runs").fetchall()
    assert json.loads(options) == {"lr": float("1e-2"), "max_iterations": int("5")}


def test_bad_options_fail_before_any_run_even_if_every_problem_refuses_the_solver(ridge, tmp_path):
    # extragradient takes monotone/minimax problems only: every pair is skipped, yet its option is checked.
    with pytest.raises(OptionError, match="'step' expects a number"):
        _plan(ridge, "extragradient:step=abc")
    with pytest.raises(OptionError, match="unknown option 'foo'.*allowed: .*step"):
        _plan(ridge, "extragradient:foo=1")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: b\nkind: minimize\nobjective: 'nope(x)'\n")   # loads, but no problem
    with pytest.raises(OptionError, match="'max_iterations' expects an integer"):   # options before problems
        _plan(broken, "gd", common={"max_iterations": "2.5"})
    with pytest.raises(OptionError, match="given twice"):
        _plan(ridge, "gd:max-iterations=5,max_iterations=6")


def test_a_run_that_never_reached_the_solver_has_the_label_of_its_configuration(ridge, tmp_path, monkeypatch):
    """Seed 1 is killed (time limit) before the solver reports: it is still one configuration with
    seed 0 in the table, and its row carries the solver version its key was made with."""
    from solverhub.bench import pool

    def fake_run(self, tasks, on_result, **_):     # (tick=, settle=: the runs are committed after it)
        for task in tasks:
            on_result(task, run_task(task) if task.seed == 0 else
                      failed_result(task, Status.TIME_LIMIT, "killed after 1.0 s").to_json())
    monkeypatch.setattr(pool.WorkerPool, "run", fake_run)
    plan = _plan(ridge, "gd:lr=1e-2", seeds=2, common={"max_iterations": "5"})
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_compare(plan, store)
        results = store.results()
    rows = summarize(results)
    assert len(rows) == 1 and rows[0].runs == 2, [(r.solver, r.runs) for r in rows]
    killed = next(r for r in results if r.seed == 1)
    assert killed.solver_version == get_registry().solvers["gd"].version
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        versions = {v for (v,) in db.execute("SELECT solver_version FROM runs")}
    assert versions == {get_registry().solvers["gd"].version}


# -- migration of schema-0 stores ------------------------------------------------------------------
# The store format before canonical keys, written out here (not imported) so that this test keeps
# describing the old files whatever the store module becomes.
OLD_SCHEMA = """
CREATE TABLE runs (key TEXT PRIMARY KEY, problem TEXT NOT NULL, problem_hash TEXT NOT NULL, problem_path TEXT,
    solver TEXT NOT NULL, solver_version TEXT NOT NULL, options TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE baselines (problem_hash TEXT PRIMARY KEY, problem TEXT NOT NULL, status TEXT NOT NULL, objective REAL,
    message TEXT);
CREATE TABLE skipped (problem TEXT NOT NULL, solver TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (problem, solver));
"""


def old_options_text(options):
    return json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)


def old_run_key(problem_hash, solver, version, options, seed):
    text = "\x1f".join([problem_hash, solver, version, old_options_text(options), str(int(seed))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def build_old_store(path, problem_path, rows):
    """``rows``: (options as the user typed them, seed, solved?, created, label, key or None).
    The old compare keyed a run by the registry's version; a run that never reached the solver
    stored Result.solver_version "0" (the Result default)."""
    from solverhub import load_problem, solve
    problem = load_problem(problem_path)
    version = get_registry().solvers["gd"].version
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    for options, seed, solved, created, label, key in rows:
        task = RunTask(key="", problem_path=str(problem_path), problem_name=problem.name,
                       problem_hash=problem.content_hash, solver="gd", seed=seed, options=options)
        if solved:
            result = solve(problem, "gd", options=options, seed=seed, device="cpu")
        else:
            result = failed_result(task, Status.FAILED, f"worker process died (written at {created})")
        result = result.replace(extras={**result.extras, "label": label})
        db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (key or old_run_key(problem.content_hash, "gd", version, options, seed), problem.name,
                    problem.content_hash, str(problem_path), "gd", result.solver_version, old_options_text(options),
                    seed, result.status.value, result.to_json(), created))
    db.commit()
    db.close()
    return problem


T0 = 1_700_000_000.0
OLD_ROWS = [
    # seed 0 written three ways: one configuration run three times; the most recent (T0 + 3) is kept
    ({"lr": "0.01", "max_iterations": "5"}, 0, True, T0 + 1, "gd:lr=0.01", None),
    ({"lr": "1e-2", "max-iterations": "5"}, 0, False, T0 + 3, "gd:lr=1e-2", None),
    ({"max_iterations": "5.0", "lr": ".01"}, 0, True, T0 + 2, "gd:lr=.01", None),
    # seed 1 once, a run that never reached the solver (version "0" in its row)
    ({"lr": "0.01", "max_iterations": "5"}, 1, False, T0 + 1, "gd:lr=0.01", None),
    # another configuration, solved on seed 0 and killed on seed 1: stays its own two runs
    ({"lr": "0.02", "max_iterations": "5"}, 0, True, T0 + 1, "gd:lr=0.02", None),
    ({"lr": "2e-2", "max-iterations": "5"}, 1, False, T0 + 1, "gd:lr=2e-2", None),
    # written by hand through the API under its own key: kept as it is
    ({}, 0, True, T0 + 1, "gd", "my-own-key"),
]


def _distinct_configurations(rows):
    out = set()
    for options, seed, *_ in rows:
        typed = {k.replace("-", "_"): float(v) if k == "lr" else int(float(v)) for k, v in options.items()}
        out.add((json.dumps(typed, sort_keys=True), seed))
    return out


def _table(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_old_store_is_rekeyed_on_open_and_resume_skips_its_runs(ridge, tmp_path):
    store_path = tmp_path / "old.sqlite"
    build_old_store(store_path, ridge, OLD_ROWS)
    assert _table(store_path, "PRAGMA user_version") == [(0,)]
    with ResultStore(store_path) as store:
        results = store.results()
        keys = store.done_keys()
    assert _table(store_path, "PRAGMA user_version") == [(2,)]          # schema 2: compact runs
    # one row per configuration and seed, no duplicate; the collapsed ones are kept aside
    assert len(results) == len(_distinct_configurations(OLD_ROWS)) == len(keys)
    rows = _table(store_path, "SELECT options, seed, created, key FROM runs WHERE key != 'my-own-key'")
    assert len({(o, s) for o, s, _, _ in rows}) == len(rows)
    seed0 = [r for r in rows if r[1] == 0 and json.loads(r[0])["lr"] == float("0.01")]
    assert [r[2] for r in seed0] == [max(c for o, s, _, c, *_ in OLD_ROWS[:3])]     # the most recent one
    assert sorted(c for (c,) in _table(store_path, "SELECT created FROM superseded_runs")) == \
        sorted(c for o, s, _, c, *_ in OLD_ROWS[:3])[:-1]
    assert ("my-own-key",) in _table(store_path, "SELECT key FROM runs")
    # every re-keyed row's options are typed, and the labels of one configuration are one
    assert all(isinstance(json.loads(o)["lr"], float) for o, *_ in rows)
    labels = {r.extras["label"] for r in results if r.options.get("lr") == float("0.01")}
    assert labels == {f"gd:lr={float('0.01')!r}"}
    # a compare spelled yet another way finds every run of its configuration
    plan = _plan(ridge, "gd:lr=.010", seeds=2, common={"max-iterations": "5"}, done=ResultStore.existing_keys(store_path))
    assert plan.tasks == [] and len(plan.done) == 2
    # the table has one row per configuration (a killed seed is not a configuration of its own)
    table = {row.solver: row.runs for row in summarize(results)}
    per_configuration = {}
    for options, seed, *_ in OLD_ROWS:
        per_configuration.setdefault(json.dumps({k.replace("-", "_"): float(v) for k, v in options.items()},
                                                sort_keys=True), set()).add(seed)
    assert sorted(table.values()) == sorted(len(seeds) for seeds in per_configuration.values()), table


def test_resume_through_the_cli_over_an_old_store_runs_nothing(ridge, tmp_path):
    store_path = tmp_path / "old.sqlite"
    build_old_store(store_path, ridge, OLD_ROWS)
    proc = subprocess.run([sys.executable, "-m", "solverhub.cli", "compare", str(ridge), "--solver", "gd:lr=1e-2",
                           "--option", "max_iterations=5", "--seeds", "2", "--no-baseline", "--store", str(store_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "2 already in" in proc.stdout and "0 to do" in proc.stdout, proc.stdout
    assert _table(store_path, "SELECT COUNT(*) FROM runs") == [(len(_distinct_configurations(OLD_ROWS)),)]


def test_rows_of_a_solver_not_installed_stay_legacy_and_readable(ridge, tmp_path):
    store_path = tmp_path / "old.sqlite"
    build_old_store(store_path, ridge, OLD_ROWS[:1])
    db = sqlite3.connect(store_path)
    db.execute("UPDATE runs SET solver = 'ghost', key = 'ghost-key'")
    db.commit()
    db.close()
    for _ in range(2):                                   # a later open tries again, and still keeps it
        with ResultStore(store_path) as store:
            assert store.done_keys() == {"ghost-key"} and len(store.results()) == 1
    assert _table(store_path, "SELECT key_form FROM runs") == [(0,)]


def test_migration_is_atomic(ridge, tmp_path, monkeypatch):
    """A migration that dies half-way (as under kill -9) leaves the old store as it was; the next
    open migrates it completely."""
    from solverhub.bench import store as store_module
    store_path = tmp_path / "old.sqlite"
    build_old_store(store_path, ridge, OLD_ROWS)
    before = _table(store_path, "SELECT key, options, result FROM runs ORDER BY key")
    calls = []
    real = store_module.run_key

    def dying_run_key(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(*args)
    monkeypatch.setattr(store_module, "run_key", dying_run_key)
    with pytest.raises(KeyboardInterrupt):
        ResultStore(store_path)
    assert _table(store_path, "SELECT key, options, result FROM runs ORDER BY key") == before
    assert _table(store_path, "SELECT COUNT(*) FROM superseded_runs") == [(0,)]
    monkeypatch.setattr(store_module, "run_key", real)
    with ResultStore(store_path) as store:
        assert store.count() == len(_distinct_configurations(OLD_ROWS))


def test_two_processes_opening_an_old_store_at_once_migrate_it_once(ridge, tmp_path):
    store_path = tmp_path / "old.sqlite"
    build_old_store(store_path, ridge, OLD_ROWS)
    code = textwrap.dedent(f"""
        import sys
        from solverhub.bench.store import ResultStore
        from solverhub.bench.tasks import RunTask, failed_result
        from solverhub.result import Status
        with ResultStore({str(store_path)!r}) as store:
            for i in range(20):                              # and write while the other migrates
                t = RunTask(key=f"{{sys.argv[1]}}-{{i}}", problem_path="p", problem_name="p", problem_hash="h",
                            solver="s", seed=i)
                store.put(t.key, failed_result(t, Status.FAILED, "x"))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)]) for w in range(2)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    migrated = len(_distinct_configurations(OLD_ROWS))
    assert _table(store_path, "SELECT COUNT(*), COUNT(DISTINCT key) FROM runs") == [(migrated + 40, migrated + 40)]
    assert _table(store_path, "SELECT COUNT(*) FROM superseded_runs") == [(len(OLD_ROWS) - migrated,)]
    assert _table(store_path, "SELECT COUNT(*) FROM runs WHERE key_form = 0") == [(0,)]


def test_a_store_from_a_newer_solverhub_is_refused(tmp_path):
    store_path = tmp_path / "new.sqlite"
    ResultStore(store_path).close()
    db = sqlite3.connect(store_path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(OptionError, match="newer solverhub"):
        ResultStore(store_path)
