"""Loading problems: data generators, files, x0 forms, finite sums, content hashes."""
import numpy as np
import pytest

from solverhub.errors import ProblemError
from solverhub.problem.model import load_problem


def _problem(data="", x0="", objective="sum_squares(x)", extra="", kind="minimize", shape="[4]"):
    return f"""
name: t
kind: {kind}
variables:
  x: {{shape: {shape}{x0}}}
data:
{data or '  c: [1.0]'}
objective: "{objective}"
{extra}"""


def test_generators_have_their_declared_properties():
    p = load_problem(_problem(data="""
  N: {generate: normal, shape: [400, 3], seed: 0, mean: 2.0, std: 0.5}
  U: {generate: uniform, shape: [500], seed: 1, low: -1, high: 3}
  S: {generate: sign, shape: [100], seed: 2}
  I: {generate: integers, shape: [200], seed: 3, low: 2, high: 5}
  L: {generate: low_rank, shape: [30, 20], rank: 3, seed: 4}
  K: {generate: ill_conditioned, shape: [40, 10], cond: 1.0e4, seed: 5}
  E: {generate: eye, shape: [3, 3]}
"""))
    d = p.data
    assert d["N"].shape == (400, 3) and abs(d["N"].mean() - 2.0) < 0.1 and abs(d["N"].std() - 0.5) < 0.05
    assert d["U"].min() >= -1 and d["U"].max() < 3
    assert set(np.unique(d["S"])) == {-1.0, 1.0}
    assert set(np.unique(d["I"])) <= {2.0, 3.0, 4.0}
    assert np.linalg.matrix_rank(d["L"]) == 3
    s = np.linalg.svd(d["K"], compute_uv=False)
    assert s[0] / s[-1] == pytest.approx(1e4, rel=1e-8)
    np.testing.assert_array_equal(d["E"], np.eye(3))


def test_generators_are_seeded():
    text = _problem(data="  A: {generate: normal, shape: [5, 2], seed: 9}")
    np.testing.assert_array_equal(load_problem(text).data["A"], load_problem(text).data["A"])
    other = load_problem(text.replace("seed: 9", "seed: 10")).data["A"]
    assert not np.allclose(other, load_problem(text).data["A"])


def test_npy_and_csv_files_beside_the_yaml(tmp_path):
    np.save(tmp_path / "M.npy", np.arange(6.0).reshape(2, 3))
    (tmp_path / "t.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    (tmp_path / "p.yaml").write_text(_problem(data="""
  M: {file: M.npy}
  C: {file: t.csv, header: true, columns: "0:2"}
  y: {file: t.csv, header: true, columns: 2}
"""))
    p = load_problem(tmp_path / "p.yaml")
    np.testing.assert_array_equal(p.data["M"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(p.data["C"], [[1, 2], [4, 5]])
    np.testing.assert_array_equal(p.data["y"], [3, 6])
    h1 = p.content_hash
    np.save(tmp_path / "M.npy", np.arange(6.0).reshape(2, 3) + 1)
    assert load_problem(tmp_path / "p.yaml").content_hash != h1, "hash must cover data file contents"


def test_x0_forms():
    assert np.all(load_problem(_problem()).x0 == 0)
    assert np.all(load_problem(_problem(x0=", x0: 2.5")).x0 == 2.5)
    np.testing.assert_array_equal(load_problem(_problem(x0=", x0: [1, 2, 3, 4]")).x0, [1, 2, 3, 4])
    g = load_problem(_problem(x0=", x0: {generate: normal, seed: 3}")).x0
    assert g.shape == (4,) and np.all(g != 0)
    top = load_problem(_problem(extra="x0: {x: [4, 3, 2, 1]}")).x0
    np.testing.assert_array_equal(top, [4, 3, 2, 1])
    with pytest.raises(ProblemError, match="does not match"):
        load_problem(_problem(x0=", x0: [1, 2]"))
    with pytest.raises(ProblemError, match="given twice"):
        load_problem(_problem(x0=", x0: 1.0", extra="x0: {x: 2.0}"))


def test_set_overrides_change_parameters_and_hash():
    text = _problem(objective="lam * sum_squares(x - 1)", extra="parameters: {lam: 0.5}")
    a, b = load_problem(text), load_problem(text, overrides={"lam": "2"})
    assert a.parameters["lam"] == 0.5 and b.parameters["lam"] == 2.0
    assert a.content_hash != b.content_hash and a.content_hash == load_problem(text).content_hash


def test_float_forms_in_yaml_and_expressions():
    p = load_problem(_problem(objective="1e-3 * sum_squares(x) + 2.5E+1 * sum(x) + .5", extra="parameters: {lam: 1e-3}"))
    assert p.parameters["lam"] == 1e-3


def test_finite_sum_rows_and_unbiasedness_guard():
    base = """
name: fs
kind: finite_sum
variables: {w: {shape: [2]}}
data:
  X: {generate: normal, shape: [10, 2], seed: 0}
  y: {generate: normal, shape: [10], seed: 1}
objective: "%s"
"""
    p = load_problem(base % "mean(square(X @ w - y)) + 0.1 * sum_squares(w)")
    assert p.sections.n_rows == 10 and set(p.sections.rows) == {"X", "y"}
    with pytest.raises(ProblemError, match="outside mean"):
        load_problem(base % "mean(square(X @ w - y)) + sum(y) * 0.1")
    with pytest.raises(ProblemError, match="needs mean"):
        load_problem(base % "sum(square(X @ w - y))")


def test_npy_data_is_an_in_memory_writable_copy(tmp_path):
    np.save(tmp_path / "A.npy", np.eye(3))
    (tmp_path / "p.yaml").write_text(_problem(data="  A: {file: A.npy}"))
    arr = load_problem(tmp_path / "p.yaml").data["A"]
    assert arr.flags.writeable and not isinstance(arr, np.memmap)


def test_low_rank_psd_generator_has_rank_and_condition():
    p = load_problem(_problem(data="  M: {generate: low_rank_psd, shape: [30, 30], rank: 5, condition: 100, seed: 0}"))
    M = p.data["M"]
    eig = np.linalg.eigvalsh(M)
    assert np.allclose(M, M.T) and np.linalg.matrix_rank(M) == 5 and eig.min() > -1e-12
    assert eig[-1] / eig[-5] == pytest.approx(100, rel=1e-8)


def test_a_kind_can_imply_its_variables():
    from pydantic import BaseModel, ConfigDict

    from solverhub.problem.kinds.base import CompiledSections, ProblemKind
    from solverhub.problem.expr import Const
    from solverhub.registry import get_registry

    class RankSections(BaseModel):
        model_config = ConfigDict(extra="forbid")
        rank: int

    class Factorization(ProblemKind):
        name = "test_factorization"
        Sections = RankSections

        def implicit_variables(self, sections, data_shapes, location):
            return {"X": (data_shapes["M"][0], sections.rank)}

        def compile(self, sections, ctx):
            return CompiledSections(objective=Const(shape=(), value=0.0))

    registry = get_registry()
    registry.kinds["test_factorization"] = Factorization
    try:
        p = load_problem("name: f\nkind: test_factorization\ndata: {M: {generate: eye, shape: [6, 6]}}\nrank: 2\n")
        assert [(v.name, v.shape) for v in p.variables] == [("X", (6, 2))] and p.dim == 12
        with pytest.raises(ProblemError, match="variables: required section missing"):
            load_problem("name: m\nkind: minimize\nobjective: '1'\n")
    finally:
        del registry.kinds["test_factorization"]
