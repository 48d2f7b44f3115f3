"""The hostile-input corpus: cases replayed through the real CLI in a subprocess.

A :class:`Case` is a folder of files (written into a fresh temporary folder), a
``solverhub`` command line run there, and what must come back: the exit status,
for usage errors exactly one ``error: file:line: ...`` line on stderr, no
traceback anywhere, and bounded time and peak memory (the child's peak RSS from
``os.wait4``, taken by the small launcher ``measure.py`` so that pytest's own
peak is not inherited through exec). Each ``cases_*.py`` module beside
this one holds a list ``CASES``; ``tests/test_hostile_corpus.py`` replays them all.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

DEFAULT_MAX_SECONDS = 60.0      # a hang guard, not a performance assertion
DEFAULT_MAX_RSS_MB = 1500.0     # torch + solverhub import is ~400 MB


@dataclass(frozen=True)
class Case:
    """One hostile input.

    ``files``: name -> text, bytes, or a callable ``f(path)`` that creates the file.
    ``args``: the command line after ``solverhub``; ``{dir}`` is replaced by the case's folder.
    ``at``: ``"p.yaml:3"`` (the error's ``file:line`` as the CLI prints it for a relative path), or
    ``"p.yaml:"`` for the file without a fixed line; ``None`` when the error has no file.
    ``contains``: fragments that must appear in the error line (or in stdout+stderr when ``exit != 2``).
    ``check``: an extra ``check(folder, completed)`` for what the line cannot show (a file still intact).
    """

    id: str
    files: Mapping[str, object]
    args: tuple[str, ...]
    exit: int = 2
    at: str | None = None
    contains: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    check: Callable | None = None
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_rss_mb: float = DEFAULT_MAX_RSS_MB


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    folder: Path


def materialize(case: Case, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(str(content))


def replay(case: Case, folder: Path) -> Outcome:
    """Run the case's command in ``folder``; measure wall time and the child's peak RSS."""
    materialize(case, folder)
    args = [a.replace("{dir}", str(folder)) for a in case.args]
    env = dict(os.environ, COLUMNS="200", **case.env)
    with open(folder / ".stdout", "w+b") as out, open(folder / ".stderr", "w+b") as err:
        t0 = time.perf_counter()
        measured = folder / ".measured"
        command = [sys.executable, str(_LAUNCHER), str(measured), sys.executable, "-m", "solverhub.cli", *args]
        proc = subprocess.Popen(command, cwd=folder, env=env,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        killer = threading.Timer(case.max_seconds * 2, lambda: _kill_group(proc.pid))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode, peak_kib = _measured(measured, status, usage)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Outcome(proc.returncode, stdout, stderr, seconds, peak_kib / 1024.0, folder)


_LAUNCHER = Path(__file__).with_name("measure.py")


def _measured(measured: Path, status: int, usage) -> tuple[int, int]:
    """The CLI's exit code and peak RSS (KiB) as the launcher wrote them; the launcher's own
    when it was killed before writing (a hang killed by the guard)."""
    try:
        code, peak = measured.read_text().split()
        return int(code), int(peak)
    except (OSError, ValueError):
        return os.waitstatus_to_exitcode(status), usage.ru_maxrss


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, 9)
    except OSError:
        pass


def verify(case: Case, got: Outcome) -> None:
    """Assert everything the corpus promises for ``case``."""
    both = got.stdout + got.stderr
    assert "Traceback" not in both, f"[{case.id}] traceback:\n{both[-3000:]}"
    assert got.returncode == case.exit, f"[{case.id}] exit {got.returncode} != {case.exit}:\n{both[-3000:]}"
    assert got.seconds < case.max_seconds, f"[{case.id}] took {got.seconds:.1f} s"
    assert got.peak_rss_mb < case.max_rss_mb, f"[{case.id}] peak RSS {got.peak_rss_mb:.0f} MB"
    if case.exit == 2:
        lines = got.stderr.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: "), f"[{case.id}] not one error line:\n{got.stderr}"
        line = lines[0]
        if case.at is not None:
            assert line.startswith(f"error: {case.at}"), f"[{case.id}] expected at {case.at!r}: {line}"
        for fragment in case.contains:
            assert fragment in line, f"[{case.id}] {fragment!r} not in: {line}"
    else:
        for fragment in case.contains:
            assert fragment in both, f"[{case.id}] {fragment!r} not in output:\n{both[-3000:]}"
    if case.check is not None:
        case.check(got.folder, got)


def all_cases() -> list[Case]:
    """Every ``CASES`` list of the ``cases_*.py`` modules in this folder."""
    import importlib.util
    cases: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        spec = importlib.util.spec_from_file_location(f"hostile_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        cases.extend(module.CASES)
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate case ids: {duplicates}"
    return cases


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/: the shared problem texts
from texts import RIDGE  # noqa: E402,F401  (cases derive hostile variants with ``RIDGE.replace(...)``)
