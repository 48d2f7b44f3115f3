"""Hostile numbers, files and sizes for the problem loader (issue 13, "Reliability"):
huge integers, NaN and infinity, complex/object/structured/string arrays, files that are
not UTF-8, .npz member names, the total element cap and the generator flops cap.
Each is replayed through validate, solve or baseline and must be one ``file:line`` error."""
import zipfile

import numpy as np
from kit import RIDGE, Case

HUGE = "1" + "0" * 400                    # beyond float range and any index
A_GEN = "{generate: normal, shape: [4, 3], seed: 0}"
VALIDATE = ("validate", "p.yaml")
SOLVE = ("solve", "p.yaml", "--solver", "gd")
BASELINE = ("baseline", "p.yaml")


def ridge_with_A(source: str) -> str:
    """RIDGE with data A (line 6) taken from ``source``."""
    return RIDGE.replace(A_GEN, source)


def objective_plus(term: str) -> str:
    """RIDGE with ``term`` added to the objective (line 10)."""
    return RIDGE.replace('lam * sum_squares(x)"', f'lam * sum_squares(x) + {term}"')


def npy(arr, **kwargs):
    return lambda path: np.save(path, arr, **kwargs)


def npz(**arrays):
    return lambda path: np.savez(path, **arrays)


def npy_header_only(shape_text: str, descr: str = "<f8"):
    """A .npy file whose header declares ``shape_text`` (and no data)."""
    def write(path):
        header = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)).encode("latin1")
        header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
        path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    return write


def npz_raw_member(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("A", b"not an array")


def many_arrays(count: int, size: int) -> str:
    """A problem with ``count`` data arrays of ``size`` elements (data A0 on line 6, A1 on line 7, ...)."""
    data = "".join(f"  A{i}: {{generate: normal, shape: [{size}], seed: {i}}}\n" for i in range(count))
    return ("name: many\nkind: minimize\nvariables:\n  x: {shape: [3]}\ndata:\n" + data
            + 'objective: "sum_squares(x)"\n')


A4 = np.arange(12.0).reshape(4, 3)
WITH_NAN = A4.copy()
WITH_NAN[1, 1], WITH_NAN[2, 0] = np.nan, np.inf

CASES = [
    # -- 1. integers too large for a float, a shape or an index ---------------------------------------
    Case("loader-huge-int-literal-validate", {"p.yaml": objective_plus(f"x[0] * {HUGE}")}, VALIDATE,
         at="p.yaml:10", contains=("too large for a float",)),
    Case("loader-huge-int-literal-solve", {"p.yaml": objective_plus(f"x[0] * {HUGE}")}, SOLVE,
         at="p.yaml:10", contains=("too large for a float",)),
    Case("loader-huge-int-literal-baseline", {"p.yaml": objective_plus(f"x[0] * {HUGE}")}, BASELINE,
         at="p.yaml:10", contains=("too large for a float",)),
    Case("loader-huge-variable-shape", {"p.yaml": RIDGE.replace("x: {shape: [3]}", f"x: {{shape: [{HUGE}]}}")},
         SOLVE, at="p.yaml:4", contains=("variables.x", "exceeds the cap", "SOLVERHUB_MAX_ELEMENTS")),
    Case("loader-huge-generator-shape", {"p.yaml": ridge_with_A(f"{{generate: normal, shape: [{HUGE}, 3]}}")},
         BASELINE, at="p.yaml:6", contains=("data.A", "exceeds the cap")),
    Case("loader-huge-npy-header-shape", {"p.yaml": ridge_with_A("{file: A.npy}"),
                                          "A.npy": npy_header_only(f"({HUGE}, 3)")},
         VALIDATE, at="p.yaml:6", contains=("data.A", "exceeds the cap")),
    Case("loader-huge-int-parameter", {"p.yaml": RIDGE.replace("lam: 0.1", f"lam: {HUGE}")}, SOLVE,
         at="p.yaml:9", contains=("parameters.lam", "too large for a float")),
    Case("loader-huge-hex-index", {"p.yaml": objective_plus(f"x[0x{'f' * 5000}]")}, VALIDATE,   # > 4300 digits
         at="p.yaml:10", contains=("out of range",)),
    # -- 2. NaN and infinity are input errors ----------------------------------------------------------
    Case("loader-parameter-nan", {"p.yaml": RIDGE.replace("lam: 0.1", "lam: .nan")}, VALIDATE,
         at="p.yaml:9", contains=("parameters.lam", "finite")),
    Case("loader-parameter-inf", {"p.yaml": RIDGE.replace("lam: 0.1", "lam: .inf")}, SOLVE,
         at="p.yaml:9", contains=("parameters.lam", "finite")),
    Case("loader-parameter-1e999", {"p.yaml": RIDGE.replace("lam: 0.1", "lam: 1e999")}, BASELINE,
         at="p.yaml:9", contains=("parameters.lam", "finite")),
    Case("loader-inline-nan", {"p.yaml": RIDGE.replace("b: [1.0, 2.0, 3.0, 4.0]", "b: [1, .nan, 3, 4]")},
         BASELINE, at="p.yaml:7", contains=("data.b", "1 non-finite entry")),
    Case("loader-generator-mean-inf", {"p.yaml": ridge_with_A("{generate: normal, shape: [4, 3], mean: .inf}")},
         SOLVE, at="p.yaml:6", contains=("mean must be finite",)),
    Case("loader-generator-std-nan", {"p.yaml": ridge_with_A("{generate: normal, shape: [4, 3], std: .nan}")},
         VALIDATE, at="p.yaml:6", contains=("std must be finite",)),
    Case("loader-generator-cond-inf",
         {"p.yaml": ridge_with_A("{generate: ill_conditioned, shape: [4, 3], cond: .inf}")},
         BASELINE, at="p.yaml:6", contains=("cond must be finite",)),
    Case("loader-generator-scale-nan", {"p.yaml": ridge_with_A("{generate: normal, shape: [4, 3], scale: .nan}")},
         SOLVE, at="p.yaml:6", contains=("scale must be finite",)),
    Case("loader-generator-overflows",
         {"p.yaml": ridge_with_A("{generate: normal, shape: [4, 3], std: 1e300, scale: 1e300}")},
         VALIDATE, at="p.yaml:6", contains=("non-finite",)),
    Case("loader-set-nan", {"p.yaml": RIDGE}, SOLVE + ("--set", "lam=nan"),
         at="p.yaml:9", contains=("--set lam", "finite")),
    Case("loader-set-inf", {"p.yaml": RIDGE}, BASELINE + ("--set", "lam=inf"),
         at="p.yaml:9", contains=("--set lam", "finite")),
    Case("loader-x0-nan", {"p.yaml": RIDGE.replace("x: {shape: [3]}", "x: {shape: [3], x0: [1, .nan, 2]}")},
         SOLVE, at="p.yaml:4", contains=("x0", "non-finite")),
    Case("loader-x0-top-inf", {"p.yaml": RIDGE + "x0:\n  x: -.inf\n"}, SOLVE,
         at="p.yaml:12", contains=("x0.x", "non-finite")),
    Case("loader-noise-sigma-huge", {"p.yaml": RIDGE + f"oracle:\n  noise: {{sigma: {HUGE}}}\n"}, SOLVE,
         at="p.yaml:12", contains=("sigma", "too large for a float")),
    Case("loader-const-division-by-zero", {"p.yaml": objective_plus("x[0] / (1 - 1)")}, SOLVE,
         at="p.yaml:10", contains=("division by zero",)),
    Case("loader-const-overflow", {"p.yaml": objective_plus("x[0] * (1e308*10 - 1e308*10)")}, VALIDATE,
         at="p.yaml:10", contains=("not finite",)),
    Case("loader-const-exp-overflow", {"p.yaml": objective_plus("exp(1000) * x[0]")}, BASELINE,
         at="p.yaml:10", contains=("exp(1000)", "overflows")),
    Case("loader-const-param-log", {"p.yaml": objective_plus("log(lam - lam) * x[0]")}, SOLVE,
         at="p.yaml:10", contains=("log(lam - lam)",)),
    Case("loader-float-literal-inf", {"p.yaml": objective_plus("1e999 * x[0]")}, VALIDATE,
         at="p.yaml:10", contains=("'1e999' is not finite",)),
    Case("loader-npy-nan", {"p.yaml": ridge_with_A("{file: A.npy}"), "A.npy": npy(WITH_NAN)}, SOLVE,
         at="p.yaml:6", contains=("'A.npy' has 2 non-finite entries",)),
    Case("loader-npz-inf", {"p.yaml": ridge_with_A("{file: d.npz, key: A}"), "d.npz": npz(A=WITH_NAN)}, VALIDATE,
         at="p.yaml:6", contains=("d.npz", "2 non-finite entries")),
    Case("loader-csv-inf", {"p.yaml": ridge_with_A("{file: A.csv}"), "A.csv": "1,2,3\n4,inf,6\n7,8,9\n1,2,3\n"},
         BASELINE, at="p.yaml:6", contains=("'A.csv' has 1 non-finite entry",)),
    # -- 3. complex, object, structured and string arrays: refused from the header, nothing printed ------
    Case("loader-npy-complex", {"p.yaml": ridge_with_A("{file: A.npy}"), "A.npy": npy(A4 + 1j)}, SOLVE,
         at="p.yaml:6", contains=("complex", "nothing is cast")),
    Case("loader-npz-complex", {"p.yaml": ridge_with_A("{file: d.npz, key: A}"), "d.npz": npz(A=A4 * 1j)},
         BASELINE, at="p.yaml:6", contains=("complex",)),
    Case("loader-npy-object", {"p.yaml": ridge_with_A("{file: A.npy}"),
                               "A.npy": npy(np.array([{"a": 1}] * 12, dtype=object).reshape(4, 3),
                                            allow_pickle=True)},
         VALIDATE, at="p.yaml:6", contains=("object", "nothing is cast")),
    Case("loader-npy-structured", {"p.yaml": ridge_with_A("{file: A.npy}"),
                                   "A.npy": npy(np.zeros((4, 3), dtype=[("a", "f8"), ("b", "i4")]))},
         VALIDATE, at="p.yaml:6", contains=("structured",)),
    Case("loader-npy-string", {"p.yaml": ridge_with_A("{file: A.npy}"), "A.npy": npy(np.full((4, 3), "1.0"))},
         SOLVE, at="p.yaml:6", contains=("string",)),
    # -- 4. problem files that are not UTF-8 ---------------------------------------------------------------
    Case("loader-latin1", {"p.yaml": RIDGE.replace("name: ridge", "name: ridge\ndescription: caf\xe9")
                           .encode("latin-1")},
         VALIDATE, at="p.yaml:1", contains=("not a UTF-8 text file", "byte 0xe9 at line 2")),
    Case("loader-latin1-solve", {"p.yaml": ("# r\xe9sum\xe9\n" + RIDGE).encode("latin-1")}, SOLVE,
         at="p.yaml:1", contains=("not a UTF-8 text file",)),
    Case("loader-utf16-bom", {"p.yaml": RIDGE.encode("utf-16")}, BASELINE,
         at="p.yaml:1", contains=("UTF-16 byte-order mark",)),
    Case("loader-binary", {"p.yaml": np.random.default_rng(0).bytes(4096)}, VALIDATE,
         at="p.yaml:1", contains=("not a UTF-8 text file",)),
    # -- 5. .npz members ------------------------------------------------------------------------------------
    Case("loader-npz-key-with-suffix", {"p.yaml": ridge_with_A("{file: d.npz, key: A.npy}"),
                                        "d.npz": npz(A=A4, B=np.ones(2))},
         VALIDATE, exit=0, contains=("ok  p.yaml",)),
    Case("loader-npz-no-key", {"p.yaml": ridge_with_A("{file: d.npz}"), "d.npz": npz(A=A4, B=np.ones(2))},
         SOLVE, at="p.yaml:6", contains=("needs key: NAME", "allowed: A, B")),
    Case("loader-npz-raw-member", {"p.yaml": ridge_with_A("{file: d.npz, key: A}"), "d.npz": npz_raw_member},
         VALIDATE, at="p.yaml:6", contains=("cannot read",)),
    # -- 6. the element cap applies to the sum of a problem's arrays ---------------------------------------
    Case("loader-total-cap", {"p.yaml": many_arrays(12, 900)}, VALIDATE, env={"SOLVERHUB_MAX_ELEMENTS": "1000"},
         at="p.yaml:7", contains=("data.A1", "in all", "SOLVERHUB_MAX_ELEMENTS")),
    Case("loader-total-cap-default", {"p.yaml": many_arrays(2, 15_000_000)}, SOLVE,
         at="p.yaml:7", contains=("data.A1", "over the cap of 20000000 for the whole problem")),
    Case("loader-total-cap-variables-and-x0",
         {"p.yaml": "name: v\nkind: minimize\nvariables:\n  x: {shape: [600]}\n"
                    'objective: "sum_squares(x)"\n'}, VALIDATE, env={"SOLVERHUB_MAX_ELEMENTS": "1000"},
         at="p.yaml:3", contains=("x0", "in all")),
    # -- 7. generators whose cost grows faster than their size -------------------------------------------
    Case("loader-flops-ill-conditioned",
         {"p.yaml": ridge_with_A("{generate: ill_conditioned, shape: [4400, 4400], seed: 0}")}, VALIDATE,
         at="p.yaml:6", contains=("floating-point operations", "SOLVERHUB_MAX_GENERATOR_FLOPS"), max_seconds=30),
    Case("loader-flops-low-rank-psd",
         {"p.yaml": ridge_with_A("{generate: low_rank_psd, shape: [4000, 4000], rank: 4000}")}, SOLVE,
         at="p.yaml:6", contains=("floating-point operations",), max_seconds=30),
    Case("loader-flops-total",
         {"p.yaml": ridge_with_A("{generate: ill_conditioned, shape: [300, 300], seed: 0}")
          .replace("  b: [1.0", "  B: {generate: ill_conditioned, shape: [300, 300], seed: 1}\n  b: [1.0")},
         VALIDATE, env={"SOLVERHUB_MAX_GENERATOR_FLOPS": "5e8"},   # one fits (3.6e8), two do not
         at="p.yaml:7", contains=("data.B", "other costly generators")),
]
