"""Load YAML safely, remembering the line of every key.

Problem files are untrusted: only the plain YAML types are built (mappings,
lists, strings, numbers, booleans, null). Explicit tags (``!!python/object``,
any ``!tag``), anchors and aliases (the "billion laughs" bomb) and duplicate keys
are rejected with ``file:line``. Numbers written ``1e-3`` are floats (PyYAML's
YAML 1.1 resolver would keep them as strings).
"""
from __future__ import annotations

__all__ = ["load_yaml", "LineMap", "MAX_YAML_BYTES", "MAX_YAML_DEPTH"]

import re
from typing import Any

import yaml

from ..errors import Location, ProblemError

MAX_YAML_BYTES = 5_000_000
MAX_YAML_DEPTH = 64   # nesting of mappings/lists; deeper input is rejected while parsing
_FLOAT_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_STD_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class LineMap(dict):
    """``{path tuple: line}``; ``line_of(path)`` falls back to the nearest parent."""

    def line_of(self, path) -> int | None:
        path = tuple(path)
        while path:
            if path in self:
                return self[path]
            path = path[:-1]
        return self.get((), None)


def load_yaml(text: str, file: str | None = None) -> tuple[Any, LineMap]:
    """Parse ``text``; return ``(plain python data, LineMap)``."""
    if len(text) > MAX_YAML_BYTES:
        raise ProblemError(f"file larger than {MAX_YAML_BYTES} bytes", location=Location(file, 1))
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise ProblemError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels",
                                       location=Location(file, line), allowed=f"at most {MAX_YAML_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent):
                raise ProblemError("YAML aliases (*name) are not allowed in problem files",
                                   location=Location(file, line))
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                raise ProblemError(f"YAML anchors (&{anchor}) are not allowed in problem files",
                                   location=Location(file, line))
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _STD_TAGS and tag != "!":
                raise ProblemError(f"YAML tag {tag!r} is not allowed in problem files",
                                   location=Location(file, line), allowed="plain mappings, lists, strings, numbers")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise ProblemError(f"malformed YAML: {err.problem or err.context}",
                           location=Location(file, line)) from None
    except yaml.reader.ReaderError as err:   # a character YAML does not allow; it has a position, not a mark
        line = text.count("\n", 0, err.position) + 1
        char = f"#x{err.character:04x}" if isinstance(err.character, int) else repr(err.character)
        raise ProblemError(f"malformed YAML: unacceptable character {char}: {err.reason}",
                           location=Location(file, line), allowed="printable unicode text") from None
    except yaml.YAMLError as err:
        raise ProblemError(f"malformed YAML: {err}", location=Location(file, None)) from None
    lines = LineMap()
    if node is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    data = _build(node, (), lines, constructor, file)
    return data, lines


def _build(node, path, lines: LineMap, constructor, file):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ProblemError("mapping keys must be plain scalars",
                                   location=Location(file, key_node.start_mark.line + 1))
            key = _scalar(key_node, constructor, file)
            if not isinstance(key, (str, int, float)):
                key = str(key)
            if key in out:
                raise ProblemError(f"duplicate key {key!r}", location=Location(file, key_node.start_mark.line + 1))
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, path + (key,), lines, constructor, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), lines, constructor, file) for i, item in enumerate(node.value)]
    return _scalar(node, constructor, file)


def _scalar(node, constructor, file):
    if node.tag == "tag:yaml.org,2002:str" and node.style is None and _FLOAT_RE.match(node.value):
        return float(node.value)
    try:
        return constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as err:   # e.g. !!int abc, 5000-digit ints
        why = getattr(err, "problem", None) or err
        value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
        raise ProblemError(f"bad scalar {value!r}: {str(why)[:200]}", location=Location(file, node.start_mark.line + 1),
                           allowed="strings, numbers, booleans, null") from None
