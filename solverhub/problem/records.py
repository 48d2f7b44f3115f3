"""Plain frozen records checked by plain Python, as pydantic v2's lax mode checks YAML values.

``PlainModel`` speaks the part of pydantic's model API that the loader uses (``model_fields``,
``model_validate``, ``model_fields_set``); a failed check raises :class:`Invalid`, shaped as
pydantic's first error (``type``, ``loc``, ``msg``, ``input``), so that ``schema.validate_model``
words it the same. The common sections and the core kinds' sections are such records: the
``validate`` command then imports no pydantic (issue 16). The checks follow lax mode on the
values YAML gives: ``"1e-3"`` is a number, ``true`` is 1, ``3.0`` is an int, a union reports
its first member's error.
"""
from __future__ import annotations

__all__ = ["Invalid", "Field", "PlainModel", "nested", "integer", "number", "string", "anything", "optional",
           "one_of", "list_of", "dict_of", "str_or_number", "str_or", "str_or_list", "number_or_list",
           "value_error"]

import math
from typing import Any, Callable, ClassVar

_MISSING = object()


class Invalid(Exception):
    """The first error of a :class:`PlainModel` check, shaped as a pydantic error (``type``, ``loc``,
    ``msg``, ``input``); ``allowed``: the model's keys, for an unknown one."""

    def __init__(self, type_: str, msg: str, loc: tuple = (), value: Any = None, allowed: str | None = None):
        super().__init__(msg)
        self.error = {"type": type_, "loc": loc, "msg": msg, "input": value}
        self.allowed = allowed


# -- value checks: check(value, loc) -> value (pydantic v2 lax mode, on the values YAML gives) --
def _int_from_str(s: str):
    s = s.strip()
    try:
        return int(s)
    except ValueError:
        head, dot, tail = s.partition(".")
        if dot and tail.strip("0") == "" and head.lstrip("+-").isdigit() and not head.lstrip("+-").startswith("_"):
            return int(head)
        return None


def integer(*, gt=None, ge=None, le=None) -> Callable:
    def check(v, loc):
        if isinstance(v, int):                       # bool included: True is 1
            out = int(v)
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise Invalid("finite_number", "Input should be a finite number", loc, v)
            if v != int(v):
                raise Invalid("int_from_float", "Input should be a valid integer, got a number with a fractional part",
                              loc, v)
            if abs(v) >= 2**63:
                raise Invalid("int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size",
                              loc, v)
            out = int(v)
        elif isinstance(v, str):
            out = _int_from_str(v)
            if out is None:
                raise Invalid("int_parsing", "Input should be a valid integer, unable to parse string as an integer",
                              loc, v)
        else:
            raise Invalid("int_type", "Input should be a valid integer", loc, v)
        _bounds(out, loc, gt, ge, le)
        return out
    return check


def number(*, finite=False, gt=None, ge=None) -> Callable:
    def check(v, loc):
        if isinstance(v, (int, float)):
            try:
                out = float(v)
            except OverflowError:                    # an int beyond the float range
                raise Invalid("float_type", "Input should be a valid number", loc, v) from None
        elif isinstance(v, str):
            try:
                out = float(v.strip())
            except ValueError:
                raise Invalid("float_parsing", "Input should be a valid number, unable to parse string as a number",
                              loc, v) from None
        else:
            raise Invalid("float_type", "Input should be a valid number", loc, v)
        if finite and not math.isfinite(out):
            raise Invalid("finite_number", "Input should be a finite number", loc, v)
        _bounds(out, loc, gt, ge, None)
        return out
    return check


def _bounds(v, loc, gt, ge, le):
    if gt is not None and not v > gt:
        raise Invalid("greater_than", f"Input should be greater than {gt}", loc, v)
    if ge is not None and not v >= ge:
        raise Invalid("greater_than_equal", f"Input should be greater than or equal to {ge}", loc, v)
    if le is not None and not v <= le:
        raise Invalid("less_than_equal", f"Input should be less than or equal to {le}", loc, v)


def string(*, min_length=0) -> Callable:
    def check(v, loc):
        if not isinstance(v, str):
            raise Invalid("string_type", "Input should be a valid string", loc, v)
        if len(v) < min_length:
            raise Invalid("string_too_short", f"String should have at least {min_length} character"
                          f"{'s' if min_length != 1 else ''}", loc, v)
        return v
    return check


def anything(v, loc):
    return v


def optional(inner: Callable) -> Callable:
    return lambda v, loc: None if v is None else inner(v, loc)


def one_of(*choices: str) -> Callable:
    shown = (f"{', '.join(map(repr, choices[:-1]))} or {choices[-1]!r}" if len(choices) > 1   # pydantic's wording
             else repr(choices[0]))

    def check(v, loc):
        if not isinstance(v, str) or v not in choices:
            raise Invalid("literal_error", f"Input should be {shown}", loc, v)
        return v
    return check


def list_of(item: Callable, *, min_length: int = 0) -> Callable:
    def check(v, loc):
        if not isinstance(v, list):
            raise Invalid("list_type", "Input should be a valid list", loc, v)
        out = [item(x, loc + (i,)) for i, x in enumerate(v)]
        if len(out) < min_length:
            raise Invalid("too_short", f"List should have at least {min_length} item{'s' if min_length != 1 else ''} "
                          f"after validation, not {len(out)}", loc, v)
        return out
    return check


def dict_of(value: Callable) -> Callable:
    key = string()

    def check(v, loc):
        if not isinstance(v, dict):
            raise Invalid("dict_type", "Input should be a valid dictionary", loc, v)
        out = {}
        for k, x in v.items():
            key(k, loc + (k, "[key]"))
            out[k] = value(x, loc + (k,))
        return out
    return check


def str_or_number(v, loc):
    """``str | float``: a string as it is, a number (or bool) as a float; else the str member's error."""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        try:
            return number()(v, loc + ("float",))
        except Invalid:
            pass
    raise Invalid("string_type", "Input should be a valid string", loc + ("str",), v)


def str_or(cls: type) -> Callable:
    """``str | Model``: a string as it is, a mapping as the model; else the str member's error
    (pydantic's first error of the union, also when the mapping fails the model)."""
    def check(v, loc):
        if isinstance(v, (str, cls)):
            return v
        if isinstance(v, dict):
            try:
                return cls.model_validate(v, loc + (cls.__name__,))
            except Invalid:
                pass
        raise Invalid("string_type", "Input should be a valid string", loc + ("str",), v)
    return check


def str_or_list(v, loc):
    """``str | list[str]``: a string, or a list of strings; else the str member's error."""
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        try:
            return list_of(string())(v, loc + ("list[str]",))
        except Invalid:
            pass
    raise Invalid("string_type", "Input should be a valid string", loc + ("str",), v)


def number_or_list(v, loc):
    """``float | list[float]``: a list of numbers or a number; else the float member's error."""
    if isinstance(v, list):
        try:
            return list_of(number())(v, loc + ("list[float]",))
        except Invalid:
            pass
    return number()(v, loc + ("float",))


def value_error(check: Callable, test: Callable, message: str) -> Callable:
    """``check``, then ``test(value)`` or a pydantic-style value error."""
    def run(v, loc):
        out = check(v, loc)
        if not test(out):
            raise Invalid("value_error", f"Value error, {message}", loc, v)
        return out
    return run


class Field:
    """One field of a :class:`PlainModel`: its check, and a default (or a factory) unless required."""

    __slots__ = ("check", "default", "factory", "alias")

    def __init__(self, check: Callable, default=_MISSING, factory: Callable | None = None, alias: str | None = None):
        self.check, self.default, self.factory, self.alias = check, default, factory, alias

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.factory is None


class PlainModel:
    """A frozen record whose fields (class attributes that are :class:`Field`) are checked in order
    by ``model_validate``; unknown keys are refused (``extra = "forbid"``) or kept (``"allow"``).
    A field's ``alias`` is its key in the file; ``check(self)`` (a pydantic "after" model validator)
    runs once the fields are in, a ``ValueError`` being a value error at the model's location.
    It speaks the part of pydantic's model API that the loader uses: ``model_fields``,
    ``model_validate``, ``model_fields_set``."""

    model_fields: ClassVar[dict[str, Field]] = {}
    extra: ClassVar[str] = "forbid"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = dict(getattr(cls, "model_fields", {}))
        for name, value in list(vars(cls).items()):
            if isinstance(value, Field):
                fields[name] = value
                delattr(cls, name)
        cls.model_fields = fields

    def __init__(self, **values):
        d = self.__dict__
        for name, f in self.model_fields.items():
            if name in values:
                d[name] = values[name]
            elif f.required:
                raise TypeError(f"{type(self).__name__}: {name} is required")
            else:
                d[name] = f.factory() if f.factory is not None else f.default
        d["model_fields_set"] = frozenset(values)
        if self.extra == "allow":
            d.update({k: v for k, v in values.items() if k not in self.model_fields})

    @classmethod
    def model_validate(cls, raw, loc: tuple = ()):
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, dict):
            raise Invalid("model_type", f"Input should be a valid dictionary or instance of {cls.__name__}", loc, raw)
        values, keys = {}, set()
        for name, f in cls.model_fields.items():
            key = f.alias or name
            keys.add(key)
            if key in raw:
                values[name] = f.check(raw[key], loc + (key,))
            elif f.required:
                raise Invalid("missing", "Field required", loc + (key,), raw)
        for key in raw:
            if key not in keys:
                if cls.extra == "forbid":
                    raise Invalid("extra_forbidden", "Extra inputs are not permitted", loc + (key,), raw[key],
                                  allowed=", ".join(cls.model_fields))
                values[key] = raw[key]
        out = cls(**values)
        try:
            out.check()
        except ValueError as err:
            raise Invalid("value_error", f"Value error, {err}", loc, raw) from None
        return out

    def check(self) -> None:
        """Checks across fields, after each field's own (raise ``ValueError``); default: none."""

    def __setattr__(self, name, value):
        raise TypeError(f"{type(self).__name__} is frozen")

    __delattr__ = __setattr__

    def _values(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "model_fields_set"}

    def __eq__(self, other):
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self):
        return hash((type(self), *self._values().values()))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={self.__dict__[k]!r}' for k in self.model_fields)})"


def nested(cls: type[PlainModel]) -> Callable:
    """A nested model field's check."""
    return lambda v, loc: cls.model_validate(v, loc)
