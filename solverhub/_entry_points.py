"""Entry points of one group without ``importlib.metadata`` (issue 16: its import pulls in the
``email`` package and every name and version is parsed as an e-mail header; ~25 ms of a
``validate``). The scan is the one ``importlib.metadata.entry_points(group=...)`` does for
plain folders on ``sys.path``: the ``*.dist-info`` / ``*.egg-info`` folders in listing order, the
first distribution of each normalized name winning; the name and version are read from its
``METADATA`` (``PKG-INFO``) header. Where that scan would not be the whole story (a zip or an
``.egg`` on ``sys.path``, a meta-path finder of distributions other than the standard one), it
defers to ``importlib.metadata``.
"""
from __future__ import annotations

__all__ = ["EntryPoint", "entry_points", "distribution_version"]

import functools
import importlib
import importlib.machinery
import os
import re
import sys
from dataclasses import dataclass

_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


class _Dist:
    """A distribution folder; ``name`` and ``version`` from its metadata header."""

    def __init__(self, path: str):
        self.path = path

    @functools.cached_property
    def _header(self) -> dict:
        for meta in ("METADATA", "PKG-INFO"):
            try:
                with open(os.path.join(self.path, meta), encoding="utf-8", errors="replace") as fh:
                    out = {}
                    for line in fh:
                        if not line.strip():
                            break
                        key, sep, value = line.partition(":")
                        if sep and key in ("Name", "Version") and key not in out:
                            out[key] = value.strip()
                    return out
            except OSError:
                continue
        return {}

    @property
    def name(self) -> str | None:
        return self._header.get("Name")

    @property
    def version(self) -> str | None:
        return self._header.get("Version")


@dataclass(frozen=True)
class EntryPoint:
    """``name = value`` of ``group``; ``load()`` imports ``module`` and follows ``:attr.sub``."""

    name: str
    value: str
    group: str
    dist: object = None

    def load(self):
        match = _PATTERN.match(self.value)
        if match is None:
            raise ValueError(f"entry point {self.name!r}: bad value {self.value!r}")
        obj = importlib.import_module(match.group("module"))
        for attr in filter(None, (match.group("attr") or "").split(".")):
            obj = getattr(obj, attr)
        return obj


def _fast_path_ok() -> bool:
    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder:
            return False
    for entry in sys.path:
        root = entry or "."
        if root.lower().endswith(".egg") or (os.path.exists(root) and not os.path.isdir(root)):
            return False
    return True


def _distributions():
    """The distribution folders, first of each normalized name, in ``importlib.metadata``'s order."""
    seen = set()
    for entry in sys.path:
        try:
            children = os.listdir(entry or ".")
        except OSError:
            continue
        infos: dict[str, str] = {}
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                infos.setdefault(_normalize(low.rpartition(".")[0].partition("-")[0]), child)
        for normalized, child in infos.items():
            if normalized not in seen:
                seen.add(normalized)
                yield normalized, _Dist(os.path.join(entry or ".", child))


def _sections(text: str, group: str):
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def entry_points(group: str) -> list:
    """The entry points of ``group`` (``importlib.metadata``'s where the fast scan does not apply)."""
    if not _fast_path_ok():
        import importlib.metadata as md
        return list(md.entry_points(group=group))
    out = []
    for _, dist in _distributions():
        try:
            with open(os.path.join(dist.path, "entry_points.txt"), encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            continue
        out += [EntryPoint(name, value, group, dist) for name, value in _sections(text, group)]
    return out


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    if not _fast_path_ok():
        import importlib.metadata as md
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None
    wanted = _normalize(name)
    for normalized, dist in _distributions():
        if normalized == wanted:
            return dist.version
    return None
