"""What a compare runs on: problem files, folders of them, and problem-set YAML
files (``problems:`` listing files with per-problem ``set:`` overrides); and
solver specs ``name[:key=value,...]``."""
from __future__ import annotations

__all__ = ["ProblemEntry", "SolverSpec", "collect_entries", "parse_solver_spec"]

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import Location, OptionError, ProblemError


@dataclass(frozen=True)
class ProblemEntry:
    path: Path
    overrides: dict = field(default_factory=dict)


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


def _is_problem_set(path: Path) -> tuple[bool, object, object]:
    from ..problem.yamlsafe import load_yaml
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ProblemError(f"cannot read {path}: {err}", location=Location(str(path))) from None
    data, lines = load_yaml(text, str(path))
    return isinstance(data, dict) and "problems" in data and "kind" not in data, data, lines


def _set_entries(path: Path, data: dict, lines) -> list[ProblemEntry]:
    items = data.get("problems")
    where = Location(str(path), lines.line_of(("problems",)))
    if not isinstance(items, list) or not items:
        raise ProblemError("problems: a problem set lists problem files", location=where,
                           allowed="problems: [file.yaml, {path: file.yaml, set: {param: value}}]")
    unknown = set(data) - {"name", "description", "problems"}
    if unknown:
        raise ProblemError(f"unknown key(s) {sorted(unknown)} in a problem set", location=where,
                           allowed="name, description, problems")
    out = []
    for i, item in enumerate(items):
        loc = Location(str(path), lines.line_of(("problems", i)))
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or set(item) - {"path", "set"}:
            raise ProblemError(f"problems[{i}]: expected a file name or {{path, set}}", location=loc,
                               allowed="path, set")
        overrides = item.get("set") or {}
        if not isinstance(overrides, dict):
            raise ProblemError(f"problems[{i}].set: expected a mapping of parameter: value", location=loc)
        target = (path.parent / item["path"])
        if not target.is_file():
            raise ProblemError(f"problems[{i}]: no such problem file {item['path']!r}", location=loc)
        out.append(ProblemEntry(target, {str(k): v for k, v in overrides.items()}))
    return out


def collect_entries(paths: Iterable[str | Path]) -> list[ProblemEntry]:
    """Expand files, folders (recursively, ``*.yaml``/``*.yml``, problem sets inside
    folders are skipped) and problem-set files, in a stable order."""
    out: list[ProblemEntry] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for p in sorted(q for q in path.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()):
                if not _is_problem_set(p)[0]:
                    out.append(ProblemEntry(p))
        elif path.is_file():
            is_set, data, lines = _is_problem_set(path)
            out.extend(_set_entries(path, data, lines) if is_set else [ProblemEntry(path)])
        else:
            raise ProblemError(f"no such problem file or folder: {path}", location=Location(str(path)))
    return out
