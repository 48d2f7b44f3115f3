"""Mutation audit: do a plugin's own tests notice a realistic slip in its code?

    python benchmarks/mutation_audit.py [--plugin NAME]... [--jobs N] [--json]
                                        [--timeout S] [--no-baseline] [--check] [--dry-run]

Reads every ``benchmarks/mutations/<plugin>.yaml``: a list of

    - file: plugins/<plugin>/solverhub_<pkg>/solver.py   # repo-relative
      find: "0.5 * B @ delta"                           # must occur exactly once in the file
      replace: "B @ delta"
      breaks: "played step drops the 1/2 on B_n Delta_n (paper eq. 7)"

For each mutation: a fresh temporary copy of the repository (the files of
``git ls-files -co --exclude-standard``, snapshotted once at start), the one
replacement applied there, then ``python -m pytest -q -x -p no:cacheprovider
plugins/<plugin>/tests`` run in the copy with the copy's root and every copied
``plugins/*`` directory first on PYTHONPATH, so the copy's code is what gets
imported (the editable installs in the venv are meta-path finders appended
after sys.path). A failing run is *caught*; a run past the per-mutant timeout
counts as caught and is reported as a hang. Before the mutants, each plugin's
unmutated tests run once in a copy (the baseline: they must pass, and their time
sets the default timeout, 4x the baseline, at least 120 s).

``--dry-run`` only checks the lists (keys, and that every ``find`` occurs exactly
once in its file): fast, and run by tests/test_mutation_audit.py so the lists
cannot rot. ``--check`` prints the ``__file__`` of the modules the copy imports
and verifies that a mutation breaking the plugin's import is caught.
``--json``: the last line of stdout is
``{"caught": N, "total": M, "missed": [{"plugin", "file", "breaks"}, ...], "hangs": [...], "seconds": S}``.
Exit status: 0 when the audit ran (whatever it caught), 1 when a baseline or the
self-check failed, 2 on a bad mutation list.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mutation", "MutationListError", "load_mutations", "check_mutations", "main"]

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("file", "find", "replace", "breaks")
SELF_CHECK = 'raise ImportError("mutation-audit self-check: this import must fail")\n'


class MutationListError(Exception):
    """A bad mutation list: the message is one ``file:line: what; allowed: ...`` line."""


@dataclass(frozen=True)
class Mutation:
    plugin: str      # whose tests run (the list's file stem)
    file: str        # repo-relative path of the mutated file
    find: str
    replace: str
    breaks: str
    where: str       # "benchmarks/mutations/<plugin>.yaml:<line>"


# -- the lists -------------------------------------------------------------------------
def load_mutations(root: Path, plugins: list[str] | None = None) -> list[Mutation]:
    """Parse ``benchmarks/mutations/*.yaml`` under ``root`` (only ``plugins`` when given)."""
    import yaml

    folder = root / "benchmarks" / "mutations"
    lists = sorted(folder.glob("*.yaml"))
    known = [p.stem for p in lists]
    for name in plugins or []:
        if name not in known:
            raise MutationListError(f"benchmarks/mutations/{name}.yaml:1: no mutation list for plugin "
                                    f"{name!r}; allowed: {', '.join(known) or '(none)'}")
    out = []
    for path in lists:
        if plugins and path.stem not in plugins:
            continue
        rel = path.relative_to(root).as_posix()
        try:
            node = yaml.compose(path.read_text())
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", 0) + 1
            raise MutationListError(f"{rel}:{line}: not valid YAML ({getattr(err, 'problem', err)}); "
                                    f"allowed: a list of mappings with keys {', '.join(KEYS)}") from None
        if node is None:
            continue
        if not isinstance(node, yaml.SequenceNode):
            raise MutationListError(f"{rel}:{node.start_mark.line + 1}: expected a list of mutations; "
                                    f"allowed: a list of mappings with keys {', '.join(KEYS)}")
        for item in node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.MappingNode):
                raise MutationListError(f"{rel}:{line}: a mutation must be a mapping; "
                                        f"allowed: keys {', '.join(KEYS)}")
            fields = {}
            for key, value in item.value:
                kline = key.start_mark.line + 1
                if key.value not in KEYS or key.value in fields:
                    what = "repeated" if key.value in fields else "unknown"
                    raise MutationListError(f"{rel}:{kline}: {what} key {key.value!r}; allowed: {', '.join(KEYS)}")
                if not isinstance(value, yaml.ScalarNode) or not value.value.strip() and key.value != "replace":
                    raise MutationListError(f"{rel}:{kline}: {key.value!r} must be a non-empty string; "
                                            f"allowed: a quoted string")
                fields[key.value] = value.value
            missing = [k for k in KEYS if k not in fields]
            if missing:
                raise MutationListError(f"{rel}:{line}: missing key(s) {', '.join(missing)}; "
                                        f"allowed: {', '.join(KEYS)}")
            if fields["find"] == fields["replace"]:
                raise MutationListError(f"{rel}:{line}: replace equals find (no mutation); "
                                        f"allowed: a different replacement")
            out.append(Mutation(path.stem, fields["file"], fields["find"], fields["replace"],
                                fields["breaks"], f"{rel}:{line}"))
    return out


def check_mutations(root: Path, mutations: list[Mutation]) -> None:
    """Every mutated file exists in the repo and every ``find`` occurs exactly once in it."""
    for m in mutations:
        target = root / m.file
        if not target.is_file():
            raise MutationListError(f"{m.where}: file {m.file!r} does not exist; "
                                    f"allowed: a repo-relative path of a tracked file")
        count = target.read_text().count(m.find)
        if count != 1:
            raise MutationListError(f"{m.where}: find {m.find!r} occurs {count} times in {m.file}; "
                                    f"allowed: text occurring exactly once")


# -- copies and runs -------------------------------------------------------------------
def snapshot(root: Path, into: Path) -> Path:
    """Copy the tracked and untracked-not-ignored files of ``root`` into ``into``/repo."""
    listing = subprocess.run(["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
                             check=True, capture_output=True).stdout.decode().split("\0")
    dest = into / "repo"
    for rel in filter(None, listing):
        src = root / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def test_env(copy: Path, plugin: str) -> dict[str, str]:
    """PYTHONPATH: the mutated plugin's dir, then the copy's root and other plugin dirs."""
    first = copy / "plugins" / plugin
    others = sorted(p for p in (copy / "plugins").glob("*") if p.is_dir() and p != first)
    old = os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(first), str(copy), *map(str, others)] + ([old] if old else [])))
    return env


@dataclass
class Outcome:
    failed: bool      # the tests failed (or hung): the mutant is caught
    hung: bool
    seconds: float
    tail: str


def run_tests(copy: Path, plugin: str, timeout: float) -> Outcome:
    """``pytest -x`` on ``plugins/<plugin>/tests`` of ``copy``; kill the process group on timeout."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", f"plugins/{plugin}/tests"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=copy, env=test_env(copy, plugin), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return Outcome(True, True, time.perf_counter() - t0, out.decode(errors="replace")[-2000:])
    return Outcome(proc.returncode != 0, False, time.perf_counter() - t0, out.decode(errors="replace")[-2000:])


def in_copy(template: Path, edit=None):
    """A fresh copy of the snapshot (``edit(copy)`` applied), removed on exit."""
    class _Copy:
        def __enter__(self):
            self.tmp = Path(tempfile.mkdtemp(prefix="mutant-"))
            self.path = self.tmp / "repo"
            shutil.copytree(template, self.path, symlinks=True)
            if edit is not None:
                edit(self.path)
            return self.path

        def __exit__(self, *exc):
            shutil.rmtree(self.tmp, ignore_errors=True)
    return _Copy()


def apply(m: Mutation):
    def edit(copy: Path):
        target = copy / m.file
        text = target.read_text()
        if text.count(m.find) != 1:
            raise MutationListError(f"{m.where}: find {m.find!r} occurs {text.count(m.find)} times in "
                                    f"{m.file}; allowed: text occurring exactly once")
        target.write_text(text.replace(m.find, m.replace))
    return edit


def package_dir(copy: Path, plugin: str) -> Path:
    """The plugin's importable package (the ``solverhub_*`` dir under plugins/<plugin>)."""
    found = sorted(p for p in (copy / "plugins" / plugin).glob("solverhub_*") if (p / "__init__.py").is_file())
    if not found:
        raise MutationListError(f"benchmarks/mutations/{plugin}.yaml:1: no package plugins/{plugin}/solverhub_*; "
                                f"allowed: a plugin directory holding its package")
    return found[0]


def self_check(template: Path, plugin: str, timeout: float) -> bool:
    """Print what the copy imports; a mutation that breaks the import must be caught."""
    with in_copy(template) as copy:
        pkg = package_dir(copy, plugin).name
        probe = f"import {pkg}, solverhub; print({pkg}.__file__); print(solverhub.__file__)"
        out = subprocess.run([sys.executable, "-c", probe], cwd=copy, env=test_env(copy, plugin),
                             capture_output=True, text=True)
        files = out.stdout.split()
        print(f"[check] {plugin}: imports {' and '.join(files) or out.stderr.strip()[-300:]}")
        inside = len(files) == 2 and all(Path(f).resolve().is_relative_to(copy.resolve()) for f in files)
        if not inside:
            print(f"[check] {plugin}: FAIL: the copy's modules are not the ones imported")
            return False

    def breaks_import(copy: Path):
        init = package_dir(copy, plugin) / "__init__.py"
        init.write_text(SELF_CHECK + init.read_text())
    with in_copy(template, breaks_import) as copy:
        outcome = run_tests(copy, plugin, timeout)
    print(f"[check] {plugin}: import-breaking mutant {'caught' if outcome.failed else 'MISSED'} "
          f"({outcome.seconds:.1f} s)")
    return outcome.failed


# -- driver ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugin", action="append", help="only this plugin's list (repeatable)")
    ap.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    ap.add_argument("--json", action="store_true", help="last line of stdout: a JSON summary")
    ap.add_argument("--timeout", type=float, default=None,
                    help="per-mutant seconds (default: 4x the plugin's baseline, at least 120; 600 without one)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of each plugin's tests")
    ap.add_argument("--check", action="store_true", help="self-check the isolation, then stop")
    ap.add_argument("--dry-run", action="store_true", help="only check the lists (each find occurs once)")
    ap.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.jobs < 1:
        print(f"{sys.argv[0]}:1: --jobs {args.jobs}; allowed: an integer >= 1", file=sys.stderr)
        return 2
    root = args.root.resolve()
    t0 = time.perf_counter()
    try:
        mutations = load_mutations(root, args.plugin)
        check_mutations(root, mutations)
    except MutationListError as err:
        print(err, file=sys.stderr)
        return 2
    plugins = sorted({m.plugin for m in mutations} | set(args.plugin or []))
    if args.dry_run:
        print(f"{len(mutations)} mutations of {len(plugins)} plugins: every find occurs exactly once")
        if args.json:
            print(json.dumps({"mutations": len(mutations), "plugins": plugins}))
        return 0

    with tempfile.TemporaryDirectory(prefix="mutation-audit-") as tmp:
        template = snapshot(root, Path(tmp))
        if args.check:
            ok = all(self_check(template, p, args.timeout or 600) for p in plugins)
            print(f"[check] {'ok' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
            return 0 if ok else 1

        timeouts = {p: args.timeout or 600.0 for p in plugins}
        if not args.no_baseline:
            def baseline(p):
                with in_copy(template) as copy:
                    return p, run_tests(copy, p, args.timeout or 1800)
            with ThreadPoolExecutor(args.jobs) as pool:
                bad = []
                for p, o in pool.map(baseline, plugins):
                    print(f"[baseline] {p}: {'FAIL' if o.failed else 'pass'} ({o.seconds:.1f} s)", flush=True)
                    if o.failed:
                        bad.append(p)
                        print(o.tail, file=sys.stderr)
                    timeouts[p] = args.timeout or max(120.0, 4 * o.seconds)
            if bad:
                print(f"unmutated tests fail for {', '.join(bad)}: the audit would be meaningless", file=sys.stderr)
                return 1

        def one(m: Mutation):
            with in_copy(template, apply(m)) as copy:
                return m, run_tests(copy, m.plugin, timeouts[m.plugin])

        caught, missed, hangs = 0, [], []
        with ThreadPoolExecutor(args.jobs) as pool:
            for m, o in pool.map(one, mutations):
                verdict = "caught (hang)" if o.hung else "caught" if o.failed else "MISSED"
                print(f"{verdict:13s} {o.seconds:6.1f} s  {m.where}  {m.breaks}", flush=True)
                caught += o.failed
                entry = {"plugin": m.plugin, "file": m.file, "breaks": m.breaks}
                if not o.failed:
                    missed.append(entry)
                if o.hung:
                    hangs.append(entry)
    seconds = time.perf_counter() - t0
    total = len(mutations)
    print(f"caught {caught}/{total} ({100 * caught / max(total, 1):.0f}%), {len(hangs)} by timeout; "
          f"run time {seconds:.0f} s with --jobs {args.jobs}")
    if args.json:
        print(json.dumps({"caught": caught, "total": total, "missed": missed, "hangs": hangs,
                          "seconds": round(seconds, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
