"""Data sources of a problem file: inline lists, seeded generators, ``.npy`` /
``.npz`` / ``.csv`` files beside the YAML, and named datasets from plugins.

Sizes are checked against a cap *before* anything is allocated, and file paths
must stay inside the problem's folder.
"""
from __future__ import annotations

__all__ = ["GENERATORS", "build_array", "declared_shape", "max_elements", "resolve_inside"]

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import Location, ProblemError

DEFAULT_MAX_ELEMENTS = 20_000_000


def max_elements() -> int:
    """The element cap for any declared array (env ``SOLVERHUB_MAX_ELEMENTS``)."""
    try:
        return int(os.environ.get("SOLVERHUB_MAX_ELEMENTS", DEFAULT_MAX_ELEMENTS))
    except ValueError:
        return DEFAULT_MAX_ELEMENTS


def _normal(rng, shape, spec):
    return rng.normal(float(spec.get("mean", 0.0)), float(spec.get("std", 1.0)), size=shape)


def _uniform(rng, shape, spec):
    return rng.uniform(float(spec.get("low", 0.0)), float(spec.get("high", 1.0)), size=shape)


def _sign(rng, shape, spec):
    return rng.choice(np.array([-1.0, 1.0]), size=shape)


def _integers(rng, shape, spec):
    if "high" not in spec:
        raise ValueError("generator 'integers' needs 'high' (exclusive upper bound)")
    return rng.integers(int(spec.get("low", 0)), int(spec["high"]), size=shape).astype(np.float64)


def _matrix_shape(shape, name):
    if len(shape) != 2:
        raise ValueError(f"generator {name!r} needs a 2-d shape [m, n]")
    return shape


def _low_rank(rng, shape, spec):
    m, n = _matrix_shape(shape, "low_rank")
    rank = int(spec.get("rank", 1))
    if not 1 <= rank <= min(m, n):
        raise ValueError(f"rank must be between 1 and {min(m, n)}")
    U = rng.normal(size=(m, rank))
    V = rng.normal(size=(n, rank))
    return U @ V.T / np.sqrt(rank) + float(spec.get("noise", 0.0)) * rng.normal(size=(m, n))


def _ill_conditioned(rng, shape, spec):
    m, n = _matrix_shape(shape, "ill_conditioned")
    cond = float(spec.get("cond", 1e3))
    if cond < 1:
        raise ValueError("cond must be >= 1")
    k = min(m, n)
    U, _ = np.linalg.qr(rng.normal(size=(m, k)))
    V, _ = np.linalg.qr(rng.normal(size=(n, k)))
    s = np.logspace(0, -np.log10(cond), k)
    return (U * s) @ V.T


def _low_rank_psd(rng, shape, spec):
    """U diag(s) Uᵀ with orthonormal U (n x rank) and s = logspace(0, -log10(condition), rank)."""
    n, m = _matrix_shape(shape, "low_rank_psd")
    if n != m:
        raise ValueError("generator 'low_rank_psd' needs a square shape [n, n]")
    rank = int(spec.get("rank", 1))
    if not 1 <= rank <= n:
        raise ValueError(f"rank must be between 1 and {n}")
    condition = float(spec.get("condition", 1.0))
    if condition < 1:
        raise ValueError("condition must be >= 1")
    U, _ = np.linalg.qr(rng.normal(size=(n, rank)))
    s = np.logspace(0, -np.log10(condition), rank)
    return (U * s) @ U.T


def _zeros(rng, shape, spec):
    return np.zeros(shape)


def _ones(rng, shape, spec):
    return np.ones(shape)


def _eye(rng, shape, spec):
    m, n = _matrix_shape(shape, "eye")
    return np.eye(m, n)


GENERATORS: dict[str, tuple[Callable, set[str]]] = {
    "normal": (_normal, {"mean", "std"}),
    "uniform": (_uniform, {"low", "high"}),
    "sign": (_sign, set()),
    "integers": (_integers, {"low", "high"}),
    "low_rank": (_low_rank, {"rank", "noise"}),
    "ill_conditioned": (_ill_conditioned, {"cond"}),
    "low_rank_psd": (_low_rank_psd, {"rank", "condition"}),
    "zeros": (_zeros, set()),
    "ones": (_ones, set()),
    "eye": (_eye, set()),
}
_GENERATOR_KEYS = {"generate", "shape", "seed", "scale"}


def resolve_inside(base: Path | None, relpath: str, location: Location) -> Path:
    """Resolve ``relpath`` against the problem's folder; refuse anything outside it."""
    if base is None:
        raise ProblemError(f"data file {relpath!r} needs a problem loaded from a file", location=location)
    if not isinstance(relpath, str) or not relpath:
        raise ProblemError("'file' must be a relative path string", location=location)
    root = base.resolve()
    try:
        target = (root / relpath).resolve()
    except (OSError, ValueError, RuntimeError) as err:   # embedded NUL byte, symlink loop
        raise ProblemError(f"data file {relpath!r} is not a usable path: {err}", location=location,
                           allowed="paths inside the folder of the YAML file") from None
    if Path(relpath).is_absolute() or (target != root and root not in target.parents):
        raise ProblemError(f"data file {relpath!r} is outside the problem's folder {root}", location=location,
                           allowed="paths inside the folder of the YAML file")
    if not target.is_file():
        raise ProblemError(f"data file {relpath!r} not found (looked at {target})", location=location,
                           allowed="an existing .npy, .npz or .csv file inside the folder of the YAML file")
    if target.suffix not in (".npy", ".npz", ".csv"):
        raise ProblemError(f"data file {relpath!r} has an unsupported type", location=location,
                           allowed=".npy, .npz, .csv")
    return target


def _shape_of(spec, location: Location, what: str) -> tuple[int, ...]:
    shape = spec.get("shape", [])
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                              for s in shape):
        raise ProblemError(f"{what}: shape must be a list of positive integers, got {shape!r}", location=location)
    return tuple(shape)


def _check_size(shape, location: Location, what: str) -> None:
    size = int(np.prod(shape, dtype=np.float64)) if shape else 1
    cap = max_elements()
    if size > cap:
        raise ProblemError(f"{what}: declared size {size} elements exceeds the cap of {cap}", location=location,
                           allowed="set SOLVERHUB_MAX_ELEMENTS to raise the cap")


def declared_shape(spec) -> tuple[int, ...] | None:
    if isinstance(spec, dict) and "generate" in spec:
        return tuple(spec.get("shape", [])) if isinstance(spec.get("shape", []), list) else (spec["shape"],)
    return None


def _inline(value, location: Location, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise ProblemError(f"{what}: inline data must be a number or a rectangular list of numbers",
                           location=location) from None
    if arr.dtype == object:
        raise ProblemError(f"{what}: inline data must be rectangular", location=location)
    return arr


def _generate(spec: dict, location: Location, what: str, default_shape=None) -> np.ndarray:
    name = spec["generate"]
    if not isinstance(name, str) or name not in GENERATORS:
        raise ProblemError(f"{what}: unknown generator {name!r}", location=location, allowed=sorted(GENERATORS))
    fn, extra = GENERATORS[name]
    unknown = set(spec) - _GENERATOR_KEYS - extra
    if unknown:
        raise ProblemError(f"{what}: unknown key(s) {sorted(unknown)} for generator {name!r}", location=location,
                           allowed=sorted(_GENERATOR_KEYS | extra))
    shape = _shape_of(spec, location, what) if "shape" in spec or default_shape is None else tuple(default_shape)
    _check_size(shape, location, what)
    seed = spec.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ProblemError(f"{what}: seed must be a non-negative integer, got {seed!r}", location=location)
    try:
        arr = np.asarray(fn(np.random.default_rng(seed), shape, spec), dtype=np.float64)
        return arr * float(spec.get("scale", 1.0))
    except (ValueError, TypeError, OverflowError) as err:
        raise ProblemError(f"{what}: {err}", location=location) from None


def _load_file(spec: dict, base: Path | None, location: Location, what: str) -> np.ndarray:
    unknown = set(spec) - {"file", "key", "columns", "header"}
    if unknown:
        raise ProblemError(f"{what}: unknown key(s) {sorted(unknown)} for a file source", location=location,
                           allowed="file, key (.npz), columns (.csv), header (.csv)")
    path = resolve_inside(base, spec["file"], location)
    try:
        if path.suffix == ".npy":
            with open(path, "rb") as f:
                _check_size(_header_shape(f), location, what)
            arr = np.load(path, allow_pickle=False, mmap_mode="r")   # header only: size check first
            _check_size(arr.shape, location, what)
            arr = np.array(arr, dtype=np.float64)                     # an in-memory, writable copy
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                key = spec.get("key")
                if not isinstance(key, str) or key not in archive.files:
                    raise ProblemError(f"{what}: key {key!r} not in {path.name}", location=location,
                                       allowed=archive.files)
                with archive.zip.open(key + ".npy") as member:
                    _check_size(_header_shape(member), location, what)
                arr = np.asarray(archive[key], dtype=np.float64)
        else:
            skip = 1 if spec.get("header", False) else 0
            if path.stat().st_size > 8 * max_elements() * 4:
                raise ProblemError(f"{what}: {path.name} is too large", location=location)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # "input contained no data" is reported below, on one line
                arr = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2)
            if arr.size == 0:
                raise ProblemError(f"{what}: {spec['file']!r} contains no data", location=location,
                                   allowed="comma-separated numbers, one row per line")
            cols = spec.get("columns")
            if cols is not None:
                arr = arr[:, _columns(cols, arr.shape[1], location, what)]
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
    except ProblemError:
        raise
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:   # TypeError: structured dtypes
        raise ProblemError(f"{what}: cannot read {spec['file']!r}: {err}", location=location) from None
    _check_size(arr.shape, location, what)
    return arr


def _header_shape(f) -> tuple[int, ...]:
    """The shape in a .npy header (an open binary file), read without loading the array."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unsupported .npy format version {version}")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, _ = reader(f)
    return tuple(shape)


def _columns(cols, n, location, what):
    if isinstance(cols, int) and not isinstance(cols, bool):
        cols = [cols]
    if isinstance(cols, list) and cols and all(isinstance(c, int) and not isinstance(c, bool) for c in cols):
        bad = [c for c in cols if not -n <= c < n]
        if bad:
            raise ProblemError(f"{what}: column(s) {bad} out of range for a file with {n} column(s)",
                               location=location, allowed=f"0 .. {n - 1}")
        return cols
    if isinstance(cols, str) and ":" in cols:
        a, _, b = cols.partition(":")
        picked = list(range(n))[slice(int(a) if a else None, int(b) if b else None)]
        if not picked:
            raise ProblemError(f"{what}: columns {cols!r} select no column of {n}", location=location,
                               allowed=f"0 .. {n - 1}")
        return picked
    raise ProblemError(f"{what}: columns must be an int, a list of ints or 'a:b'", location=location)


def build_array(spec: Any, *, base: Path | None, location: Location, what: str,
                datasets: dict | None = None, default_shape=None) -> np.ndarray:
    """Build one array from its YAML spec."""
    if isinstance(spec, (int, float, list)) and not isinstance(spec, bool):
        arr = _inline(spec, location, what)
        _check_size(arr.shape, location, what)
        return arr
    if not isinstance(spec, dict):
        raise ProblemError(f"{what}: expected a number, a list or a mapping, got {type(spec).__name__}",
                           location=location, allowed="inline list, {generate: ...}, {file: ...}, {dataset: ...}")
    if "generate" in spec:
        return _generate(spec, location, what, default_shape)
    if "file" in spec:
        return _load_file(spec, base, location, what)
    if "dataset" in spec:
        name = spec["dataset"]
        datasets = datasets or {}
        if not isinstance(name, str) or name not in datasets:
            raise ProblemError(f"{what}: unknown dataset {name!r}", location=location, allowed=sorted(datasets) or "(none)")
        arrays = datasets[name]()
        field = spec.get("field")
        if not isinstance(field, str) or field not in arrays:
            raise ProblemError(f"{what}: dataset {name!r} has no field {field!r}", location=location,
                               allowed=sorted(arrays))
        arr = np.asarray(arrays[field], dtype=np.float64)
        _check_size(arr.shape, location, what)
        return arr
    if "value" in spec:
        return build_array(spec["value"], base=base, location=location, what=what)
    raise ProblemError(f"{what}: a data mapping needs one of 'generate', 'file', 'dataset', 'value'",
                       location=location, allowed="generate, file, dataset, value")
