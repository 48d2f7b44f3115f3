"""What a compare runs on: problem files, folders of them, and problem-set YAML
files (``problems:`` listing files with per-problem ``set:`` overrides); and
solver specs ``name[:key=value,...]``."""
from __future__ import annotations

__all__ = ["ProblemEntry", "SolverSpec", "collect_entries", "load_entry", "parse_solver_spec",
           "read_yaml_file"]

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import Location, OptionError, ProblemError, SolverhubError


@dataclass(frozen=True)
class ProblemEntry:
    """One problem of a compare: a file and its parameter overrides. ``origin`` and ``label``
    (``problems[1]``) say where a problem set listed it; errors in it are reported there."""

    path: Path
    overrides: dict = field(default_factory=dict)
    origin: Location | None = field(default=None, compare=False)
    label: str = field(default="", compare=False)


@dataclass(frozen=True)
class SolverSpec:
    name: str
    options: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.options:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))


def parse_solver_spec(text: str) -> SolverSpec:
    """``adam:lr=0.01,beta1=0.8`` -> SolverSpec("adam", {"lr": "0.01", "beta1": "0.8"})."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise OptionError(f"malformed --solver {text!r}", allowed="NAME or NAME:key=value,key=value")
    options = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"malformed --solver {text!r}: {item!r} is not key=value",
                              allowed="NAME or NAME:key=value,key=value")
        options[key.strip()] = value.strip()
    return SolverSpec(name, options)


def read_yaml_file(path: Path) -> tuple[object, object]:
    """Parse a YAML file safely: it must be a regular file (a FIFO would block the read, a
    device never ends) no larger than ``MAX_YAML_BYTES`` (checked on the open file *before*
    reading it; at most that many bytes are ever read) and UTF-8 text; errors are
    ``file:line``. Returns ``(data, LineMap)``."""
    import os
    import stat

    from ..outputs import kind_of
    from ..problem.yamlsafe import MAX_YAML_BYTES, load_yaml
    where = Location(str(path), 1)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ProblemError(f"{path} is {kind_of(mode)}, not a problem file", location=Location(str(path)),
                               allowed="regular .yaml files, folders of them, problem-set files")
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ProblemError(f"{path} is {kind_of(st.st_mode)}, not a problem file",
                                   location=Location(str(path)))
            if st.st_size > MAX_YAML_BYTES:
                raise ProblemError(f"file larger than {MAX_YAML_BYTES} bytes ({st.st_size} bytes)", location=where,
                                   allowed=f"problem files up to {MAX_YAML_BYTES} bytes (put data in .npy/.csv files)")
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as err:
        raise ProblemError(f"cannot read {path}: {err.strerror or err}", location=Location(str(path))) from None
    if len(raw) > MAX_YAML_BYTES:      # it grew after the stat
        raise ProblemError(f"file larger than {MAX_YAML_BYTES} bytes", location=where,
                           allowed=f"problem files up to {MAX_YAML_BYTES} bytes (put data in .npy/.csv files)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        bad = raw[err.start:err.start + 2].hex(" ")
        kind = " (it starts with a UTF-16 byte order mark)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ProblemError(f"not UTF-8 text: byte(s) {bad} at offset {err.start}{kind}",
                           location=Location(str(path), line), allowed="UTF-8 encoded YAML") from None
    return load_yaml(text, str(path))


def _is_set_data(data) -> bool:
    return isinstance(data, dict) and "problems" in data and "kind" not in data


def _is_problem_set(path: Path) -> tuple[bool, object, object]:
    data, lines = read_yaml_file(path)
    return _is_set_data(data), data, lines


def _may_be_problem_set(path: Path) -> bool:
    """False when ``path`` cannot be a problem set: its bytes never spell ``problems`` and hold
    no backslash (an escape could spell the key). Spares a folder's problem files a YAML
    parse here (their loader parses them anyway); an unreadable file says True (the parse
    reports it)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
    except OSError:
        return True
    return b"problems" in raw or b"\\" in raw or len(raw) >= 1 << 20


def _entry_error(entry: ProblemEntry, err: SolverhubError) -> ProblemError:
    """An error inside a set entry, reported at the set file's line with the inner ``file:line``."""
    inner = str(err.location)
    text = f"{entry.label}: {inner + ': ' if inner else ''}{err.message}"
    return ProblemError(text, location=entry.origin, allowed=err.allowed)


def load_entry(entry: ProblemEntry):
    """Load the problem of ``entry`` with its overrides. For an entry of a problem set, any
    error names the set file and the entry's line first, then the problem's own ``file:line``."""
    from ..problem.model import load_problem
    if entry.origin is None:
        return load_problem(entry.path, overrides=entry.overrides)
    try:
        return load_problem(entry.path, overrides=entry.overrides)
    except SolverhubError as err:
        raise _entry_error(entry, err) from None


def _inside(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


def _set_entries(path: Path, data: dict, lines, *, allow_outside: bool = False,
                 validate: bool = True) -> list[ProblemEntry]:
    import os
    import stat

    from ..outputs import kind_of
    items = data.get("problems")
    where = Location(str(path), lines.line_of(("problems",)))
    if not isinstance(items, list) or not items:
        raise ProblemError("problems: a problem set lists problem files", location=where,
                           allowed="problems: [file.yaml, {path: file.yaml, set: {param: value}}]")
    unknown = set(data) - {"name", "description", "problems"}
    if unknown:
        raise ProblemError(f"unknown key(s) {sorted(unknown)} in a problem set", location=where,
                           allowed="name, description, problems")
    try:
        root = path.parent.resolve()
        self_real = path.resolve()
    except (OSError, RuntimeError) as err:
        raise ProblemError(f"cannot resolve the folder of {path}: {err}", location=Location(str(path))) from None
    inside_rule = ("problem files inside the set file's folder " + str(root)
                   + " (or compare --allow-outside-set)")
    out = []
    for i, item in enumerate(items):
        label = f"problems[{i}]"
        loc = Location(str(path), lines.line_of(("problems", i)))
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or set(item) - {"path", "set"}:
            raise ProblemError(f"{label}: expected a file name or {{path, set}}", location=loc,
                               allowed="path, set")
        rel = item["path"]
        overrides = item.get("set") or {}
        if not isinstance(overrides, dict):
            raise ProblemError(f"{label}.set: expected a mapping of parameter: value", location=loc)
        if not rel.strip() or "\x00" in rel:
            raise ProblemError(f"{label}: {rel!r} is not a file name", location=loc, allowed=inside_rule)
        try:
            real = (root / rel).resolve()
        except (OSError, RuntimeError, ValueError) as err:   # a symlink loop
            raise ProblemError(f"{label}: {rel!r} is not a usable path: {err}", location=loc,
                               allowed=inside_rule) from None
        if not allow_outside and (Path(rel).is_absolute() or not _inside(root, real)):
            raise ProblemError(f"{label}: {rel!r} is outside the problem set's folder", location=loc,
                               allowed=inside_rule)
        target = path.parent / rel
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            raise ProblemError(f"{label}: no such problem file {rel!r}", location=loc, allowed=inside_rule) from None
        except OSError as err:
            raise ProblemError(f"{label}: cannot use {rel!r}: {err.strerror or err}", location=loc,
                               allowed=inside_rule) from None
        if not stat.S_ISREG(mode):
            raise ProblemError(f"{label}: {rel!r} is {kind_of(mode)}, not a problem file", location=loc,
                               allowed=inside_rule)
        if real == self_real:
            raise ProblemError(f"{label}: {rel!r} is this problem set itself (a set cannot include itself)",
                               location=loc, allowed="problem files; problem sets do not nest")
        entry = ProblemEntry(target, {str(k): v for k, v in overrides.items()}, origin=loc, label=label)
        try:
            is_set = _is_problem_set(target)[0]
        except SolverhubError as err:
            raise _entry_error(entry, err) from None
        if is_set:
            raise ProblemError(f"{label}: {rel!r} is a problem set; problem sets do not nest", location=loc,
                               allowed="problem files (list the other set's problems here, or pass both sets "
                                       "to compare)")
        if validate:
            load_entry(entry)
        out.append(entry)
    return out


def collect_entries(paths: Iterable[str | Path], *, allow_outside: bool = False,
                    validate: bool = True) -> list[ProblemEntry]:
    """Expand files, folders (recursively, ``*.yaml``/``*.yml``, problem sets inside
    folders are skipped) and problem-set files, in a stable order.

    A problem set's entries must lie inside the set file's folder (after resolving
    symlinks, as data files must lie inside a problem's folder) unless ``allow_outside``;
    a set may not list itself or another set. With ``validate`` (the default) every
    entry of a set is loaded now, so an error in it is reported at the set's line
    (see :func:`load_entry`)."""
    import os
    import stat

    from ..outputs import kind_of
    out: list[ProblemEntry] = []
    for raw in paths:
        path = Path(raw)
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            mode = None
        if mode is None:
            raise ProblemError(f"no such problem file or folder: {path}", location=Location(str(path)))
        if stat.S_ISDIR(mode):
            for p in sorted(q for q in path.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()):
                if not _may_be_problem_set(p) or not _is_problem_set(p)[0]:
                    out.append(ProblemEntry(p))
        elif stat.S_ISREG(mode):
            is_set, data, lines = _is_problem_set(path)
            out.extend(_set_entries(path, data, lines, allow_outside=allow_outside, validate=validate)
                       if is_set else [ProblemEntry(path)])
        else:
            raise ProblemError(f"{path} is {kind_of(mode)}, not a problem file or folder",
                               location=Location(str(path)),
                               allowed="regular .yaml files, folders of them, problem-set files")
    return out
