"""Typed options: the common run options, and coercion of ``key=value`` strings
into a solver's ``Options`` dataclass with clear errors."""
from __future__ import annotations

__all__ = ["RunOptions", "build_options", "parse_assignments", "option_names", "coerce_value", "canonical_value",
           "canonical_json", "canonical_text", "canonical_label", "canonical_options", "normalize_names"]

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from .errors import OptionError


@dataclass(frozen=True)
class RunOptions:
    """Options every solver takes; the shared run loop enforces them."""

    max_iterations: int = 1000
    max_oracle_calls: int | None = None
    time_limit_s: float | None = None
    tolerance: float = 1e-6
    trace_every: int = 0  # 0 = auto: every iteration on CPU, every 10 on CUDA

    def __post_init__(self):
        if self.max_iterations < 0:
            raise ValueError(f"max_iterations must be >= 0, got {self.max_iterations}")
        if self.max_oracle_calls is not None and self.max_oracle_calls < 0:
            raise ValueError(f"max_oracle_calls must be >= 0, got {self.max_oracle_calls}")
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if not self.tolerance >= 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")
        if self.trace_every < 0:
            raise ValueError(f"trace_every must be >= 0 (0: auto), got {self.trace_every}")


def option_names(options_cls) -> list[str]:
    return [f.name for f in dataclasses.fields(options_cls)]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce_value(name: str, tp, value: Any) -> Any:
    """Coerce ``value`` (often a string from the CLI) to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null"}):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce_value(name, arg, value)
            except OptionError as err:
                errors.append(err)
        raise errors[0] if errors else OptionError(f"option {name!r} cannot be {value!r}")
    if origin is Literal:
        for choice in args:
            if value == choice or str(value) == str(choice):
                return choice
        raise OptionError(f"option {name!r} got {value!r}", allowed=[str(a) for a in args])
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise OptionError(f"option {name!r} expects a boolean, got {value!r}", allowed="true, false")
    if tp is int:
        if isinstance(value, bool):
            raise OptionError(f"option {name!r} expects an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            try:
                f = float(str(value))
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                return int(f)
            raise OptionError(f"option {name!r} expects an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value))
            except ValueError:
                raise OptionError(f"option {name!r} expects a number, got {value!r}") from None
        if not math.isfinite(number):
            raise OptionError(f"option {name!r} must be a finite number, got {value!r}")
        return number
    if tp is str:
        return str(value)
    return value


def build_options(options_cls, values: Mapping[str, Any], *, what: str = "option"):
    """Instantiate ``options_cls`` (a dataclass) from ``values``, coercing types.

    Unknown names raise :class:`OptionError` listing the valid ones.
    """
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    hints = typing.get_type_hints(options_cls)
    kwargs = {}
    for key, value in values.items():
        key_norm = key.replace("-", "_")
        if key_norm not in fields:
            raise OptionError(f"unknown {what} {key!r}", allowed=sorted(fields) or ["(none)"])
        kwargs[key_norm] = coerce_value(key_norm, hints[key_norm], value)
    try:
        return options_cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise OptionError(f"invalid {what}s: {err}") from None


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
    normalised (``-`` -> ``_``), each value coerced through the type of its field in
    :class:`RunOptions` or ``solver_cls.Options`` and put in :func:`canonical_value` form.
    Only the given options appear (defaults are not filled in). The whole set is checked by
    building both dataclasses, so an unknown name or a bad value is an :class:`OptionError`
    here, before any run starts: ``lr=0.01``, ``lr=1e-2`` and ``lr=.01`` give one result."""
    run_fields = option_names(RunOptions)
    solver_fields = option_names(solver_cls.Options)
    run_hints = typing.get_type_hints(RunOptions)
    solver_hints = typing.get_type_hints(solver_cls.Options)
    solver_name = getattr(solver_cls, "name", solver_cls.__name__)
    typed_run: dict[str, Any] = {}
    typed_solver: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in values.items():
        name = str(key).strip().replace("-", "_")
        if name in run_fields:            # as api.split_options: a run option name goes to the run loop
            typed, hints = typed_run, run_hints
        elif name in solver_fields:
            typed, hints = typed_solver, solver_hints
        else:
            raise OptionError(f"unknown option {key!r} for solver {solver_name!r}",
                              allowed=", ".join(sorted(set(run_fields) | set(solver_fields))))
        coerced = coerce_value(name, hints[name], value)
        if name in typed and canonical_value(typed[name]) != canonical_value(coerced):
            raise OptionError(f"option {name!r} given twice with different values "
                              f"({spelled[name]}, {key}={value})", allowed="one value per option")
        typed[name], spelled[name] = coerced, f"{key}={value}"
    for cls, kwargs, what in ((RunOptions, typed_run, "option"), (solver_cls.Options, typed_solver,
                                                                  f"{solver_name} option")):
        try:
            cls(**kwargs)
        except (TypeError, ValueError) as err:
            raise OptionError(f"invalid {what}s: {err}") from None
    return {k: canonical_value(v) for k, v in sorted({**typed_run, **typed_solver}.items())}
