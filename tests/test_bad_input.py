"""Every bad input is one line ``error: file:line: what is wrong; allowed: ...``, exit status 2, no traceback.

Most cases run the CLI in-process (``run_cli``: click's CliRunner with catch_exceptions=False, so any
exception other than the CLI's own ``sys.exit`` fails the test); a handful run ``python -m solverhub.cli``
in a subprocess to check the exact stderr, exit status and the absence of a traceback.
"""
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

SIMPLE = """
name: simple
kind: minimize
variables:
  x: {shape: [3]}
data:
  A: {generate: normal, shape: [4, 5], seed: 0}
parameters:
  lam: 0.5
objective: "sum_squares(x) + lam * sum(x)"
"""

CONSTRAINED = """
name: qp
kind: constrained
variables:
  x: {shape: [3]}
objective: "sum_squares(x)"
constraints:
  - "sum(x) == 1"
"""


def line_of(path, needle: str) -> int:
    """1-based number of the first line of ``path`` containing ``needle``."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def assert_error(result, *fragments, at=None):
    """``result`` (CliRunner result or CompletedProcess) is one error line with exit status 2.

    ``at=(path, line)`` checks the ``file:line:`` prefix; ``fragments`` must all appear in the line.
    """
    code = getattr(result, "exit_code", getattr(result, "returncode", None))
    stderr = result.stderr
    stdout = result.stdout
    assert "Traceback" not in stderr + stdout, stderr
    assert code == 2, (code, stdout, stderr)
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    line = lines[0]
    if at is not None:
        path, lineno = at
        assert f"error: {path}:{lineno}: " in line, line
    for frag in fragments:
        assert frag in line, (frag, line)
    return line


def run_subprocess(*args, cwd=None, env=None, timeout=120):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "solverhub.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=timeout)


# -- malformed YAML, bad types, unknown names ------------------------------------------------------
def test_malformed_yaml_points_at_the_line(write_problem):
    p = write_problem("""
    name: t
    kind: minimize
    variables:
      x: {shape: [3]
    objective: "sum(x)"
    """)
    r = run_subprocess("validate", p)
    assert_error(r, "malformed YAML", at=(p, line_of(p, "objective")))


@pytest.mark.parametrize("command", [("validate",), ("list", "--for"), ("baseline",), ("solve",),
                                     ("compare", "--no-baseline")])
def test_every_command_reports_a_bad_file_the_same_way(write_problem, run_cli, command):
    p = write_problem("name: t\nkind: minimize\nvariables:\n  x: {shape: [3]}\n  y: a: b\nobjective: '1'\n")
    assert_error(run_cli(*command, p), "malformed YAML", "mapping values are not allowed", at=(p, 5))


def test_tab_indentation_is_malformed_yaml(write_problem, run_cli):
    p = write_problem("name: t\nkind: minimize\n\tvariables: 1\n")
    assert_error(run_cli("validate", p), "malformed YAML", at=(p, 3))


def test_control_character_is_malformed_yaml_with_its_line(write_problem, run_cli):
    p = write_problem("name: t\nkind: minimize\ndescription: a\x01b\n")
    assert_error(run_cli("validate", p), "malformed YAML", "#x0001", at=(p, 3))


def test_duplicate_key(write_problem, run_cli):
    p = write_problem(SIMPLE + "name: again\n")
    assert_error(run_cli("validate", p), "duplicate key 'name'", at=(p, line_of(p, "name: again")))


def test_bad_value_type_for_shape(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("x: {shape: [3]}", 'x:\n    shape: "abc"'))
    assert_error(run_cli("validate", p), "variables.x.shape", "valid list", at=(p, line_of(p, "shape: \"abc\"")))


def test_bad_scalar_tagged_int(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("lam: 0.5", "lam: !!int abc"))
    assert_error(run_cli("validate", p), "bad scalar 'abc'", "allowed:", at=(p, line_of(p, "lam: !!int")))


def test_huge_integer_literal_is_one_line(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("lam: 0.5", "lam: " + "9" * 5000))
    line = assert_error(run_cli("validate", p), "bad scalar", at=(p, line_of(p, "lam: 999")))
    assert len(line) < 500


def test_union_field_error_names_the_field_not_the_type(write_problem, run_cli):
    p = write_problem(SIMPLE.replace('objective: "sum_squares(x) + lam * sum(x)"', "objective: [1, 2]"))
    line = assert_error(run_cli("validate", p), "objective: ", at=(p, line_of(p, "objective")))
    assert "objective.str" not in line


def test_unknown_top_level_section_lists_the_sections(write_problem, run_cli):
    p = write_problem(SIMPLE + "solver_options: {lr: 1}\n")
    assert_error(run_cli("validate", p), "unknown section 'solver_options'", "allowed:", "variables", "objective",
                 at=(p, line_of(p, "solver_options")))


def test_unknown_nested_key_lists_the_keys(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("x: {shape: [3]}", "x: {shape: [3], start: 1}"))
    assert_error(run_cli("validate", p), "variables.x: unknown key 'start'", "allowed: shape, x0",
                 at=(p, line_of(p, "start")))


def test_missing_required_section(write_problem, run_cli):
    p = write_problem(SIMPLE.replace('objective: "sum_squares(x) + lam * sum(x)"\n', ""))
    assert_error(run_cli("validate", p), "objective: required section missing")


@pytest.mark.parametrize("kind", ["maximize", "[minimize]", "{a: 1}"])
def test_unknown_kind_lists_the_kinds(write_problem, run_cli, kind):
    p = write_problem(SIMPLE.replace("kind: minimize", f"kind: {kind}"))
    assert_error(run_cli("validate", p), "unknown kind", "allowed: bilevel, constrained, finite_sum",
                 at=(p, line_of(p, "kind:")))


def test_unknown_atom_lists_the_atoms(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("sum(x)", "softmax(x)"))
    assert_error(run_cli("validate", p), "unknown atom 'softmax'", "allowed: abs,", "sum_squares",
                 at=(p, line_of(p, "objective")))


def test_unknown_variable_lists_the_valid_names(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("sum(x)", "sum(y)"))
    assert_error(run_cli("validate", p), "unknown name 'y'", "allowed: variables x; data A; parameters lam",
                 at=(p, line_of(p, "objective")))


def test_shape_mismatch_names_both_shapes(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("sum(x)", "sum(A @ x)"))
    assert_error(run_cli("validate", p), "shape mismatch for @", "(4, 5)", "(3)", "5 != 3",
                 at=(p, line_of(p, "objective")))


def test_elementwise_shape_mismatch_in_constraint(write_problem, run_cli):
    p = write_problem(CONSTRAINED.replace('"sum(x) == 1"', '"x <= A[0]"').replace(
        "variables:", "data:\n  A: {generate: normal, shape: [4, 5]}\nvariables:"))
    assert_error(run_cli("validate", p), "constraints.0", "shape mismatch", "(3)", "(5)",
                 at=(p, line_of(p, "x <= A[0]")))


def test_objective_that_is_not_a_scalar(write_problem, run_cli):
    p = write_problem(SIMPLE.replace('"sum_squares(x) + lam * sum(x)"', '"x + 1"'))
    assert_error(run_cli("validate", p), "objective: must be a scalar", "(3,)", "sum(...)",
                 at=(p, line_of(p, "objective")))


def test_x0_shape_mismatch(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("x: {shape: [3]}", "x: {shape: [3], x0: [1, 2]}"))
    assert_error(run_cli("validate", p), "x0", "(2,)", "(3,)", at=(p, line_of(p, "x0")))


def test_x0_for_unknown_variable_lists_variables(write_problem, run_cli):
    p = write_problem(SIMPLE + "x0: {z: 1}\n")
    assert_error(run_cli("validate", p), "x0: unknown variable 'z'", "allowed: x", at=(p, line_of(p, "x0:")))


# -- data sources ---------------------------------------------------------------------------------
def test_unknown_data_generator_lists_generators(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("generate: normal", "generate: gaussian"))
    assert_error(run_cli("validate", p), "unknown generator 'gaussian'", "allowed:", "normal", "uniform",
                 at=(p, line_of(p, "gaussian")))


@pytest.mark.parametrize("spec, fragment", [
    ("{generate: [normal], shape: [3]}", "unknown generator"),
    ("{generate: normal, shape: [3], scale: [1]}", "data.A"),
    ("{generate: uniform, shape: [3], low: 1e308, high: -1e308}", "data.A"),
    ("{generate: normal, shape: abc}", "shape must be a list of positive integers"),
    ("{generate: normal, shape: [3], sigma: 1}", "unknown key(s) ['sigma']"),
    ("{dataset: [nope]}", "unknown dataset"),
    ("{dataset: nope}", "unknown dataset 'nope'"),
    ("[1, [2, 3]]", "rectangular"),
    ("true", "expected a number, a list or a mapping"),
    ("{something: 1}", "needs one of 'generate', 'file', 'dataset', 'value'"),
])
def test_bad_data_specs(write_problem, run_cli, spec, fragment):
    p = write_problem(SIMPLE.replace("{generate: normal, shape: [4, 5], seed: 0}", spec))
    assert_error(run_cli("validate", p), fragment, at=(p, line_of(p, "  A: ")))


def test_missing_csv(write_problem, run_cli):
    p = write_problem(SIMPLE.replace("{generate: normal, shape: [4, 5], seed: 0}", "{file: data/missing.csv}"))
    assert_error(run_cli("validate", p), "data file 'data/missing.csv' not found", "allowed:",
                 at=(p, line_of(p, "missing.csv")))


def _with_file(write_problem, tmp_path, relpath):
    (tmp_path / "inner").mkdir(exist_ok=True)
    np.save(tmp_path / "secret.npy", np.arange(3.0))                       # outside the problem's folder
    return write_problem(SIMPLE.replace("{generate: normal, shape: [4, 5], seed: 0}", "{file: '%s'}" % relpath),
                         name="inner/p.yaml")


@pytest.mark.parametrize("relpath", ["../secret.npy", "ABSOLUTE", "link.npy", "sub/../../secret.npy"])
def test_data_file_outside_the_folder_is_refused(write_problem, run_cli, tmp_path, relpath):
    if relpath == "ABSOLUTE":
        relpath = str(tmp_path / "secret.npy")
    p = _with_file(write_problem, tmp_path, relpath)
    (tmp_path / "inner" / "sub").mkdir(exist_ok=True)
    os.symlink(tmp_path / "secret.npy", tmp_path / "inner" / "link.npy")   # a link inside, pointing outside
    assert_error(run_cli("validate", p), "outside the problem's folder", "allowed: paths inside the folder",
                 at=(p, line_of(p, "file:")))


def test_data_file_inside_the_folder_is_read(write_problem, run_cli, tmp_path):
    p = _with_file(write_problem, tmp_path, "sub/a.npy")
    (tmp_path / "inner" / "sub").mkdir()
    np.save(tmp_path / "inner" / "sub" / "a.npy", np.ones(3))
    r = run_cli("validate", p)
    assert r.exit_code == 0, r.stderr


def test_data_file_path_with_nul_byte(write_problem, run_cli, tmp_path):
    p = _with_file(write_problem, tmp_path, "a\\0.npy")
    p.write_text(p.read_text().replace("'a\\0.npy'", '"a\\0.npy"'))
    assert_error(run_cli("validate", p), "not a usable path", at=(p, line_of(p, "file:")))


@pytest.mark.parametrize("content, extra, fragment", [
    ("1,2\n3,x\n", "", "cannot read"),
    ("", "", "contains no data"),
    ("1,2\n3,4\n", ", columns: [0, 7]", "column(s) [7] out of range"),
    ("1,2\n3,4\n", ", columns: '5:9'", "select no column"),
])
def test_bad_csv(write_problem, run_cli, tmp_path, content, extra, fragment):
    (tmp_path / "d.csv").write_text(content)
    p = write_problem(SIMPLE.replace("{generate: normal, shape: [4, 5], seed: 0}", "{file: d.csv%s}" % extra))
    assert_error(run_cli("validate", p), fragment, at=(p, line_of(p, "d.csv")))


@pytest.mark.parametrize("maker", ["structured", "pickled", "garbage"])
def test_bad_npy(write_problem, run_cli, tmp_path, maker):
    path = tmp_path / "d.npy"
    if maker == "structured":
        np.save(path, np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]))
    elif maker == "pickled":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(b"\x93NUMPYgarbage")
    p = write_problem(SIMPLE.replace("{generate: normal, shape: [4, 5], seed: 0}", "{file: d.npy}"))
    assert_error(run_cli("validate", p), "cannot read 'd.npy'", at=(p, line_of(p, "d.npy")))


# -- size caps: checked before allocating ---------------------------------------------------------
def _assert_fast_and_small(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 1.0, elapsed
    assert peak < 50e6, peak            # 10^10 float64 would be 80 GB
    return result


@pytest.mark.parametrize("where", ["variable", "generator", "x0"])
def test_declared_size_above_the_cap_fails_fast(write_problem, run_cli, where):
    text = {"variable": SIMPLE.replace("x: {shape: [3]}", "x: {shape: [100000, 100000]}"),
            "generator": SIMPLE.replace("shape: [4, 5]", "shape: [100000, 100000]"),
            "x0": SIMPLE.replace("x: {shape: [3]}", "x: {shape: [3], x0: {generate: normal, shape: [100000, 100000]}}")}
    p = write_problem(text[where])
    r = _assert_fast_and_small(lambda: run_cli("validate", p))
    assert_error(r, "declared size 10000000000 elements exceeds the cap", "SOLVERHUB_MAX_ELEMENTS",
                 at=(p, line_of(p, "100000")))


def test_cap_comes_from_the_environment(write_problem, run_cli, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "10")
    p = write_problem(SIMPLE)                       # A has 20 elements
    assert_error(run_cli("validate", p), "data.A: declared size 20 elements exceeds the cap of 10",
                 at=(p, line_of(p, "  A: ")))


def test_total_variable_size_is_capped(write_problem, run_cli, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", "5")
    p = write_problem(SIMPLE.replace("x: {shape: [3]}", "x: {shape: [3]}\n  y: {shape: [3]}"))
    assert_error(run_cli("validate", p), "variables: declared size 6 elements exceeds the cap of 5")


@pytest.mark.parametrize("container", ["npy", "npz"])
def test_data_file_header_above_the_cap_is_refused_before_loading(write_problem, run_cli, tmp_path, container):
    import zipfile
    header = {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)}
    if container == "npy":
        with open(tmp_path / "big.npy", "wb") as f:          # a tiny file declaring 80 GB
            np.lib.format.write_array_header_1_0(f, header)
        spec = "{file: big.npy}"
    else:
        with zipfile.ZipFile(tmp_path / "big.npz", "w") as z, z.open("a.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
        spec = "{file: big.npz, key: a}"
    p = write_problem(SIMPLE.replace("{generate: normal, shape: [4, 5], seed: 0}", spec))
    r = _assert_fast_and_small(lambda: run_cli("validate", p))
    assert_error(r, "declared size 10000000000 elements exceeds the cap", at=(p, line_of(p, "big.")))


def test_declared_size_above_the_cap_subprocess(write_problem):
    p = write_problem(SIMPLE.replace("x: {shape: [3]}", "x: {shape: [100000, 100000]}"))
    t0 = time.perf_counter()
    r = run_subprocess("validate", p)
    assert time.perf_counter() - t0 < 20          # interpreter start-up included; the check itself is instant
    assert_error(r, "exceeds the cap", at=(p, line_of(p, "100000")))


def test_problem_file_too_large_is_refused_before_reading(write_problem, run_cli):
    from solverhub.problem.yamlsafe import MAX_YAML_BYTES
    p = write_problem(SIMPLE)
    with open(p, "a") as f:
        f.write("#" * (MAX_YAML_BYTES + 10) + "\n")
    assert_error(run_cli("validate", p), "file larger than", at=(p, 1))


# -- solvers and options --------------------------------------------------------------------------
def test_unknown_solver_lists_the_valid_ones(write_problem):
    p = write_problem(SIMPLE)
    r = run_subprocess("solve", p, "--solver", "newton")
    assert_error(r, "unknown solver 'newton'", "allowed: ", "cvxpy", "gd")


def test_solver_that_refuses_says_why_and_who_accepts(write_problem):
    p = write_problem(CONSTRAINED)
    r = run_subprocess("solve", p, "--solver", "gd")
    assert_error(r, "solver 'gd' refuses problem 'qp'", "constrained", "solvers that accept it:", "cvxpy")


def test_solve_solver_in_yaml_must_be_a_name(write_problem, run_cli):
    p = write_problem(SIMPLE + "solve: {solver: [gd]}\n")
    assert_error(run_cli("solve", p), "solve.solver", at=(p, line_of(p, "solve:")))


def test_unknown_solver_in_yaml(write_problem, run_cli):
    p = write_problem(SIMPLE + "solve: {solver: newton}\n")
    assert_error(run_cli("solve", p), "unknown solver 'newton'", "gd")


@pytest.mark.parametrize("args, fragments", [
    (("--solver", "gd", "--option", "lr=abc"), ("option 'lr' expects a number, got 'abc'",)),
    (("--solver", "gd", "--option", "lr"), ("malformed --option 'lr'", "allowed: NAME=VALUE")),
    (("--solver", "gd", "--option", "=1"), ("malformed --option '=1'", "allowed: NAME=VALUE")),
    (("--solver", "gd", "--option", "step=1"), ("unknown option 'step' for solver 'gd'", "allowed:", "lr",
                                                "max_iterations")),
    (("--solver", "gd", "--option", "max_iterations=1.5"), ("expects an integer",)),
    (("--solver", "gd", "--option", "backtracking=maybe"), ("expects a boolean", "allowed: true, false")),
    (("--solver", "cvxpy", "--option", "lr=1"), ("unknown option 'lr' for solver 'cvxpy'", "allowed:")),
    (("--set", "mu=1"), ("--set mu: no such parameter", "allowed: lam")),
    (("--set", "lam=abc"), ("--set lam='abc': parameters are numbers",)),
    (("--set", "lam"), ("malformed --set 'lam'", "allowed: NAME=VALUE")),
    (("--device", "gpu"), ("--device 'gpu' is not a device", "allowed: auto, cpu, cuda")),
    (("--device", "cuda:x"), ("--device 'cuda:x' is not a device",)),
    (("--dtype", "float16"), ("--dtype", "'float16' is not one of 'float64', 'float32'")),
    (("--seed", "abc"), ("--seed",)),
    (("--seed", "99999999999999999999999"), ("--seed", "range")),
    (("--max-iterations", "-1"), ("--max-iterations must be >= 0",)),
])
def test_malformed_flags(write_problem, run_cli, args, fragments):
    p = write_problem(SIMPLE)
    assert_error(run_cli("solve", p, *args), *fragments)


def test_unknown_cvxpy_solver_for_the_baseline(write_problem, run_cli):
    p = write_problem(SIMPLE)
    assert_error(run_cli("baseline", p, "--cvxpy-solver", "NOPE"), "cvxpy solver 'NOPE'", "allowed:", "SCS")


def test_unknown_option_in_the_yaml_solve_section(write_problem, run_cli):
    p = write_problem(SIMPLE + "solve: {solver: gd, lr: abc}\n")
    assert_error(run_cli("solve", p), "option 'lr' expects a number, got 'abc'")


def test_malformed_flag_subprocess(write_problem):
    p = write_problem(SIMPLE)
    r = run_subprocess("solve", p, "--device", "gpu")
    assert_error(r, "--device 'gpu' is not a device", "allowed: auto, cpu, cuda")


def test_missing_problem_file(run_cli, tmp_path):
    assert_error(run_cli("validate", tmp_path / "nope.yaml"), "problem file not found")


def test_unwritable_json_path_is_one_line(write_problem, run_cli, tmp_path):
    p = write_problem(SIMPLE)
    (tmp_path / "file").write_text("")
    assert_error(run_cli("solve", p, "--solver", "gd", "--max-iterations", "2", "--json", tmp_path / "file" / "r.json"),
                 "--json", "cannot write")


# -- no results lost ------------------------------------------------------------------------------
NAN_AT_START = """
name: nan_start
kind: minimize
variables:
  x: {shape: [2], x0: [-1, -1]}
objective: "-sum(log(x))"
"""

NAN_LATER = """
name: nan_later
kind: minimize
variables:
  x: {shape: [2], x0: [1, 1]}
objective: "sum(log(x))"
"""


def _iterative_solvers():
    from solverhub.registry import get_registry
    reg = get_registry()
    return sorted(n for n, e in reg.solvers.items() if "minimize" in e.cls.kinds and e.cls.solve_direct is None)


@pytest.mark.parametrize("solver", _iterative_solvers())
@pytest.mark.parametrize("text", [NAN_AT_START, NAN_LATER], ids=["nan_at_start", "nan_later"])
def test_nan_objective_is_a_result_not_a_traceback(write_problem, run_cli, tmp_path, solver, text):
    p = write_problem(text)
    out = tmp_path / "r.json"
    r = run_cli("solve", p, "--solver", solver, "--max-iterations", "200", "--json", out)
    assert "Traceback" not in r.stdout + r.stderr
    assert r.exit_code in (0, 1), r.stderr
    result = json.loads(out.read_text())
    assert result["solver"] == solver
    if text is NAN_AT_START:
        assert r.exit_code == 1
        assert result["status"] in ("diverged", "failed"), result["status"]
        assert result["iterations"] == 0
    else:
        assert r.exit_code == (1 if result["status"] in ("diverged", "failed") else 0)


def test_nan_objective_subprocess_writes_json(write_problem, tmp_path):
    p = write_problem(NAN_AT_START)
    out = tmp_path / "r.json"
    r = run_subprocess("solve", p, "--solver", "gd", "--json", out)
    assert "Traceback" not in r.stderr + r.stdout
    assert r.returncode == 1
    result = json.loads(out.read_text())
    assert result["status"] in ("diverged", "failed")
    assert "non-finite" in result["message"] or result["status"] == "failed"
