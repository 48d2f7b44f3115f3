"""The compare command's closing table: one row per configuration, seeds pooled."""
from solverhub.cli import compare_table_rows
from solverhub.result import Result, Stationarity, Status


def _run(problem, solver, seed, *, status=Status.CONVERGED, objective=1.0, stat=1e-7, gap=None, calls=10, time_s=0.1,
         label=None):
    return Result(solver=solver, problem=problem, problem_hash=f"h-{problem}", status=status, message="",
                  objective=objective, stationarity=Stationarity("grad_norm", stat), iterations=5,
                  oracle_calls={"value": calls // 2, "grad": calls - calls // 2}, wall_time_s=time_s, device="cpu",
                  seed=seed, options={}, baseline_gap=gap, extras={"label": label or solver})


def test_seeds_of_one_configuration_pool_into_one_row_with_worst_gap_and_median_time():
    runs = [_run("p", "gd", 2, objective=3.0, gap=1e-6, stat=1e-8, calls=12, time_s=0.3),
            _run("p", "gd", 0, objective=1.0, gap=1e-9, stat=1e-7, calls=10, time_s=0.1),
            _run("p", "gd", 1, status=Status.MAX_ITERATIONS, objective=2.0, gap=1e-3, stat=1e-2, calls=20,
                 time_s=0.2),
            _run("q", "lbfgs", 0, objective=5.0, gap=None, time_s=0.05)]
    rows = compare_table_rows(runs)
    assert rows == [
        ("p", "gd", "3 (0-2)", "converged x2, max_iterations x1", "2", "1.0e-03", "grad_norm 1.0e-02", "12",
         "0.200 (0.100-0.300)"),
        ("q", "lbfgs", "0", "converged", "5", "-", "grad_norm 1.0e-07", "10", "0.050"),
    ]


def test_labels_are_configurations_and_a_nan_stationarity_is_the_worst():
    runs = [_run("p", "gd", 0, label="gd lr=0.1"), _run("p", "gd", 0, label="gd lr=1"),
            _run("p", "gd", 1, label="gd lr=1", status=Status.DIVERGED, stat=float("nan"), objective=float("nan"))]
    rows = compare_table_rows(runs)
    assert [r[1] for r in rows] == ["gd lr=0.1", "gd lr=1"]
    assert rows[1][3] == "converged x1, diverged x1" and rows[1][6] == "grad_norm nan"


def test_two_problems_sharing_a_name_are_two_rows():
    a, b = _run("p", "gd", 0), _run("p", "gd", 0)
    b = b.replace(problem_hash="h-other")      # e.g. the same file with another --set value
    rows = compare_table_rows([a, b])
    assert [r[0] for r in rows] == ["p [h-other]", "p [h-p]"]
