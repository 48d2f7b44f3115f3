"""Property tests (hypothesis) of the YAML loader + schema and of the expression language:
any input gives a valid Problem (or expression IR) or a ``SolverhubError`` -- with the file in
its location when the problem was loaded from a file -- never another exception.

Deterministic (``derandomize=True``, no example database). The default runs are bounded
(a few seconds each); the ``slow`` tests replay the same properties with many more examples
(``python -m pytest -m slow tests/test_loader_properties.py``).
"""
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from solverhub.errors import SolverhubError  # noqa: E402
from solverhub.problem.expr import Const, Symbols, parse_expression, walk  # noqa: E402
from solverhub.problem.model import Problem, load_problem  # noqa: E402

_COMMON = dict(derandomize=True, database=None, deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
FAST = settings(max_examples=200, **_COMMON)
LONG = settings(max_examples=3000, **_COMMON)

VALID = """\
name: props
kind: minimize
description: a small valid problem whose text the strategies mutate
variables:
  x: {shape: [3], x0: [0.5, -1, 2]}
  t: {}
data:
  A: {generate: normal, shape: [4, 3], seed: 0, scale: 2}
  B: {file: B.npy}
  C: {file: C.npz, key: C}
  b: [1.0, 2.0, 3.0, 4.0]
parameters:
  lam: 0.1
  p: 2
oracle:
  noise: {sigma: 0.1, seed: 3}
baseline: {tolerance: 1e-8}
solve: {max_iterations: 10}
objective: "0.5 * sum_squares(A @ x - b) + lam * sum_squares(x) + (t - 1) ** p + sum(B @ x) + sum(C)"
"""

# pieces of YAML and of the expression language that hostile text is made of
YAML_TOKENS = [": ", "- ", "[", "]", "{", "}", ", ", "#", "&a ", "*a", "!!python/object ", "!x ", "|", ">", "'", '"',
               "\n", "\n  ", "\t", "? ", "---", "...", "%YAML 1.1\n", ".nan", ".inf", "-.inf", "1e999", "0x1F", "0o7",
               "1" + "0" * 400, "-" + "9" * 30, "1e-3", "1_000", "~", "null", "true", "no", "\u00e9", "\x00", "\ufeff",
               "shape", "generate", "seed", "file", "key", "x0", "sigma", "kind", "minimize", "constrained",
               "objective", "variables", "data", "parameters", "ill_conditioned", "low_rank", "eye", "B.npy",
               "../B.npy", "C.npz", "x", "A", "lam", "x[0]", "exp(1000)", "1 / (1 - 1)", "@", "**", "__import__"]
FIELDS = [("parameters", "lam"), ("parameters", "p"), ("data", "A", "shape"), ("data", "A", "seed"),
          ("data", "A", "scale"), ("data", "A", "generate"), ("data", "A"), ("data", "b"), ("data", "B", "file"),
          ("data", "C", "key"), ("variables", "x", "shape"), ("variables", "x", "x0"), ("variables", "t"),
          ("oracle", "noise", "sigma"), ("oracle", "noise", "seed"), ("oracle", "noise", "model"),
          ("baseline", "tolerance"), ("baseline", "objective"), ("solve", "max_iterations"), ("objective",),
          ("name",), ("kind",), ("x0",), ("oracle", "stochastic"), ("data", "A", "cond"), ("data", "A", "mean")]

huge_ints = st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, 10**4000])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308, 5e-324])
scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | huge_ints | floats
           | st.text(max_size=20) | st.sampled_from(YAML_TOKENS))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8) | st.sampled_from(YAML_TOKENS), inner, max_size=5),
                      max_leaves=20)


@pytest.fixture(scope="module")
def folder():
    """A folder with the data files VALID names, and small caps so no example allocates much."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOLVERHUB_MAX_ELEMENTS", "20000")
        mp.setenv("SOLVERHUB_MAX_GENERATOR_FLOPS", "1e8")
        root = Path(tmp)
        np.save(root / "B.npy", np.arange(6.0).reshape(2, 3))
        np.savez(root / "C.npz", C=np.ones(2))
        assert isinstance(load_problem(_write(root, VALID)), Problem)       # the base of the mutations is valid
        yield root


def _write(root: Path, text) -> Path:
    path = root / "p.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def _loads_or_located_error(root: Path, text) -> None:
    """The property: a Problem, or a SolverhubError located in the file."""
    path = _write(root, text)
    try:
        problem = load_problem(path)
    except SolverhubError as err:
        assert err.location.file == str(path), f"error without the file: {err!r}"
        assert err.message, err
        return
    assert isinstance(problem, Problem)
    assert np.all(np.isfinite(problem.x0))
    for name, arr in problem.data.items():
        assert np.all(np.isfinite(arr)), name
    assert all(math.isfinite(v) for v in problem.parameters.values())


# -- the YAML loader + schema ------------------------------------------------------------------------
@st.composite
def mutated(draw):
    """VALID with a few slices replaced by hostile tokens or random text."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        piece = draw(st.sampled_from(YAML_TOKENS) | st.text(max_size=6))
        text = text[:i] + piece + text[j:]
    return text


@st.composite
def field_replaced(draw):
    """VALID parsed, one field set to a random value, dumped again."""
    doc = yaml.safe_load(VALID)
    path = draw(st.sampled_from(FIELDS))
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = draw(values)
    return yaml.safe_dump(doc, allow_unicode=True)


@st.composite
def random_mapping(draw):
    """A random mapping with mostly real section names and random values."""
    keys = st.sampled_from(["name", "kind", "variables", "data", "parameters", "x0", "oracle", "baseline",
                            "solve", "objective", "constraints", "description", "rows", "operator", "set",
                            "min", "max", "upper", "lower"]) | st.text(max_size=6)
    doc = draw(st.dictionaries(keys, values, max_size=8))
    if draw(st.booleans()):
        doc.setdefault("name", "r")
        doc.setdefault("kind", draw(st.sampled_from(["minimize", "constrained", "finite_sum", "bilevel",
                                                     "monotone", "minimax"])))
    return yaml.safe_dump(doc, allow_unicode=True)


raw_bytes = st.binary(max_size=200) | st.builds(lambda t, enc: t.encode(enc, "replace"),
                                               st.text(max_size=100), st.sampled_from(["latin-1", "utf-16"]))
yaml_inputs = mutated() | field_replaced() | random_mapping() | raw_bytes


def _check_yaml(folder, text):
    _loads_or_located_error(folder, text)


@FAST
@hypothesis.given(text=yaml_inputs)
@hypothesis.example(text=VALID.replace("lam: 0.1", "lam: " + "1" + "0" * 400))
@hypothesis.example(text=VALID.replace("shape: [4, 3]", "shape: [" + "1" + "0" * 400 + ", 3]"))
@hypothesis.example(text=VALID.replace("b: [1.0", "b: [.nan"))
@hypothesis.example(text=VALID.replace("name: props", "name: caf\u00e9").encode("latin-1"))
def test_loader_gives_a_problem_or_a_located_error(folder, text):
    _check_yaml(folder, text)


@pytest.mark.slow
@LONG
@hypothesis.given(text=yaml_inputs)
def test_loader_gives_a_problem_or_a_located_error_long(folder, text):
    _check_yaml(folder, text)


# -- the expression language -----------------------------------------------------------------------
SYMBOLS = Symbols(variables={"x": (3,), "M": (2, 3), "t": ()}, data={"A": (4, 3), "b": (4,), "P": (3, 3)},
                  parameters={"lam": 0.1, "zero": 0.0, "big": 1e300})
NAMES = ["x", "M", "t", "A", "b", "P", "lam", "zero", "big", "nan", "inf", "NaN", "__import__", "_x", "y",
         "sum", "exp", "log", "quad_form", "maximum", "True", "None"]
ATOM_NAMES = ["sum", "mean", "sum_squares", "norm1", "norm2", "log_sum_exp", "abs", "square", "exp", "log",
              "log1p", "logistic", "relu", "sqrt", "tanh", "sigmoid", "sin", "cos", "maximum", "minimum",
              "quad_form", "eval", "open", "__import__"]
NUMBERS = st.sampled_from(["0", "1", "2", "-1", "0.5", "1e308", "1e309", "1e999", "1e-400", "1" + "0" * 400,
                           "0x" + "f" * 300, "1_000", "nan", "inf", "1j", "00", "1.", ".5", "'s'", "True"]) \
    | st.integers(-10**20, 10**20).map(str) | st.floats(allow_nan=False, allow_infinity=False).map(repr)
OPS = ["+", "-", "*", "/", "**", "@", "%", "//", "<=", ">=", "==", "<", ">", "and", "^", "|", "if"]


def _expressions():
    leaf = st.sampled_from(NAMES) | NUMBERS
    def grow(inner):
        return (st.tuples(inner, st.sampled_from(OPS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
                | inner.map(lambda e: f"({e})")
                | st.tuples(st.sampled_from(["-", "+", "~", "not "]), inner).map("".join)
                | st.tuples(st.sampled_from(ATOM_NAMES), st.lists(inner, max_size=3))
                .map(lambda t: f"{t[0]}({', '.join(t[1])})")
                | st.tuples(inner, st.lists(st.sampled_from(["0", "-1", "1:", ":2", "::0", ":", "5", "1" + "0" * 400,
                                                             "x", "0.5"]), min_size=1, max_size=3))
                .map(lambda t: f"{t[0]}[{', '.join(t[1])}]"))
    deep = st.tuples(st.integers(1, 1200), st.sampled_from(["(", "-", "exp(", "x ** "]), leaf).map(
        lambda t: t[1] * t[0] + t[2] + (")" * t[0] if t[1].endswith("(") else ""))
    chain = st.tuples(st.integers(1, 1500), leaf).map(lambda t: " + ".join([t[1]] * t[0]))
    tokens = st.lists(st.sampled_from(NAMES + OPS + ["(", ")", "[", "]", ",", ":", "."]) | NUMBERS, max_size=12) \
        .map(" ".join)
    return st.recursive(leaf, grow, max_leaves=12) | deep | chain | tokens | st.text(max_size=30)


def _check_expression(text, allow_compare):
    try:
        node = parse_expression(text, SYMBOLS, where="objective", allow_compare=allow_compare)
    except SolverhubError as err:
        assert err.message, err
        return
    for n, _ in walk(node):
        if isinstance(n, Const):
            assert math.isfinite(n.value), (text, n)


@FAST
@hypothesis.given(text=_expressions(), allow_compare=st.booleans())
@hypothesis.example(text="x[0] * 1" + "0" * 400, allow_compare=False)
@hypothesis.example(text="1e308*10 - 1e308*10", allow_compare=False)
@hypothesis.example(text="x[0x" + "f" * 5000 + "] <= 1", allow_compare=True)
def test_expressions_compile_or_fail_with_a_solverhub_error(text, allow_compare):
    _check_expression(text, allow_compare)


@pytest.mark.slow
@LONG
@hypothesis.given(text=_expressions(), allow_compare=st.booleans())
def test_expressions_compile_or_fail_with_a_solverhub_error_long(text, allow_compare):
    _check_expression(text, allow_compare)

