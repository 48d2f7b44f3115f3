"""Typed options as pydantic models: :class:`SolverOptions` (a method's options, each declared
with :func:`option`: type, bounds, default, a one-line meaning and the paper's symbol), the
common :class:`RunOptions`, coercion of ``key=value`` strings through them with one-line
:class:`OptionError` reports, the canonical form that run keys hash, and the markdown option
tables of the method pages (:func:`options_table`)."""
from __future__ import annotations

__all__ = ["SolverOptions", "RunOptions", "option", "model_validator", "OPTIONS_CONFIG", "build_options",
           "coerce_option", "parse_assignments", "option_names", "options_dict", "options_rows", "options_table",
           "canonical_value", "canonical_json", "canonical_text", "canonical_label", "canonical_options", "normalize_names"]

import dataclasses
import functools
import types
import typing
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .errors import OptionError

OPTIONS_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True)


class SolverOptions(BaseModel):
    """Base of a solver's ``Options``: frozen, no unknown names, finite numbers, defaults
    validated. Declare each field with :func:`option`; a rule across fields is a
    ``@model_validator(mode="after")`` that raises ``ValueError``."""

    model_config = OPTIONS_CONFIG


def option(default: Any, description: str, *, symbol: str | None = None, gt: float | None = None,
           ge: float | None = None, lt: float | None = None, le: float | None = None, **kwargs: Any) -> Any:
    """A pydantic ``Field``: ``default``, a one-line ``description`` (shown in the method page's
    table and ``solverhub list --options``), the paper's ``symbol`` (e.g. ``"η"``), and bounds."""
    if not description or not description.strip():
        raise ValueError("option(...) needs a one-line description")
    extra = {"symbol": symbol} if symbol else None
    return Field(default, description=description.strip(), gt=gt, ge=ge, lt=lt, le=le,
                 json_schema_extra=extra, **kwargs)


class RunOptions(BaseModel):
    """Options every solver takes; the shared run loop enforces them."""

    model_config = OPTIONS_CONFIG

    max_iterations: int = option(1000, "stop with `max_iterations` after this many iterations", ge=0)
    max_oracle_calls: int | None = option(
        None, "total oracle calls (value + grad + hvp + stochastic_grad); stop with `budget_exhausted` before a "
              "call would exceed it; null: no cap", ge=0)
    time_limit_s: float | None = option(None, "stop with `time_limit` after this many seconds; null: none", gt=0)
    tolerance: float = option(1e-6, "stop with `converged` when the stationarity measure is <= tolerance", ge=0)
    trace_every: int = option(0, "sample the trace every k iterations; 0: iterations 0-10, then ~10 log-spaced "
                              "per decade and every 100 (solverhub.schedule), plus the last", ge=0)


# -- fields of a pydantic Options model or of a legacy frozen dataclass ---------------------------
def _is_model(cls) -> bool:
    return isinstance(cls, type) and issubclass(cls, BaseModel)


def option_names(options_cls) -> list[str]:
    """The option names of ``options_cls`` (a pydantic model or a dataclass), in order."""
    if _is_model(options_cls):
        return list(options_cls.model_fields)
    return [f.name for f in dataclasses.fields(options_cls)]


def options_dict(options) -> dict[str, Any]:
    """An Options object as ``{name: value}`` (``model_dump()``, or ``dataclasses.asdict``)."""
    if isinstance(options, BaseModel):
        return options.model_dump()
    return dataclasses.asdict(options)


@functools.lru_cache(maxsize=None)
def _fields(options_cls) -> dict[str, tuple[Any, TypeAdapter]]:
    """name -> (annotation, adapter validating one value with the field's type and bounds)."""
    out = {}
    if _is_model(options_cls):
        for name, info in options_cls.model_fields.items():
            tp = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            out[name] = (info.annotation, TypeAdapter(tp, config=OPTIONS_CONFIG))
    else:
        hints = typing.get_type_hints(options_cls)
        for f in dataclasses.fields(options_cls):
            out[f.name] = (hints[f.name], TypeAdapter(hints[f.name], config=OPTIONS_CONFIG))
    return out


def _members(tp) -> tuple:
    """The types a value of ``tp`` may have (``int | None`` -> ``(int, NoneType)``)."""
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(m for arg in typing.get_args(tp) for m in _members(arg))
    return (tp,)


def _prepare(tp, value: Any) -> Any:
    """Adjust a CLI or YAML value where pydantic's lax mode differs from solverhub's rules:
    ``none``/``null`` for an optional; ``5e1`` is the integer 50; booleans are not numbers;
    ``3`` names the choice ``Literal[3]``; numbers are accepted as text for ``str``."""
    members = _members(tp)
    if isinstance(value, str) and value.strip().lower() in {"none", "null"} and type(None) in members:
        return None
    for m in members:
        if typing.get_origin(m) is Literal:
            for choice in typing.get_args(m):
                if value == choice or str(value) == str(choice):
                    return choice
    if isinstance(value, bool) and bool not in members and (int in members or float in members):
        return str(value)                      # rejected below as "expects an integer / a number"
    if int in members and float not in members and isinstance(value, str):
        try:
            int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return value
            return number if number == number and abs(number) != float("inf") else value
    if str in members and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
_CHOICE_TYPES = {"literal_error", "enum"}


def _choices(tp) -> list[str] | None:
    choices = [str(c) for m in _members(tp) if typing.get_origin(m) is Literal for c in typing.get_args(m)]
    if type(None) in _members(tp) and choices:
        choices.append("null")
    return choices or None


def _one_line(name: str, tp, value: Any, err: ValidationError) -> OptionError:
    """One pydantic error on option ``name`` as one line: the option, the bad value, the rule."""
    first = err.errors(include_url=False)[0]
    kind, ctx = first["type"], first.get("ctx") or {}
    head = f"option {name!r}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return OptionError(f"{head} must be {_BOUNDS[kind]} {bound}, got {value!r}")
    if kind == "finite_number":
        return OptionError(f"{head} must be a finite number, got {value!r}")
    if kind in _CHOICE_TYPES or _choices(tp):
        return OptionError(f"{head} got {value!r}", allowed=_choices(tp))
    if kind.startswith("bool"):
        return OptionError(f"{head} expects a boolean, got {value!r}", allowed="true, false")
    if kind.startswith("int"):
        return OptionError(f"{head} expects an integer, got {value!r}")
    if kind.startswith("float"):
        return OptionError(f"{head} expects a number, got {value!r}")
    msg = first["msg"].removeprefix("Value error, ")
    return OptionError(f"{head} got {value!r}: {msg}")


def coerce_option(options_cls, name: str, value: Any) -> Any:
    """``value`` (often CLI text) as the typed value of option ``name`` of ``options_cls``,
    checked against the field's type and bounds; a one-line :class:`OptionError` if it is not."""
    tp, adapter = _fields(options_cls)[name]
    try:
        return adapter.validate_python(_prepare(tp, value))
    except ValidationError as err:
        raise _one_line(name, tp, value, err) from None


def _construct(options_cls, kwargs: Mapping[str, Any], what: str):
    """``options_cls(**kwargs)``; a failing rule across fields is one ``invalid ...`` line."""
    try:
        return options_cls(**kwargs)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise OptionError(f"invalid {what}s: {where + ': ' if where else ''}{msg}") from None
    except (TypeError, ValueError) as err:               # a legacy dataclass's __post_init__
        raise OptionError(f"invalid {what}s: {err}") from None


def build_options(options_cls, values: Mapping[str, Any], *, what: str = "option"):
    """Instantiate ``options_cls`` (a :class:`SolverOptions`/pydantic model, or a legacy frozen
    dataclass) from ``values``, coercing each through its field's type and bounds.

    Unknown names raise :class:`OptionError` listing the valid ones.
    """
    names = option_names(options_cls)
    kwargs = {}
    for key, value in values.items():
        key_norm = key.replace("-", "_")
        if key_norm not in names:
            raise OptionError(f"unknown {what} {key!r}", allowed=sorted(names) or ["(none)"])
        kwargs[key_norm] = coerce_option(options_cls, key_norm, value)
    return _construct(options_cls, kwargs, what)


def parse_assignments(items, *, flag: str) -> dict[str, str]:
    """Parse ``["a=1", "b=x"]`` from a repeated CLI flag into a dict."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise OptionError(f"malformed {flag} {item!r}", allowed="NAME=VALUE")
        out[name] = value.strip()
    return out


# -- canonical options: one configuration, one spelling -------------------------------------------
def canonical_value(value: Any) -> Any:
    """A typed option value in its one canonical, JSON-able form: bools stay bools, integers
    become ``int``, reals ``float`` (``-0.0`` is ``0.0``), strings stay themselves, ``None``
    stays ``None``; sequences become lists and mappings dicts (recursively); anything else its
    ``str``. ``json.dumps`` then writes floats by ``repr`` (the shortest text that reads back
    to the same double), which is the same on every machine and process."""
    import numbers
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()                     # numpy / torch scalars
        if isinstance(value, bool):
            return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return 0.0 if number == 0 else number
    if isinstance(value, Mapping):
        return {str(k): canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical_value(v) for v in value]
    return str(value)


def canonical_json(options: Mapping[str, Any]) -> str:
    """Sorted, compact JSON of canonical option values: the text a run key hashes."""
    import json
    return json.dumps({str(k): canonical_value(v) for k, v in options.items()}, sort_keys=True,
                      separators=(",", ":"), default=str)


def canonical_text(value: Any) -> str:
    """How a canonical value is written in a label: ``0.01``, ``50``, ``true``, ``null``, ``adam``."""
    import json
    value = canonical_value(value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                           default=str)


def canonical_label(solver: str, options: Mapping[str, Any]) -> str:
    """``adam:lr=0.01`` (options sorted by name); just the solver's name without options."""
    if not options:
        return solver
    return solver + ":" + ",".join(f"{k}={canonical_text(options[k])}" for k in sorted(options))


def normalize_names(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"max-iterations": v}`` -> ``{"max_iterations": v}`` (a later spelling of a name wins)."""
    return {str(key).strip().replace("-", "_"): value for key, value in values.items()}


def canonical_options(solver_cls, values: Mapping[str, Any]) -> dict[str, Any]:
    """The typed, canonical form of the options ``values`` given to ``solver_cls``: names
    normalised (``-`` -> ``_``), each value coerced through its field in :class:`RunOptions` or
    ``solver_cls.Options`` and put in :func:`canonical_value` form. Only the given options
    appear (defaults are not filled in). The whole set is checked by building both Options,
    so an unknown name or a bad value is an :class:`OptionError` here, before any run starts:
    ``lr=0.01``, ``lr=1e-2`` and ``lr=.01`` give one result."""
    run_fields = option_names(RunOptions)
    solver_fields = option_names(solver_cls.Options)
    solver_name = getattr(solver_cls, "name", solver_cls.__name__)
    typed_run: dict[str, Any] = {}
    typed_solver: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in values.items():
        name = str(key).strip().replace("-", "_")
        if name in run_fields:            # as api.split_options: a run option name goes to the run loop
            typed, cls = typed_run, RunOptions
        elif name in solver_fields:
            typed, cls = typed_solver, solver_cls.Options
        else:
            raise OptionError(f"unknown option {key!r} for solver {solver_name!r}",
                              allowed=", ".join(sorted(set(run_fields) | set(solver_fields))))
        coerced = coerce_option(cls, name, value)
        if name in typed and canonical_value(typed[name]) != canonical_value(coerced):
            raise OptionError(f"option {name!r} given twice with different values "
                              f"({spelled[name]}, {key}={value})", allowed="one value per option")
        typed[name], spelled[name] = coerced, f"{key}={value}"
    _construct(RunOptions, typed_run, "option")
    _construct(solver_cls.Options, typed_solver, f"{solver_name} option")
    return {k: canonical_value(v) for k, v in sorted({**typed_run, **typed_solver}.items())}


# -- the method pages' option tables --------------------------------------------------------------
def _doc_text(value: Any) -> str:
    """A default or bound as the docs write it: ``1e8``, ``1e-6``, ``0.5``, ``true``, ``null``, ``""``."""
    value = canonical_value(value)
    if isinstance(value, float):
        text = repr(value) if abs(value) < 1e5 or not value.is_integer() else f"{value:.15e}"
        if "e" in text:
            mantissa, exponent = text.split("e")
            mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
            text = f"{mantissa}e{int(exponent)}"
        return text
    if value == "":
        return '""'
    return canonical_text(value)


def _type_text(tp, bounds: str) -> str:
    """``float > 0``, ``int >= 0, or null``, ```adam` or `sgd```."""
    parts = []
    for m in _members(tp):
        if typing.get_origin(m) is Literal:
            parts.extend(f"`{c}`" for c in typing.get_args(m))
        elif m is not type(None):
            parts.append(getattr(m, "__name__", str(m)))
    text = " or ".join(parts) + (f" {bounds}" if bounds else "")
    return text + (", or null" if type(None) in _members(tp) else "")


def _bounds_text(metadata) -> str:
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    out = []
    for item in metadata:
        for attr, sign in signs.items():
            bound = getattr(item, attr, None)
            if bound is not None:
                out.append(f"{sign} {_doc_text(bound)}")
    return ", ".join(out)


def options_rows(options_cls) -> list[dict[str, Any]]:
    """One dict per option (name, type, default, symbol, description): the table's rows. A
    legacy dataclass gives its types and defaults, with empty symbols and descriptions."""
    rows = []
    if _is_model(options_cls):
        for name, info in options_cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            rows.append({"name": name, "type": _type_text(info.annotation, _bounds_text(info.metadata)),
                         "default": canonical_value(info.default), "symbol": extra.get("symbol") or "",
                         "description": info.description or ""})
    else:
        hints = typing.get_type_hints(options_cls)
        for f in dataclasses.fields(options_cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            rows.append({"name": f.name, "type": _type_text(hints[f.name], ""), "default": canonical_value(default),
                         "symbol": "", "description": ""})
    return rows


def options_table(options_cls) -> str:
    """The markdown table of ``options_cls``: option | type | default | symbol | meaning, with
    the bounds after the type (``float > 0``); "No options of its own." when it has none."""
    rows = options_rows(options_cls)
    if not rows:
        return "No options of its own."
    lines = ["| option | type | default | symbol | meaning |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [f"`{r['name']}`", r["type"], f"`{_doc_text(r['default'])}`", r["symbol"], r["description"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
