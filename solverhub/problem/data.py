"""Data sources of a problem file: inline lists, seeded generators, ``.npy`` /
``.npz`` / ``.csv`` files beside the YAML, and named datasets from plugins.

Sizes are checked against a cap *before* anything is allocated, and file paths
must stay inside the problem's folder.

Numbers are checked where they enter: every array (inline, generated, read from a
file or a dataset) must be finite -- NaN and infinity are input errors, reported with
the file and line of the array and the number of non-finite entries (data files
included: they are data, so a NaN in ``A.npy`` is refused rather than propagated
into a "diverged" run). Generator arguments are finite numbers. ``.npy``/``.npz``
members are read only with a real numeric dtype (bool, integer, float), checked
from the header before loading: complex, object, structured, string and
date/time arrays are refused, never cast.

Caps (each an environment variable, read at every load):

* ``SOLVERHUB_MAX_ELEMENTS`` (default 20,000,000 = 160 MB of float64): the largest
  declared array, *and* the sum over all arrays of one problem -- every data array,
  the variables (the flat vector, once), the starting point x0 (once more) and what
  a kind allocates from declared shapes. Checked from declared shapes and file
  headers before allocation (``charge``); CSV files, which have no header, are
  estimated from their line and column counts before parsing.
* ``SOLVERHUB_MAX_GENERATOR_FLOPS`` (default 2e10): the estimated floating-point
  operations of the generators whose cost grows faster than their size, summed over
  a problem: ``ill_conditioned`` (two thin QRs and a product: Q(m, k) + Q(n, k) + 2mnk
  with k = min(m, n)), ``low_rank`` (2mnr) and ``low_rank_psd`` (Q(n, r) + 2n^2 r), where
  Q(m, k) = 4mk(k + 128) counts a QR's flops plus its memory-bound panel work. On the
  project's 2-core CPU machines square ones run at 50-70 GFlop/s when the machine is idle
  and several times slower when it is shared; with this default, ``solverhub validate`` of
  the costliest accepted files took 0.8-2.8 s (peak RSS 140-840 MB) on a lightly shared
  machine and up to about 4 s on a busy one, where the 4400 x 4400 ``ill_conditioned``
  that used to take 11-39 s (1.1 GB) is refused in under a second. Largest accepted:
  ``ill_conditioned`` about 1220 x 1220 (or 179000 x 100; 2000000 x 10 meets the element
  cap first), ``low_rank_psd`` of full rank about 1460 x 1460, ``low_rank`` of full rank
  about 2150 x 2150, of rank 10 up to the element cap. Peak memory of a generator is a
  few times its output (QR copies; at most about 5 x 160 MB at the element cap).
  Elementwise generators (normal, uniform, ...) cost O(size) and are bounded by the
  element cap.
"""
from __future__ import annotations

__all__ = ["GENERATORS", "build_array", "charge", "charge_flops", "declared_shape", "load_budget",
           "max_elements", "max_generator_flops", "resolve_inside", "LoadBudget"]

import contextlib
import contextvars
import math
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import Location, ProblemError

DEFAULT_MAX_ELEMENTS = 20_000_000
DEFAULT_MAX_GENERATOR_FLOPS = 20_000_000_000
_FINITE = "finite numbers (NaN and infinity are not allowed here)"


def _env_cap(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        try:   # 5e10 is a natural way to write it
            value = float(os.environ[name])
            return int(value) if math.isfinite(value) else default
        except ValueError:
            return default


def max_elements() -> int:
    """The element cap for any declared array, and for the sum of a problem's arrays
    (env ``SOLVERHUB_MAX_ELEMENTS``)."""
    return _env_cap("SOLVERHUB_MAX_ELEMENTS", DEFAULT_MAX_ELEMENTS)


def max_generator_flops() -> int:
    """The cap on the estimated flops of a problem's costly generators
    (env ``SOLVERHUB_MAX_GENERATOR_FLOPS``)."""
    return _env_cap("SOLVERHUB_MAX_GENERATOR_FLOPS", DEFAULT_MAX_GENERATOR_FLOPS)


def _fmt_count(n: int) -> str:
    """``n`` for a message; huge integers (which ``str`` may refuse) as a power of ten."""
    if n.bit_length() < 64:
        return str(n)
    return f"about 10^{int(n.bit_length() * math.log10(2))}"


class LoadBudget:
    """What one problem may allocate in total: the elements of all its arrays and the
    flops of its costly generators. ``load_problem`` holds one while it loads."""

    def __init__(self, elements_cap: int | None = None, flops_cap: int | None = None):
        self.elements_cap = max_elements() if elements_cap is None else elements_cap
        self.flops_cap = max_generator_flops() if flops_cap is None else flops_cap
        self.elements = 0
        self.flops = 0

    def charge_elements(self, n: int, location: Location, what: str, *, commit: bool = True) -> None:
        total = self.elements + n
        if total > self.elements_cap:
            raise ProblemError(f"{what}: its {_fmt_count(n)} elements bring the problem's arrays to "
                               f"{_fmt_count(total)} elements in all (data, variables, x0), over the cap of "
                               f"{self.elements_cap} for the whole problem", location=location,
                               allowed="set SOLVERHUB_MAX_ELEMENTS to raise the cap (it bounds each array "
                                       "and their sum)")
        if commit:
            self.elements = total

    def charge_flops(self, n: int, location: Location, what: str) -> None:
        total = self.flops + n
        if total > self.flops_cap:
            others = f" ({total:.2g} with the problem's other costly generators)" if self.flops else ""
            raise ProblemError(f"{what}: generating it takes about {n:.2g} floating-point operations{others}, "
                               f"over the cap of {self.flops_cap:.2g}", location=location,
                               allowed="a smaller shape or rank, or set SOLVERHUB_MAX_GENERATOR_FLOPS to "
                                       "raise the cap")
        self.flops = total

    @contextlib.contextmanager
    def transient(self):
        """Arrays charged inside are temporaries: checked against the room left, then released."""
        kept = self.elements
        try:
            yield self
        finally:
            self.elements = kept


_BUDGET: contextvars.ContextVar[LoadBudget | None] = contextvars.ContextVar("solverhub_load_budget", default=None)


@contextlib.contextmanager
def load_budget():
    """A fresh :class:`LoadBudget` for the arrays built inside (one problem's load)."""
    budget = LoadBudget()
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def charge(shape, location: Location, what: str, *, commit: bool = True) -> int:
    """Check one array of ``shape`` against the element cap and, while a problem loads,
    against the room left in its total; call it *before* allocating. Returns the size.
    Kinds (plugins too) call it for what they allocate from declared shapes."""
    size = _check_size(shape, location, what)
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge_elements(size, location, what, commit=commit)
    return size


def charge_flops(flops: int, location: Location, what: str) -> None:
    """Check an estimated operation count against the generator flops cap (and the
    problem's running total while it loads)."""
    budget = _BUDGET.get()
    if budget is None:
        LoadBudget(flops_cap=max_generator_flops()).charge_flops(flops, location, what)
    else:
        budget.charge_flops(flops, location, what)


def _finite_array(arr: np.ndarray, location: Location, what: str, source: str) -> np.ndarray:
    """``arr`` if every entry is finite, else a ProblemError counting the others."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0]) if arr.ndim else ()
        at = f" (the first at index {list(first)})" if first else ""
        raise ProblemError(f"{what}: {source} has {bad} non-finite entr{'y' if bad == 1 else 'ies'} "
                           f"(NaN or infinity){at}", location=location, allowed=_FINITE)
    return arr


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
    U *= s                 # in place: one m x k temporary less
    return U @ V.T


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
        shown = repr(shape) if not isinstance(shape, list) or all(
            not isinstance(s, int) or s.bit_length() < 64 for s in shape) else "a list with a huge entry"
        raise ProblemError(f"{what}: shape must be a list of positive integers, got {shown}", location=location)
    return tuple(shape)


def _check_size(shape, location: Location, what: str) -> int:
    """The size of ``shape`` (exact, in Python integers: a shape of 10**400 is just too large),
    checked against the per-array cap."""
    dims = [int(s) for s in shape]
    if any(d < 0 for d in dims):
        raise ProblemError(f"{what}: negative dimension in shape", location=location,
                           allowed="non-negative integers")
    size = math.prod(dims)
    cap = max_elements()
    if size > cap:
        raise ProblemError(f"{what}: declared size {_fmt_count(size)} elements exceeds the cap of {cap}",
                           location=location, allowed="set SOLVERHUB_MAX_ELEMENTS to raise the cap")
    return size


def declared_shape(spec) -> tuple[int, ...] | None:
    if isinstance(spec, dict) and "generate" in spec:
        return tuple(spec.get("shape", [])) if isinstance(spec.get("shape", []), list) else (spec["shape"],)
    return None


def _inline(value, location: Location, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError:   # an integer beyond float range (a 400-digit literal)
        raise ProblemError(f"{what}: inline data has a number too large for a float", location=location,
                           allowed="numbers of magnitude below 1.8e308") from None
    except (ValueError, TypeError):
        raise ProblemError(f"{what}: inline data must be a number or a rectangular list of numbers",
                           location=location) from None
    if arr.dtype == object:
        raise ProblemError(f"{what}: inline data must be rectangular", location=location)
    return _finite_array(arr, location, what, "inline data")


# generator arguments that must be integers (floats with an integral value are accepted)
_INTEGER_ARGS = {("integers", "low"), ("integers", "high"), ("low_rank", "rank"), ("low_rank_psd", "rank")}


def _generator_args(name: str, spec: dict, location: Location, what: str) -> dict:
    """``spec`` with every number argument checked: finite, and an integer where it must be."""
    out = dict(spec)
    for key in sorted(set(spec) - {"generate", "shape", "seed"}):
        value = spec[key]
        integer = (name, key) in _INTEGER_ARGS
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProblemError(f"{what}: {key} must be {kind}, got {value!r}", location=location)
        if isinstance(value, float) and not math.isfinite(value):
            raise ProblemError(f"{what}: {key} must be finite, got {value}", location=location, allowed=_FINITE)
        if integer:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ProblemError(f"{what}: {key} must be an integer, got {value}", location=location)
                value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:
                raise ProblemError(f"{what}: {key} is too large for a float", location=location,
                                   allowed="numbers of magnitude below 1.8e308") from None
        out[key] = value
    return out


def _generator_flops(name: str, shape: tuple, spec: dict) -> int:
    """Estimated floating-point operations of the generators that cost more than their size."""
    if len(shape) != 2:
        return 0
    m, n = shape
    rank = spec.get("rank", 1)
    rank = rank if isinstance(rank, int) and 1 <= rank <= min(m, n) else 1
    if name == "ill_conditioned":
        k = min(m, n)
        return _qr_cost(m, k) + _qr_cost(n, k) + 2 * m * n * k
    if name == "low_rank":
        return 2 * m * n * rank
    if name == "low_rank_psd":
        return _qr_cost(n, rank) + 2 * n * n * rank
    return 0


def _qr_cost(m: int, k: int) -> int:
    """A thin Householder QR of an m x k matrix and forming its Q: 4mk^2 flops, plus 4mk*128 for the
    memory-bound panel updates that dominate when k is small (a 199000 x 100 QR takes as long as a
    1500 x 1500 one)."""
    return 4 * m * k * (k + 128)


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
        raise ProblemError(f"{what}: seed must be a non-negative integer, got {seed!r}"
                           if not isinstance(seed, int) or seed.bit_length() < 64
                           else f"{what}: seed must be a non-negative integer", location=location)
    if seed.bit_length() > 128:
        raise ProblemError(f"{what}: seed has more than 128 bits", location=location,
                           allowed="a non-negative integer below 2**128")
    spec = _generator_args(name, spec, location, what)
    charge(shape, location, what)
    flops = _generator_flops(name, shape, spec)
    if flops:
        charge_flops(flops, location, what)
    try:
        with np.errstate(all="ignore"):
            arr = np.asarray(fn(np.random.default_rng(seed), shape, spec), dtype=np.float64)
            arr = arr * float(spec.get("scale", 1.0))
    except (ValueError, TypeError, OverflowError) as err:
        raise ProblemError(f"{what}: {err}", location=location) from None
    return _finite_array(arr, location, what, f"generator {name!r} (with these arguments)")


def _load_file(spec: dict, base: Path | None, location: Location, what: str) -> np.ndarray:
    unknown = set(spec) - {"file", "key", "columns", "header"}
    if unknown:
        raise ProblemError(f"{what}: unknown key(s) {sorted(unknown)} for a file source", location=location,
                           allowed="file, key (.npz), columns (.csv), header (.csv)")
    path = resolve_inside(base, spec["file"], location)
    name = spec["file"]
    try:
        if path.suffix == ".npy":
            with open(path, "rb") as f:
                _npy_header(f, location, what, repr(name))      # shape and dtype, before any data is read
                f.seek(0)
                arr = _read_npy(f)
        elif path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                member = _npz_member(archive, spec.get("key"), path, location, what)
                with archive.open(member) as f:
                    _npy_header(f, location, what, f"{name!r} member {member!r}")
                with archive.open(member) as f:
                    arr = _read_npy(f)
            name = f"{spec['file']} member {member}"
        else:
            arr = _read_csv(spec, path, location, what)
    except ProblemError:
        raise
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:   # TypeError: structured dtypes
        raise ProblemError(f"{what}: cannot read {spec['file']!r}: {err}", location=location) from None
    return _finite_array(arr, location, what, repr(name))


def _read_npy(f) -> np.ndarray:
    """The array of a .npy stream whose header passed ``_npy_header``, as float64 (no pickle;
    no second copy when the file already holds float64)."""
    arr = np.lib.format.read_array(f, allow_pickle=False)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")    # a float128 beyond float64's range becomes inf: reported as non-finite
        return arr.astype(np.float64, copy=False)


def _npz_member(archive: zipfile.ZipFile, key, path: Path, location: Location, what: str) -> str:
    """The archive member for ``key``: ``B`` and ``B.npy`` both name the member ``B.npy``."""
    names = archive.namelist()
    shown = [n[:-4] if n.endswith(".npy") else n for n in names[:20]] + (["..."] if len(names) > 20 else [])
    if not isinstance(key, str) or not key:
        raise ProblemError(f"{what}: an .npz source needs key: NAME (the array inside {path.name})",
                           location=location, allowed=", ".join(shown) or "(the archive is empty)")
    for member in (key + ".npy", key):
        if member in names:
            return member
    raise ProblemError(f"{what}: key {key!r} not in {path.name}", location=location,
                       allowed=", ".join(shown) or "(the archive is empty)")


def _read_csv(spec: dict, path: Path, location: Location, what: str) -> np.ndarray:
    skip = 1 if spec.get("header", False) else 0
    if path.stat().st_size > 8 * max_elements() * 4:
        raise ProblemError(f"{what}: {path.name} is too large", location=location)
    # a CSV has no header with a shape: estimate it (lines x fields of the first data line) before parsing
    rows, cols = 0, 1
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if line.strip():
                rows += 1
                if rows == skip + 1:
                    cols = line.count(b",") + 1
    charge((max(rows - skip, 0), cols), location, what, commit=False)
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
    charge(arr.shape, location, what)
    return arr


def _npy_header(f, location: Location, what: str, name: str) -> tuple[int, ...]:
    """Check the shape and dtype in a .npy header (an open binary file) without loading the array;
    charges the shape (``charge``). Only real numbers load: bool, integers, floats."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unsupported .npy format version {version}")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, _, dtype = reader(f)
    except (ValueError, EOFError, OSError):
        raise
    except Exception as err:   # numpy parses the header dict with tokenize/literal_eval: anything may come out
        raise ValueError(f"malformed .npy header ({type(err).__name__})") from None
    if dtype.fields is not None or dtype.kind not in "biuf":
        what_dtype = ("structured" if dtype.fields is not None or dtype.kind == "V" else
                      {"c": "complex", "O": "object (pickled Python objects)", "U": "string", "S": "bytes",
                       "M": "datetime", "m": "timedelta"}.get(dtype.kind, "non-numeric"))
        raise ProblemError(f"{what}: cannot read {name}: it holds {what_dtype} values (dtype {dtype}); only "
                           f"real numbers are read, nothing is cast", location=location,
                           allowed="bool, integer or float arrays" + (" (save x.real and x.imag as two arrays)"
                                                                      if dtype.kind == "c" else ""))
    shape = tuple(shape)
    charge(shape, location, what)
    return shape


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
        charge(arr.shape, location, what)
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
        arr = np.asarray(arrays[field])
        if arr.dtype.kind not in "biuf":
            raise ProblemError(f"{what}: dataset {name!r} field {field!r} holds {arr.dtype} values, not real "
                               "numbers", location=location, allowed="bool, integer or float arrays")
        arr = arr.astype(np.float64)
        charge(arr.shape, location, what)
        return _finite_array(arr, location, what, f"dataset {name!r} field {field!r}")
    if "value" in spec:
        return build_array(spec["value"], base=base, location=location, what=what)
    raise ProblemError(f"{what}: a data mapping needs one of 'generate', 'file', 'dataset', 'value'",
                       location=location, allowed="generate, file, dataset, value")
