"""Variable bounds from YAML: ``x: {shape: [n], lower: 0, upper: 1}``.

A bound is a number (broadcast to the variable), a (nested) list of the variable's shape,
or the name of a data array of that shape; ``-inf``/``inf`` (YAML ``.inf`` or the strings
``"-inf"``/``"inf"``) leave a side open. NaN, a wrong length or shape, an unknown name and
``lower > upper`` are errors at the bound's line. Cf. scipy.optimize.Bounds.
"""
from __future__ import annotations

__all__ = ["parse_bounds", "ALLOWED_BOUND"]

import math
from typing import Any, Mapping

import numpy as np

from ..errors import Location, ProblemError
from .structure import Bounds

ALLOWED_BOUND = ("a number, -inf or inf (also as the strings \"-inf\"/\"inf\"), a list of the variable's "
                 "shape, or the name of a data array of that shape")
_INF = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, ".inf": math.inf, "-.inf": -math.inf,
        "infinity": math.inf, "-infinity": -math.inf}


def _number(value, where: str, location: Location) -> float:
    if isinstance(value, str) and value.strip().lower() in _INF:
        return _INF[value.strip().lower()]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProblemError(f"{where}: expected a number, got {value!r}", location=location, allowed=ALLOWED_BOUND)
    try:
        number = float(value)
    except OverflowError:
        raise ProblemError(f"{where}: integer too large for a float", location=location,
                           allowed=ALLOWED_BOUND) from None
    if math.isnan(number):
        raise ProblemError(f"{where}: NaN is not a bound", location=location, allowed=ALLOWED_BOUND)
    return number


def _nested(value, where: str, location: Location):
    if isinstance(value, list):
        return [_nested(v, where, location) for v in value]
    return _number(value, where, location)


def _side(spec, shape: tuple, data: Mapping[str, np.ndarray], where: str, location: Location) -> np.ndarray | None:
    """One side as a flat float64 array, or None when absent or open everywhere."""
    if spec is None:
        return None
    if isinstance(spec, str) and spec.strip().lower() not in _INF:
        if spec not in data:
            raise ProblemError(f"{where}: unknown data name {spec!r}", location=location,
                               allowed=", ".join(sorted(data)) or ALLOWED_BOUND)
        arr = np.asarray(data[spec], dtype=np.float64)
        if arr.shape != shape and arr.size != 1:
            raise ProblemError(f"{where}: data {spec!r} has shape {arr.shape}, the variable {shape}",
                               location=location, allowed=f"a data array of shape {shape} (or a single number)")
        if np.isnan(arr).any():
            raise ProblemError(f"{where}: data {spec!r} contains NaN", location=location, allowed=ALLOWED_BOUND)
    elif isinstance(spec, list):
        values = _nested(spec, where, location)
        try:
            arr = np.asarray(values, dtype=np.float64)
        except ValueError:
            raise ProblemError(f"{where}: a ragged list", location=location, allowed=ALLOWED_BOUND) from None
        if arr.shape != shape:
            got = f"{arr.size} values" if arr.ndim == 1 else f"shape {arr.shape}"
            raise ProblemError(f"{where}: {got} for a variable of shape {shape}", location=location,
                               allowed=f"a number or a list of shape {shape}")
    else:
        arr = np.asarray(_number(spec, where, location), dtype=np.float64)
    flat = np.broadcast_to(arr, shape).astype(np.float64).reshape(-1)
    return flat


def parse_bounds(specs: Mapping[str, Any], shapes: Mapping[str, tuple], data: Mapping[str, np.ndarray],
                 file: str | None, line_of) -> dict[str, Bounds]:
    """``{variable: Bounds}`` for the variables that declare ``lower`` or ``upper``."""
    out = {}
    for name, spec in specs.items():
        if spec.lower is None and spec.upper is None:
            continue
        shape = tuple(shapes[name])
        sides = {}
        for side in ("lower", "upper"):
            location = Location(file, line_of(("variables", name, side)))
            sides[side] = _side(getattr(spec, side), shape, data, f"variables.{name}.{side}", location)
        lo, up = sides["lower"], sides["upper"]
        if lo is not None and np.all(lo == -np.inf):
            lo = None
        if up is not None and np.all(up == np.inf):
            up = None
        if lo is not None and np.any(lo == np.inf) or up is not None and np.any(up == -np.inf):
            bad = "lower" if lo is not None and np.any(lo == np.inf) else "upper"
            raise ProblemError(f"variables.{name}.{bad}: an empty box ({bad} bound {'+' if bad == 'lower' else '-'}inf)",
                               location=Location(file, line_of(("variables", name, bad))), allowed=ALLOWED_BOUND)
        if lo is not None and up is not None and np.any(lo > up):
            i = int(np.argmax(lo > up))
            index = np.unravel_index(i, shape) if shape else ()
            at = f"[{', '.join(map(str, index))}]" if shape else ""
            raise ProblemError(f"variables.{name}: lower > upper at {name}{at} ({lo[i]:g} > {up[i]:g})",
                               location=Location(file, line_of(("variables", name, "lower"))),
                               allowed="lower <= upper elementwise (equal bounds fix a coordinate)")
        if lo is not None or up is not None:
            out[name] = Bounds(lower=lo, upper=up)
    return out
