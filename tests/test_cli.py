"""The CLI's good paths: list, plugins, validate, baseline, solve, compare."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from solverhub.cli import main

ROOT = Path(__file__).resolve().parents[1]
RIDGE = str(ROOT / "problems" / "smooth" / "ridge.yaml")
ROSENBROCK = """
name: rosenbrock
kind: minimize
variables: {x: {shape: [2], x0: [-1.2, 1.0]}}
objective: "100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2"
"""


def run(*args):
    return CliRunner().invoke(main, list(args))


def _ridge_optimum(lam):
    from solverhub.problem.model import load_problem
    p = load_problem(RIDGE)
    A, b = p.data["A"], p.data["b"]
    x = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)
    return x, 0.5 * np.sum((A @ x - b) ** 2) + 0.5 * lam * x @ x


def test_list_json_has_distribution_paper_kinds():
    out = run("list", "--json")
    assert out.exit_code == 0
    rows = {r["name"]: r for r in json.loads(out.output)}
    assert rows["bfgs-wolfe"]["paper"] == "arXiv:2507.00361"
    assert rows["bfgs-wolfe"]["distribution"] == "solverhub-bfgs-wolfe"
    assert rows["gd"]["kinds"] == ["minimize", "finite_sum"]


def test_list_for_problem_explains_refusals(tmp_path):
    qp = tmp_path / "qp.yaml"
    qp.write_text("""
name: qp
kind: constrained
variables: {x: {shape: [3]}}
objective: "sum_squares(x)"
constraints: ["sum(x) == 1"]
""")
    rows = {r["name"]: r for r in json.loads(run("list", "--json", "--for", str(qp)).output)}
    assert rows["cvxpy"]["accepts"] is True
    assert rows["gd"]["accepts"] is False and "constrained" in rows["gd"]["reason"]


def test_solve_writes_result_json_matching_closed_form(tmp_path):
    out_file = tmp_path / "r.json"
    out = run("solve", RIDGE, "--solver", "bfgs-wolfe", "--set", "lam=1.0", "--option", "tolerance=1e-8",
              "--baseline", "--json", str(out_file))
    assert out.exit_code == 0, out.output
    data = json.loads(out_file.read_text())
    x_star, f_star = _ridge_optimum(1.0)
    assert data["objective"] == pytest.approx(f_star, rel=1e-12)
    np.testing.assert_allclose(data["solution"]["x"], x_star, atol=1e-7)
    assert data["status"] == "converged" and abs(data["baseline_gap"]) < 1e-10
    assert data["options"]["tolerance"] == 1e-8 and data["seed"] == 0


def test_solve_prints_the_measures_the_kind_reports(tmp_path):
    """Result.extras numbers (here the training kind's held-out accuracy) are shown, equal to the JSON's."""
    out_file = tmp_path / "r.json"
    problem = Path(__file__).resolve().parents[1] / "problems" / "training" / "wine-mlp.yaml"
    out = run("solve", str(problem), "--solver", "adam", "--json", str(out_file))
    assert out.exit_code == 0, out.output
    extras = json.loads(out_file.read_text())["extras"]
    for key in ("test_accuracy", "train_loss", "n_parameters"):
        value = extras[key]
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        assert any(key in line and shown in line for line in out.output.splitlines()), (key, shown, out.output)


def test_solve_without_solver_says_which_and_why():
    out = run("solve", RIDGE, "--max-iterations", "50")
    assert out.exit_code == 0 and "chose 'bfgs-wolfe'" in out.output


def test_max_iterations_shortcut_is_respected(tmp_path):
    out_file = tmp_path / "r.json"
    run("solve", RIDGE, "--solver", "gd", "--max-iterations", "7", "--json", str(out_file))
    data = json.loads(out_file.read_text())
    assert data["iterations"] == 7 and data["status"] == "max_iterations"


def test_validate_and_baseline(tmp_path):
    assert run("validate", RIDGE).exit_code == 0
    out_file = tmp_path / "b.json"
    out = run("baseline", RIDGE, "--json", str(out_file))
    assert out.exit_code == 0 and "optimal" in out.output
    _, f_star = _ridge_optimum(0.1)
    base = json.loads(out_file.read_text())
    assert base["objective"] == pytest.approx(f_star, rel=1e-9) and base["certificate"]["value"] < 1e-6


def test_non_dcp_baseline_is_a_clear_message_not_a_crash(tmp_path):
    path = tmp_path / "rosen.yaml"
    path.write_text(ROSENBROCK)
    out = run("baseline", str(path))
    assert out.exit_code == 1
    assert out.output.startswith("no convex baseline:") and "DCP" in out.output


def test_compare_table_lists_and_skips(tmp_path):
    rosen = tmp_path / "rosen.yaml"
    rosen.write_text(ROSENBROCK)
    out = run("compare", RIDGE, str(rosen), "--solver", "lbfgs", "--solver", "cvxpy", "--json", str(tmp_path / "c.json"),
              "--store", str(tmp_path / "runs.sqlite"))
    assert out.exit_code == 0, out.output
    assert "skipped (1): cvxpy on rosenbrock" in out.output
    results = json.loads((tmp_path / "c.json").read_text())
    assert {(r["problem"], r["solver"]) for r in results} == {("ridge", "lbfgs"), ("ridge", "cvxpy"),
                                                              ("rosenbrock", "lbfgs")}


def test_compare_counts_refusals_for_other_kinds_and_lists_other_reasons():
    from solverhub import Refusal, RefusalCode
    from solverhub.cli import _skipped_summary
    kind = RefusalCode.WRONG_KIND
    skipped = [("ridge", "dbgd", Refusal(kind, "accepts kinds bilevel, not 'minimize'")),
               ("rosen", "dbgd", Refusal(kind, "accepts kinds bilevel, not 'minimize'")),
               ("ridge", "em-moe", Refusal(kind, "accepts kinds mixture_of_experts, not 'minimize'")),
               ("rosen", "cvxpy", Refusal(RefusalCode.STRUCTURE, "no convex form: not DCP"))]
    text = _skipped_summary(skipped)
    assert text.startswith("cvxpy on rosen: no convex form: not DCP; ")
    assert text.endswith("3 pair(s) of a solver and a problem of a kind it does not take (dbgd, em-moe)")


def test_light_commands_import_neither_torch_nor_cvxpy():
    code = (
        "import sys, io, contextlib\n"
        "from solverhub.cli import main\n"
        "for args in (['--help'], ['list'], ['plugins'], ['validate', %r]):\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(io.StringIO()):\n"
        "            main(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), (args, e.code)\n"
        "    assert 'torch' not in sys.modules and 'cvxpy' not in sys.modules, args\n"
    ) % RIDGE
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_solve_does_not_import_cvxpy_unless_baseline_is_asked():
    code = ("import sys, solverhub\n"
            "solverhub.solve(%r, 'gd', options={'max_iterations': 5})\n"
            "assert 'cvxpy' not in sys.modules\n") % RIDGE
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_compare_routes_options_to_solvers_that_have_them(tmp_path):
    out = run("compare", RIDGE, "--solver", "gd", "--solver", "bfgs-wolfe", "--option", "lr=0.01",
              "--option", "max_iterations=3", "--no-baseline", "--json", str(tmp_path / "c.json"),
              "--store", str(tmp_path / "runs.sqlite"))
    assert out.exit_code == 0, out.output
    results = {r["solver"]: r for r in json.loads((tmp_path / "c.json").read_text())}
    assert results["gd"]["options"]["lr"] == 0.01 and "lr" not in results["bfgs-wolfe"]["options"]
    assert results["gd"]["iterations"] == results["bfgs-wolfe"]["iterations"] == 3
    bad = run("compare", RIDGE, "--solver", "gd", "--option", "foo=1", "--store", str(tmp_path / "bad.sqlite"))
    assert bad.exit_code == 2


def test_user_error_inside_a_solver_exits_2():
    out = run("solve", RIDGE, "--solver", "cvxpy", "--option", "solver=NOPE")
    assert out.exit_code == 2 and "not installed" in out.output


@pytest.mark.parametrize("option", ["max_iterations=-5", "tolerance=-1", "trace_every=-1", "time_limit_s=0",
                                    "lr=nan", "lr=1e999"])
def test_run_options_are_validated(option):
    out = run("solve", RIDGE, "--solver", "gd", "--option", option)
    assert out.exit_code == 2, out.output
