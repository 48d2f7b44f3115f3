"""The store's compact encoding of one :class:`~solverhub.result.Result` (store schema 2).

A run is one zlib blob (with a preset dictionary of the Result's field and option
names, so the small per-run header costs little): the Result's JSON without its trace,
then the trace as columns --

* ``iteration``, ``oracle_calls``: integer deltas (exact);
* ``time_s``, ``stationarity``: float32 (relative error <= 2**-24 = 6e-8);
* ``objective``: float64 ``ref`` (the last finite traced value, exact) plus float32
  deltas ``f_k - ref``, so ``|f_k' - f_k| <= 2**-24 |f_k - ref|``: the gap to the final
  value keeps 7 digits however small it is (a plain float32 would floor gaps at 1e-7).

A float column whose finite values overflow float32 (a diverging run, 1e306) is stored
float64. Float columns are byte-shuffled before compression (the exponent bytes then
compress). The JSON part is :meth:`Result.to_json` text, so every field (also ones added
later, such as ``measure_time_s``) round-trips exactly; only trace floats are rounded.

A decoded Result's ``trace`` is a :class:`TraceColumns`: a sequence of
:class:`~solverhub.result.TracePoint` made on access, whose numpy columns the report
reads directly (:func:`trace_columns`), so 10^5 runs never become 10^7 objects.
"""
from __future__ import annotations

__all__ = ["TraceColumns", "trace_columns", "encode_result", "decode_result", "CODEC_VERSION", "FLOAT32_REL"]

import dataclasses
import json
import struct
import zlib
from typing import Sequence

import numpy as np

from ..result import Result, Stationarity, Status, TracePoint

CODEC_VERSION = 1
FLOAT32_REL = 2.0 ** -24
_F32_MAX = float(np.finfo(np.float32).max)
# Never change for CODEC_VERSION 1: stores written with it decompress with this dictionary.
_ZDICT = ('"captured_output": "", "duals": null}"solver": "problem": "problem_hash": "status": "converged", '
          '"max_iterations", "time_limit", "message": "stationarity <= tolerance 1e-06", "reached max_iterations='
          '"objective": "stationarity": {"name": "grad_norm", "value": "iterations": "oracle_calls": {"value": '
          '"grad": "hvp": 0, "stochastic_grad": 0}, "wall_time_s": "measure_time_s": "device": "cpu", "seed": '
          '"options": {"max_iterations": 1000, "max_oracle_calls": null, "time_limit_s": null, "tolerance": 1e-06, '
          '"trace_every": 0, "lr": null, "backtracking": true, "shrink": 0.5, "grow": 1.0, "c1": 0.0001, '
          '"max_backtracks": 60, "memory": 10, "c2": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08, '
          '"batch_size": "solver_version": "0.1.0", "dtype": "float64", "problem_dim": "baseline_objective": '
          '"baseline_gap": "solution": {"x": [0.0, -0.0, "extras": {"label": "deterministic": true, "baseline": '
          '{"status": "certified", "backend_status": "optimal", "solver": "CLARABEL", "OSQP", "SCS", "message": '
          '"optimal by certified grad_norm = "max_violation": "test_accuracy": "final_step_size": "backtracks": '
          ).encode()
_INT = {0: np.int32, 1: np.int64}
_FLOAT = {0: np.float32, 1: np.float64}


class TraceColumns(Sequence):
    """A run's trace as numpy columns; indexing and iteration give :class:`TracePoint` s
    (Python ints and floats), so it stands wherever a ``tuple[TracePoint, ...]`` does."""

    __slots__ = ("iteration", "time_s", "oracle_calls", "objective", "stationarity")

    def __init__(self, iteration, time_s, oracle_calls, objective, stationarity):
        self.iteration = np.asarray(iteration, dtype=np.int64)
        self.time_s = np.asarray(time_s, dtype=np.float64)
        self.oracle_calls = np.asarray(oracle_calls, dtype=np.int64)
        self.objective = np.asarray(objective, dtype=np.float64)
        self.stationarity = np.asarray(stationarity, dtype=np.float64)

    @classmethod
    def _of(cls, iteration, time_s, oracle_calls, objective, stationarity) -> "TraceColumns":
        """From arrays already of the right dtypes (the decoder's fast path)."""
        out = cls.__new__(cls)
        out.iteration, out.time_s, out.oracle_calls = iteration, time_s, oracle_calls
        out.objective, out.stationarity = objective, stationarity
        return out

    def __len__(self) -> int:
        return int(self.iteration.shape[0])

    def _points(self, sl=slice(None)) -> tuple[TracePoint, ...]:
        cols = [c[sl].tolist() for c in (self.iteration, self.time_s, self.oracle_calls, self.objective,
                                          self.stationarity)]
        return tuple(TracePoint(*row) for row in zip(*cols))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._points(index)
        i = range(len(self))[index]
        return TracePoint(int(self.iteration[i]), float(self.time_s[i]), int(self.oracle_calls[i]),
                          float(self.objective[i]), float(self.stationarity[i]))

    def __iter__(self):
        return iter(self._points())

    def __eq__(self, other) -> bool:
        if isinstance(other, (TraceColumns, tuple, list)):
            return self._points() == tuple(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"TraceColumns({len(self)} points)"

    def __deepcopy__(self, memo):
        return self                        # immutable in practice (dataclasses.asdict deep-copies fields)


def trace_columns(trace) -> TraceColumns:
    """The columns of any trace (a :class:`TraceColumns` as it is, or a sequence of TracePoints)."""
    if isinstance(trace, TraceColumns):
        return trace
    if not trace:
        return TraceColumns([], [], [], [], [])
    return TraceColumns([p.iteration for p in trace], [p.time_s for p in trace], [p.oracle_calls for p in trace],
                        [p.objective for p in trace], [p.stationarity for p in trace])


def _shuffled(data: np.ndarray) -> bytes:
    return data.view(np.uint8).reshape(-1, data.itemsize).T.tobytes()


def _unshuffled(buf: bytes, offset: int, count: int, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    raw = np.frombuffer(buf, np.uint8, count * dtype.itemsize, offset).reshape(dtype.itemsize, count)
    return raw.T.copy().view(dtype).reshape(count)


def encode_result(result: Result) -> bytes:
    """The blob of ``result`` (see the module docstring)."""
    meta = result.replace(trace=()).to_json().encode()
    cols = trace_columns(result.trace)
    n = len(cols)
    parts = [struct.pack("<I", len(meta)), meta, struct.pack("<I", n)]
    if n:
        finite = np.flatnonzero(np.isfinite(cols.objective))
        ref = float(cols.objective[finite[-1]]) if finite.size else 0.0
        with np.errstate(invalid="ignore", over="ignore"):
            delta = cols.objective - ref
        ints = np.diff(np.stack([cols.iteration, cols.oracle_calls]), axis=1, prepend=np.int64(0)).reshape(-1)
        int_code = 0 if np.abs(ints).max() < 2 ** 31 else 1
        floats = np.concatenate([cols.time_s, delta, cols.stationarity])
        finite = floats[np.isfinite(floats)]
        float_code = 1 if finite.size and np.abs(finite).max() > _F32_MAX else 0
        parts += [struct.pack("<dBB", ref, int_code, float_code), ints.astype(_INT[int_code]).tobytes(),
                  _shuffled(floats.astype(_FLOAT[float_code]))]
    packer = zlib.compressobj(6, zdict=_ZDICT)
    return bytes([CODEC_VERSION]) + packer.compress(b"".join(parts)) + packer.flush()


def decode_result(blob: bytes) -> Result:
    """The Result of :func:`encode_result`'s blob, its trace a :class:`TraceColumns`."""
    if not blob or blob[0] != CODEC_VERSION:
        raise ValueError(f"unknown run encoding {blob[:1]!r} (this solverhub reads {CODEC_VERSION})")
    unpacker = zlib.decompressobj(zdict=_ZDICT)
    buf = unpacker.decompress(blob[1:]) + unpacker.flush()
    (meta_len,) = struct.unpack_from("<I", buf, 0)
    # str, not bytes: json.loads(bytes) decodes with 'surrogatepass', the slow path (25 vs 16 us a run)
    data = json.loads(buf[4:4 + meta_len].decode())
    off = 4 + meta_len
    (n,) = struct.unpack_from("<I", buf, off)
    off += 4
    if not n:
        return _result(data, ())
    ref, int_code, float_code = struct.unpack_from("<dBB", buf, off)
    off += 10
    int_type = np.dtype(_INT[int_code])
    ints = np.frombuffer(buf, int_type, 2 * n, off).reshape(2, n).cumsum(axis=1, dtype=np.int64)
    off += 2 * n * int_type.itemsize
    floats = _unshuffled(buf, off, 3 * n, _FLOAT[float_code]).astype(np.float64).reshape(3, n)
    return _result(data, TraceColumns._of(ints[0], floats[0], ints[1], floats[1] + ref, floats[2]))


_FIELDS = frozenset(f.name for f in dataclasses.fields(Result))
_STATUS = {s.value: s for s in Status}


def _result(data: dict, trace) -> Result:
    """``Result.from_dict`` without its trace loop and copy (the decode path of 10^5 runs)."""
    data["status"] = _STATUS[data["status"]]
    data["stationarity"] = Stationarity(**data["stationarity"])
    data["trace"] = trace
    if len(data) == len(_FIELDS) and _FIELDS.issuperset(data):
        out = object.__new__(Result)                 # every field present: skip the frozen __init__
        out.__dict__.update(data)
        return out
    return Result(**{k: v for k, v in data.items() if k in _FIELDS})
