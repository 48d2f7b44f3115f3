"""Numbers validated where they enter, data files, and the total element / generator flops caps
(issue 13, "Reliability"). The CLI-level replay of the same inputs is the hostile corpus
(``tests/hostile/cases_loader.py``); these are the direct checks that are clearer in-process."""
import math
import warnings

import numpy as np
import pytest

from solverhub.errors import OptionError, ProblemError
from solverhub.problem import data as data_mod
from solverhub.problem.expr import Const, Symbols, parse_expression, walk
from solverhub.problem.model import load_problem

from texts import RIDGE  # noqa: E402
HUGE = "1" + "0" * 400
SYMBOLS = Symbols(variables={"x": (3,)}, data={"A": (4, 3)}, parameters={"lam": 0.5, "one": 1.0})


def load_text(tmp_path, text, name="p.yaml", **kwargs):
    path = tmp_path / name
    path.write_text(text)
    return load_problem(path, **kwargs)


def error_of(fn, cls=ProblemError):
    with pytest.raises(cls) as info:
        fn()
    return info.value


# -- 1. huge integers ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, line, fragment", [
    (RIDGE.replace('lam * sum_squares(x)"', f'lam * sum_squares(x) + x[0] * {HUGE}"'), 10, "too large for a float"),
    (RIDGE.replace("x: {shape: [3]}", f"x: {{shape: [{HUGE}]}}"), 4, "about 10^400 elements"),
    (RIDGE.replace("shape: [4, 3], seed: 0", f"shape: [{HUGE}, 3], seed: 0"), 6, "about 10^400 elements"),
    (RIDGE.replace("shape: [4, 3], seed: 0", f"shape: [{', '.join([HUGE] * 12)}], seed: 0"), 6,  # > 4300 digits
     "about 10^4800 elements"),
    (RIDGE.replace("lam: 0.1", f"lam: {HUGE}"), 9, "too large for a float"),
    (RIDGE.replace("b: [1.0, 2.0, 3.0, 4.0]", f"b: [1, 2, 3, {HUGE}]"), 7, "too large for a float"),
])
def test_huge_integers_are_located_errors(tmp_path, text, line, fragment):
    err = error_of(lambda: load_text(tmp_path, text))
    assert err.location.line == line and fragment in str(err), err
    assert err.location.file.endswith("p.yaml")


def test_size_messages_abridge_huge_counts():
    err = error_of(lambda: data_mod._check_size((10**400, 3), data_mod.Location("p.yaml", 2), "data.A"))
    assert "about 10^400" in str(err) and len(str(err)) < 300


# -- 2. NaN and infinity ---------------------------------------------------------------------------
@pytest.mark.parametrize("old, new, line", [
    ("lam: 0.1", "lam: .nan", 9),
    ("lam: 0.1", "lam: -.inf", 9),
    ("b: [1.0, 2.0, 3.0, 4.0]", "b: [1, .nan, 3, 4]", 7),
    ("seed: 0}", "seed: 0, mean: .inf}", 6),
    ("seed: 0}", "seed: 0, std: .nan}", 6),
    ("seed: 0}", "seed: 0, scale: .nan}", 6),
    ("{generate: normal, shape: [4, 3], seed: 0}", "{generate: ill_conditioned, shape: [4, 3], cond: .inf}", 6),
    ("{generate: normal, shape: [4, 3], seed: 0}", "{generate: uniform, shape: [4, 3], high: .nan}", 6),
    ("x: {shape: [3]}", "x: {shape: [3], x0: [0, .inf, 0]}", 4),
    ("x: {shape: [3]}", "x: {shape: [3], x0: {generate: normal, mean: .nan}}", 4),
])
def test_nan_and_infinity_are_input_errors(tmp_path, old, new, line):
    assert old in RIDGE
    err = error_of(lambda: load_text(tmp_path, RIDGE.replace(old, new)))
    assert err.location.line == line, err
    assert "finite" in str(err), err


def test_noise_sigma_must_be_a_finite_float(tmp_path):
    for sigma in (".nan", ".inf", "[1, .inf, 0]", HUGE):
        err = error_of(lambda: load_text(tmp_path, RIDGE + f"oracle:\n  noise: {{sigma: {sigma}}}\n"))
        assert err.location.line == 12, err
    assert "too large for a float" in str(err)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "1" + "0" * 400])
def test_set_override_must_be_finite_and_points_at_the_parameter(tmp_path, value):
    err = error_of(lambda: load_text(tmp_path, RIDGE, overrides={"lam": value}), OptionError)
    assert err.location.line == 9 and "finite" in str(err), err


def test_set_override_recheck_constant_sub_expressions(tmp_path):
    text = RIDGE.replace('lam * sum_squares(x)"', 'lam * sum_squares(x) + log(lam) * x[0]"')
    assert load_text(tmp_path, text).parameters["lam"] == pytest.approx(0.1, rel=1e-12)
    err = error_of(lambda: load_text(tmp_path, text, overrides={"lam": "0"}))   # log(0) with the new value
    assert err.location.line == 10 and "log(lam)" in str(err), err


@pytest.mark.parametrize("expression, fragment", [
    ("x / (1 - 1)", "division by zero"),
    ("sum(x) / (lam - lam)", "division by zero"),
    ("sum(x) * (1e308*10 - 1e308*10)", "not finite"),
    ("exp(1000) * sum(x)", "overflows"),
    ("sum(x) + 2.0 ** 5000", "overflows"),
    ("sum(x) + sqrt(-lam)", "outside the domain"),
    ("sum(x) + log(one - 1)", "outside the domain"),
    ("sum(x) + 1e999", "not finite"),
    ("sum(x) * 1" + "0" * 400, "too large for a float"),
    (f"x[0x{'f' * 5000}]", "out of range"),                  # an index str() would refuse to print
])
def test_constant_sub_expressions_must_be_finite(expression, fragment):
    err = error_of(lambda: parse_expression(expression, SYMBOLS))
    assert fragment in str(err), err


@pytest.mark.parametrize("finite, not_finite", [
    ("sum(x) + exp(700)", "sum(x) + exp(710)"),
    ("lam ** 0.5 * sum(x)", "(lam - one) ** 0.5 * sum(x)"),
    ("sum(x) * (1e308 - 1e307)", "sum(x) * (1e308 + 1e308)"),
    ("x / (1 - 2)", "x / (2 - 2)"),
    ("sum(x) + log(one)", "sum(x) + log(one - one)"),
])
def test_the_finite_check_is_at_the_boundary(finite, not_finite):
    node = parse_expression(finite, SYMBOLS)
    assert all(math.isfinite(n.value) for n, _ in walk(node) if isinstance(n, Const))
    error_of(lambda: parse_expression(not_finite, SYMBOLS))


# -- 3. numpy files: dtype from the header, non-finite data ---------------------------------------
def _with_A_file(tmp_path, spec="{file: A.npy}"):
    (tmp_path / "p.yaml").write_text(RIDGE.replace("{generate: normal, shape: [4, 3], seed: 0}", spec))
    return tmp_path / "p.yaml"


@pytest.mark.parametrize("arr, fragment", [
    (np.ones((4, 3)) + 1j, "complex"),
    (np.zeros((4, 3), dtype=[("a", "f8"), ("b", "i4")]), "structured"),
    (np.full((4, 3), "1.5"), "string"),
    (np.zeros((4, 3), dtype="datetime64[s]"), "datetime"),
])
@pytest.mark.parametrize("container", ["npy", "npz"])
def test_non_real_arrays_are_refused_from_the_header(tmp_path, capfd, monkeypatch, arr, fragment, container):
    if container == "npy":
        np.save(tmp_path / "A.npy", arr)
        path = _with_A_file(tmp_path)
    else:
        np.savez(tmp_path / "d.npz", A=arr)
        path = _with_A_file(tmp_path, "{file: d.npz, key: A}")

    def never(*args, **kwargs):
        raise AssertionError("the array was read before its dtype was checked")
    monkeypatch.setattr(np.lib.format, "read_array", never)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # a ComplexWarning would fail here
        err = error_of(lambda: load_problem(path))
    assert fragment in str(err) and err.location.line == 6, err
    out, errout = capfd.readouterr()
    assert out == "" and errout == ""


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.float16, np.float32])
def test_real_dtypes_load_as_float64_their_complex_twin_does_not(tmp_path, dtype):
    values = (np.arange(12).reshape(4, 3) % 2).astype(dtype)
    np.save(tmp_path / "A.npy", values)
    A = load_problem(_with_A_file(tmp_path)).data["A"]
    assert A.dtype == np.float64
    np.testing.assert_allclose(A, values.astype(np.float64), rtol=0, atol=1e-12)
    np.save(tmp_path / "A.npy", values.astype(np.complex64))        # the same numbers, imaginary part 0
    assert "complex" in str(error_of(lambda: load_problem(_with_A_file(tmp_path))))


@pytest.mark.parametrize("suffix, writer", [
    ("npy", lambda p, a: np.save(p, a)),
    ("csv", lambda p, a: np.savetxt(p, a, delimiter=",")),
])
def test_non_finite_file_data_names_the_file_and_the_count(tmp_path, suffix, writer):
    arr = np.arange(12.0).reshape(4, 3)
    arr[0, 2], arr[3, 1], arr[3, 2] = np.nan, np.inf, -np.inf
    writer(tmp_path / f"A.{suffix}", arr)
    err = error_of(lambda: load_problem(_with_A_file(tmp_path, f"{{file: A.{suffix}}}")))
    assert f"'A.{suffix}' has 3 non-finite entries" in str(err) and err.location.line == 6, err


# -- 4. problem files that are not UTF-8 ----------------------------------------------------------
@pytest.mark.parametrize("content, fragment", [
    (RIDGE.replace("name: ridge", "name: ridge\ndescription: na\xefve").encode("latin-1"), "line 2, column 16"),
    (RIDGE.encode("utf-16"), "UTF-16 byte-order mark"),
    (bytes([0x80, 0xff, 0x00, 0x13]) * 64, "byte 0x80 at line 1, column 1"),
])
def test_non_utf8_files_are_errors_at_line_1(tmp_path, content, fragment):
    (tmp_path / "p.yaml").write_bytes(content)
    err = error_of(lambda: load_problem(tmp_path / "p.yaml"))
    assert err.location.line == 1 and err.location.file.endswith("p.yaml"), err
    assert "not a UTF-8 text file" in str(err) and fragment in str(err), err


def test_utf8_with_bom_is_fine_utf8_sig_without_utf8_is_not(tmp_path):
    (tmp_path / "p.yaml").write_bytes(b"\xef\xbb\xbf" + RIDGE.replace("ridge", "r\u00e9sum\u00e9").encode())
    assert load_problem(tmp_path / "p.yaml").name == "r\u00e9sum\u00e9"
    (tmp_path / "p.yaml").write_bytes(RIDGE.replace("ridge", "r\u00e9sum\u00e9").encode("cp1252"))
    assert error_of(lambda: load_problem(tmp_path / "p.yaml")).location.line == 1


# -- 5. .npz members --------------------------------------------------------------------------------
def test_npz_key_with_or_without_suffix_is_the_same_member(tmp_path):
    A = np.random.default_rng(0).normal(size=(4, 3))
    np.savez(tmp_path / "d.npz", A=A, B=np.ones(2))
    plain = load_problem(_with_A_file(tmp_path, "{file: d.npz, key: A}")).data["A"]
    suffixed = load_problem(_with_A_file(tmp_path, "{file: d.npz, key: A.npy}")).data["A"]
    np.testing.assert_allclose(plain, A, rtol=1e-15)
    np.testing.assert_allclose(suffixed, A, rtol=1e-15)
    err = error_of(lambda: load_problem(_with_A_file(tmp_path, "{file: d.npz, key: C.npy}")))
    assert err.allowed == "A, B", err                                   # members named without .npy


def test_npz_member_without_npy_suffix_is_a_located_error(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z:
        z.writestr("A", b"raw bytes, no .npy header")
    err = error_of(lambda: load_problem(_with_A_file(tmp_path, "{file: d.npz, key: A}")))
    assert err.location.line == 6 and "cannot read" in str(err), err


# -- 6. the element cap bounds the sum of a problem's arrays ----------------------------------------
def _many(count, size):
    data = "".join(f"  A{i}: {{generate: normal, shape: [{size}], seed: {i}}}\n" for i in range(count))
    return "name: many\nkind: minimize\nvariables:\n  x: {shape: [3]}\ndata:\n" + data + 'objective: "sum_squares(x)"\n'


def test_total_cap_is_checked_before_the_crossing_array_is_generated(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "1000")
    calls = []
    real = data_mod.GENERATORS["normal"]
    monkeypatch.setitem(data_mod.GENERATORS, "normal",
                        (lambda rng, shape, spec: calls.append(shape) or real[0](rng, shape, spec), real[1]))
    err = error_of(lambda: load_text(tmp_path, _many(12, 400)))       # each array is under the cap
    assert err.location.line == 8 and "data.A2" in str(err), err       # 3 + 400 + 400 fit, the third does not
    assert "SOLVERHUB_MAX_ELEMENTS" in err.allowed
    assert calls == [(400,), (400,)]                                    # A2 was never allocated


def test_total_counts_variables_and_x0(tmp_path, monkeypatch):
    text = "name: v\nkind: minimize\nvariables:\n  x: {shape: [600]}\nobjective: \"sum_squares(x)\"\n"
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "1199")
    err = error_of(lambda: load_text(tmp_path, text))
    assert "x0" in str(err) and "in all" in str(err), err
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "1200")
    assert load_text(tmp_path, text).dim == 600


def test_total_counts_file_headers_before_reading(tmp_path, monkeypatch):
    np.save(tmp_path / "A.npy", np.ones((4, 3)))
    np.save(tmp_path / "B.npy", np.ones((40, 30)))
    (tmp_path / "p.yaml").write_text(RIDGE.replace("{generate: normal, shape: [4, 3], seed: 0}", "{file: A.npy}")
                                     .replace("  b: [1.0", "  B: {file: B.npy}\n  b: [1.0"))
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "1000")                # B alone (1200) is over: per-array message
    assert "declared size 1200 elements" in str(error_of(lambda: load_problem(tmp_path / "p.yaml")))
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "1205")                # B fits alone, not with A and x
    read = []
    monkeypatch.setattr(np.lib.format, "read_array", lambda f, **kw: read.append(1) or np.ones((4, 3)))
    err = error_of(lambda: load_problem(tmp_path / "p.yaml"))
    assert err.location.line == 7 and "in all" in str(err), err
    assert len(read) == 1                                               # only A.npy was read


def test_each_load_has_its_own_total(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "1000")
    error_of(lambda: load_text(tmp_path, _many(3, 400)))               # 1206 elements in one problem
    for _ in range(3):                                                   # 3 loads of 806 elements each
        assert load_text(tmp_path, _many(2, 400)).dim == 3


# -- 7. costly generators: an estimated flops budget -----------------------------------------------
@pytest.mark.parametrize("spec", ["{generate: ill_conditioned, shape: [4400, 4400]}",
                                  "{generate: low_rank_psd, shape: [4000, 4000], rank: 4000}",
                                  "{generate: low_rank, shape: [4000, 4000], rank: 4000}"])
def test_costly_generators_are_refused_before_running(tmp_path, monkeypatch, spec):
    name = spec.split(",")[0].split(": ")[1]
    monkeypatch.setitem(data_mod.GENERATORS, name, (lambda *a: pytest.fail("generator ran"),
                                                    data_mod.GENERATORS[name][1]))
    err = error_of(lambda: load_problem(_with_A_file(tmp_path, spec)))
    assert err.location.line == 6 and "floating-point operations" in str(err), err
    assert "SOLVERHUB_MAX_GENERATOR_FLOPS" in err.allowed


def test_flops_cap_comes_from_the_environment_and_sums_over_generators(tmp_path, monkeypatch):
    two = tmp_path / "p.yaml"
    two.write_text("name: two\nkind: minimize\nvariables:\n  x: {shape: [60]}\ndata:\n"
                   "  A: {generate: ill_conditioned, shape: [60, 60], seed: 0}\n"
                   "  B: {generate: low_rank, shape: [60, 60], rank: 60}\n"
                   'objective: "sum_squares(A @ x) + sum_squares(B @ x)"\n')
    one_cost = data_mod._generator_flops("ill_conditioned", (60, 60), {})
    both = one_cost + data_mod._generator_flops("low_rank", (60, 60), {"rank": 60})
    monkeypatch.setenv("SOLVERHUB_MAX_GENERATOR_FLOPS", str(both))
    assert load_problem(two).data["B"].shape == (60, 60)
    monkeypatch.setenv("SOLVERHUB_MAX_GENERATOR_FLOPS", str(both - 1))
    err = error_of(lambda: load_problem(two))
    assert err.location.line == 7 and "other costly generators" in str(err), err


def test_flops_estimate_grows_faster_than_size():
    small = data_mod._generator_flops("ill_conditioned", (1000, 1000), {})
    large = data_mod._generator_flops("ill_conditioned", (2000, 2000), {})
    assert large > 6 * small                       # ~cubic: doubling n is 4x the size, ~8x the work
    tall = data_mod._generator_flops("ill_conditioned", (200_000, 100), {})
    assert tall > small                            # a tall thin QR is not cheap either
    assert data_mod._generator_flops("normal", (10**4, 10**4), {}) == 0


# -- kinds where numbers enter --------------------------------------------------------------------
MONOTONE = """\
name: m
kind: monotone
variables:
  z: {shape: [3]}
operator: "z"
set: {z: SET}
"""


@pytest.mark.parametrize("spec, fragment", [
    ("{lower: .nan}", "NaN"),
    ("{lower: [0, .nan, 0]}", "NaN"),
    ("{lower: 1, upper: 0}", "empty"),
    ("{upper: -.inf}", "empty"),
    ("{ball: .inf}", "radius"),
    ("{lower: [0, 0]}", "2 values for a variable with 3 entries"),
])
def test_set_bounds_are_checked(tmp_path, spec, fragment):
    err = error_of(lambda: load_text(tmp_path, MONOTONE.replace("SET", spec)))
    assert err.location.line == 6 and fragment in str(err), err


def test_set_bounds_may_be_unbounded_per_entry_but_not_nan(tmp_path):
    p = load_text(tmp_path, MONOTONE.replace("SET", "{lower: [0, -.inf, -1], upper: .inf}"))
    assert p.dim == 3
    error_of(lambda: load_text(tmp_path, MONOTONE.replace("SET", "{lower: [0, .nan, -1], upper: .inf}")))


TRAINING = """\
name: t
kind: training
dataset:
  X: {generate: normal, shape: [20, 4], seed: 0}
  y: [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
model: {mlp: {hidden: [HIDDEN]}}
loss: cross_entropy
gradient_calls: 2
"""


def test_training_model_is_counted_before_it_is_built(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import torch

    def no_build(*args, **kwargs):
        raise AssertionError("the model was built before its size was checked")
    monkeypatch.setattr(torch.random, "fork_rng", no_build)
    err = error_of(lambda: load_text(tmp_path, TRAINING.replace("HIDDEN", "100000000")))   # 6e8 parameters
    assert err.location.line == 6 and "exceeds the cap" in str(err), err
